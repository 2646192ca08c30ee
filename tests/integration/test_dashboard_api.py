"""The dashboard's REST data against a real server on SQLite and PostgreSQL: /overview,
the station list's search / sort / state, the transactions CSV export, the chart series
and the event stream over a real socket."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ampyre.api import csv_export
from ampyre.domain.models import Station, StatusReport
from ampyre.domain.transactions import (
    ENERGY_REGISTER,
    EventKind,
    MeterReading,
    SampledValue,
    TransactionEvent,
)
from ampyre.services.clock import utcnow
from ampyre.services.dashboard import utc_day_start

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

DAY = utc_day_start(utcnow())
PROBLEM = "application/problem+json"


def _reading(
    at: datetime, wh: float, kw: float | None = None, soc: float | None = None
) -> MeterReading:
    values = [
        SampledValue(
            value=wh, raw_value=str(wh), measurand=ENERGY_REGISTER, si_value=wh, si_unit="Wh"
        )
    ]
    if kw is not None:
        values.append(
            SampledValue(
                value=kw,
                raw_value=str(kw),
                measurand="Power.Active.Import",
                unit="kW",
                si_value=kw * 1000,
                si_unit="W",
            )
        )
    if soc is not None:
        values.append(
            SampledValue(
                value=soc,
                raw_value=str(soc),
                measurand="SoC",
                unit="Percent",
                si_value=soc,
                si_unit="Percent",
            )
        )
    return MeterReading(at, tuple(values))


def _event(
    station: str,
    tid: str,
    kind: EventKind,
    seq: int,
    at: datetime,
    reading: MeterReading | None,
    token: str = "TAG-1",
) -> TransactionEvent:
    return TransactionEvent(
        station_id=station,
        kind=kind,
        timestamp=at,
        received_at=at,
        transaction_id=tid,
        event_key=f"seq:{seq}",
        seq_no=seq,
        evse_id=1,
        connector_id=1,
        id_token=token,
        meter_values=() if reading is None else (reading,),
        payload={"seqNo": seq},
        ocpp_version="ocpp2.0.1",
    )


def _status(
    station: str, connector: int, status: str, error: str = "NoError", at: datetime | None = None
) -> StatusReport:
    at = at or utcnow()
    return StatusReport(station, connector, connector, status, at, at, error_code=error)


async def _fleet(server: Server) -> None:
    """A: online, connector Faulted. B: online, connector Charging, a transaction over
    midnight (ended today). C: offline with an active transaction. D: offline, idle."""
    store = server.app.store
    now = utcnow()
    await store.create_station(
        Station(id="CP-A", vendor="Acme", model="A_B", firmware_version="1.0")
    )
    await store.create_station(Station(id="CP-B", vendor="Bolt", model="AxB"))
    await store.create_station(Station(id="CP-C", description="500 off"))
    await store.create_station(Station(id="CP-D", description="50% off"))
    for sid in ("CP-A", "CP-B"):
        await store.record_connection(sid, True, now, "ocpp2.0.1", "test-node", None)
    await store.record_status([_status("CP-A", 1, "Faulted", "GroundFailure")])
    await store.record_status([_status("CP-A", 2, "Available")])
    await store.record_status([_status("CP-B", 1, "Charging")])
    await store.record_status([_status("CP-B", 2, "Available", "HighTemperature")])
    await store.record_status([_status("CP-D", 1, "Available")])  # not an alert
    # B: 5000 at 23:00 yesterday, 5500 at 23:30, 6200 at the end today: 700 Wh today.
    y = DAY - timedelta(hours=1)
    for event in (
        _event("CP-B", "TB", EventKind.STARTED, 0, y, _reading(y, 5000, 7.0, 20)),
        _event(
            "CP-B",
            "TB",
            EventKind.UPDATED,
            1,
            y + timedelta(minutes=30),
            _reading(y + timedelta(minutes=30), 5500, 7.0, 30),
        ),
        _event(
            "CP-B",
            "TB",
            EventKind.UPDATED,
            2,
            DAY + timedelta(minutes=30),
            _reading(DAY + timedelta(minutes=30), 6000, 3.5, 40),
        ),
        _event(
            "CP-B",
            "TB",
            EventKind.ENDED,
            3,
            DAY + timedelta(minutes=60),
            _reading(DAY + timedelta(minutes=60), 6200),
        ),
    ):
        await store.record_transaction_events([event])
    # C: started today at 1000, now at 3000: 2000 Wh today; a formula-like id token.
    t = DAY + timedelta(minutes=10)
    await store.record_transaction_events(
        [_event("CP-C", "TC", EventKind.STARTED, 0, t, _reading(t, 1000), token="=HYPERLINK(1)")]
    )
    await store.record_transaction_events(
        [
            _event(
                "CP-C",
                "TC",
                EventKind.UPDATED,
                1,
                t + timedelta(minutes=5),
                _reading(t + timedelta(minutes=5), 3000),
                token="=HYPERLINK(1)",
            )
        ]
    )
    # D: a transaction that ended yesterday delivers nothing today.
    old = DAY - timedelta(hours=5)
    await store.record_transaction_events(
        [
            _event("CP-D", "TD", EventKind.STARTED, 0, old, _reading(old, 100)),
            _event(
                "CP-D",
                "TD",
                EventKind.ENDED,
                1,
                old + timedelta(hours=1),
                _reading(old + timedelta(hours=1), 900),
            ),
        ]
    )


@pytest.fixture
async def fleet(start_server: StartServer, store_url: str) -> Server:
    server = await start_server(store_url)
    await _fleet(server)
    return server


async def test_overview_counts_energy_and_alerts(fleet: Server) -> None:
    r = await fleet.api().get("/overview")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stations"] == {
        "total": 4,
        "online": 2,
        "offline": 2,
        "faulted": 1,
        "charging": 2,  # B (connector Charging) and C (active transaction)
    }
    assert body["active_transactions"] == 1
    assert body["energy_today_wh"] == pytest.approx(2700.0)
    assert isinstance(body["messages_per_second"], float)
    alerts = body["alerts"]
    assert [(a["station_id"], a["connector_id"], a["status"], a["error_code"]) for a in alerts] == [
        ("CP-B", 2, "Available", "HighTemperature"),
        ("CP-A", 1, "Faulted", "GroundFailure"),
    ]
    assert set(alerts[0]) == {
        "station_id",
        "evse_id",
        "connector_id",
        "status",
        "error_code",
        "info",
        "vendor_error_code",
        "timestamp",
        "received_at",
    }


async def _ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    r = await client.get("/stations", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    return [s["id"] for s in body["items"]]


async def test_station_states_match_the_overview(fleet: Server) -> None:
    api = fleet.api()
    overview = (await api.get("/overview")).json()["stations"]
    expected = {
        "online": ["CP-A", "CP-B"],
        "offline": ["CP-C", "CP-D"],
        "faulted": ["CP-A"],
        "charging": ["CP-B", "CP-C"],
    }
    for state, ids in expected.items():
        r = await api.get("/stations", params={"state": state})
        assert [s["id"] for s in r.json()["items"]] == ids, state
        assert r.json()["total"] == overview[state] == len(ids)


async def test_station_search_is_a_literal_case_insensitive_substring(fleet: Server) -> None:
    api = fleet.api()
    assert await _ids(api, q="ACME") == ["CP-A"]
    assert await _ids(api, q="cp-") == ["CP-A", "CP-B", "CP-C", "CP-D"]
    assert await _ids(api, q="50%") == ["CP-D"]  # % is not a wildcard
    assert await _ids(api, q="a_b") == ["CP-A"]  # nor is _
    assert await _ids(api, q="1.0") == ["CP-A"]  # firmware
    assert await _ids(api, q="\\") == []
    r = await api.get("/stations", params={"q": "cp", "state": "online", "limit": 1, "offset": 1})
    assert r.json()["total"] == 2
    assert [s["id"] for s in r.json()["items"]] == ["CP-B"]


async def test_station_sort(fleet: Server) -> None:
    api = fleet.api()
    assert await _ids(api, sort="vendor") == ["CP-A", "CP-B", "CP-C", "CP-D"]
    # Without a value last either way; ties by id.
    assert await _ids(api, sort="-vendor") == ["CP-B", "CP-A", "CP-C", "CP-D"]
    assert await _ids(api, sort="-id") == ["CP-D", "CP-C", "CP-B", "CP-A"]
    assert (await _ids(api, sort="-connected"))[:2] == ["CP-A", "CP-B"]
    for key in ("model", "firmware_version", "ocpp_version", "last_seen", "-last_seen"):
        assert sorted(await _ids(api, sort=key)) == ["CP-A", "CP-B", "CP-C", "CP-D"]


@pytest.mark.parametrize(
    "params", [{"sort": "password_hash"}, {"sort": "--id"}, {"state": "busy"}, {"limit": 0}]
)
async def test_station_list_refuses_unknown_parameters(
    fleet: Server, params: dict[str, str]
) -> None:
    r = await fleet.api().get("/stations", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


async def test_transactions_export_csv(fleet: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    api = fleet.api()
    listed = (await api.get("/transactions")).json()["items"]
    monkeypatch.setattr(csv_export, "PAGE", 1)  # one query per transaction: paging is used
    r = await api.get("/transactions/export.csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="transactions.csv"'
    assert r.text.startswith("id,station_id,transaction_id,status,")
    assert "\r\n" in r.text
    rows = _csv(r.text)
    assert [int(row["id"]) for row in rows] == [t["id"] for t in listed]  # newest first, all
    by_station = {row["station_id"]: row for row in rows}
    assert by_station["CP-C"]["id_token"] == "'=HYPERLINK(1)"  # no formula
    assert by_station["CP-C"]["status"] == "active"
    assert float(by_station["CP-B"]["energy_wh"]) == 1200.0
    assert by_station["CP-B"]["stop_reason"] == ""


async def test_transactions_export_filters(fleet: Server) -> None:
    api = fleet.api()
    for params, stations in (
        ({"status": "ended"}, ["CP-D", "CP-B"]),
        ({"station_id": "CP-C"}, ["CP-C"]),
        ({"id_token": "tag-1"}, ["CP-D", "CP-B"]),
        ({"started_from": DAY.isoformat()}, ["CP-C"]),
        ({"started_to": DAY.isoformat(), "status": "ended"}, ["CP-D", "CP-B"]),
    ):
        listed = (await api.get("/transactions", params=params)).json()["items"]
        exported = _csv((await api.get("/transactions/export.csv", params=params)).text)
        assert [row["station_id"] for row in exported] == [t["station_id"] for t in listed]
        assert sorted(row["station_id"] for row in exported) == sorted(stations), params
    r = await api.get("/transactions/export.csv", params={"status": "paused"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    none = await api.get("/transactions/export.csv", params={"station_id": "nobody"})
    assert none.text.startswith("id,") and len(_csv(none.text)) == 0


async def test_meter_series_for_a_chart(fleet: Server) -> None:
    api = fleet.api()
    [tx] = (await api.get("/transactions", params={"station_id": "CP-B"})).json()["items"]
    r = await api.get(f"/transactions/{tx['id']}/meter-series")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["transaction_id"] == tx["id"]
    assert body["meter_start_wh"] == 5000.0
    assert body["more"] is False
    points = body["points"]
    assert [(p["power_w"], p["energy_wh"], p["soc_percent"]) for p in points] == [
        (7000.0, 5000.0, 20.0),
        (7000.0, 5500.0, 30.0),
        (3500.0, 6000.0, 40.0),
        (None, 6200.0, None),
    ]
    # A growing chart asks for what is new; a long one is fetched in parts.
    after = points[1]["timestamp"]
    later = (
        await api.get(f"/transactions/{tx['id']}/meter-series", params={"after": after})
    ).json()
    assert [p["energy_wh"] for p in later["points"]] == [6000.0, 6200.0]
    part = (await api.get(f"/transactions/{tx['id']}/meter-series", params={"limit": 1})).json()
    assert [p["energy_wh"] for p in part["points"]] == [5000.0] and part["more"] is True
    assert (await api.get("/transactions/999999/meter-series")).status_code == 404
    assert (
        await api.get(f"/transactions/{tx['id']}/meter-series", params={"limit": 0})
    ).status_code == 422


async def test_dashboard_reads_need_a_token(fleet: Server) -> None:
    async with httpx.AsyncClient(base_url=f"{fleet.http_url}/api/v1") as anonymous:
        for path in ("/overview", "/stream", "/transactions/export.csv"):
            r = await anonymous.get(path)
            assert r.status_code == 401, path
            assert r.headers["content-type"].startswith(PROBLEM)


async def _events(response: httpx.Response) -> Any:
    current: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if current:
                yield current
            current = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            current[key] = value.lstrip(" ")


async def test_stream_over_a_real_socket(start_server: StartServer, store_url: str) -> None:
    server = await start_server(store_url)
    await server.app.store.create_station(Station(id="CP-S"))
    headers = {"Authorization": f"Bearer {server.token}"}
    async with (
        httpx.AsyncClient(base_url=server.http_url, headers=headers, timeout=10) as client,
        client.stream("GET", "/api/v1/stream") as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        seen: list[dict[str, str]] = []
        async with asyncio.timeout(10):
            events = _events(r)
            async for event in events:
                seen.append(event)
                if event.get("event") == "ready":
                    await server.app.store.record_connection(
                        "CP-S", True, utcnow(), "ocpp1.6", "test-node", None
                    )
                if event.get("event") == "stats" and any(
                    e.get("event") == "station.connected" for e in seen
                ):
                    break
        connected = next(e for e in seen if e.get("event") == "station.connected")
        data = json.loads(connected["data"])
        assert data["station_id"] == "CP-S" and data["data"]["ocpp_version"] == "ocpp1.6"
        assert int(connected["id"]) == data["id"]
        stats = json.loads(next(e for e in seen if e.get("event") == "stats")["data"])
        assert stats["connected_stations"] >= 0 and "messages_per_second" in stats
        assert server.app.live.clients == 1
    async with asyncio.timeout(10):
        while server.app.live.clients:  # noqa: ASYNC110 - the server notices the close
            await asyncio.sleep(0.02)


async def test_open_streams_do_not_hold_up_shutdown(
    start_server: StartServer, sqlite_url: str
) -> None:
    server = await start_server(sqlite_url)
    headers = {"Authorization": f"Bearer {server.token}"}
    async with (
        httpx.AsyncClient(base_url=server.http_url, headers=headers, timeout=10) as client,
        client.stream("GET", "/api/v1/stream") as r,
    ):
        events = _events(r)
        async with asyncio.timeout(5):
            async for event in events:
                if event.get("event") == "ready":
                    break
        async with asyncio.timeout(10):  # the stream ends, the server stops
            await server.shutdown()
            [e async for e in events]
    assert server.task.done()
