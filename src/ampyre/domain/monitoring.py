"""2.x variable monitors and monitoring reports (issue 17 part 2), without I/O.

OCPP 2.0.1 block N (diagnostics): SetVariableMonitoring (N04), ClearVariableMonitoring
(N06), SetMonitoringBase (N03), SetMonitoringLevel (N05), GetMonitoringReport /
NotifyMonitoringReport (N02)."""

from __future__ import annotations

import dataclasses
import enum
import math
from datetime import datetime

from ampyre.domain.alerts import MAX_SEVERITY, MIN_SEVERITY

# OCPP 2.0.1 MonitorEnumType; 2.1 adds the two target-delta types.
MONITOR_TYPES_201: tuple[str, ...] = (
    "UpperThreshold",
    "LowerThreshold",
    "Delta",
    "Periodic",
    "PeriodicClockAligned",
)
MONITOR_TYPES_21: tuple[str, ...] = (*MONITOR_TYPES_201, "TargetDelta", "TargetDeltaRelative")
PERIODIC_TYPES = frozenset({"Periodic", "PeriodicClockAligned"})
# SetVariableMonitoring's `value` is a JSON number; Ampyre keeps it as a double and
# refuses what no station measures (and what would not survive a float column).
MAX_MONITOR_VALUE = 1e15
INT32_MAX = 2**31 - 1


class MonitoringBase(enum.StrEnum):
    # OCPP 2.0.1 MonitoringBaseEnumType (N03)
    ALL = "All"
    FACTORY_DEFAULT = "FactoryDefault"
    HARD_WIRED_ONLY = "HardWiredOnly"


class MonitoringCriterion(enum.StrEnum):
    # OCPP 2.0.1 MonitoringCriterionEnumType (N02)
    THRESHOLD = "ThresholdMonitoring"
    DELTA = "DeltaMonitoring"
    PERIODIC = "PeriodicMonitoring"


class ReportState(enum.StrEnum):
    PENDING = "pending"  # asked, parts may still come
    COMPLETE = "complete"  # the part with tbc=false arrived
    INCOMPLETE = "incomplete"  # closed after the report timeout without it
    REJECTED = "rejected"  # the station answered other than Accepted (nothing comes)
    TIMED_OUT = "timed_out"  # the station did not answer GetMonitoringReport


class InvalidMonitor(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.index: int | None = None  # which monitor of a request


@dataclasses.dataclass(slots=True, frozen=True)
class VariableAddress:
    component: str
    variable: str
    component_instance: str = ""
    variable_instance: str = ""
    evse_id: int = 0  # 0: none (the station)
    connector_id: int = 0


@dataclasses.dataclass(slots=True, frozen=True)
class Monitor:
    """A monitor on a variable, as set or as the station reported it."""

    address: VariableAddress
    type: str
    value: float
    severity: int
    transaction: bool = False
    id: int | None = None  # the station's monitor id (None: a new one, the station picks)
    source: str = "set"  # set (through Ampyre) or report (NotifyMonitoringReport)
    updated_at: datetime | None = None


@dataclasses.dataclass(slots=True, frozen=True)
class MonitorResult:
    """The station's answer for one monitor of a SetVariableMonitoring."""

    status: str  # Accepted, UnknownComponent, UnknownVariable, UnsupportedMonitorType,
    #              Rejected, Duplicate
    monitor: Monitor
    reason: str | None = None


@dataclasses.dataclass(slots=True, frozen=True)
class ClearResult:
    id: int
    status: str  # Accepted, Rejected, NotFound
    reason: str | None = None


@dataclasses.dataclass(slots=True)
class MonitoringReport:
    station_id: str
    request_id: int
    state: ReportState
    requested_at: datetime
    parts: int = 0
    monitors: int = 0
    last_part_at: datetime | None = None
    finished_at: datetime | None = None
    detail: str | None = None


def check_monitor(monitor: Monitor, types: tuple[str, ...]) -> None:
    """Refuse a monitor no station can take (InvalidMonitor names the field)."""
    if monitor.type not in types:
        raise InvalidMonitor(f"type must be one of {', '.join(types)}", "type")
    if not MIN_SEVERITY <= monitor.severity <= MAX_SEVERITY:
        raise InvalidMonitor("severity is 0 (danger) .. 9 (debug)", "severity")
    value = monitor.value
    if not math.isfinite(value) or abs(value) > MAX_MONITOR_VALUE:
        raise InvalidMonitor(
            f"value must be a finite number within ±{MAX_MONITOR_VALUE:g}", "value"
        )
    if monitor.type in PERIODIC_TYPES and value <= 0:
        # OCPP 2.0.1 N04: for Periodic / PeriodicClockAligned the value is the interval
        # in seconds.
        raise InvalidMonitor("a periodic monitor's value is its interval in seconds (> 0)", "value")
    if monitor.type == "Delta" and value < 0:
        # OCPP 2.0.1 N04.FR.14: a Delta monitor's value must be positive.
        raise InvalidMonitor("a Delta monitor's value must not be negative", "value")
    if monitor.id is not None and not 0 <= monitor.id <= INT32_MAX:
        raise InvalidMonitor("id is a 32-bit non-negative integer", "id")
    a = monitor.address
    for name in ("component", "variable"):
        text = getattr(a, name)
        if not text or len(text) > 50:
            raise InvalidMonitor(f"{name} is 1..50 characters", name)
    for name in ("component_instance", "variable_instance"):
        if len(getattr(a, name)) > 50:
            raise InvalidMonitor(f"{name} is at most 50 characters", name)
    if not 0 <= a.evse_id <= INT32_MAX or not 0 <= a.connector_id <= INT32_MAX:
        raise InvalidMonitor("evse_id and connector_id are 32-bit non-negative integers", "evse_id")
    if a.connector_id and not a.evse_id:
        raise InvalidMonitor("a connector is named within its EVSE: give evse_id", "evse_id")
