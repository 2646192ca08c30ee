"""Alert rules (domain/alerts.py), the alert service's status path with a fake store,
NotifyEvent decoding and monitor validation (issue 17 part 2)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ampyre.domain.alerts import (
    Alert,
    AlertKey,
    AlertQuery,
    AlertSource,
    AlertState,
    Sighting,
    acknowledge,
    apply_sightings,
    clamp_severity,
    severity_16,
)
from ampyre.domain.models import Page, StationReport, StatusReport
from ampyre.domain.monitoring import (
    MONITOR_TYPES_201,
    InvalidMonitor,
    Monitor,
    VariableAddress,
    check_monitor,
)
from ampyre.protocol.ocpp201.monitoring import event_sightings, reported_monitors
from ampyre.services.alerts import AlertService, status_sighting

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
KEY = AlertKey("CP-1", AlertSource.STATUS_NOTIFICATION, evse_id=1, connector_id=1)


def raised(code: str = "GroundFailure", at: datetime = T0, key: AlertKey = KEY) -> Sighting:
    return Sighting(key, at, code=code, severity=severity_16(code))


def cleared(at: datetime = T0, key: AlertKey = KEY) -> Sighting:
    return Sighting(key, at, clear=True)


def stored(changes_raised: Iterable[Alert]) -> list[Alert]:
    """What the store would read back: the raised alerts with ids."""
    out = []
    for i, a in enumerate(changes_raised, start=1):
        a.id = i
        out.append(a)
    return out


# ---------------------------------------------------------------------- rules


def test_a_fault_raises_an_open_alert() -> None:
    changes = apply_sightings([], [raised()])
    (alert,) = changes.raised
    assert alert.state is AlertState.OPEN and alert.count == 1
    assert alert.severity == 0 and alert.code == "GroundFailure"
    assert not changes.repeated and not changes.cleared


def test_a_repeated_fault_counts_on_the_same_alert() -> None:
    live = stored(apply_sightings([], [raised()]).raised)
    later = T0 + timedelta(minutes=5)
    changes = apply_sightings(live, [raised(at=later), raised(at=later)])
    assert not changes.raised
    (alert,) = changes.repeated
    assert alert.count == 3 and alert.last_seen == later and alert.first_seen == T0


def test_another_code_on_the_same_connector_is_another_alert() -> None:
    live = stored(apply_sightings([], [raised()]).raised)
    changes = apply_sightings(live, [raised("HighTemperature")])
    assert [a.code for a in changes.raised] == ["HighTemperature"]
    assert changes.raised[0].severity == 3


def test_clear_ends_every_alert_of_the_place_and_only_those() -> None:
    other = AlertKey("CP-1", AlertSource.STATUS_NOTIFICATION, evse_id=2, connector_id=2)
    live = stored(
        apply_sightings([], [raised(), raised("HighTemperature"), raised(key=other)]).raised
    )
    later = T0 + timedelta(minutes=1)
    changes = apply_sightings(live, [cleared(later)])
    assert sorted(a.code for a in changes.cleared) == ["GroundFailure", "HighTemperature"]
    assert all(a.state is AlertState.CLEARED and a.cleared_at == later for a in changes.cleared)
    assert live[2].state is AlertState.OPEN


def test_clear_without_an_alert_changes_nothing() -> None:
    assert not apply_sightings([], [cleared()])


def test_raised_and_cleared_at_once_is_stored_cleared() -> None:
    changes = apply_sightings([], [raised(), cleared()])
    (alert,) = changes.raised
    assert alert.state is AlertState.CLEARED and not changes.cleared


def test_a_fault_after_its_clear_is_a_new_alert() -> None:
    live = stored(apply_sightings([], [raised()]).raised)
    changes = apply_sightings(live, [cleared(), raised()])
    assert len(changes.cleared) == 1 and len(changes.raised) == 1
    assert changes.raised[0].state is AlertState.OPEN


def test_acknowledge_once_then_a_repeat_keeps_it_acknowledged() -> None:
    (alert,) = stored(apply_sightings([], [raised()]).raised)
    assert acknowledge(alert, "ops", T0)
    assert not acknowledge(alert, "someone else", T0)
    assert alert.acknowledged_by == "ops"
    changes = apply_sightings([alert], [raised()])
    assert changes.repeated[0].state is AlertState.ACKNOWLEDGED and alert.count == 2
    apply_sightings([alert], [cleared()])
    assert not acknowledge(alert, "ops", T0)  # a cleared alert stays cleared


@pytest.mark.parametrize(
    ("code", "severity"),
    [("GroundFailure", 0), ("PowerMeterFailure", 1), ("InternalError", 2),
     ("HighTemperature", 3), ("OtherError", 4), ("WeakSignal", 6), ("SomethingNew", 4)],
)  # fmt: skip
def test_severity_of_16_error_codes(code: str, severity: int) -> None:
    assert severity_16(code) == severity


def test_station_severities_are_clipped_to_the_scale() -> None:
    assert [clamp_severity(v) for v in (-3, 0, 9, 2**40, "1", True, None)] == [0, 0, 9, 9, 5, 5, 5]


# ---------------------------------------------------------------------- status path


def status(code: str | None, connector: int = 1, vendor: str | None = None) -> StatusReport:
    return StatusReport(
        station_id="CP-1",
        evse_id=connector,
        connector_id=connector,
        status="Faulted" if code not in (None, "NoError") else "Available",
        timestamp=T0,
        received_at=T0,
        error_code=code,
        vendor_error_code=vendor,
    )


class FakeAlertStore:
    """Applies the rules as the SQL store does; counts the kinds of writes."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.plain_writes = 0
        self.alert_writes: list[tuple[int, tuple[str, ...]]] = []

    async def record_status(self, reports: Sequence[StatusReport]) -> None:
        self.plain_writes += 1

    async def record_status_alerts(
        self, reports: Sequence[StatusReport], sightings: Sequence[Sighting], load: Any = ()
    ) -> dict[str, set[int]]:
        self.alert_writes.append((len(sightings), tuple(load)))
        live = [a for a in self.alerts if a.state is not AlertState.CLEARED]
        changes = apply_sightings(live, sightings)
        for a in changes.raised:
            a.id = len(self.alerts) + 1
            self.alerts.append(a)
        stations = set(load) | {s.key.station_id for s in sightings}
        return {
            sid: {
                a.key.connector_id
                for a in self.alerts
                if a.station_id == sid and a.state is not AlertState.CLEARED
            }
            for sid in stations
        }

    async def record_event_alerts(
        self, reports: Sequence[StationReport], sightings: Sequence[Sighting]
    ) -> None:
        raise AssertionError("not used here")

    async def acknowledge_alert(
        self, alert_id: int, by: str, at: datetime
    ) -> tuple[Alert | None, bool]:
        found = next((a for a in self.alerts if a.id == alert_id), None)
        return found, found is not None and acknowledge(found, by, at)

    async def get_alert(self, alert_id: int) -> Alert | None:
        return next((a for a in self.alerts if a.id == alert_id), None)

    async def list_alerts(self, query: AlertQuery, limit: int, offset: int) -> Page:
        return Page(self.alerts[offset : offset + limit], len(self.alerts), limit, offset)


async def test_no_error_costs_no_alert_write_once_the_station_is_known() -> None:
    store = FakeAlertStore()
    svc = AlertService(store, clock=lambda: T0)
    await svc.record_status([status("NoError")])  # first of the station: learns its alerts
    assert store.alert_writes == [(1, ("CP-1",))] and store.plain_writes == 0
    for _ in range(3):
        await svc.record_status([status("NoError")])
    assert store.plain_writes == 3 and len(store.alert_writes) == 1
    await svc.record_status([status(None)])  # 2.x status: no error code, no alert
    assert store.plain_writes == 4


async def test_fault_then_no_error_raises_then_clears() -> None:
    store = FakeAlertStore()
    svc = AlertService(store, clock=lambda: T0)
    await svc.record_status([status("GroundFailure", vendor="E17")])
    (alert,) = store.alerts
    assert alert.code == "GroundFailure:E17" and alert.vendor_error_code == "E17"
    await svc.record_status([status("GroundFailure", vendor="E17")])
    assert alert.count == 2 and len(store.alerts) == 1
    await svc.record_status([status("NoError", connector=2)])  # another connector: plain
    assert store.plain_writes == 1
    await svc.record_status([status("NoError")])
    assert alert.state is AlertState.CLEARED
    await svc.record_status([status("NoError")])  # nothing left to clear: plain again
    assert store.plain_writes == 2


async def test_forget_reads_the_station_afresh() -> None:
    store = FakeAlertStore()
    svc = AlertService(store, clock=lambda: T0)
    await svc.record_status([status("NoError")])
    svc.forget("CP-1")
    await svc.record_status([status("NoError")])
    assert len(store.alert_writes) == 2 and store.plain_writes == 0


async def test_acknowledge_through_the_service() -> None:
    from ampyre.services.alerts import AlertAlreadyCleared, AlertNotFound

    store = FakeAlertStore()
    svc = AlertService(store, clock=lambda: T0)
    await svc.record_status([status("OtherError")])
    alert, changed = await svc.acknowledge(1, "token:ops")
    assert changed and alert.acknowledged_by == "token:ops"
    assert (await svc.acknowledge(1, "x"))[1] is False
    with pytest.raises(AlertNotFound):
        await svc.acknowledge(99, "x")
    await svc.record_status([status("NoError")])
    with pytest.raises(AlertAlreadyCleared):
        await svc.acknowledge(1, "x")


def test_status_sighting_of_each_kind() -> None:
    assert status_sighting(status(None)) is None
    s = status_sighting(status("NoError"))
    assert s is not None and s.clear
    s = status_sighting(status("WeakSignal"))
    assert s is not None and not s.clear and s.severity == 6


# ---------------------------------------------------------------------- NotifyEvent


def event(**over: Any) -> dict[str, Any]:
    data = {
        "eventId": 7,
        "timestamp": "2026-12-01T10:00:00Z",
        "trigger": "Alerting",
        "actualValue": "87.5",
        "eventNotificationType": "CustomMonitor",
        "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
        "variable": {"name": "Temperature"},
        "variableMonitoringId": 3,
        "techCode": "T-HOT",
    }
    data.update(over)
    return data


def test_event_sightings() -> None:
    p = {
        "generatedAt": "2026-12-01T10:00:00Z",
        "seqNo": 0,
        "eventData": [
            event(),
            event(eventId=8, cleared=True),
            event(eventId=9, trigger="Periodic"),
            event(eventId=2**40, severity=12, variableMonitoringId=2**40),
            event(
                eventId=10,
                trigger="Delta",
                variable={"name": "Problem"},
                actualValue="true",
                techCode=None,
            ),
            event(eventId=11, trigger="Delta", variable={"name": "Problem"}, actualValue="false"),
            event(
                eventId=12,
                trigger="Delta",
                variable={"name": "AvailabilityState"},
                actualValue="Faulted",
                techCode=None,
            ),
        ],
    }
    found = event_sightings("CP-1", p, T0)
    assert [s.clear for s in found] == [False, True, False, False, True, False]
    first = found[0]
    assert first.key.evse_id == 1 and first.key.component == "Connector"
    assert first.code == "T-HOT" and first.severity is None and first.monitor_id == 3
    assert found[2].event_id is None and found[2].monitor_id is None and found[2].severity == 9
    assert found[3].code == "Problem" and found[5].code == "AvailabilityState"


def test_reported_monitors() -> None:
    p = {
        "requestId": 1,
        "seqNo": 0,
        "generatedAt": "2026-12-01T10:00:00Z",
        "monitor": [
            {
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Power"},
                "variableMonitoring": [
                    {"id": 4, "transaction": False, "value": 22000, "type": "UpperThreshold",
                     "severity": 4},
                    {"id": 2**40, "transaction": True, "value": 1, "type": "Delta",
                     "severity": 7},
                ],
            }
        ],
    }  # fmt: skip
    first, second = reported_monitors(p)
    assert first.id == 4 and first.address.evse_id == 1 and first.value == 22000.0
    assert second.id is None and second.source == "report"


# ---------------------------------------------------------------------- monitors


def monitor(**over: Any) -> Monitor:
    values: dict[str, Any] = {
        "address": VariableAddress("EVSE", "Power", evse_id=1),
        "type": "UpperThreshold",
        "value": 10.0,
        "severity": 4,
    }
    values.update(over)
    return Monitor(**values)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"type": "TargetDelta"}, "type"),  # 2.1 only
        ({"severity": 10}, "severity"),
        ({"value": float("inf")}, "value"),
        ({"value": 1e300}, "value"),
        ({"type": "Periodic", "value": 0.0}, "value"),
        ({"type": "Delta", "value": -1.0}, "value"),
        ({"id": 2**31}, "id"),
        ({"address": VariableAddress("", "Power")}, "component"),
        ({"address": VariableAddress("EVSE", "Power", connector_id=1)}, "evse_id"),
    ],
)
def test_monitors_no_station_can_take_are_refused(over: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidMonitor) as caught:
        check_monitor(monitor(**over), MONITOR_TYPES_201)
    assert caught.value.field == field


def test_a_good_monitor_passes() -> None:
    check_monitor(monitor(), MONITOR_TYPES_201)
    check_monitor(monitor(type="Periodic", value=60.0), MONITOR_TYPES_201)
