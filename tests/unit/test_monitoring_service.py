"""The monitoring service with fakes (issue 17 part 2): what it stores of the station's
answers, when it refuses before sending, and how report requests end."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from ampyre.config import Settings
from ampyre.domain.models import StationReport
from ampyre.domain.monitoring import (
    ClearResult,
    InvalidMonitor,
    Monitor,
    MonitoringBase,
    MonitoringCriterion,
    MonitoringReport,
    MonitorResult,
    ReportState,
    VariableAddress,
)
from ampyre.services.monitoring import MonitoringService
from ampyre.services.station_port import Answer, NotAddressable

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
POWER = VariableAddress("EVSE", "Power", evse_id=1)


class FakeCommands:
    def __init__(self, version: str | None = "ocpp2.0.1") -> None:
        self.version = version
        self.sent: list[tuple[str, Any]] = []
        self.answer = Answer("accepted", "Accepted")
        self.set_statuses: list[str] = ["Accepted"]

    def connected_version(self, station_id: str) -> str | None:
        return self.version

    async def set_monitors(
        self, station_id: str, monitors: Sequence[Monitor], timeout: float
    ) -> tuple[Answer, list[MonitorResult]]:
        self.sent.append(("set", list(monitors)))
        results = [
            MonitorResult(status, replace(m, id=10 + i if status == "Accepted" else None))
            for i, (m, status) in enumerate(zip(monitors, self.set_statuses, strict=True))
        ]
        return Answer("ok"), results

    async def clear_monitors(
        self, station_id: str, ids: Sequence[int], timeout: float
    ) -> tuple[Answer, list[ClearResult]]:
        statuses = {1: "Accepted", 2: "Rejected", 3: "NotFound"}
        return Answer("ok"), [ClearResult(i, statuses[i]) for i in ids]

    async def set_base(self, station_id: str, base: MonitoringBase, timeout: float) -> Answer:
        self.sent.append(("base", base))
        return self.answer

    async def set_level(self, station_id: str, severity: int, timeout: float) -> Answer:
        self.sent.append(("level", severity))
        return self.answer

    async def get_report(
        self,
        station_id: str,
        request_id: int,
        criteria: Sequence[MonitoringCriterion],
        variables: Sequence[VariableAddress],
        timeout: float,
    ) -> Answer:
        self.sent.append(("report", request_id))
        return self.answer


class FakeMonitorStore:
    def __init__(self) -> None:
        self.monitors: dict[int, Monitor] = {}
        self.reports: list[MonitoringReport] = []
        self.parts: list[tuple[int, int | None, bool, int]] = []

    async def save_monitors(self, station_id: str, monitors: Sequence[Monitor]) -> None:
        self.monitors.update((m.id or 0, m) for m in monitors)

    async def delete_monitors(self, station_id: str, ids: Sequence[int]) -> None:
        for i in ids:
            self.monitors.pop(i, None)

    async def list_monitors(self, station_id: str) -> list[Monitor]:
        return list(self.monitors.values())

    async def create_monitoring_report(
        self, station_id: str, at: datetime, full: bool = False
    ) -> MonitoringReport:
        report = MonitoringReport(station_id, len(self.reports) + 1, ReportState.PENDING, at)
        self.reports.append(report)
        return replace(report)

    async def finish_monitoring_report(
        self, station_id: str, request_id: int, state: ReportState, at: datetime, detail: str
    ) -> None:
        self.reports[request_id - 1].state = state

    async def record_monitoring_part(
        self,
        station_id: str,
        request_id: int,
        seq_no: int | None,
        tbc: bool,
        monitors: Sequence[Monitor],
        at: datetime,
    ) -> None:
        self.parts.append((request_id, seq_no, tbc, len(monitors)))

    async def close_stale_monitoring_reports(self, before: datetime, at: datetime) -> int:
        return 0

    async def list_monitoring_reports(self, station_id: str, limit: int) -> list[MonitoringReport]:
        return self.reports[:limit]


def service(
    commands: FakeCommands, store: FakeMonitorStore, history: list[StationReport]
) -> MonitoringService:
    async def keep(reports: Sequence[StationReport]) -> None:
        history.extend(reports)

    return MonitoringService(commands, store, Settings(), history=keep, clock=lambda: T0)


def monitor(**over: Any) -> Monitor:
    values: dict[str, Any] = {"address": POWER, "type": "UpperThreshold", "value": 22e3}
    values["severity"] = 4
    values.update(over)
    return Monitor(**values)


async def test_only_accepted_monitors_are_stored_with_the_stations_id() -> None:
    commands, store = FakeCommands(), FakeMonitorStore()
    commands.set_statuses = ["Accepted", "UnknownVariable"]
    svc = service(commands, store, [])
    _, results = await svc.set_monitors("CP", [monitor(), monitor(type="Delta", value=5)])
    assert [r.status for r in results] == ["Accepted", "UnknownVariable"]
    assert list(store.monitors) == [10] and store.monitors[10].address == POWER


async def test_a_bad_monitor_is_refused_before_sending_and_named() -> None:
    commands, store = FakeCommands(), FakeMonitorStore()
    svc = service(commands, store, [])
    with pytest.raises(InvalidMonitor) as caught:
        await svc.set_monitors("CP", [monitor(), monitor(type="TargetDelta")])
    assert (caught.value.index, caught.value.field) == (1, "type") and commands.sent == []
    commands.version = "ocpp2.1"  # 2.1 has the target-delta types
    commands.set_statuses = ["Accepted"]
    await svc.set_monitors("CP", [monitor(type="TargetDelta")])
    assert len(commands.sent) == 1


async def test_cleared_or_unknown_monitors_are_forgotten() -> None:
    commands, store = FakeCommands(), FakeMonitorStore()
    store.monitors = {i: monitor(id=i) for i in (1, 2, 3)}
    svc = service(commands, store, [])
    await svc.clear_monitors("CP", [1, 2, 3])
    assert list(store.monitors) == [2]  # the station refused to clear 2


async def test_report_requests_end_as_the_station_answers() -> None:
    commands, store = FakeCommands(), FakeMonitorStore()
    svc = service(commands, store, [])
    answer, report = await svc.request_report("CP")
    assert answer.status == "accepted"
    assert report is not None and report.state is ReportState.PENDING
    commands.answer = Answer("emptyresultset", "EmptyResultSet")
    _, report = await svc.request_report("CP")
    assert report is not None and report.state is ReportState.REJECTED
    commands.answer = Answer("timeout", detail="no answer")
    _, report = await svc.request_report("CP")
    assert report is not None and report.state is ReportState.TIMED_OUT
    assert [r.state for r in store.reports] == [
        ReportState.PENDING,
        ReportState.REJECTED,
        ReportState.TIMED_OUT,
    ]


async def test_no_report_request_is_stored_for_an_offline_or_16_station() -> None:
    store = FakeMonitorStore()
    answer, report = await service(FakeCommands(None), store, []).request_report("CP")
    assert answer.status == "not_connected" and report is None
    with pytest.raises(NotAddressable):
        await service(FakeCommands("ocpp1.6"), store, []).request_report("CP")
    assert store.reports == []


async def test_a_report_part_goes_to_the_history_and_the_store() -> None:
    commands, store, history = FakeCommands(), FakeMonitorStore(), []
    svc = service(commands, store, history)
    raw = StationReport("CP", "NotifyMonitoringReport", {"seqNo": 3}, T0, 7, 3)
    await svc.report_part("CP", 7, False, [monitor(id=1)], raw)
    assert history == [raw] and store.parts == [(7, 3, False, 1)]
