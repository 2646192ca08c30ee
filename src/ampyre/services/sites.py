"""Sites (issue 18 part 4): create, change and delete them, push a measured base load,
and read what the balancer decided (live on the leader, else the last recorded
decision), its history and the load series for the chart."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from ampyre.domain.site_records import AllocationRecord, SiteSample, record_of
from ampyre.domain.sites import Site, SiteInvalid, check_site
from ampyre.services.balancer import Balancer
from ampyre.services.clock import utcnow
from ampyre.services.sites_port import SiteConflict, SiteStore

MAX_BASE_LOAD_A = 10_000.0


class SiteService:
    def __init__(
        self,
        store: SiteStore,
        balancer: Balancer | None = None,
        clock: Callable[[], datetime] = utcnow,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self.balancer = balancer
        self._clock = clock
        # Other nodes' balancers reload on their tick; this tells the cluster sooner.
        self._on_change = on_change

    async def _check(self, site: Site) -> None:
        """The site's rules, its stations known, none of them in another site."""
        check_site(site)
        stations = {m.station_id for m in site.members}
        if site.base_load.meter is not None:
            stations.add(site.base_load.meter.station_id)
        missing = await self._store.missing_stations(stations)
        if missing:
            raise SiteInvalid(f"unknown station(s): {', '.join(missing[:10])}", "members")
        for other in await self._store.list_sites():
            if other.id == site.id:
                continue
            taken = stations & {m.station_id for m in other.members}
            if taken:
                raise SiteConflict(
                    f"station {sorted(taken)[0]} is already in site {other.id} ({other.name})",
                    "members",
                )

    def _changed(self) -> None:
        if self.balancer is not None:
            self.balancer.sites_changed()
        self._on_change()

    async def create(self, site: Site) -> Site:
        await self._check(site)
        now = self._clock()
        site.created_at = site.updated_at = now
        created = await self._store.add_site(site)
        self._changed()
        return created

    async def get(self, site_id: int) -> Site | None:
        return await self._store.get_site(site_id)

    async def list_sites(self) -> list[Site]:
        return await self._store.list_sites()

    async def replace(self, site: Site) -> Site | None:
        """Replace a site's configuration (None: no such site)."""
        old = await self._store.get_site(site.id)
        if old is None:
            return None
        await self._check(site)
        site = dataclasses.replace(
            site,
            created_at=old.created_at,
            updated_at=self._clock(),
            pushed_base_load=old.pushed_base_load,
            pushed_at=old.pushed_at,
        )
        if not await self._store.update_site(site):
            return None
        self._changed()
        return site

    async def delete(self, site_id: int) -> bool:
        deleted = await self._store.delete_site(site_id)
        if deleted:
            self._changed()
        return deleted

    async def push_base_load(self, site_id: int, values: tuple[float, float, float]) -> bool:
        if any(not 0 <= v <= MAX_BASE_LOAD_A for v in values):
            raise SiteInvalid("each phase's base load must be within 0..10000 A")
        if not await self._store.push_base_load(site_id, values, self._clock()):
            return False
        if self.balancer is not None:
            self.balancer.base_load_pushed(site_id, values)
        self._on_change()
        return True

    async def rebalance(self, site_id: int) -> bool:
        """Recompute the site now (on this node, if it runs the balancer)."""
        if await self._store.get_site(site_id) is None:
            return False
        if self.balancer is not None and not self.balancer.rebalance(site_id, "requested"):
            self.balancer.sites_changed()
        self._on_change()
        return True

    async def status(self, site_id: int) -> AllocationRecord | None:
        """The current allocation: live where the balancer runs, else the last recorded."""
        if self.balancer is not None:
            live = self.balancer.status(site_id)
            if live is not None:
                return record_of(live, "live", self.balancer.position)
        latest = await self._store.allocations(site_id, 1)
        return latest[0] if latest else None

    async def allocations(self, site_id: int, limit: int) -> list[AllocationRecord]:
        return await self._store.allocations(site_id, limit)

    async def series(self, site_id: int, since: datetime, limit: int) -> list[SiteSample]:
        return await self._store.series(site_id, since, limit)
