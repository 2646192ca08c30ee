"""The configuration service and its per-version encodings, with a fake store and fake
station commands: what is stored after a read, a change and a report, how a mixed fleet's
bulk change classifies each station, and how secrets are kept out."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from ampyre.config import Settings
from ampyre.domain.device_model import (
    HIDDEN,
    ChangeStatus,
    ConfigReport,
    ReportKind,
    ReportState,
    StationVariable,
    VariableRef,
    VariableResult,
)
from ampyre.domain.models import Page
from ampyre.protocol.ocpp16 import configuration as v16
from ampyre.protocol.ocpp201 import configuration as v2
from ampyre.services.configuration import ConfigurationService, Setting
from ampyre.services.configuration_port import ConfigAnswer
from ampyre.services.configuration_store import VariableQuery
from ampyre.services.station_control import InvalidCommand
from ampyre.services.station_port import Answer, NotAddressable

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class FakeStore:
    def __init__(self) -> None:
        self.saved: list[StationVariable] = []
        self.reports: dict[int, ConfigReport] = {}
        self.replaced: list[tuple[str, list[str]]] = []

    async def save_variables(self, variables: Sequence[StationVariable]) -> None:
        self.saved.extend(variables)

    async def replace_keys(
        self, station_id: str, variables: Sequence[StationVariable], report_id: int
    ) -> None:
        self.saved.extend(variables)
        self.replaced.append((station_id, [v.ref.variable for v in variables]))

    async def list_variables(self, query: VariableQuery, limit: int, offset: int) -> Page:
        found = [
            v
            for v in self.saved
            if query.station_id in (None, v.station_id)
            and query.component in (None, v.ref.component)
            and query.variable in (None, v.ref.variable)
        ]
        return Page(items=found, total=len(found), limit=limit, offset=offset)

    async def create_report(self, report: ConfigReport) -> ConfigReport:
        report.id = report.request_id = len(self.reports) + 1
        self.reports[report.id] = report
        return report

    async def set_state(
        self, report_id: int, state: ReportState, at: datetime | None, detail: str | None = None
    ) -> None:
        report = self.reports[report_id]
        if report.state is ReportState.REQUESTED:
            report.state, report.detail = state, detail

    async def record_part(
        self,
        station_id: str,
        request_id: int,
        seq_no: int,
        tbc: bool,
        at: datetime,
        variables: Sequence[StationVariable],
    ) -> ConfigReport:
        self.saved.extend(variables)
        report = self.reports[request_id]
        report.parts += 1
        return report

    async def expire_reports(self, cutoff: datetime, at: datetime) -> int:
        return 0

    async def get_report(self, station_id: str, report_id: int) -> ConfigReport | None:
        return self.reports.get(report_id)

    async def list_reports(self, station_id: str, limit: int, offset: int) -> Page:
        return Page(items=list(self.reports.values()), total=0, limit=limit, offset=offset)


class FakeCommands:
    """Stations by id -> version; answers scripted per station."""

    def __init__(self, versions: dict[str, str]) -> None:
        self.versions = versions
        self.changes: list[tuple[str, list[tuple[VariableRef, str]]]] = []
        self.change_status: dict[str, list[ChangeStatus]] = {}
        self.failing: dict[str, Answer] = {}
        self.report_answer = Answer("accepted", "Accepted")
        self.keys: list[VariableResult] = []
        self.reads: list[list[VariableRef]] = []

    def connected_version(self, station_id: str) -> str | None:
        return self.versions.get(station_id)

    async def read(
        self, station_id: str, refs: Sequence[VariableRef] | None, timeout: float
    ) -> ConfigAnswer:
        if station_id in self.failing:
            return ConfigAnswer(self.failing[station_id])
        if refs is None:
            return ConfigAnswer(Answer("ok"), list(self.keys))
        self.reads.append(list(refs))
        return ConfigAnswer(
            Answer("ok"), [VariableResult(r, ChangeStatus.ACCEPTED, value="1") for r in refs]
        )

    async def change(
        self, station_id: str, changes: Sequence[tuple[VariableRef, str]], timeout: float
    ) -> ConfigAnswer:
        if station_id in self.failing:
            return ConfigAnswer(self.failing[station_id])
        if station_id == "BROKEN":
            raise RuntimeError("database down")
        self.changes.append((station_id, list(changes)))
        statuses = self.change_status.get(station_id, [ChangeStatus.ACCEPTED] * len(changes))
        return ConfigAnswer(
            Answer("ok"),
            [
                VariableResult(ref, st, value=val)
                for (ref, val), st in zip(changes, statuses, strict=True)
            ],
        )

    async def request_report(
        self,
        station_id: str,
        request_id: int,
        kind: ReportKind,
        criteria: dict[str, Any],
        timeout: float,
    ) -> Answer:
        return self.report_answer


def service(versions: dict[str, str]) -> tuple[ConfigurationService, FakeStore, FakeCommands]:
    store, commands = FakeStore(), FakeCommands(versions)
    return ConfigurationService(store, commands, Settings(), clock=lambda: T0), store, commands


HB = Setting(
    value="60", key="HeartbeatInterval", component="OCPPCommCtrlr", variable="HeartbeatInterval"
)


def test_a_setting_names_itself_per_version() -> None:
    assert HB.ref(True) == VariableRef("HeartbeatInterval")
    assert HB.ref(False) == VariableRef("HeartbeatInterval", component="OCPPCommCtrlr")
    # A 1.6 station takes `variable` as its key when no component is given.
    assert Setting("1", variable="X").ref(True) == VariableRef("X")
    with pytest.raises(NotAddressable):
        Setting("1", variable="X").ref(False)
    with pytest.raises(NotAddressable):
        Setting("1", component="C", variable="X").ref(True)


async def test_change_stores_what_the_station_took_and_hides_secrets() -> None:
    svc, store, commands = service({"A": "ocpp2.0.1"})
    commands.change_status["A"] = [
        ChangeStatus.ACCEPTED,
        ChangeStatus.REBOOT_REQUIRED,
        ChangeStatus.REJECTED,
    ]
    secret = Setting("hunter2", component="SecurityCtrlr", variable="BasicAuthPassword")
    other = Setting("1", component="C", variable="Y")
    answer = await svc.change("A", [secret, HB, other])
    assert [r.status for r in answer.results] == [
        ChangeStatus.ACCEPTED,
        ChangeStatus.REBOOT_REQUIRED,
        ChangeStatus.REJECTED,
    ]
    assert [(v.ref.variable, v.value, v.reboot_required, v.source) for v in store.saved] == [
        ("BasicAuthPassword", HIDDEN, False, "set"),
        ("HeartbeatInterval", "60", True, "set"),
    ]
    with pytest.raises(InvalidCommand):
        await svc.change("A", [])


async def test_offline_station_gets_not_connected_and_nothing_is_stored() -> None:
    svc, store, _ = service({})
    answer = await svc.change("GONE", [HB])
    assert answer.answer.status == "not_connected" and not store.saved


async def test_reading_every_1_6_key_is_a_report() -> None:
    svc, store, commands = service({"A": "ocpp1.6"})
    commands.keys = [
        VariableResult(VariableRef("HeartbeatInterval"), ChangeStatus.ACCEPTED, value="300"),
        VariableResult(VariableRef("AuthorizationKey"), ChangeStatus.ACCEPTED, value="s3cret"),
        VariableResult(VariableRef("Nope"), ChangeStatus.NOT_SUPPORTED),
    ]
    report, _ = await svc.request_report("A")
    assert (report.kind, report.state) == (ReportKind.KEYS, ReportState.COMPLETE)
    assert store.replaced == [("A", ["HeartbeatInterval", "AuthorizationKey"])]
    assert [v.value for v in store.saved] == ["300", HIDDEN]

    commands.failing["A"] = Answer("timeout", detail="no answer")
    report, answer = await svc.request_report("A")
    assert report.state is ReportState.TIMEOUT and answer.status == "timeout"


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        (Answer("accepted", "Accepted"), ReportState.RECEIVING),
        (Answer("rejected", "Rejected"), ReportState.REJECTED),
        (Answer("notsupported", "NotSupported"), ReportState.NOT_SUPPORTED),
        (Answer("emptyresultset", "EmptyResultSet"), ReportState.EMPTY),
        (Answer("timeout"), ReportState.TIMEOUT),
        (Answer("error", "InternalError"), ReportState.FAILED),
    ],
)
async def test_report_state_follows_the_answer(answer: Answer, state: ReportState) -> None:
    svc, _, commands = service({"A": "ocpp2.0.1"})
    commands.report_answer = answer
    report, _ = await svc.request_report("A", ReportKind.CONFIGURATION)
    assert report.state is state and report.kind is ReportKind.CONFIGURATION
    with pytest.raises(InvalidCommand):
        await svc.request_report("A", ReportKind.KEYS)


async def test_a_2x_read_needs_names() -> None:
    svc, _, _ = service({"A": "ocpp2.1"})
    with pytest.raises(InvalidCommand):
        await svc.read("A", None)


async def test_bulk_change_classifies_each_station() -> None:
    svc, _, commands = service(
        {
            "OLD": "ocpp1.6",
            "NEW": "ocpp2.0.1",
            "HALF": "ocpp2.1",
            "SLOW": "ocpp2.0.1",
            "BROKEN": "ocpp1.6",
        }
    )
    commands.change_status["HALF"] = [ChangeStatus.ACCEPTED, ChangeStatus.REJECTED]
    commands.failing["SLOW"] = Answer("timeout", detail="late")
    two = [HB, Setting("1", key="K", component="C", variable="V")]
    outcomes = await svc.bulk_change(
        ["OLD", "NEW", "HALF", "SLOW", "OFF", "BROKEN", "OLD"], two, concurrency=2
    )
    assert [(o.station_id, o.status) for o in outcomes] == [
        ("OLD", "accepted"),
        ("NEW", "accepted"),
        ("HALF", "partial"),
        ("SLOW", "timeout"),
        ("OFF", "not_connected"),
        ("BROKEN", "error"),
    ]
    # Each version got the names it uses.
    sent = dict(commands.changes)
    assert [r.variable for r, _ in sent["OLD"]] == ["HeartbeatInterval", "K"]
    assert [r.component for r, _ in sent["NEW"]] == ["OCPPCommCtrlr", "C"]
    # A value with no name in one version: that station is not_addressable, others go on.
    only_2x = [Setting("1", component="C", variable="V")]
    outcomes = await svc.bulk_change(["OLD", "NEW"], only_2x)
    assert [o.status for o in outcomes] == ["not_addressable", "accepted"]


async def test_report_parts_are_stamped_and_secrets_hidden() -> None:
    svc, store, _ = service({"A": "ocpp2.0.1"})
    report, _ = await svc.request_report("A")
    assert report.id is not None
    password = StationVariable(
        "A", VariableRef("BasicAuthPassword", component="SecurityCtrlr"), "pw", "WriteOnly"
    )
    plain = StationVariable("A", VariableRef("Model", component="ChargingStation"), "M")
    await svc.report_part("A", report.id, 0, False, [password, plain])
    assert [(v.value, v.updated_at) for v in store.saved] == [(HIDDEN, T0), ("M", T0)]


async def test_messages_carry_no_more_values_than_the_station_takes() -> None:
    svc, store, commands = service({"NEW": "ocpp2.0.1", "OLD": "ocpp1.6"})

    def limit(sid: str, component: str, variable: str, instance: str, value: str) -> None:
        ref = VariableRef(variable, component=component, variable_instance=instance)
        store.saved.append(StationVariable(sid, ref, value, updated_at=T0))

    limit("NEW", "DeviceDataCtrlr", "ItemsPerMessage", "SetVariables", "2")
    limit("NEW", "DeviceDataCtrlr", "ItemsPerMessage", "GetVariables", "not a number")
    limit("OLD", "", "GetConfigurationMaxKeys", "", "3")
    five = [Setting(str(n), component="C", variable=f"V{n}") for n in range(5)]
    answer = await svc.change("NEW", five)
    assert [len(c) for _, c in commands.changes] == [2, 2, 1]
    assert [r.value for r in answer.results] == ["0", "1", "2", "3", "4"]
    # An unreadable limit: one message.
    await svc.read("NEW", [s.ref(False) for s in five])
    assert [len(r) for r in commands.reads] == [5]
    keys = [VariableRef(f"K{n}") for n in range(7)]
    answer = await svc.read("OLD", keys)
    assert [len(r) for r in commands.reads[1:]] == [3, 3, 1] and len(answer.results) == 7
    # A message that gets no answer ends the run; what came before is kept.
    commands.failing["NEW"] = Answer("timeout", detail="late")
    answer = await svc.change("NEW", five)
    assert answer.answer.status == "timeout" and answer.results == []


# ---------------------------------------------------------------- encodings


def test_1_6_encoding() -> None:
    assert v16.get_request(None) == ("GetConfiguration", {})
    assert v16.get_request([VariableRef("A")]) == ("GetConfiguration", {"key": ["A"]})
    results = v16.get_results(
        {
            "configurationKey": [
                {"key": "A", "readonly": True, "value": "1"},
                {"key": "B", "readonly": False},
            ],
            "unknownKey": ["C"],
        }
    )
    assert [(r.ref.variable, r.status, r.value, r.mutability) for r in results] == [
        ("A", ChangeStatus.ACCEPTED, "1", "ReadOnly"),
        ("B", ChangeStatus.ACCEPTED, None, "ReadWrite"),
        ("C", ChangeStatus.NOT_SUPPORTED, None, None),
    ]
    assert v16.change_result(VariableRef("A"), "2", {"status": "RebootRequired"}).status is (
        ChangeStatus.REBOOT_REQUIRED
    )
    with pytest.raises(NotAddressable):
        v16.change_request(VariableRef("A"), "x" * 501)
    with pytest.raises(NotAddressable):
        v16.get_request([VariableRef("A", component="C")])


def test_2x_encoding() -> None:
    ref = VariableRef("Power", component="EVSE", evse_id=2, connector_id=1, attribute_type="MaxSet")
    action, payload = v2.set_request([(ref, "11000")], 1000)
    assert (action, payload) == (
        "SetVariables",
        {
            "setVariableData": [
                {
                    "attributeValue": "11000",
                    "component": {"name": "EVSE", "evse": {"id": 2, "connectorId": 1}},
                    "variable": {"name": "Power"},
                    "attributeType": "MaxSet",
                }
            ]
        },
    )
    answer = {
        "setVariableResult": [
            {**payload["setVariableData"][0], "attributeStatus": "RebootRequired"}
        ]
    }
    (result,) = v2.set_results(answer, [(ref, "11000")])
    assert (result.ref, result.status, result.value) == (ref, ChangeStatus.REBOOT_REQUIRED, "11000")
    # An answer naming the variable without its EVSE is the one asked for in its place.
    loose = {"setVariableResult": [{"component": {"name": "EVSE"}, "variable": {"name": "Power"},
                                    "attributeStatus": "Accepted"}]}  # fmt: skip
    (result,) = v2.set_results(loose, [(ref, "11000")])
    assert (result.ref, result.value) == (ref, "11000")
    with pytest.raises(NotAddressable):
        v2.set_request([(ref, "x" * 1001)], 1000)
    with pytest.raises(NotAddressable):
        v2.get_request([VariableRef("K")])
    assert v2.report_request(7, ReportKind.SUMMARY, {}) == (
        "GetBaseReport",
        {"requestId": 7, "reportBase": "SummaryInventory"},
    )
    custom = v2.report_request(
        8,
        ReportKind.CUSTOM,
        {"component_criteria": ["Problem"], "components": [{"component": "EVSE", "evse_id": 1}]},
    )
    assert custom == (
        "GetReport",
        {
            "requestId": 8,
            "componentCriteria": ["Problem"],
            "componentVariable": [{"component": {"name": "EVSE", "evse": {"id": 1}}}],
        },
    )


def test_notify_report_data_defaults() -> None:
    (attr, target) = v2.report_variables(
        "S",
        [
            {
                "component": {"name": "EVSE", "instance": "x", "evse": {"id": 1}},
                "variable": {"name": "Power"},
                "variableAttribute": [{"value": "1"}, {"type": "Target", "mutability": "ReadOnly"}],
                "variableCharacteristics": {"dataType": "decimal", "supportsMonitoring": True},
            }
        ],
    )
    assert attr.mutability == "ReadWrite" and attr.persistent is False and attr.constant is False
    assert attr.ref == VariableRef("Power", component="EVSE", component_instance="x", evse_id=1)
    assert target.ref.attribute_type == "Target" and target.value is None
    assert attr.characteristics == {"dataType": "decimal", "supportsMonitoring": True}
    assert dataclasses.replace(attr, value="2").value == "2"
