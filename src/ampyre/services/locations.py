"""OCPI Locations of our stations (CPO role, mod_locations): the operator's locations and
the stations assigned to them, EVSE and connector attributes, the Location objects
partners get (built from what the stations reported, with live status), their pushes
(a PUT of the whole Location whenever the operator changes something; status changes are
PATCHed by services/locations_feed.py), and the lookups the other OCPI modules need
(`evse_uid`, `location_of`, `resolve_evse`, `cdr_location`).

Every push of one Location goes under the object key `location:{id}`: the push queue
keeps them in order, and a newer PUT supersedes what is still queued, so a receiver that
was away gets the latest whole Location first. A partner that registers gets every
roaming Location, and a receiver answering a PATCH with "unknown Location" the whole
Location instead, under the same keys (services/locations_sync.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from ampyre.config import Settings
from ampyre.domain import locations_enums as enums
from ampyre.domain import locations_validate as v
from ampyre.domain.locations import (
    ConnectorAttributes,
    ConnectorKind,
    EvseAttributes,
    EvseState,
    EvseStatus,
    Location,
    Publisher,
    StationPart,
    cdr_location_object,
    content_digest,
    emi3_evse_id,
    evse_object,
    evse_uid,
    location_object,
)
from ampyre.domain.locations_merge import index_of
from ampyre.domain.locations_validate import LocationInvalid
from ampyre.domain.models import Page
from ampyre.services.clock import utcnow
from ampyre.services.locations_port import LocationExists, LocationStore, UnknownStation
from ampyre.services.ocpi_port import PushPort

__all__ = [
    "ConnectorView",
    "EvseView",
    "LocationExists",
    "LocationInvalid",
    "LocationNotFound",
    "LocationService",
    "NotInLocation",
    "UnknownStation",
    "connector_kind",
]

MODULE: Final = "locations"
KEY_PREFIX: Final = "location:"  # the push queue's object key: KEY_PREFIX + location id
# Our own Location ids: CiString(36), and safe in a URL path segment.
_LOCATION_ID: Final = re.compile(r"[A-Za-z0-9._~-]{1,36}")
# eMI3 EVSE ID (Part 2): <CC>[*]<operator 3>[*]E<outlet: A-Z 0-9 *, 1..31>.
_EMI3: Final = re.compile(r"[A-Za-z]{2}\*?[A-Za-z0-9]{3}\*?E[A-Za-z0-9*]{1,31}")


class LocationNotFound(LookupError):
    pass


class NotInLocation(LookupError):
    """The station (or EVSE) is not part of that location."""


TariffLookup = Callable[[str, int, int], Awaitable[Sequence[str]]]


@dataclass(slots=True, frozen=True)
class ConnectorView:
    connector_id: int
    ocpp_status: str | None
    kind: ConnectorKind
    customized: bool
    tariff_ids: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class EvseView:
    """An EVSE of a location as the operator sees it."""

    station_id: str
    evse_id: int
    uid: str
    emi3_id: str | None
    status: EvseStatus
    connected: bool
    attributes: EvseAttributes
    customized: bool
    connectors: tuple[ConnectorView, ...]


def _evse_input(
    station_id: str, evse_id: int, data: Mapping[str, Any], at: datetime
) -> EvseAttributes:
    emi3 = data.get("evse_id")
    if emi3 is not None:
        emi3 = v.ci_string(48)(emi3, "evse_id")
        if not _EMI3.fullmatch(emi3):
            raise LocationInvalid('must be an eMI3 EVSE ID like "NL*AMP*E12345*1"', "evse_id")
    caps = data.get("capabilities")
    return EvseAttributes(
        station_id=station_id,
        evse_id=evse_id,
        emi3_id=emi3,
        floor_level=_opt(v.string(4), data.get("floor_level"), "floor_level"),
        physical_reference=_opt(v.string(16), data.get("physical_reference"), "physical_reference"),
        capabilities=None
        if caps is None
        else tuple(v.list_of(v.enum_of(enums.CAPABILITIES), unique=True)(caps, "capabilities")),
        parking_restrictions=tuple(
            v.list_of(v.enum_of(enums.PARKING_RESTRICTIONS), unique=True)(
                data.get("parking_restrictions") or [], "parking_restrictions"
            )
        ),
        directions=tuple(v.list_of(v.display_text)(data.get("directions") or [], "directions")),
        updated_at=at,
    )


def _opt(check: v.Check, value: Any, field: str) -> Any:
    return None if value is None or value == "" else check(value, field)


def connector_kind(data: Mapping[str, Any]) -> ConnectorKind:
    """A connector's description from the operator (mod_locations 8.3.3 limits)."""
    return ConnectorKind(
        standard=v.enum_of(enums.CONNECTOR_TYPES)(data.get("standard"), "standard"),
        format=v.enum_of(enums.CONNECTOR_FORMATS)(data.get("format"), "format"),
        power_type=v.enum_of(enums.POWER_TYPES)(data.get("power_type"), "power_type"),
        max_voltage=v.integer(1, 1_000_000)(data.get("max_voltage"), "max_voltage"),
        max_amperage=v.integer(1, 1_000_000)(data.get("max_amperage"), "max_amperage"),
        max_electric_power=_opt(
            v.integer(1, 2_000_000_000), data.get("max_electric_power"), "max_electric_power"
        ),
        terms_and_conditions=_opt(v.url, data.get("terms_and_conditions"), "terms_and_conditions"),
    )


class LocationService:
    def __init__(
        self,
        store: LocationStore,
        settings: Settings,
        *,
        push: PushPort | None = None,
        tariffs: TariffLookup | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._push = push
        self._tariffs = tariffs

    @property
    def store(self) -> LocationStore:
        return self._store

    def publisher(self) -> Publisher:
        s = self._settings
        return Publisher(
            country_code=s.ocpi_country_code.upper(),
            party_id=s.ocpi_party_id.upper(),
            default_kind=ConnectorKind(
                standard=s.ocpi_connector_standard,
                format=s.ocpi_connector_format,
                power_type=s.ocpi_connector_power_type,
                max_voltage=s.ocpi_connector_max_voltage,
                max_amperage=s.ocpi_connector_max_amperage,
            ),
        )

    # ------------------------------------------------------------------ operator CRUD

    async def create(
        self, place: Mapping[str, Any], *, location_id: str | None = None, roaming: bool = True
    ) -> Location:
        if location_id is None:
            location_id = str(uuid.uuid4())
        elif not isinstance(location_id, str) or not _LOCATION_ID.fullmatch(location_id):
            raise LocationInvalid("must be 1..36 characters of A-Z a-z 0-9 . _ - ~", "id")
        now = utcnow()
        location = Location(
            id=location_id,
            place=v.place(dict(place), ""),
            roaming=roaming,
            created_at=now,
            updated_at=now,
            last_updated=now,
        )
        await self._store.add_location(location)
        await self._publish(location)
        return location

    async def get(self, location_id: str) -> Location | None:
        return await self._store.get_location(location_id)

    async def require(self, location_id: str) -> Location:
        location = await self._store.get_location(location_id)
        if location is None:
            raise LocationNotFound(f"no location {location_id!r}")
        return location

    async def page(self, limit: int, offset: int) -> Page:
        return await self._store.list_locations(limit, offset)

    async def replace(
        self, location_id: str, place: Mapping[str, Any], *, roaming: bool = True
    ) -> Location:
        location = await self.require(location_id)
        checked = v.place(dict(place), "")
        was_roaming = location.roaming
        now = utcnow()
        location = replace(location, place=checked, roaming=roaming, updated_at=now)
        location.last_updated = max(location.last_updated, now)
        await self._store.save_location(location)
        if was_roaming and not roaming:
            await self._withdraw(location)
        else:
            await self._publish(location)
        return location

    async def delete(self, location_id: str) -> bool:
        location = await self._store.get_location(location_id)
        if location is None:
            return False
        await self._withdraw(location)
        return await self._store.delete_location(location.id)

    # ------------------------------------------------------------------ stations

    async def assign(self, location_id: str, station_id: str) -> Location:
        """Put the station in the location (taking it out of the one it was in)."""
        location = await self.require(location_id)
        old_part = await self._store.part(station_id)
        now = utcnow()
        before = await self._store.assign_station(location.id, station_id, now)
        if before == location.id:
            return location
        if before is not None and old_part is not None:
            await self._left(before, [old_part], now)
        await self._store.touch_locations([location.id], now)
        location = await self.require(location.id)
        await self._publish(location)
        return location

    async def unassign(self, location_id: str, station_id: str) -> None:
        location = await self.require(location_id)
        part = await self._store.part(station_id)
        if part is None or station_id not in location.stations:
            raise NotInLocation(f"station {station_id!r} is not in location {location.id!r}")
        await self._store.unassign_station(station_id)
        await self._left(location.id, [part], utcnow())

    async def _left(self, location_id: str, parts: Sequence[StationPart], now: datetime) -> None:
        """Stations left a location: its receivers get it without them, their EVSEs
        REMOVED (mod_locations 8.1: EVSEs are never deleted, their status says so)."""
        await self._store.touch_locations([location_id], now)
        location = await self._store.get_location(location_id)
        if location is None:
            return
        pub = self.publisher()
        removed = [
            {**evse_object(p, e, pub, {}, EvseStatus.REMOVED), "last_updated": v.ocpi_time(now)}
            for p in parts
            for e in p.evse_ids()
        ]
        await self._publish(location, removed)

    # ------------------------------------------------------------------ attributes

    async def evses(self, location_id: str) -> list[EvseView]:
        location = await self.require(location_id)
        parts = await self._store.parts(location.id)
        tariffs = await self._tariff_ids(parts)
        pub = self.publisher()
        views: list[EvseView] = []
        for part in parts:
            for e in part.evse_ids():
                attrs = part.evses.get(e)
                connectors = tuple(
                    ConnectorView(
                        connector_id=c,
                        ocpp_status=next(
                            (
                                r.status
                                for r in part.readings
                                if (r.evse_id, r.connector_id) == (e, c)
                            ),
                            None,
                        ),
                        kind=(
                            part.connectors[(e, c)].kind
                            if (e, c) in part.connectors
                            else pub.default_kind
                        ),
                        customized=(e, c) in part.connectors,
                        tariff_ids=tuple(tariffs.get((part.station_id, e, c), ())),
                    )
                    for c in part.connector_ids(e)
                )
                views.append(
                    EvseView(
                        station_id=part.station_id,
                        evse_id=e,
                        uid=evse_uid(part.station_id, e),
                        emi3_id=(attrs.emi3_id if attrs and attrs.emi3_id else None)
                        or emi3_evse_id(pub.country_code, pub.party_id, part.station_id, e),
                        status=part.status(e),
                        connected=part.connected,
                        attributes=attrs or EvseAttributes(part.station_id, e),
                        customized=attrs is not None,
                        connectors=connectors,
                    )
                )
        return views

    async def _member(self, location_id: str, station_id: str) -> Location:
        location = await self.require(location_id)
        if station_id not in location.stations:
            raise NotInLocation(f"station {station_id!r} is not in location {location.id!r}")
        return location

    async def set_evse(
        self, location_id: str, station_id: str, evse_id: int, data: Mapping[str, Any]
    ) -> None:
        location = await self._member(location_id, station_id)
        now = utcnow()
        await self._store.set_evse(_evse_input(station_id, evse_id, data, now))
        await self._changed(location, now)

    async def reset_evse(self, location_id: str, station_id: str, evse_id: int) -> bool:
        location = await self._member(location_id, station_id)
        if not await self._store.delete_evse(station_id, evse_id):
            return False
        await self._changed(location, utcnow())
        return True

    async def set_connector(
        self,
        location_id: str,
        station_id: str,
        evse_id: int,
        connector_id: int,
        data: Mapping[str, Any],
    ) -> None:
        location = await self._member(location_id, station_id)
        now = utcnow()
        attrs = ConnectorAttributes(station_id, evse_id, connector_id, connector_kind(data), now)
        await self._store.set_connector(attrs)
        await self._changed(location, now)

    async def reset_connector(
        self, location_id: str, station_id: str, evse_id: int, connector_id: int
    ) -> bool:
        location = await self._member(location_id, station_id)
        if not await self._store.delete_connector(station_id, evse_id, connector_id):
            return False
        await self._changed(location, utcnow())
        return True

    async def _changed(self, location: Location, now: datetime) -> None:
        await self._store.touch_locations([location.id], now)
        await self._publish(await self.require(location.id))

    # ------------------------------------------------------------------ OCPI objects

    async def _tariff_ids(
        self, parts: Sequence[StationPart]
    ) -> dict[tuple[str, int, int], Sequence[str]]:
        found: dict[tuple[str, int, int], Sequence[str]] = {}
        if self._tariffs is None:
            return found
        for part in parts:
            for e in part.evse_ids():
                for c in part.connector_ids(e):
                    ids = await self._tariffs(part.station_id, e, c)
                    if ids:
                        found[(part.station_id, e, c)] = list(ids)
        return found

    async def build(self, location: Location) -> dict[str, Any]:
        """The OCPI Location object of one of our locations (roaming or not)."""
        parts = await self._store.parts(location.id)
        return location_object(location, parts, self.publisher(), await self._tariff_ids(parts))

    async def ocpi_location(self, location_id: str) -> dict[str, Any] | None:
        """The OCPI Location as partners get it; None: unknown or not roaming."""
        location = await self._store.get_location(location_id)
        if location is None or not location.roaming:
            return None
        return await self.build(location)

    async def sender_page(
        self, date_from: datetime | None, date_to: datetime | None, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """GET list of the Sender interface (mod_locations 8.2.1.1): roaming locations
        last updated in [date_from, date_to), by id."""
        locations, total = await self._store.roaming_page(date_from, date_to, offset, limit)
        parts = await self._store.parts_of([loc.id for loc in locations])
        pub = self.publisher()
        objects = []
        for loc in locations:
            mine = parts.get(loc.id, [])
            objects.append(location_object(loc, mine, pub, await self._tariff_ids(mine)))
        return objects, total

    async def sender_object(
        self, location_id: str, uid: str | None = None, connector_id: str | None = None
    ) -> dict[str, Any] | None:
        """GET object: a Location, one of its EVSEs or one Connector (None: unknown)."""
        obj = await self.ocpi_location(location_id)
        if obj is None or uid is None:
            return obj
        evses: list[dict[str, Any]] = obj["evses"]
        i = _best(evses, "uid", uid)
        if i is None:
            return None
        if connector_id is None:
            return evses[i]
        connectors: list[dict[str, Any]] = evses[i]["connectors"]
        j = index_of(connectors, "id", connector_id)
        return None if j is None else connectors[j]

    # ------------------------------------------------------------------ lookups

    def evse_uid(self, station_id: str, evse_id: int) -> str:
        return evse_uid(station_id, evse_id)

    async def location_of(self, station_id: str) -> str | None:
        """The roaming location the station is in (None: none, or not roaming)."""
        found = (await self._store.assignments([station_id])).get(station_id)
        return found[0] if found and found[1] else None

    async def resolve_evse(self, location_id: str, uid: str) -> tuple[str, int] | None:
        """(station id, EVSE id) of an EVSE uid in a roaming location (case-insensitive;
        an exact match wins over a match in another case)."""
        location = await self._store.get_location(location_id)
        if location is None or not location.roaming:
            return None
        parts = await self._store.parts(location.id)
        candidates = [
            (evse_uid(p.station_id, e), p.station_id, e) for p in parts for e in p.evse_ids()
        ]
        exact = [(s, e) for u, s, e in candidates if u == uid]
        if exact:
            return exact[0]
        folded = [(s, e) for u, s, e in candidates if u.upper() == uid.upper()]
        return folded[0] if folded else None

    async def resolve_connector(
        self, location_id: str, uid: str, connector_id: str
    ) -> tuple[str, int, int] | None:
        found = await self.resolve_evse(location_id, uid)
        if found is None or not connector_id.isdigit():
            return None
        part = await self._store.part(found[0])
        if part is None or int(connector_id) not in part.connector_ids(found[1]):
            return None
        return found[0], found[1], int(connector_id)

    async def cdr_location(
        self, station_id: str, evse_id: int, connector_id: int
    ) -> dict[str, Any] | None:
        """mod_cdrs CdrLocation of a connector of a roaming location (None: not roaming)."""
        found = (await self._store.assignments([station_id])).get(station_id)
        if not found or not found[1]:
            return None
        location = await self._store.get_location(found[0])
        part = await self._store.part(station_id)
        if location is None or part is None:
            return None
        return cdr_location_object(location, part, evse_id, connector_id, self.publisher())

    async def time_zone_of(self, station_id: str) -> str | None:
        """The IANA time zone of the station's location (any location), for tariffs."""
        found = (await self._store.assignments([station_id])).get(station_id)
        if not found:
            return None
        location = await self._store.get_location(found[0])
        zone = None if location is None else location.place.get("time_zone")
        return zone if isinstance(zone, str) else None

    # ------------------------------------------------------------------ pushes

    def path(self, location_id: str, uid: str | None = None) -> str:
        """The path of a Location (or one of its EVSEs) below a locations Receiver."""
        pub = self.publisher()
        path = f"/{pub.country_code}/{pub.party_id}/{location_id}"
        return path if uid is None else f"{path}/{uid}"

    async def push(self, location_id: str) -> int:
        """PUT the whole Location to every receiver now (how many were queued)."""
        location = await self.require(location_id)
        if not location.roaming:
            return 0
        return await self._publish(location)

    async def _publish(self, location: Location, removed: Sequence[dict[str, Any]] = ()) -> int:
        """PUT the Location to the receivers and remember the statuses it carried."""
        if not location.roaming:
            return 0
        parts = await self._store.parts(location.id)
        pub = self.publisher()
        obj = location_object(location, parts, pub, await self._tariff_ids(parts))
        obj["evses"] = [*obj["evses"], *removed]
        queued = 0
        if self._push is not None:
            queued = await self._push.to_receivers(
                MODULE, "PUT", self.path(location.id), obj, KEY_PREFIX + location.id
            )
        await self._store.set_digest(location.id, content_digest(obj))
        now = utcnow()
        states: list[tuple[EvseState, str]] = []
        for part in parts:
            for e in part.evse_ids():
                status = part.status(e)
                known = part.states.get(e)
                at = known.status_at if known is not None and known.status == status else now
                states.append((EvseState(part.station_id, e, status, at), location.id))
        await self._store.save_states(states)
        return queued

    async def tariffs_changed(self) -> int:
        """Which tariff applies somewhere may have changed (TariffService): PUT the
        roaming locations whose Connector.tariff_ids changed. How many."""
        changed, offset = 0, 0
        while True:
            locations, total = await self._store.roaming_page(None, None, offset, 100)
            for location in locations:
                obj = await self.build(location)
                if content_digest(obj) == location.pushed_digest:
                    continue
                now = utcnow()
                await self._store.touch_locations([location.id], now)
                await self._publish(await self.require(location.id))
                changed += 1
            offset += len(locations)
            if not locations or offset >= total:
                return changed

    async def _withdraw(self, location: Location) -> None:
        """The location stops being offered: its receivers get every EVSE REMOVED."""
        parts = await self._store.parts(location.id)
        now = utcnow()
        if self._push is not None:
            pub = self.publisher()
            obj = location_object(replace(location, last_updated=now), parts, pub, {})
            for evse in obj["evses"]:
                evse["status"] = str(EvseStatus.REMOVED)
                evse["last_updated"] = v.ocpi_time(now)
            obj["last_updated"] = v.ocpi_time(now)
            await self._push.to_receivers(
                MODULE, "PUT", self.path(location.id), obj, KEY_PREFIX + location.id
            )
        await self._store.delete_states([p.station_id for p in parts])

    async def refresh(self, station_ids: Sequence[str]) -> int:
        """Statuses of these stations may have changed (the outbox feed): PATCH the EVSEs
        whose OCPI status changed, PUT the Location when one of its EVSEs is new to the
        receivers. How many EVSEs changed."""
        assigned = await self._store.assignments(station_ids)
        wanted = [sid for sid, (_, roaming) in assigned.items() if roaming]
        if not wanted:
            return 0
        parts = await self._store.station_parts(wanted)
        now = utcnow()
        stamp = v.ocpi_time(now)
        patches: list[tuple[str, StationPart, int, EvseStatus]] = []
        new: set[str] = set()
        for station_id in sorted(parts):
            part = parts[station_id]
            location_id = assigned[station_id][0]
            for e in part.evse_ids():
                status = part.status(e)
                known = part.states.get(e)
                if known is None:
                    new.add(location_id)  # the receivers do not know this EVSE
                elif known.status != status:
                    patches.append((location_id, part, e, status))
        touched = new | {p[0] for p in patches}
        if not touched:
            return 0
        await self._store.touch_locations(touched, now)
        for location_id in sorted(new):
            location = await self._store.get_location(location_id)
            if location is not None:
                await self._publish(location)  # the whole Location, with the new EVSE
        patches = [p for p in patches if p[0] not in new]
        if self._push is not None:
            for location_id, part, e, status in patches:
                # mod_locations 8.2.2.3: a PATCH carries the changed fields and last_updated.
                await self._push.to_receivers(
                    MODULE,
                    "PATCH",
                    self.path(location_id, evse_uid(part.station_id, e)),
                    {"status": str(status), "last_updated": stamp},
                    KEY_PREFIX + location_id,
                )
        await self._store.save_states(
            [(EvseState(p.station_id, e, s, now), loc) for loc, p, e, s in patches]
        )
        return len(patches) + len(new)


def _best(items: list[dict[str, Any]], key: str, ident: str) -> int | None:
    """The item whose `key` is `ident`: exactly, else case-insensitively (CiString)."""
    for i, item in enumerate(items):
        if item.get(key) == ident:
            return i
    return index_of(items, key, ident)
