"""What the operator dashboard shows, defined once: the station states it counts and
filters by, the station list's search and sort, the overview, and a transaction's chart.

Station states (the overview's counts and `GET /stations?state=` use the same rules, so
a count and the list behind it always agree):

* **online**: the station's `connected` flag is set (it holds an OCPP WebSocket on some
  node; the flag is written with the connection and cleared when it closes or when the
  node that held it restarts).
* **offline**: not online. online + offline = total.
* **faulted**: at least one of its connectors' *current* status (the last
  StatusNotification per EVSE/connector, whether or not the station is connected now)
  is `Faulted`.
* **charging**: it has an active transaction, or at least one connector whose current
  status is `Charging` (1.6; 2.x reports charging in TransactionEvent, which makes an
  active transaction).

faulted and charging are not exclusive of each other or of online/offline: a station
whose connector 1 is Faulted while connector 2 charges counts in both.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from ampyre.domain.transactions import ENERGY_REGISTER, SampledValue, delivered_wh

FAULTED = "Faulted"  # connector status (1.6 ChargePointStatus, 2.x ConnectorStatusEnumType)
CHARGING = "Charging"  # 1.6 ChargePointStatus
NO_ERROR = "NoError"  # 1.6 ChargePointErrorCode when nothing is wrong


class StationState(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    FAULTED = "faulted"
    CHARGING = "charging"


class StationSort(enum.StrEnum):
    """Sort keys of the station list (`-` before one in the API: descending)."""

    ID = "id"
    VENDOR = "vendor"
    MODEL = "model"
    FIRMWARE_VERSION = "firmware_version"
    OCPP_VERSION = "ocpp_version"
    LAST_SEEN = "last_seen"
    CONNECTED = "connected"


# The station columns `q` searches (case-insensitive substring).
SEARCHED_FIELDS = ("id", "vendor", "model", "serial_number", "firmware_version", "description")


@dataclass(slots=True, frozen=True)
class StationQuery:
    """Search, filter and order of a station list. Stations with no value in the sort
    column come last in either direction; ties are broken by id (ascending)."""

    q: str | None = None
    state: StationState | None = None
    sort: StationSort = StationSort.ID
    descending: bool = False


def parse_sort(text: str) -> tuple[StationSort, bool]:
    """`"-last_seen"` -> (LAST_SEEN, descending). ValueError on an unknown key."""
    descending = text.startswith("-")
    return StationSort(text[1:] if descending else text), descending


def like_pattern(q: str) -> str:
    """A LIKE pattern (escape character backslash) matching `q` as a literal substring:
    `%` and `_` in what an operator types are not wildcards."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(slots=True, frozen=True)
class StationCounts:
    total: int = 0
    online: int = 0
    offline: int = 0
    faulted: int = 0
    charging: int = 0


@dataclass(slots=True, frozen=True)
class Alert:
    """A status report that says something is wrong: status Faulted, or an error code
    other than NoError (1.6 errorCode; 2.x has none)."""

    station_id: str
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None
    info: str | None
    vendor_error_code: str | None
    timestamp: datetime | None  # the station's clock
    received_at: datetime  # ours


@dataclass(slots=True, frozen=True)
class Overview:
    stations: StationCounts
    active_transactions: int
    energy_today_wh: float
    alerts: list[Alert] = field(default_factory=list)


# ---------------------------------------------------------------------- chart series

POWER = "Power.Active.Import"
SOC = "SoC"
CHART_MEASURANDS = (ENERGY_REGISTER, POWER, SOC)


@dataclass(slots=True)
class ChartPoint:
    """A transaction's meter values at one meter timestamp, as a chart plots them."""

    timestamp: datetime
    power_w: float | None = None
    energy_wh: float | None = None  # the register reading (what the meter shows)
    soc_percent: float | None = None


def chart_points(samples: Iterable[tuple[datetime, SampledValue]]) -> list[ChartPoint]:
    """One point per timestamp, in timestamp order (input ordered by timestamp).

    Energy: the delivered-energy register (domain.transactions.delivered_wh). Power: the
    total import power at the outlet; a station that sends only per-phase values (L1, L2,
    L3) gets their sum. SoC: as sent, in percent. Other measurands, locations and units
    than these are left out (they are in `GET /transactions/{pk}/meter-values`)."""
    points: list[ChartPoint] = []
    phases: dict[str, float] = {}
    for at, s in samples:
        if not points or points[-1].timestamp != at:
            _close(points, phases)
            points.append(ChartPoint(at))
            phases = {}
        point = points[-1]
        wh = delivered_wh(s)
        if wh is not None:
            point.energy_wh = wh
        elif s.measurand == POWER and s.location == "Outlet" and s.si_unit == "W":
            if s.si_value is None:
                continue
            if s.phase is None:
                point.power_w = s.si_value
            elif s.phase in ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N"):
                phases[s.phase] = s.si_value
        elif s.measurand == SOC and s.si_value is not None:
            point.soc_percent = s.si_value
    _close(points, phases)
    return [p for p in points if (p.power_w, p.energy_wh, p.soc_percent) != (None, None, None)]


def _close(points: list[ChartPoint], phases: dict[str, float]) -> None:
    """Per-phase power becomes the point's power when no total was sent."""
    if points and points[-1].power_w is None and phases:
        points[-1].power_w = sum(phases.values())
