"""The ports of sites and the balancer: where sites and the balancer's records are kept
(adapters/db/sites.py), what it reads of sessions and meters, and how it installs
profiles (services/charging_profiles.py: ChargingProfileService.install)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ampyre.domain.charging_profiles import ChargingProfile, ProfileSource
from ampyre.domain.events import DomainEvent, OutboxEvent
from ampyre.domain.site_records import AllocationRecord, SiteSample
from ampyre.domain.sites import Site
from ampyre.services.station_port import Answer


class SiteConflict(ValueError):
    """The change collides with another site (a station/EVSE in two sites)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(slots=True, frozen=True)
class ActiveSession:
    """A transaction running on a station of a site (read when the balancer starts)."""

    station_id: str
    evse_id: int | None
    transaction_id: str
    id_token: str | None
    started_at: datetime | None


class SiteStore(Protocol):
    async def add_site(self, site: Site) -> Site: ...
    async def get_site(self, site_id: int) -> Site | None: ...
    async def list_sites(self) -> list[Site]: ...
    async def update_site(self, site: Site) -> bool: ...
    async def delete_site(self, site_id: int) -> bool: ...
    async def push_base_load(
        self, site_id: int, values: tuple[float, float, float], at: datetime
    ) -> bool: ...
    async def missing_stations(self, station_ids: Collection[str]) -> list[str]:
        """Those of `station_ids` Ampyre does not know."""
        ...

    async def record_allocation(
        self, record: AllocationRecord, events: Sequence[DomainEvent] = ()
    ) -> None:
        """The decision and its outbox events, in one commit."""
        ...

    async def add_samples(self, samples: Sequence[SiteSample]) -> None: ...
    async def allocations(self, site_id: int, limit: int) -> list[AllocationRecord]:
        """The latest decisions first."""
        ...

    async def series(self, site_id: int, since: datetime, limit: int) -> list[SiteSample]:
        """Samples from `since` on, oldest first."""
        ...

    async def active_sessions(self, station_ids: Collection[str]) -> list[ActiveSession]: ...
    async def connected_stations(self, station_ids: Collection[str]) -> set[str]: ...
    async def meter_currents(
        self, station_id: str, evse_id: int, since: datetime
    ) -> tuple[float, float, float] | None:
        """The latest Current.Import per phase a station reported outside transactions
        (its main meter) since `since`, or None."""
        ...

    async def prune(self, older_than: datetime) -> int:
        """Delete allocation records and samples older than `older_than`."""
        ...


class OutboxSource(Protocol):
    """The outbox, read in memory from its head (services/live.py does the same)."""

    async def events_after(self, position: int, limit: int) -> list[OutboxEvent]: ...
    async def outbox_head(self) -> int: ...


class ProfileInstaller(Protocol):
    """What the balancer needs of ChargingProfileService (services/charging_profiles.py)."""

    async def install(
        self,
        station_id: str,
        evse_id: int,
        profile: ChargingProfile,
        source: ProfileSource = ProfileSource.OPERATOR,
        timeout: float | None = None,
    ) -> Answer: ...
