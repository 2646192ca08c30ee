"""Availability changes a station answered `Scheduled` (1.6 section 5.2, 2.x G03/G04: a
transaction runs there, the change follows when it ends), followed until the station's
status notifications show them applied. Whether one is applied is decided when it is read
(the status path stays as fast as it is), from the connectors' last statuses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ampyre.domain.models import Connector, Page
from ampyre.services.clock import utcnow

SCHEDULED = "scheduled"
APPLIED = "applied"


@dataclass(slots=True)
class AvailabilityChange:
    station_id: str
    evse_id: int  # 0: the whole station
    connector_id: int  # 0: every connector of the EVSE (or station)
    operative: bool
    requested_at: datetime
    state: str = SCHEDULED
    applied_at: datetime | None = None
    id: int | None = None


class AvailabilityStore(Protocol):
    async def add_change(self, change: AvailabilityChange) -> AvailabilityChange: ...

    async def list_changes(self, station_id: str, limit: int, offset: int) -> Page:
        """items: AvailabilityChange, newest first."""
        ...

    async def mark_applied(self, change_id: int, at: datetime) -> None: ...


class ConnectorReads(Protocol):
    async def list_connectors(self, station_id: str) -> list[Connector]: ...


def _matches(change: AvailabilityChange, c: Connector) -> bool:
    unavailable = c.status == "Unavailable"
    return unavailable != change.operative


def applied_at(change: AvailabilityChange, connectors: Sequence[Connector]) -> datetime | None:
    """When the change took effect, or None while it has not: every connector it covers
    reported the new availability after it was asked for (a whole-station change may
    also show as connector 0's status, as 1.6 stations report it)."""

    def fresh(c: Connector) -> bool:
        return c.updated_at is not None and c.updated_at >= change.requested_at

    if change.evse_id == 0:
        station_row = [c for c in connectors if c.evse_id == 0]
        if station_row and all(fresh(c) and _matches(change, c) for c in station_row):
            return max(c.updated_at for c in station_row if c.updated_at is not None)
        covered = [c for c in connectors if c.evse_id > 0]
    else:
        covered = [
            c
            for c in connectors
            if c.evse_id == change.evse_id
            and (change.connector_id == 0 or c.connector_id == change.connector_id)
        ]
    if not covered or not all(fresh(c) and _matches(change, c) for c in covered):
        return None
    return max(c.updated_at for c in covered if c.updated_at is not None)


class AvailabilityTracker:
    def __init__(
        self,
        store: AvailabilityStore,
        connectors: ConnectorReads,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._connectors = connectors
        self._clock = clock

    async def scheduled(
        self, station_id: str, evse_id: int | None, connector_id: int | None, operative: bool
    ) -> AvailabilityChange:
        return await self._store.add_change(
            AvailabilityChange(
                station_id, evse_id or 0, connector_id or 0, operative, self._clock()
            )
        )

    async def changes(self, station_id: str, limit: int, offset: int) -> Page:
        """The station's scheduled changes, those applied since the last look marked so."""
        page = await self._store.list_changes(station_id, limit, offset)
        waiting = [c for c in page.items if c.state == SCHEDULED]
        if waiting:
            connectors = await self._connectors.list_connectors(station_id)
            for change in waiting:
                at = applied_at(change, connectors)
                if at is not None and change.id is not None:
                    await self._store.mark_applied(change.id, at)
                    change.state, change.applied_at = APPLIED, at
        return page
