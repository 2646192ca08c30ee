"""OCPI 2.2.1 Locations built from Ampyre's stations (mod_locations): the operator's
locations, what the stations reported (EVSEs, connectors, status), the OCPP -> OCPI
status mapping, the EVSE uid scheme and the Location / EVSE / Connector / CdrLocation
objects partners get. Plain values, no I/O.

OCPP and OCPI differ in their tiers (mod_locations 8.1 "Group of Charge Points"): one
OCPI Location groups the EVSEs of every station assigned to it (the preferred mapping).
A 1.6 station reports connectors only; each is its own EVSE (evse_id == connector_id),
as the OCA application note on 1.x and mod_locations 8.3.2 advise.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from ampyre.domain.locations_enums import EvseStatus
from ampyre.domain.locations_validate import ocpi_time

__all__ = ["EvseStatus"]

UID_MAX: Final = 36  # EVSE.uid, Location.id, Connector.id: CiString(36)
EMI3_MAX: Final = 48  # EVSE.evse_id: CiString(48)
DEFAULT_CAPABILITIES: Final = ("RFID_READER", "REMOTE_START_STOP_CAPABLE", "UNLOCK_CAPABLE")
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

# The order of mod_locations 8.3.1's table (what partners read first comes first).
PLACE_ORDER: Final = (
    "publish",
    "publish_allowed_to",
    "name",
    "address",
    "city",
    "postal_code",
    "state",
    "country",
    "coordinates",
    "related_locations",
    "parking_type",
)
PLACE_TAIL: Final = (
    "directions",
    "operator",
    "suboperator",
    "owner",
    "facilities",
    "time_zone",
    "opening_times",
    "charging_when_closed",
    "images",
    "energy_mix",
)

# ------------------------------------------------------------------ status


# OCPP 1.6 ChargePointStatus and 2.0.1/2.1 ConnectorStatusEnumType -> OCPI Status (8.4.22).
# Preparing/Finishing/Suspended*: a vehicle is plugged in, the EVSE is in use ("CHARGING:
# The EVSE/Connector is in use"); Unavailable: not broken, taken out of use (INOPERATIVE);
# Faulted: broken (OUTOFORDER).
_OCPP_TO_OCPI: Final = {
    "available": EvseStatus.AVAILABLE,
    "preparing": EvseStatus.CHARGING,
    "charging": EvseStatus.CHARGING,
    "suspendedev": EvseStatus.CHARGING,
    "suspendedevse": EvseStatus.CHARGING,
    "finishing": EvseStatus.CHARGING,
    "occupied": EvseStatus.CHARGING,
    "reserved": EvseStatus.RESERVED,
    "unavailable": EvseStatus.INOPERATIVE,
    "faulted": EvseStatus.OUTOFORDER,
}
# An EVSE charges one vehicle at a time (mod_locations 8.3.2): one connector in use makes
# the EVSE in use; one usable connector makes it available.
_PRECEDENCE: Final = (
    EvseStatus.CHARGING,
    EvseStatus.RESERVED,
    EvseStatus.AVAILABLE,
    EvseStatus.BLOCKED,
    EvseStatus.INOPERATIVE,
    EvseStatus.OUTOFORDER,
    EvseStatus.UNKNOWN,
)


def ocpi_status(ocpp_status: str | None) -> EvseStatus:
    """The OCPI status of one connector's OCPP status (UNKNOWN for anything else)."""
    if not ocpp_status:
        return EvseStatus.UNKNOWN
    return _OCPP_TO_OCPI.get(ocpp_status.lower(), EvseStatus.UNKNOWN)


def evse_status(
    connector_statuses: Iterable[str | None],
    *,
    connected: bool,
    station_status: str | None = None,
) -> EvseStatus:
    """An EVSE's status from its connectors' OCPP statuses. A disconnected station's
    EVSEs are UNKNOWN ("also used when offline"); a 1.6 station whose connector 0 (the
    whole charge point) is Unavailable or Faulted makes each EVSE INOPERATIVE/OUTOFORDER."""
    if not connected:
        return EvseStatus.UNKNOWN
    whole = ocpi_status(station_status)
    if whole in (EvseStatus.INOPERATIVE, EvseStatus.OUTOFORDER):
        return whole
    found = {ocpi_status(s) for s in connector_statuses}
    for status in _PRECEDENCE:
        if status in found:
            return status
    return EvseStatus.UNKNOWN


# ------------------------------------------------------------------ identifiers


def evse_uid(station_id: str, evse_id: int) -> str:
    """EVSE.uid (CiString(36), never changes): "{station_id}*{evse_id}" when it fits,
    else the start of the station id, 8 hex digits of its SHA-256 and the EVSE id."""
    plain = f"{station_id}*{evse_id}"
    if len(plain) <= UID_MAX:
        return plain
    suffix = f"~{hashlib.sha256(station_id.encode()).hexdigest()[:8]}*{evse_id}"
    return station_id[: UID_MAX - len(suffix)] + suffix


_NOT_ALNUM: Final = re.compile(r"[^A-Z0-9]")


def emi3_evse_id(country_code: str, party_id: str, station_id: str, evse_id: int) -> str | None:
    """A derived eMI3 EVSE ID "<CC>*<PARTY>*E<station>*<evse>" (eMI3 Part 2: the power
    outlet id is A-Z 0-9 '*', at most 31 characters), or None when the station id leaves
    nothing usable or is too long (the operator sets one per EVSE then)."""
    clean = _NOT_ALNUM.sub("", station_id.upper())
    outlet = f"E{clean}*{evse_id}"
    if not clean or len(outlet) > 31:
        return None
    text = f"{country_code.upper()}*{party_id.upper()}*{outlet}"
    return text if len(text) <= EMI3_MAX else None


# ------------------------------------------------------------------ values


@dataclass(slots=True)
class Location:
    """An operator's location. `place`: the Location fields that describe the place
    (locations_validate.PLACE_FIELDS, checked), `roaming`: offered to partners."""

    id: str
    place: dict[str, Any]
    roaming: bool = True
    stations: tuple[str, ...] = ()
    created_at: datetime = EPOCH
    updated_at: datetime = EPOCH
    last_updated: datetime = EPOCH  # the OCPI last_updated (place, EVSEs, connectors)
    pushed_digest: str | None = None  # content_digest of the last PUT to the receivers

    @property
    def name(self) -> str | None:
        name = self.place.get("name")
        return name if isinstance(name, str) else None


@dataclass(slots=True, frozen=True)
class EvseAttributes:
    """What the operator says about an EVSE beyond what the station reports."""

    station_id: str
    evse_id: int
    emi3_id: str | None = None  # EVSE.evse_id; None: derived
    floor_level: str | None = None
    physical_reference: str | None = None
    capabilities: tuple[str, ...] | None = None  # None: DEFAULT_CAPABILITIES
    parking_restrictions: tuple[str, ...] = ()
    directions: tuple[dict[str, Any], ...] = ()
    updated_at: datetime = EPOCH


@dataclass(slots=True, frozen=True)
class ConnectorKind:
    """A connector's physical description (mod_locations 8.3.3)."""

    standard: str
    format: str
    power_type: str
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None = None
    terms_and_conditions: str | None = None


@dataclass(slots=True, frozen=True)
class ConnectorAttributes:
    station_id: str
    evse_id: int
    connector_id: int
    kind: ConnectorKind
    updated_at: datetime = EPOCH


@dataclass(slots=True, frozen=True)
class ConnectorReading:
    """A connector as its station last reported it (the `connectors` table)."""

    evse_id: int
    connector_id: int
    status: str | None


@dataclass(slots=True, frozen=True)
class EvseState:
    """The OCPI status last published for an EVSE (change detection, last_updated)."""

    station_id: str
    evse_id: int
    status: EvseStatus
    status_at: datetime


@dataclass(slots=True)
class StationPart:
    """One station of a location, as the Location is built from it."""

    station_id: str
    connected: bool
    assigned_at: datetime
    readings: list[ConnectorReading] = field(default_factory=list)
    evses: dict[int, EvseAttributes] = field(default_factory=dict)
    connectors: dict[tuple[int, int], ConnectorAttributes] = field(default_factory=dict)
    states: dict[int, EvseState] = field(default_factory=dict)

    def evse_ids(self) -> list[int]:
        """EVSEs with at least one connector (EVSE.connectors has cardinality +)."""
        ids = {r.evse_id for r in self.readings if r.evse_id > 0 and r.connector_id > 0}
        ids |= {e for (e, c) in self.connectors if e > 0 and c > 0}
        return sorted(ids)

    def connector_ids(self, evse_id: int) -> list[int]:
        ids = {r.connector_id for r in self.readings if r.evse_id == evse_id}
        ids |= {c for (e, c) in self.connectors if e == evse_id}
        return sorted(i for i in ids if i > 0)

    def status(self, evse_id: int) -> EvseStatus:
        whole = next((r.status for r in self.readings if r.evse_id == 0), None)
        return evse_status(
            (r.status for r in self.readings if r.evse_id == evse_id and r.connector_id > 0),
            connected=self.connected,
            station_status=whole,
        )


@dataclass(slots=True, frozen=True)
class Publisher:
    """Who publishes, and what a connector is when the operator did not say."""

    country_code: str
    party_id: str
    default_kind: ConnectorKind


TariffIds = Mapping[tuple[str, int, int], Sequence[str]]

# ------------------------------------------------------------------ building objects


def connector_object(
    part: StationPart, evse_id: int, connector_id: int, pub: Publisher, tariffs: TariffIds
) -> dict[str, Any]:
    attrs = part.connectors.get((evse_id, connector_id))
    kind = attrs.kind if attrs else pub.default_kind
    updated = max(part.assigned_at, attrs.updated_at if attrs else EPOCH)
    obj: dict[str, Any] = {
        "id": str(connector_id),
        "standard": kind.standard,
        "format": kind.format,
        "power_type": kind.power_type,
        "max_voltage": kind.max_voltage,
        "max_amperage": kind.max_amperage,
    }
    if kind.max_electric_power is not None:
        obj["max_electric_power"] = kind.max_electric_power
    ids = list(tariffs.get((part.station_id, evse_id, connector_id), ()))
    if ids:
        obj["tariff_ids"] = ids
    if kind.terms_and_conditions:
        obj["terms_and_conditions"] = kind.terms_and_conditions
    obj["last_updated"] = ocpi_time(updated)
    return obj


def evse_last_updated(part: StationPart, evse_id: int) -> datetime:
    times = [part.assigned_at]
    attrs = part.evses.get(evse_id)
    if attrs is not None:
        times.append(attrs.updated_at)
    state = part.states.get(evse_id)
    if state is not None:
        times.append(state.status_at)
    times += [a.updated_at for (e, _), a in part.connectors.items() if e == evse_id]
    return max(times)


def evse_object(
    part: StationPart,
    evse_id: int,
    pub: Publisher,
    tariffs: TariffIds,
    status: EvseStatus | None = None,
) -> dict[str, Any]:
    attrs = part.evses.get(evse_id) or EvseAttributes(part.station_id, evse_id)
    obj: dict[str, Any] = {"uid": evse_uid(part.station_id, evse_id)}
    emi3 = attrs.emi3_id or emi3_evse_id(pub.country_code, pub.party_id, part.station_id, evse_id)
    if emi3:
        obj["evse_id"] = emi3
    obj["status"] = str(status or part.status(evse_id))
    caps = DEFAULT_CAPABILITIES if attrs.capabilities is None else attrs.capabilities
    if caps:
        obj["capabilities"] = list(caps)
    obj["connectors"] = [
        connector_object(part, evse_id, c, pub, tariffs) for c in part.connector_ids(evse_id)
    ]
    if attrs.floor_level:
        obj["floor_level"] = attrs.floor_level
    if attrs.physical_reference:
        obj["physical_reference"] = attrs.physical_reference
    if attrs.directions:
        obj["directions"] = [dict(d) for d in attrs.directions]
    if attrs.parking_restrictions:
        obj["parking_restrictions"] = list(attrs.parking_restrictions)
    obj["last_updated"] = ocpi_time(evse_last_updated(part, evse_id))
    return obj


def location_object(
    location: Location, parts: Sequence[StationPart], pub: Publisher, tariffs: TariffIds
) -> dict[str, Any]:
    """The OCPI Location (8.3.1) with every EVSE of its stations."""
    obj: dict[str, Any] = {
        "country_code": pub.country_code,
        "party_id": pub.party_id,
        "id": location.id,
    }
    place = location.place
    for name in PLACE_ORDER:
        if place.get(name) not in (None, []):
            obj[name] = place[name]
    evses = [
        evse_object(part, e, pub, tariffs)
        for part in sorted(parts, key=lambda p: p.station_id)
        for e in part.evse_ids()
    ]
    obj["evses"] = evses
    for name in PLACE_TAIL:
        if place.get(name) not in (None, []):
            obj[name] = place[name]
    latest = max(
        [location.last_updated, *(evse_last_updated(p, e) for p in parts for e in p.evse_ids())]
    )
    obj["last_updated"] = ocpi_time(latest)
    return obj


def content_digest(obj: Mapping[str, Any]) -> str:
    """SHA-256 of a Location object without what changes on its own (last_updated, EVSE
    status): equal digests, nothing a receiver needs to hear about."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("last_updated", "status")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    text = json.dumps(strip(obj), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def cdr_location_object(
    location: Location, part: StationPart, evse_id: int, connector_id: int, pub: Publisher
) -> dict[str, Any]:
    """mod_cdrs CdrLocation: where a session took place, for its CDR."""
    place = location.place
    evse = evse_object(part, evse_id, pub, {})
    kind = part.connectors.get((evse_id, connector_id))
    connector = kind.kind if kind else pub.default_kind
    obj: dict[str, Any] = {"id": location.id}
    for name in ("name", "address", "city", "postal_code", "state", "country", "coordinates"):
        if place.get(name) is not None:
            obj[name] = place[name]
    obj["evse_uid"] = evse["uid"]
    obj["evse_id"] = evse.get("evse_id", evse["uid"])  # required (1) in CdrLocation
    obj["connector_id"] = str(connector_id)
    obj["connector_standard"] = connector.standard
    obj["connector_format"] = connector.format
    obj["connector_power_type"] = connector.power_type
    return obj


@dataclass(slots=True)
class ReceivedLocation:
    """A Location a CPO partner pushed to us (eMSP role), the whole OCPI object."""

    id: int
    partner_id: int | None
    country_code: str
    party_id: str
    location_id: str
    data: dict[str, Any]
    last_updated: datetime
    received_at: datetime
