"""Fakes for the balancer service (services/balancer.py): sites and records in memory,
an outbox the test appends to, and a profile installer that answers as told. Also used
by bench/balancing.py."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ampyre.domain.charging_profiles import ChargingProfile, ProfileSource
from ampyre.domain.events import DomainEvent, EventType, OutboxEvent
from ampyre.domain.site_records import AllocationRecord, SiteSample
from ampyre.domain.sites import Site
from ampyre.services.sites_port import ActiveSession
from ampyre.services.station_port import Answer


@dataclass
class FakeSites:
    sites: dict[int, Site] = field(default_factory=dict)
    connected: set[str] = field(default_factory=set)
    sessions: list[ActiveSession] = field(default_factory=list)
    records: list[AllocationRecord] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)
    samples: list[SiteSample] = field(default_factory=list)
    meter: tuple[float, float, float] | None = None
    known_stations: set[str] | None = None

    async def add_site(self, site: Site) -> Site:
        site.id = max(self.sites, default=0) + 1
        self.sites[site.id] = site
        return site

    async def get_site(self, site_id: int) -> Site | None:
        return self.sites.get(site_id)

    async def list_sites(self) -> list[Site]:
        return list(self.sites.values())

    async def update_site(self, site: Site) -> bool:
        if site.id not in self.sites:
            return False
        self.sites[site.id] = site
        return True

    async def delete_site(self, site_id: int) -> bool:
        return self.sites.pop(site_id, None) is not None

    async def push_base_load(
        self, site_id: int, values: tuple[float, float, float], at: datetime
    ) -> bool:
        site = self.sites.get(site_id)
        if site is None:
            return False
        site.pushed_base_load, site.pushed_at = values, at
        return True

    async def missing_stations(self, station_ids: Collection[str]) -> list[str]:
        if self.known_stations is None:
            return []
        return sorted(set(station_ids) - self.known_stations)

    async def record_allocation(
        self, record: AllocationRecord, events: Sequence[DomainEvent] = ()
    ) -> None:
        self.records.append(record)
        self.events.extend(events)

    async def add_samples(self, samples: Sequence[SiteSample]) -> None:
        self.samples.extend(samples)

    async def allocations(self, site_id: int, limit: int) -> list[AllocationRecord]:
        return [r for r in reversed(self.records) if r.site_id == site_id][:limit]

    async def series(self, site_id: int, since: datetime, limit: int) -> list[SiteSample]:
        return [s for s in self.samples if s.site_id == site_id and s.at >= since][-limit:]

    async def active_sessions(self, station_ids: Collection[str]) -> list[ActiveSession]:
        return [s for s in self.sessions if s.station_id in station_ids]

    async def connected_stations(self, station_ids: Collection[str]) -> set[str]:
        return self.connected & set(station_ids)

    async def meter_currents(
        self, station_id: str, evse_id: int, since: datetime
    ) -> tuple[float, float, float] | None:
        return self.meter

    async def prune(self, older_than: datetime) -> int:
        return 0


class FakeOutbox:
    def __init__(self) -> None:
        self.events: list[OutboxEvent] = []
        self._ids = itertools.count(1)

    def add(self, type_: EventType, station_id: str, **data: Any) -> None:
        now = datetime.now(UTC)
        self.events.append(OutboxEvent(next(self._ids), type_.value, now, station_id, data, now))

    async def events_after(self, position: int, limit: int) -> list[OutboxEvent]:
        return [e for e in self.events if e.id > position][:limit]

    async def outbox_head(self) -> int:
        return self.events[-1].id if self.events else 0


@dataclass
class Installed:
    station_id: str
    evse_id: int
    profile: ChargingProfile
    source: ProfileSource

    @property
    def limit(self) -> float:
        value = self.profile.schedules[0].periods[0].limit
        assert value is not None
        return value


class FakeInstaller:
    """Answers `status` (per station in `answers`), optionally after `delay` seconds."""

    def __init__(self) -> None:
        self.sent: list[Installed] = []
        self.answers: dict[str, str] = {}
        self.delay = 0.0
        # What each EVSE has accepted: station -> evse -> limit.
        self.limits: dict[tuple[str, int], float] = {}
        self.history: list[dict[tuple[str, int], float]] = []

    async def install(
        self,
        station_id: str,
        evse_id: int,
        profile: ChargingProfile,
        source: ProfileSource = ProfileSource.OPERATOR,
        timeout: float | None = None,
    ) -> Answer:
        if self.delay:
            await asyncio.sleep(self.delay)
        item = Installed(station_id, evse_id, profile, source)
        self.sent.append(item)
        status = self.answers.get(station_id, "accepted")
        if status == "accepted":
            self.limits[(station_id, evse_id)] = item.limit
            self.history.append(dict(self.limits))
        return Answer(status)
