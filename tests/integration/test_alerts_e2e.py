"""Alerts and variable monitoring end to end (issue 17 part 2): simulated stations of
1.6, 2.0.1 and 2.1 raise a fault, the alert opens with its webhook event, an operator
acknowledges it, the station clears it; monitoring commands through the REST API against
a simulated 2.0.1 station; a multi-part monitoring report that never ends is closed as
incomplete; bad input is 422/404, never 500; a station built on the independent `ocpp`
library raises and clears an alert. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from polling import station_connected as _connected
from polling import until as _until
from test_webhooks_api import Receiver
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from ampyre.simulator import run_simulation
from ampyre.simulator.station import SimulatedStation

if TYPE_CHECKING:
    from conftest import Server, StartServer

TS = "2026-12-01T10:00:00Z"


async def _token(server: Server, name: str, role: str) -> httpx.AsyncClient:
    r = await server.api().post("/tokens", json={"name": name, "role": role})
    assert r.status_code == 201, r.text
    client = server.api()
    client.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return client


@asynccontextmanager
async def simulated(server: Server, protocol: str, prefix: str) -> AsyncIterator[SimulatedStation]:
    """One simulated station of `protocol`, online, without random status changes."""
    sid = f"{prefix}00001"
    await server.create_station(sid, registration_status="Accepted")
    stations: list[SimulatedStation] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_simulation(
            f"{server.ws_url}/ocpp", 1, protocol, prefix=prefix, stop=stop,
            status_change_interval=0, seed=3, stations_out=stations,
        )
    )  # fmt: skip
    api = server.api()
    try:

        async def online() -> bool:
            body = (await api.get(f"/stations/{sid}")).json()
            return bool(body.get("connected")) and bool(stations) and stations[0].online

        await _until("the station online", online)
        # Its first statuses are in: alerts from here on are the test's.
        await _until("its statuses", lambda: _history(api, sid))
        yield stations[0]
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def _history(api: httpx.AsyncClient, sid: str) -> bool:
    r = await api.get(f"/stations/{sid}/status-history", params={"limit": 1})
    return int(r.json()["total"]) >= 2


def _events(receiver: Receiver) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for req in receiver.requests:
        body = json.loads(req.body)
        out.append((body["type"], body["data"]))
    return out


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
async def test_fault_alert_acknowledge_clear(
    store_url: str, start_server: StartServer, protocol: str
) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        server = await start_server(store_url, webhook_retry_base=0.05)
        admin = server.api()
        hook = await admin.post(
            "/webhooks",
            json={
                "url": receiver.url,
                "event_types": ["alert.raised", "alert.acknowledged", "alert.cleared"],
            },
        )
        assert hook.status_code == 201, hook.text
        operator = await _token(server, "night-shift", "operator")
        viewer = await _token(server, "watcher", "viewer")
        v16 = protocol == "ocpp1.6"
        prefix = "ALR" + protocol.removeprefix("ocpp").replace(".", "") + "-"
        sid = f"{prefix}00001"
        async with simulated(server, protocol, prefix) as station:
            assert (await admin.get("/alerts", params={"station_id": sid})).json()["total"] == 0
            assert await station.monitoring.fault(1, "GroundFailure" if v16 else "RCD-6", "RCD-6")
            page = (await admin.get("/alerts", params={"station_id": sid, "state": "open"})).json()
            assert page["total"] == 1, page
            alert = page["items"][0]
            if v16:
                assert (alert["code"], alert["severity"], alert["source"]) == (
                    "GroundFailure:RCD-6",
                    0,
                    "status_notification",
                )
                assert alert["vendor_error_code"] == "RCD-6" and alert["status"] == "Faulted"
            else:
                assert (alert["code"], alert["source"]) == ("RCD-6", "notify_event")
                assert (alert["component"], alert["variable"]) == ("Connector", "AvailabilityState")
                assert alert["severity"] == 5  # no monitor: 2.0.1's default for events
            assert (alert["evse_id"], alert["state"], alert["count"]) == (1, "open", 1)

            # The same fault again: counted, not a new alert.
            assert await station.monitoring.fault(1, "GroundFailure" if v16 else "RCD-6", "RCD-6")
            again = (await admin.get(f"/alerts/{alert['id']}")).json()
            assert again["count"] == 2
            assert (await admin.get("/alerts", params={"station_id": sid})).json()["total"] == 1

            # Acknowledge: viewers may not, operators may (who is kept).
            r = await viewer.post(f"/alerts/{alert['id']}/acknowledge")
            assert r.status_code == 403, r.text
            r = await operator.post(f"/alerts/{alert['id']}/acknowledge")
            assert r.status_code == 200, r.text
            acked = r.json()
            assert acked["changed"] is True and acked["alert"]["state"] == "acknowledged"
            assert acked["alert"]["acknowledged_by"] == "night-shift"
            r = await operator.post(f"/alerts/{alert['id']}/acknowledge")
            assert r.json()["changed"] is False

            # The station clears it.
            assert await station.monitoring.clear_fault(1)
            cleared = (await admin.get(f"/alerts/{alert['id']}")).json()
            assert cleared["state"] == "cleared" and cleared["cleared_at"] is not None
            r = await operator.post(f"/alerts/{alert['id']}/acknowledge")
            assert r.status_code == 409, r.text

            mine = await admin.get(f"/stations/{sid}/alerts", params={"state": "cleared"})
            assert [a["id"] for a in mine.json()["items"]] == [alert["id"]]
            worst = await admin.get("/alerts", params={"station_id": sid, "severity_at_most": 0})
            assert worst.json()["total"] == (1 if v16 else 0)
            since = await admin.get(
                "/alerts", params={"station_id": sid, "since": "2999-01-01T00:00:00Z"}
            )
            assert since.json()["total"] == 0

            async def three_events() -> bool:
                return len(_events(receiver)) >= 3

            await _until("the webhook events", three_events)
            kinds = [(t, d["id"], d["state"]) for t, d in _events(receiver)]
            assert kinds == [
                ("alert.raised", alert["id"], "open"),
                ("alert.acknowledged", alert["id"], "acknowledged"),
                ("alert.cleared", alert["id"], "cleared"),
            ]
            assert _events(receiver)[0][1]["station_id"] == sid
    finally:
        await receiver.close()


async def test_bad_alert_requests_are_4xx(server: Server) -> None:
    api = server.api()
    assert (await api.get("/alerts/123456")).status_code == 404
    assert (await api.post("/alerts/123456/acknowledge")).status_code == 404
    for bad in ("/alerts/99999999999999999999999", "/alerts/0", "/alerts/x"):
        assert (await api.get(bad)).status_code == 422, bad
    for params in ({"severity_at_most": 12}, {"state": "gone"}, {"since": "yesterday"}):
        assert (await api.get("/alerts", params=params)).status_code == 422, params
    assert (await api.get("/stations/NOPE/alerts")).status_code == 404
    assert (await api.get("/stations/NOPE/monitors")).status_code == 404


async def test_monitoring_commands_end_to_end(store_url: str, start_server: StartServer) -> None:
    server = await start_server(store_url)
    api = server.api()
    sid = "MON201-00001"
    async with simulated(server, "ocpp2.0.1", "MON201-") as station:
        body = {
            "monitors": [
                {"component": "Connector", "evse_id": 1, "connector_id": 1,
                 "variable": "Temperature", "type": "UpperThreshold", "value": 80, "severity": 2},
                {"component": "EVSE", "evse_id": 1, "variable": "Power", "type": "Delta",
                 "value": 1000, "severity": 7},
                {"component": "Bogus", "variable": "X", "type": "Periodic", "value": 60},
            ]
        }  # fmt: skip
        r = await api.post(f"/stations/{sid}/monitors", json=body)
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert [x["status"] for x in results] == ["Accepted", "Accepted", "UnknownComponent"]
        ids = [x["monitor"]["id"] for x in results[:2]]
        stored = (await api.get(f"/stations/{sid}/monitors")).json()
        assert [m["id"] for m in stored["items"]] == sorted(ids)
        assert stored["items"][0]["source"] == "set" and stored["items"][0]["severity"] == 2

        # A fault on the monitored connector trips the monitor: its severity.
        assert await station.monitoring.fault(1, "T-HOT")
        page = (await api.get(f"/stations/{sid}/alerts", params={"state": "open"})).json()
        assert [(a["severity"], a["monitor_id"], a["trigger"]) for a in page["items"]] == [
            (2, ids[0], "Alerting")
        ]
        assert await station.monitoring.clear_fault(1)

        r = await api.post(f"/stations/{sid}/monitoring-level", json={"severity": 4})
        assert r.json()["status"] == "accepted" and station.monitoring.level == 4
        r = await api.post(f"/stations/{sid}/monitoring-base", json={"base": "All"})
        assert r.json()["status"] == "accepted", r.text

        # The station's report, in parts, replaces what Ampyre knows.
        for extra in (77, 78):  # set at the station by someone else
            station.monitoring.monitors[extra] = {
                "id": extra, "component": {"name": "ChargingStation"},
                "variable": {"name": "Power"}, "type": "LowerThreshold", "value": extra,
                "severity": 6, "transaction": False,
            }  # fmt: skip
        del station.monitoring.monitors[ids[1]]  # lost at the station (e.g. a reset)
        r = await api.post(f"/stations/{sid}/monitoring-report", json={})
        assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
        request_id = r.json()["report"]["request_id"]

        async def complete() -> bool:
            reports = (await api.get(f"/stations/{sid}/monitoring-reports")).json()["items"]
            return any(x["request_id"] == request_id and x["state"] == "complete" for x in reports)

        await _until("the report complete", complete)
        reports = (await api.get(f"/stations/{sid}/monitoring-reports")).json()["items"]
        assert (reports[0]["parts"], reports[0]["monitors"]) == (2, 3)  # two parts of two
        stored = (await api.get(f"/stations/{sid}/monitors")).json()["items"]
        # A full report is all there is: the monitor the station lost is forgotten.
        assert {m["id"]: m["source"] for m in stored} == {
            ids[0]: "report",
            77: "report",
            78: "report",
        }
        assert (await api.get(f"/stations/{sid}/reports")).json()["total"] >= 2  # history

        r = await api.get(f"/stations/{sid}/monitoring-reports")
        r = await api.post(
            f"/stations/{sid}/monitoring-report", json={"criteria": ["PeriodicMonitoring"]}
        )
        assert r.json()["status"] == "emptyresultset" and r.json()["report"]["state"] == "rejected"

        r = await api.delete(f"/stations/{sid}/monitors/{ids[0]}")
        assert r.status_code == 200 and r.json()["results"][0]["status"] == "Accepted", r.text
        r = await api.delete(f"/stations/{sid}/monitors/4242")
        assert r.json()["results"][0]["status"] == "NotFound"
        left = [m["id"] for m in (await api.get(f"/stations/{sid}/monitors")).json()["items"]]
        assert left == [77, 78]

        # Bad input: 422 before anything is sent.
        base = {"component": "EVSE", "variable": "Power", "type": "UpperThreshold", "value": 1}
        for bad in (
            {"value": 1e300},
            {"severity": 10},
            {"type": "Sometimes"},
            {"type": "TargetDelta"},  # 2.1 only
            {"type": "Periodic", "value": 0},
            {"id": 2**31},
            {"evse_id": 2**40},
            {"connector_id": 1},
            {"component": "x" * 51},
        ):
            r = await api.post(f"/stations/{sid}/monitors", json={"monitors": [{**base, **bad}]})
            assert r.status_code == 422, (bad, r.text)
        assert (await api.delete(f"/stations/{sid}/monitors/{2**40}")).status_code == 422
        r = await api.post(f"/stations/{sid}/monitoring-level", json={"severity": -1})
        assert r.status_code == 422

    # Disconnected: 409 at once.
    r = await api.post(f"/stations/{sid}/monitoring-level", json={"severity": 4})
    assert r.status_code == 409, r.text


async def test_monitoring_is_not_in_16(server: Server) -> None:
    api = server.api()
    async with simulated(server, "ocpp1.6", "MON16-"):
        sid = "MON16-00001"
        monitor = {"component": "EVSE", "variable": "Power", "type": "Delta", "value": 1}
        for path, body in (
            ("monitors", {"monitors": [monitor]}),
            ("monitoring-level", {"severity": 3}),
            ("monitoring-report", {}),
        ):
            r = await api.post(f"/stations/{sid}/{path}", json=body)
            assert r.status_code == 422 and "not-in-version" in r.json()["type"], r.text


class LibStation(ChargePoint201):
    pass


@asynccontextmanager
async def lib_station(server: Server, sid: str) -> AsyncIterator[LibStation]:
    async with connect(
        server.station_url(sid), subprotocols=[Subprotocol("ocpp2.0.1")], open_timeout=5
    ) as ws:
        cp = LibStation(sid, ws, response_timeout=5)
        task = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _lib_event(event_id: int, cleared: bool) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "timestamp": TS,
        "trigger": "Delta",
        "actual_value": "false" if cleared else "true",
        "event_notification_type": "HardWiredNotification",
        "component": {"name": "PowerConverter", "evse": {"id": 1}},
        "variable": {"name": "Problem"},
        "tech_code": "PC-OVERHEAT",
        "tech_info": "converter above 95 C",
    }


async def test_ocpp_library_station_raises_an_alert(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url, report_timeout=1.0)
    api = server.api()
    await server.create_station("LIB-ALERT", registration_status="Accepted")
    async with lib_station(server, "LIB-ALERT") as cp:
        boot = await cp.call(
            call201.BootNotification(
                charging_station={"vendor_name": "V", "model": "M"}, reason="PowerUp"
            ),
            suppress=False,
        )
        assert boot.status == "Accepted"
        await cp.call(
            call201.NotifyEvent(generated_at=TS, seq_no=0, event_data=[_lib_event(1, False)]),
            suppress=False,
        )
        [alert] = (await api.get("/stations/LIB-ALERT/alerts")).json()["items"]
        assert (alert["code"], alert["state"], alert["tech_info"]) == (
            "PC-OVERHEAT",
            "open",
            "converter above 95 C",
        )
        await cp.call(
            call201.NotifyEvent(generated_at=TS, seq_no=1, event_data=[_lib_event(2, True)]),
            suppress=False,
        )
        [alert] = (await api.get("/stations/LIB-ALERT/alerts")).json()["items"]
        assert alert["state"] == "cleared"
        history = (await api.get("/stations/LIB-ALERT/reports")).json()
        assert [r["action"] for r in history["items"]].count("NotifyEvent") == 2

        # A part sent again counts once; a last part with one missing before it: incomplete.
        for request_id, seq_nos in ((10, (0, 0, 1)), (11, (0, 2))):
            for i, seq_no in enumerate(seq_nos):
                last = i == len(seq_nos) - 1
                await cp.call(
                    call201.NotifyMonitoringReport(
                        request_id=request_id, seq_no=seq_no, generated_at=TS, tbc=not last
                    ),
                    suppress=False,
                )
        reports = (await api.get("/stations/LIB-ALERT/monitoring-reports")).json()["items"]
        by_id = {r["request_id"]: (r["state"], r["parts"]) for r in reports}
        assert by_id[10] == ("complete", 2) and by_id[11] == ("incomplete", 2)

        # A monitoring report whose last part never comes: closed as incomplete.
        part = {
            "request_id": 9,
            "seq_no": 0,
            "generated_at": TS,
            "tbc": True,
            "monitor": [
                {
                    "component": {"name": "EVSE", "evse": {"id": 1}},
                    "variable": {"name": "Power"},
                    "variable_monitoring": [
                        {"id": 3, "transaction": False, "value": 10.5, "type": "Delta",
                         "severity": 6},
                        {"id": 2**40, "transaction": False, "value": 1, "type": "Delta",
                         "severity": 6},
                    ],
                }
            ],
        }  # fmt: skip
        await cp.call(call201.NotifyMonitoringReport(**part), suppress=False)
        reports = (await api.get("/stations/LIB-ALERT/monitoring-reports")).json()["items"]
        assert reports[0]["state"] == "pending"

        async def incomplete() -> bool:
            r = await api.get("/stations/LIB-ALERT/monitoring-reports")
            return bool(r.json()["items"][0]["state"] == "incomplete")

        await _until("the report closed", incomplete, timeout=5)
        monitors = (await api.get("/stations/LIB-ALERT/monitors")).json()["items"]
        assert [(m["id"], m["value"]) for m in monitors] == [(3, 10.5)]  # the huge id skipped


async def test_simulated_faults_come_and_go(server: Server) -> None:
    """The `make run` demo's faults: raised now and then, cleared a little later."""
    api = server.api()
    await server.create_station("FLT-00001", registration_status="Accepted")
    stations: list[SimulatedStation] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_simulation(
            f"{server.ws_url}/ocpp", 1, "ocpp2.0.1", prefix="FLT-", stop=stop,
            status_change_interval=0, seed=4, stations_out=stations, fault_interval=0.3,
        )
    )  # fmt: skip
    try:
        await _until("the simulator built", lambda: _true(bool(stations)))
        stations[0].monitoring.fault_lasts = 0.3

        async def came_and_went() -> bool:
            page = (await api.get("/stations/FLT-00001/alerts", params={"state": "cleared"})).json()
            return int(page["total"]) >= 1

        await _until("a fault raised and cleared", came_and_went)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def _true(value: bool) -> bool:
    return value


async def test_a_silent_station_times_out_and_the_report_says_so(server: Server) -> None:
    api = server.api()
    await server.create_station("SILENT-201", registration_status="Accepted")
    async with connect(
        server.station_url("SILENT-201"), subprotocols=[Subprotocol("ocpp2.0.1")], open_timeout=5
    ):
        await _until(
            "connected",
            lambda: _connected(api, "SILENT-201"),
        )
        r = await api.post(
            "/stations/SILENT-201/monitoring-report", params={"timeout": 0.3}, json={}
        )
        assert r.status_code == 504, r.text
        [report] = (await api.get("/stations/SILENT-201/monitoring-reports")).json()["items"]
        assert report["state"] == "timed_out"
