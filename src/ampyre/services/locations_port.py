"""Where locations are kept (adapters/db/locations.py): our locations, their stations,
the operator's EVSE/connector attributes, the published EVSE states, and the Locations
partners pushed to us."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

from ampyre.domain.locations import (
    ConnectorAttributes,
    EvseAttributes,
    EvseState,
    Location,
    ReceivedLocation,
    StationPart,
)
from ampyre.domain.models import Page


class LocationExists(Exception):
    """A location with this id (compared case-insensitively) exists."""


class UnknownStation(LookupError):
    pass


class LocationStore(Protocol):
    # ------------------------------------------------------------------ locations
    async def add_location(self, location: Location) -> None:
        """Raise LocationExists if the id is taken."""
        ...

    async def get_location(self, location_id: str) -> Location | None:
        """By id, case-insensitively; with its stations."""
        ...

    async def list_locations(self, limit: int, offset: int) -> Page:
        """items: Location (with stations), by id."""
        ...

    async def roaming_page(
        self, date_from: datetime | None, date_to: datetime | None, offset: int, limit: int
    ) -> tuple[list[Location], int]:
        """Roaming locations with date_from <= last_updated < date_to, by id; and how many."""
        ...

    async def save_location(self, location: Location) -> bool: ...
    async def delete_location(self, location_id: str) -> bool: ...
    async def set_digest(self, location_id: str, digest: str) -> None:
        """Remember what was last PUT to the receivers (domain content_digest)."""
        ...

    async def touch_locations(self, location_ids: Collection[str], at: datetime) -> None:
        """Move last_updated to `at` (never back)."""
        ...

    # ------------------------------------------------------------------ stations
    async def assign_station(self, location_id: str, station_id: str, at: datetime) -> str | None:
        """Put the station in the location; the location it was in before (or None).
        Raise UnknownStation if Ampyre does not know it."""
        ...

    async def unassign_station(self, station_id: str) -> str | None:
        """Take the station out of its location; that location's id (None: in none)."""
        ...

    async def assignments(self, station_ids: Collection[str]) -> dict[str, tuple[str, bool]]:
        """station id -> (location id, the location's roaming flag), for those assigned."""
        ...

    async def parts(self, location_id: str) -> list[StationPart]:
        """Every station of the location with its readings, attributes and states."""
        ...

    async def parts_of(self, location_ids: Collection[str]) -> dict[str, list[StationPart]]:
        """`parts` of several locations at once (those with stations)."""
        ...

    async def part(self, station_id: str) -> StationPart | None:
        """One assigned station (None: not in a location)."""
        ...

    async def station_parts(self, station_ids: Collection[str]) -> dict[str, StationPart]:
        """`part` of several stations at once (those assigned)."""
        ...

    # ------------------------------------------------------------------ attributes
    async def set_evse(self, attrs: EvseAttributes) -> None: ...
    async def delete_evse(self, station_id: str, evse_id: int) -> bool: ...
    async def set_connector(self, attrs: ConnectorAttributes) -> None: ...
    async def delete_connector(self, station_id: str, evse_id: int, connector_id: int) -> bool: ...

    # ------------------------------------------------------------------ published states
    async def save_states(self, states: Sequence[tuple[EvseState, str]]) -> None:
        """Upsert (state, location id) rows."""
        ...

    async def delete_states(self, station_ids: Collection[str]) -> None: ...

    # ------------------------------------------------------------------ received (eMSP)
    async def get_received(
        self, country_code: str, party_id: str, location_id: str
    ) -> ReceivedLocation | None: ...
    async def put_received(
        self,
        partner_id: int | None,
        country_code: str,
        party_id: str,
        location_id: str,
        data: dict[str, Any],
        last_updated: datetime,
    ) -> bool:
        """Store or replace; True if it was new."""
        ...

    async def update_received(
        self,
        country_code: str,
        party_id: str,
        location_id: str,
        change: Callable[[dict[str, Any]], tuple[dict[str, Any], datetime]],
    ) -> ReceivedLocation | None:
        """Read, change and write one received Location atomically (`change` gets its
        data and returns the new data and last_updated; it may raise to abort). None if
        it does not exist."""
        ...

    async def list_received(
        self,
        limit: int,
        offset: int,
        partner_id: int | None = None,
        country_code: str | None = None,
        party_id: str | None = None,
    ) -> Page:
        """items: ReceivedLocation, by country, party and location id."""
        ...
