"""OCPP 2.0.1 block N (monitoring) and the events that become alerts; also used by 2.1,
whose messages add only optional fields here (2.1 NotifyEvent's `severity`, two more
monitor types).

Station -> CSMS: NotifyEvent (N07/N08: alerts, services/alerts.py) and
NotifyMonitoringReport (N02: the station's monitors, services/monitoring.py), both kept
in the station's report history too. CSMS -> station: the payloads of
SetVariableMonitoring, ClearVariableMonitoring, SetMonitoringBase, SetMonitoringLevel and
GetMonitoringReport, and the decoding of their answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ampyre.domain.alerts import AlertKey, AlertSource, Sighting, clamp_severity
from ampyre.domain.models import StationReport
from ampyre.domain.monitoring import (
    ClearResult,
    Monitor,
    MonitoringCriterion,
    MonitorResult,
    VariableAddress,
)
from ampyre.protocol.session import CallContext, Handler
from ampyre.protocol.timefmt import from_ocpp
from ampyre.services.alerts import AlertService
from ampyre.services.monitoring import MonitoringService

_INT32_MAX: Final = 2**31 - 1


def _int32(value: Any, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return max(-_INT32_MAX, min(value, _INT32_MAX))


def _opt_int32(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _INT32_MAX
    return value if ok else None


# ---------------------------------------------------------------------- addresses


def address_of(component: dict[str, Any], variable: dict[str, Any]) -> VariableAddress:
    evse = component.get("evse") or {}
    return VariableAddress(
        component=component["name"],
        variable=variable["name"],
        component_instance=component.get("instance") or "",
        variable_instance=variable.get("instance") or "",
        evse_id=_int32(evse.get("id")),
        connector_id=_int32(evse.get("connectorId")),
    )


def component_variable(a: VariableAddress) -> tuple[dict[str, Any], dict[str, Any]]:
    component: dict[str, Any] = {"name": a.component}
    if a.component_instance:
        component["instance"] = a.component_instance
    if a.evse_id:
        component["evse"] = {"id": a.evse_id}
        if a.connector_id:
            component["evse"]["connectorId"] = a.connector_id
    variable: dict[str, Any] = {"name": a.variable}
    if a.variable_instance:
        variable["instance"] = a.variable_instance
    return component, variable


# ---------------------------------------------------------------------- NotifyEvent

# Variables whose value says whether the component is in trouble (OCPP 2.0.1 appendix:
# Problem is true while a component has a problem; AvailabilityState Faulted).
_PROBLEM: Final = "Problem"
_AVAILABILITY: Final = "AvailabilityState"


def event_sightings(station_id: str, payload: dict[str, Any], now: Any) -> list[Sighting]:
    """The alert sightings of a NotifyEvent's eventData. Raised: a monitor that tripped
    (trigger Alerting, N07), a Problem variable going true, a component's
    AvailabilityState going Faulted. Cleared: `cleared` true (N07.FR.xx: the event's
    condition is over), Problem false, AvailabilityState anything but Faulted. Periodic
    and other Delta reports are kept in the report history only."""
    found: list[Sighting] = []
    for event in payload.get("eventData") or ():
        a = address_of(event["component"], event["variable"])
        key = AlertKey(
            station_id,
            AlertSource.NOTIFY_EVENT,
            evse_id=a.evse_id,
            connector_id=a.connector_id,
            component=a.component,
            component_instance=a.component_instance,
            variable=a.variable,
            variable_instance=a.variable_instance,
        )
        at = from_ocpp(event.get("timestamp")) or now
        value = str(event.get("actualValue", ""))
        trigger = event.get("trigger")
        if event.get("cleared") is True:
            raise_it = False
        elif a.variable == _PROBLEM:
            raise_it = value.strip().lower() == "true"
        elif a.variable == _AVAILABILITY:
            raise_it = value.strip() == "Faulted"
        elif trigger == "Alerting":
            raise_it = True
        else:
            continue
        if not raise_it:
            found.append(Sighting(key, at, clear=True))
            continue
        tech_code = event.get("techCode")
        found.append(
            Sighting(
                key,
                at,
                code=tech_code or a.variable,
                # 2.1 sends the severity; 2.0.1 leaves it to the monitor that tripped.
                severity=clamp_severity(event["severity"]) if "severity" in event else None,
                trigger=trigger,
                event_type=event.get("eventNotificationType"),
                event_id=_opt_int32(event.get("eventId")),
                monitor_id=_opt_int32(event.get("variableMonitoringId")),
                tech_code=tech_code,
                tech_info=event.get("techInfo"),
                actual_value=value,
            )
        )
    return found


# ---------------------------------------------------------------------- monitors


def reported_monitors(payload: dict[str, Any]) -> list[Monitor]:
    """The monitors of a NotifyMonitoringReport part (N02)."""
    found: list[Monitor] = []
    for entry in payload.get("monitor") or ():
        a = address_of(entry["component"], entry["variable"])
        for m in entry.get("variableMonitoring") or ():
            found.append(
                Monitor(
                    address=a,
                    type=m["type"],
                    value=float(m["value"]),
                    severity=clamp_severity(m.get("severity")),
                    transaction=bool(m.get("transaction")),
                    id=_opt_int32(m.get("id")),
                    source="report",
                )
            )
    return found


def set_monitoring_request(monitors: Sequence[Monitor]) -> dict[str, Any]:
    data = []
    for m in monitors:
        component, variable = component_variable(m.address)
        item: dict[str, Any] = {
            "value": m.value,
            "type": m.type,
            "severity": m.severity,
            "transaction": m.transaction,
            "component": component,
            "variable": variable,
        }
        if m.id is not None:
            item["id"] = m.id  # N04.FR.xx: an id the station knows replaces that monitor
        data.append(item)
    return {"setMonitoringData": data}


def set_monitoring_results(
    monitors: Sequence[Monitor], payload: dict[str, Any]
) -> list[MonitorResult]:
    """Each setMonitoringResult with the monitor it is about (matched by address, type
    and severity, in order: the answer need not keep the request's order)."""
    pending = list(monitors)
    results: list[MonitorResult] = []
    for r in payload.get("setMonitoringResult") or ():
        a = address_of(r["component"], r["variable"])
        index = next(
            (i for i, m in enumerate(pending) if m.address == a and m.type == r.get("type")),
            next((i for i, m in enumerate(pending) if m.address == a), None),
        )
        asked = pending.pop(index) if index is not None else None
        monitor = Monitor(
            address=a,
            type=r.get("type") or (asked.type if asked else ""),
            value=asked.value if asked else 0.0,
            severity=clamp_severity(r.get("severity"), asked.severity if asked else 5),
            transaction=asked.transaction if asked else False,
            id=_opt_int32(r.get("id")),
            source="set",
        )
        info = r.get("statusInfo") or {}
        results.append(MonitorResult(r["status"], monitor, info.get("reasonCode")))
    return results


def clear_results(payload: dict[str, Any]) -> list[ClearResult]:
    return [
        ClearResult(_int32(r.get("id")), r["status"], (r.get("statusInfo") or {}).get("reasonCode"))
        for r in payload.get("clearMonitoringResult") or ()
    ]


def get_report_request(
    request_id: int,
    criteria: Sequence[MonitoringCriterion],
    variables: Sequence[VariableAddress],
) -> dict[str, Any]:
    payload: dict[str, Any] = {"requestId": request_id}
    if criteria:
        payload["monitoringCriteria"] = [c.value for c in criteria]
    if variables:
        entries = []
        for a in variables:
            component, variable = component_variable(a)
            entries.append({"component": component, "variable": variable})
        payload["componentVariable"] = entries
    return payload


# ---------------------------------------------------------------------- handlers


def handlers(alerts: AlertService, monitoring: MonitoringService) -> dict[str, Handler]:
    async def notify_event(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        now = alerts.now()
        report = StationReport(
            station_id=ctx.station_id,
            action="NotifyEvent",
            payload=p,
            received_at=now,
            seq_no=_opt_int32(p.get("seqNo")),
        )
        await alerts.record_event(report, event_sightings(ctx.station_id, p, now))
        return {}

    async def notify_monitoring_report(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        request_id = _opt_int32(p.get("requestId"))
        raw = StationReport(
            station_id=ctx.station_id,
            action="NotifyMonitoringReport",
            payload=p,
            received_at=alerts.now(),
            request_id=request_id,
            seq_no=_opt_int32(p.get("seqNo")),
        )
        await monitoring.report_part(
            ctx.station_id,
            request_id if request_id is not None else -1,
            bool(p.get("tbc", False)),
            reported_monitors(p),
            raw,
        )
        return {}

    return {"NotifyEvent": notify_event, "NotifyMonitoringReport": notify_monitoring_report}
