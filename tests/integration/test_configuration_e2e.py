"""Station configuration through the REST API against a real Ampyre (issue 17 part 1):
1.6 keys read and changed, the 2.x device model reported in several NotifyReport parts and
stored, variables set, a bulk change across a mixed fleet, an `ocpp`-library station's
report, and what happens without an answer (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from ocpp.routing import on
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from polling import station_connected as _connected
from polling import until as _until
from test_ocpp_lib_clients import running

from ampyre.adapters.db.configuration import ConfigurationSql
from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.device_model import (
    ConfigReport,
    ReportKind,
    ReportState,
    StationVariable,
    VariableRef,
)
from ampyre.domain.models import Station
from ampyre.services.configuration_store import VariableQuery
from ampyre.simulator import run_simulation

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer


@pytest.fixture
async def ampyre(start_server: StartServer, store_url: str) -> Server:
    return await start_server(store_url)


def _by_name(items: list[dict[str, Any]]) -> dict[tuple[str | None, str], dict[str, Any]]:
    return {(i["component"], i["variable"]): i for i in items}


async def _run(ampyre: Server, protocol: str, prefix: str, n: int, stop: asyncio.Event) -> Any:
    return asyncio.create_task(
        run_simulation(
            f"{ampyre.ws_url}/ocpp", n, protocol, prefix=prefix, stop=stop,
            status_change_interval=0, seed=7,
        )
    )  # fmt: skip


async def test_ocpp16_keys(ampyre: Server) -> None:
    api = ampyre.api()
    sid = "CFG16-00001"
    await ampyre.create_station(sid, registration_status="Accepted")
    # Not connected: 409 at once, nothing stored.
    r = await api.post(f"/stations/{sid}/configuration/get", json={})
    assert r.status_code == 409, r.text
    stop = asyncio.Event()
    sim = await _run(ampyre, "ocpp1.6", "CFG16-", 1, stop)
    try:
        await _until("the station online", lambda: _connected(api, sid))
        r = await api.post(f"/stations/{sid}/configuration/get", json={})
        assert r.status_code == 200, r.text
        read = _by_name(r.json()["results"])
        assert read[(None, "NumberOfConnectors")]["mutability"] == "ReadOnly"
        assert read[(None, "HeartbeatInterval")]["status"] == "accepted"

        stored = (await api.get(f"/stations/{sid}/configuration", params={"limit": 500})).json()
        assert stored["total"] == len(read)
        assert _by_name(stored["items"])[(None, "NumberOfConnectors")]["value"] == "2"
        reports = (await api.get(f"/stations/{sid}/configuration/reports")).json()["items"]
        assert [(x["kind"], x["state"]) for x in reports] == [("GetConfiguration", "complete")]

        # Change: accepted (stored), read-only (rejected), unknown (not_supported).
        r = await api.post(
            f"/stations/{sid}/configuration",
            json={
                "values": [
                    {"key": "HeartbeatInterval", "value": "120"},
                    {"variable": "NumberOfConnectors", "value": "4"},
                    {"key": "NoSuchKey", "value": "1"},
                ]
            },
        )
        assert r.status_code == 200, r.text
        assert [x["status"] for x in r.json()["results"]] == [
            "accepted",
            "rejected",
            "not_supported",
        ]
        r = await api.get(f"/stations/{sid}/configuration", params={"q": "heartbeat"})
        (hb,) = r.json()["items"]
        assert (hb["value"], hb["source"]) == ("120", "set")

        # A 2.x-style name has no 1.6 key: 422, nothing sent.
        r = await api.post(
            f"/stations/{sid}/configuration",
            json={"values": [{"component": "OCPPCommCtrlr", "variable": "X", "value": "1"}]},
        )
        assert r.status_code == 422 and r.json()["ocpp_version"] == "ocpp1.6", r.text
        # A report of a 1.6 station reads every key at once.
        r = await api.post(f"/stations/{sid}/configuration/reports", json={})
        assert r.status_code == 200 and r.json()["state"] == "complete", r.text
    finally:
        stop.set()
        await sim


@pytest.mark.parametrize("protocol", ["ocpp2.0.1", "ocpp2.1"])
async def test_device_model(ampyre: Server, protocol: str) -> None:
    api = ampyre.api()
    prefix = "CFG" + protocol.removeprefix("ocpp").replace(".", "") + "-"
    sid = f"{prefix}00001"
    await ampyre.create_station(sid, registration_status="Accepted")
    stop = asyncio.Event()
    sim = await _run(ampyre, protocol, prefix, 1, stop)
    try:
        await _until("the station online", lambda: _connected(api, sid))
        # A 2.x station is read by name, or by a report.
        r = await api.post(f"/stations/{sid}/configuration/get", json={})
        assert r.status_code == 422, r.text

        r = await api.post(f"/stations/{sid}/configuration/reports", json={})
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["kind"] == "FullInventory" and report["request_id"] == report["id"]

        async def complete() -> bool:
            r = await api.get(f"/stations/{sid}/configuration/reports/{report['id']}")
            return bool(r.json()["state"] == "complete")

        await _until("the complete report", complete)
        done = (await api.get(f"/stations/{sid}/configuration/reports/{report['id']}")).json()
        assert done["parts"] >= 2 and done["variables"] >= 8
        items = (await api.get(f"/stations/{sid}/configuration", params={"limit": 500})).json()
        model = _by_name(items["items"])
        assert model[("ChargingStation", "Model")]["mutability"] == "ReadOnly"
        assert model[("SecurityCtrlr", "Identity")]["value"] == sid
        assert model[("OCPPCommCtrlr", "HeartbeatInterval")]["characteristics"]["dataType"] == (
            "integer"
        )

        # Set and read by name.
        r = await api.post(
            f"/stations/{sid}/configuration",
            json={
                "values": [
                    {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "90"},
                    {"component": "ChargingStation", "variable": "Model", "value": "x"},
                    {"component": "NoSuchCtrlr", "variable": "X", "value": "1"},
                ]
            },
        )
        assert r.status_code == 200, r.text
        assert [x["status"] for x in r.json()["results"]] == [
            "accepted",
            "rejected",
            "unknown_component",
        ]
        r = await api.post(
            f"/stations/{sid}/configuration/get",
            json={"variables": [{"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"}]},
        )
        assert r.json()["results"][0]["value"] == "90", r.text
        r = await api.get(
            "/configuration", params={"variable": "HeartbeatInterval", "station_id": sid}
        )
        assert [(i["value"], i["source"]) for i in r.json()["items"]] == [("90", "get")]

        # A custom report that matches nothing: empty, at once.
        r = await api.post(
            f"/stations/{sid}/configuration/reports",
            json={"kind": "Custom", "component_criteria": ["Problem"]},
        )
        assert r.json()["state"] == "empty", r.text
        # A 1.6 key name has no 2.x address: 422.
        r = await api.post(
            f"/stations/{sid}/configuration", json={"values": [{"key": "X", "value": "1"}]}
        )
        assert r.status_code == 422, r.text
    finally:
        stop.set()
        await sim


async def test_bulk_change_across_versions(ampyre: Server) -> None:
    api = ampyre.api()
    for sid in ("BULK16-00001", "BULK201-00001", "BULK-OFFLINE"):
        await ampyre.create_station(sid, registration_status="Accepted")
    stop = asyncio.Event()
    sims = [
        await _run(ampyre, "ocpp1.6", "BULK16-", 1, stop),
        await _run(ampyre, "ocpp2.0.1", "BULK201-", 1, stop),
    ]
    try:
        for sid in ("BULK16-00001", "BULK201-00001"):
            await _until(f"{sid} online", lambda sid=sid: _connected(api, sid))
        value = {
            "key": "HeartbeatInterval",
            "component": "OCPPCommCtrlr",
            "variable": "HeartbeatInterval",
            "value": "75",
        }
        r = await api.post(
            "/configuration/bulk",
            json={
                "station_ids": ["BULK16-00001", "BULK201-00001", "BULK-OFFLINE", "NOPE"],
                "values": [value],
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert {x["station_id"]: x["status"] for x in body["results"]} == {
            "BULK16-00001": "accepted",
            "BULK201-00001": "accepted",
            "BULK-OFFLINE": "not_connected",
            "NOPE": "not_found",
        }
        assert body["counts"] == {"accepted": 2, "not_connected": 1, "not_found": 1}
        r = await api.get("/configuration", params={"variable": "HeartbeatInterval", "value": "75"})
        assert sorted(i["station_id"] for i in r.json()["items"]) == [
            "BULK16-00001",
            "BULK201-00001",
        ]
        # By model: the simulator's stations all match; the offline one is not_connected.
        r = await api.post("/configuration/bulk", json={"model": "nothing", "values": [value]})
        assert r.json() == {"stations": 0, "counts": {}, "results": []}
        # Listed but left out by the model: not asked, and not unknown either.
        r = await api.post(
            "/configuration/bulk",
            json={"station_ids": ["BULK16-00001", "NOPE"], "model": "nothing", "values": [value]},
        )
        assert [(x["station_id"], x["status"]) for x in r.json()["results"]] == [
            ("NOPE", "not_found")
        ]
        r = await api.post("/configuration/bulk", json={"values": [value]})
        assert r.status_code == 422, r.text
    finally:
        stop.set()
        await asyncio.gather(*sims)


class ReportingStation(ChargePoint201):
    """An `ocpp`-library station that reports in three parts, the second sent twice."""

    @on(Action201.get_base_report)
    async def on_get_base_report(self, request_id: int, report_base: str) -> Any:
        self.request_id = request_id
        return result201.GetBaseReport(status="Accepted")


def _data(name: str, value: str) -> dict[str, Any]:
    return {
        "component": {"name": "EVSE", "evse": {"id": 1}},
        "variable": {"name": name},
        "variable_attribute": [{"value": value, "mutability": "ReadOnly"}],
    }


async def test_ocpp_library_station_report(server: Server) -> None:
    await server.create_station("LIB-REPORT")
    api = server.api()
    async with running(ReportingStation, server, "LIB-REPORT", "ocpp2.0.1") as cp:
        await cp.call(
            call201.BootNotification(
                charging_station={"vendor_name": "V", "model": "M"}, reason="PowerUp"
            ),
            suppress=False,
        )
        r = await api.post("/stations/LIB-REPORT/configuration/reports", json={})
        assert r.json()["state"] == "receiving", r.text
        report_id = r.json()["id"]
        at = datetime.now(UTC).isoformat()
        parts = [(0, True, "AvailabilityState"), (1, True, "Power"), (1, True, "Power")]
        for seq_no, tbc, name in [*parts, (2, False, "SupplyPhases")]:
            await cp.call(
                call201.NotifyReport(
                    request_id=report_id,
                    generated_at=at,
                    seq_no=seq_no,
                    tbc=tbc,
                    report_data=[_data(name, "3")],
                ),
                suppress=False,
            )
        done = (await api.get(f"/stations/LIB-REPORT/configuration/reports/{report_id}")).json()
        assert (done["state"], done["parts"], done["variables"]) == ("complete", 3, 3)
        items = (await api.get("/stations/LIB-REPORT/configuration")).json()["items"]
        assert {(i["component"], i["evse_id"], i["variable"]) for i in items} == {
            ("EVSE", 1, "AvailabilityState"),
            ("EVSE", 1, "Power"),
            ("EVSE", 1, "SupplyPhases"),
        }


async def test_reports_closed_when_parts_are_missing_or_late(store_url: str) -> None:
    """A report whose last part says seqNo 2 but 1 never came is incomplete; one whose
    last part never comes is closed as incomplete by the sweep; a FullInventory that
    completes forgets what it no longer lists."""
    settings = Settings(database_url=store_url)
    store = SqlStore(settings)
    await store.start()
    repo = ConfigurationSql(store.db)
    try:
        await store.create_station(Station(id="CS-R"))
        t0 = datetime(2026, 1, 1, tzinfo=UTC)

        def var(name: str) -> StationVariable:
            return StationVariable("CS-R", VariableRef(name, component="C"), "1", updated_at=t0)

        gap = await repo.create_report(
            ConfigReport("CS-R", ReportKind.FULL, ReportState.REQUESTED, t0)
        )
        assert gap.id is not None
        await repo.set_state(gap.id, ReportState.RECEIVING, None)
        await repo.record_part("CS-R", gap.id, 0, True, t0, [var("a")])
        last = await repo.record_part("CS-R", gap.id, 2, False, t0, [var("c")])
        assert last.state is ReportState.INCOMPLETE and "1" in (last.detail or "")

        late = await repo.create_report(
            ConfigReport("CS-R", ReportKind.FULL, ReportState.REQUESTED, t0)
        )
        assert late.id is not None
        await repo.record_part("CS-R", late.id, 0, True, t0, [var("b")])
        assert await repo.expire_reports(t0 - timedelta(seconds=1), t0) == 0
        assert await repo.expire_reports(t0 + timedelta(seconds=1), t0) == 1
        closed = await repo.get_report("CS-R", late.id)
        assert closed is not None and closed.state is ReportState.INCOMPLETE

        full = await repo.create_report(
            ConfigReport("CS-R", ReportKind.FULL, ReportState.REQUESTED, t0)
        )
        assert full.id is not None
        done = await repo.record_part("CS-R", full.id, 0, False, t0, [var("b")])
        assert done.state is ReportState.COMPLETE
        page = await repo.list_variables(VariableQuery(station_id="CS-R"), 50, 0)
        assert [v.ref.variable for v in page.items] == ["b"]

        # What a column or JSONB cannot hold (NUL, over-long text) is kept as it can be.
        odd = StationVariable(
            "CS-R",
            VariableRef("n\x00ul", component="C\x00"),
            "v\x00" + "x" * 3000,
            characteristics={"valuesList": "a,\x00b", "unit": "\x00"},
            updated_at=t0,
        )
        await repo.save_variables([odd])
        page = await repo.list_variables(VariableQuery(station_id="CS-R", text="ul"), 50, 0)
        (kept,) = page.items
        assert kept.ref.variable == "n\ufffdul" and len(kept.value or "") == 2500
        assert kept.characteristics == {"valuesList": "a,\ufffdb", "unit": "\ufffd"}
    finally:
        await store.close()
