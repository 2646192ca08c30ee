"""Alerts: faults a station reports, as rules without I/O (issue 17 part 2).

A *sighting* is one report of a fault (1.6 StatusNotification with an errorCode, 2.0.1
NotifyEvent of a tripped monitor or a Problem variable) or of its end (1.6 errorCode
NoError, 2.0.1 `cleared`). `apply_sightings` turns sightings and the station's alerts that
are not cleared yet into the changes to store: a new alert, a repeat of an alert that is
still open or acknowledged (its count goes up, no new alert), or alerts cleared.

Severity follows OCPP 2.0.1's 0-9 scale (0 Danger ... 5 Alert ... 9 Debug; lower is
worse). 1.6 has no severity: `SEVERITY_16` maps its errorCodes onto that scale.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any


class AlertState(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


class AlertSource(enum.StrEnum):
    STATUS_NOTIFICATION = "status_notification"  # 1.6 errorCode / vendorErrorCode
    NOTIFY_EVENT = "notify_event"  # 2.0.1 / 2.1 NotifyEvent
    SECURITY_EVENT = "security_event"  # SecurityEventNotification / CSMS-seen (issue 19)
    CERTIFICATE = "certificate"  # expiry, signing failed, CertificateSigned refused


# OCPP 2.0.1 severities (SetVariableMonitoring's severity, 2.1 NotifyEvent's severity).
SEVERITY_NAMES: tuple[str, ...] = (
    "Danger",
    "Hardware Failure",
    "System Failure",
    "Critical",
    "Error",
    "Alert",
    "Warning",
    "Notice",
    "Informational",
    "Debug",
)
MIN_SEVERITY, MAX_SEVERITY = 0, 9
# OCPP 2.0.1 N07 (SetVariableMonitoring): "5-Alert: default severity for any type of
# monitoring event", used when the monitor that tripped is not known.
DEFAULT_EVENT_SEVERITY = 5

# 1.6 ChargePointErrorCode -> severity. Documented in the README (Alerts).
SEVERITY_16: dict[str, int] = {
    "GroundFailure": 0,  # earth leakage: people are at risk
    "OverCurrentFailure": 0,
    "OverVoltage": 0,
    "ConnectorLockFailure": 1,  # hardware: the station cannot go on as usual
    "PowerMeterFailure": 1,
    "PowerSwitchFailure": 1,
    "ReaderFailure": 1,
    "InternalError": 2,  # software / minor hardware
    "ResetFailure": 2,
    "HighTemperature": 3,
    "UnderVoltage": 3,
    "EVCommunicationError": 4,
    "LocalListConflict": 4,
    "OtherError": 4,
    "WeakSignal": 6,
}
SEVERITY_16_UNKNOWN = 4  # an errorCode of a newer or vendor dialect
NO_ERROR = "NoError"


def severity_16(error_code: str) -> int:
    return SEVERITY_16.get(error_code, SEVERITY_16_UNKNOWN)


def clamp_severity(value: Any, default: int = DEFAULT_EVENT_SEVERITY) -> int:
    """A station's severity as 0-9 (a value outside the scale is clipped, not trusted)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return min(MAX_SEVERITY, max(MIN_SEVERITY, value))


@dataclasses.dataclass(slots=True, frozen=True)
class AlertKey:
    """Where a fault is: a repeat at the same place with the same code is the same alert."""

    station_id: str
    source: AlertSource
    evse_id: int = 0
    connector_id: int = 0
    component: str = ""
    component_instance: str = ""
    variable: str = ""
    variable_instance: str = ""

    def matches(self, alert: Alert) -> bool:
        return self == alert.key


@dataclasses.dataclass(slots=True, frozen=True)
class Sighting:
    """One report of a fault (`clear` False) or of its end (`clear` True: every alert
    not yet cleared at `key` is cleared, whatever its code)."""

    key: AlertKey
    at: datetime
    clear: bool = False
    code: str = ""
    severity: int | None = None  # None: the tripped monitor's, else the default
    info: str | None = None
    vendor_error_code: str | None = None
    trigger: str | None = None  # 2.x Alerting / Delta / Periodic
    event_type: str | None = None  # 2.x eventNotificationType
    event_id: int | None = None
    monitor_id: int | None = None  # 2.x variableMonitoringId
    tech_code: str | None = None
    tech_info: str | None = None
    actual_value: str | None = None
    status: str | None = None  # 1.6 connector status at the time


@dataclasses.dataclass(slots=True)
class Alert:
    key: AlertKey
    code: str
    severity: int
    state: AlertState
    first_seen: datetime
    last_seen: datetime
    count: int = 1
    id: int | None = None
    info: str | None = None
    vendor_error_code: str | None = None
    trigger: str | None = None
    event_type: str | None = None
    event_id: int | None = None
    monitor_id: int | None = None
    tech_code: str | None = None
    tech_info: str | None = None
    actual_value: str | None = None
    status: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    cleared_at: datetime | None = None

    @property
    def station_id(self) -> str:
        return self.key.station_id


@dataclasses.dataclass(slots=True, frozen=True)
class AlertQuery:
    """Filters of the alert list (all optional)."""

    station_id: str | None = None
    states: tuple[str, ...] = ()
    severity_at_most: int | None = None  # 0 is the worst: "this bad or worse"
    severity_at_least: int | None = None
    since: datetime | None = None  # last seen at or after


@dataclasses.dataclass(slots=True)
class AlertChanges:
    """What a batch of sightings does: alerts to insert, to update (repeats), cleared."""

    raised: list[Alert] = dataclasses.field(default_factory=list)
    repeated: list[Alert] = dataclasses.field(default_factory=list)
    cleared: list[Alert] = dataclasses.field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.raised or self.repeated or self.cleared)


_DETAILS = (
    "info",
    "vendor_error_code",
    "trigger",
    "event_type",
    "event_id",
    "monitor_id",
    "tech_code",
    "tech_info",
    "actual_value",
    "status",
)


def apply_sightings(uncleared: Iterable[Alert], sightings: Sequence[Sighting]) -> AlertChanges:
    """The changes `sightings` (in arrival order) make to the `uncleared` alerts (open or
    acknowledged) of their stations. Alerts raised within the same sightings are repeated
    and cleared like stored ones; one raised and cleared at once is stored cleared."""
    changes = AlertChanges()
    live: list[Alert] = [a for a in uncleared if a.state is not AlertState.CLEARED]
    touched: dict[int, Alert] = {}  # id(alert) -> stored alerts repeated (maybe cleared too)
    for s in sightings:
        if s.clear:
            still: list[Alert] = []
            for alert in live:
                if s.key.matches(alert):
                    alert.state = AlertState.CLEARED
                    alert.cleared_at = s.at
                    if alert.id is not None:  # a new one is inserted cleared instead
                        changes.cleared.append(alert)
                else:
                    still.append(alert)
            live = still
            continue
        same = next((a for a in live if s.key.matches(a) and a.code == s.code), None)
        if same is None:
            alert = Alert(
                key=s.key,
                code=s.code,
                severity=_severity(s),
                state=AlertState.OPEN,
                first_seen=s.at,
                last_seen=s.at,
                **{name: getattr(s, name) for name in _DETAILS},
            )
            live.append(alert)
            changes.raised.append(alert)
            continue
        # A repeat: counted on the alert there is (acknowledged stays acknowledged), its
        # details and severity those of the latest report.
        same.count += 1
        same.last_seen = max(same.last_seen, s.at)
        same.severity = _severity(s)
        for name in _DETAILS:
            value = getattr(s, name)
            if value is not None:
                setattr(same, name, value)
        if same.id is not None:
            touched[id(same)] = same
    changes.repeated = list(touched.values())
    return changes


def _severity(s: Sighting) -> int:
    return DEFAULT_EVENT_SEVERITY if s.severity is None else clamp_severity(s.severity)


def acknowledge(alert: Alert, by: str, at: datetime) -> bool:
    """Mark an open alert acknowledged by `by`; False if it is not open (an acknowledged
    or cleared alert keeps who acknowledged it first / that it is over)."""
    if alert.state is not AlertState.OPEN:
        return False
    alert.state = AlertState.ACKNOWLEDGED
    alert.acknowledged_by = by
    alert.acknowledged_at = at
    return True


def alert_data(alert: Alert) -> dict[str, Any]:
    """JSON-ready description of an alert (webhook events, the dashboard's stream)."""
    k = alert.key
    return {
        "id": alert.id,
        "station_id": k.station_id,
        "source": k.source.value,
        "evse_id": k.evse_id,
        "connector_id": k.connector_id,
        "component": k.component or None,
        "component_instance": k.component_instance or None,
        "variable": k.variable or None,
        "variable_instance": k.variable_instance or None,
        "code": alert.code,
        "severity": alert.severity,
        "severity_name": SEVERITY_NAMES[clamp_severity(alert.severity)],
        "state": alert.state.value,
        "count": alert.count,
        "first_seen": alert.first_seen.isoformat(),
        "last_seen": alert.last_seen.isoformat(),
        "info": alert.info,
        "vendor_error_code": alert.vendor_error_code,
        "tech_code": alert.tech_code,
        "tech_info": alert.tech_info,
        "actual_value": alert.actual_value,
        "event_id": alert.event_id,
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": None
        if alert.acknowledged_at is None
        else alert.acknowledged_at.isoformat(),
        "cleared_at": None if alert.cleared_at is None else alert.cleared_at.isoformat(),
    }
