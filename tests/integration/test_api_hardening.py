"""REST hardening against a running Ampyre, on SQLite and PostgreSQL: secrets kept out of
the message log, the operator audit trail, integers beyond the columns' range, body size
limits over real HTTP, API tokens' last use."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from ampyre.adapters.db.engine import create_engine
from ampyre.adapters.db.operator_audit import OperatorAuditSql
from ampyre.services.operator_audit import OperatorAction, OperatorActionFilter

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

AUTH_KEY = "0123456789ABCDEF0123456789ABCDEF"  # 1.6 AuthorizationKey (hex)
BASIC_PASSWORD = "new-basic-auth-password-42"  # 2.0.1 SecurityCtrlr.BasicAuthPassword
STATION_PASSWORD = "station-password-000042"
RECV_TIMEOUT = 5.0


@pytest.fixture
async def srv(store_url: str, start_server: StartServer) -> Server:
    # store_url first: the server stops before its database is dropped.
    return await start_server(store_url)


@asynccontextmanager
async def station(
    server: Server, station_id: str, protocols: Sequence[str]
) -> AsyncIterator[ClientConnection]:
    async with connect(
        server.station_url(station_id),
        subprotocols=[Subprotocol(p) for p in protocols],
        open_timeout=5,
        close_timeout=2,
    ) as ws:
        yield ws


async def recv(ws: ClientConnection) -> list[Any]:
    msg: list[Any] = json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT))
    return msg


async def rpc(ws: ClientConnection, msg: list[Any]) -> list[Any]:
    await ws.send(json.dumps(msg))
    return await recv(ws)


async def command(
    api: httpx.AsyncClient, ws: ClientConnection, path: str, payload: dict[str, Any]
) -> tuple[list[Any], httpx.Response]:
    """Send a raw command through the API; the station answers Accepted."""
    pending = asyncio.create_task(api.post(path, json=payload))
    call = await recv(ws)
    await ws.send(json.dumps([3, call[1], {"status": "Accepted"}]))
    return call, await pending


async def logged(api: httpx.AsyncClient, station_id: str, action: str) -> list[dict[str, Any]]:
    """The message-log entries of `action` (the log is written in the background)."""
    async with asyncio.timeout(10):
        while True:
            page = (await api.get("/messages", params={"station_id": station_id})).json()
            found = [m for m in page["items"] if m["action"] == action]
            if found:
                return found
            await asyncio.sleep(0.1)


async def test_secrets_sent_through_the_raw_endpoint_are_masked_in_the_message_log(
    srv: Server,
) -> None:
    api = srv.api()
    await srv.create_station("CP-K16")
    await srv.create_station("CP-K201")
    async with station(srv, "CP-K16", ["ocpp1.6"]) as ws:
        boot = {"chargePointVendor": "ACME", "chargePointModel": "One"}
        assert (await rpc(ws, [2, "b", "BootNotification", boot]))[2]["status"] == "Accepted"
        call, answer = await command(
            api,
            ws,
            "/stations/CP-K16/ocpp/ChangeConfiguration",
            {"key": "AuthorizationKey", "value": AUTH_KEY},
        )
        assert answer.status_code == 200, answer.text
        # The station got the real value...
        assert call[2:] == ["ChangeConfiguration", {"key": "AuthorizationKey", "value": AUTH_KEY}]
        entries = await logged(api, "CP-K16", "ChangeConfiguration")
    # ...the log, readable by any viewer, does not.
    sent = next(e for e in entries if e["direction"] == "out")
    assert AUTH_KEY not in json.dumps(entries)
    assert "***" in json.dumps(sent)

    async with station(srv, "CP-K201", ["ocpp2.0.1"]) as ws:
        boot201 = {"chargingStation": {"vendorName": "ACME", "model": "One"}, "reason": "PowerUp"}
        assert (await rpc(ws, [2, "b", "BootNotification", boot201]))[2]["status"] == "Accepted"
        data = {
            "setVariableData": [
                {
                    "attributeValue": BASIC_PASSWORD,
                    "component": {"name": "SecurityCtrlr"},
                    "variable": {"name": "BasicAuthPassword"},
                }
            ]
        }
        pending = asyncio.create_task(api.post("/stations/CP-K201/ocpp/SetVariables", json=data))
        call = await recv(ws)
        assert call[3]["setVariableData"][0]["attributeValue"] == BASIC_PASSWORD
        result = {
            "setVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "component": {"name": "SecurityCtrlr"},
                    "variable": {"name": "BasicAuthPassword"},
                }
            ]
        }
        await ws.send(json.dumps([3, call[1], result]))
        assert (await pending).status_code == 200
        entries = await logged(api, "CP-K201", "SetVariables")
    assert BASIC_PASSWORD not in json.dumps(entries)
    assert "***" in json.dumps(entries)

    # The operator audit trail has both commands, secrets masked, with their outcome.
    trail = (await api.get("/audit", params={"station_id": "CP-K16"})).json()
    assert trail["total"] == 2  # the station's creation and the command
    cmd = trail["items"][0]
    assert cmd["target"] == "/api/v1/stations/CP-K16/ocpp/ChangeConfiguration"
    assert (cmd["method"], cmd["status_code"], cmd["outcome"]) == ("POST", 200, "accepted")
    assert cmd["token_name"] == "bootstrap" and cmd["role"] == "admin"
    assert json.loads(cmd["summary"]) == {"key": "AuthorizationKey", "value": "***"}
    everything = (await api.get("/audit", params={"limit": 500})).json()
    assert AUTH_KEY not in json.dumps(everything) and BASIC_PASSWORD not in json.dumps(everything)


async def test_operator_audit_trail_filters_and_roles(srv: Server) -> None:
    api = srv.api()
    made = await api.post("/tokens", json={"name": "night-shift", "role": "operator"})
    assert made.status_code == 201
    night = srv.api()
    night.headers["Authorization"] = f"Bearer {made.json()['token']}"
    before = datetime.now(UTC) - timedelta(seconds=1)
    await srv.create_station("CP-A1", password=STATION_PASSWORD)
    refused = await night.post("/stations", json={"id": "CP-A2"})  # operator: not allowed
    assert refused.status_code == 403
    gone = await night.post("/stations/CP-A1/ocpp/Reset", json={"type": "Soft"})
    assert gone.status_code == 409  # not connected
    assert (await night.get("/audit")).status_code == 403

    mine = (await api.get("/audit", params={"token_name": "night-shift"})).json()
    assert [(a["target"], a["status_code"]) for a in mine["items"]] == [
        ("/api/v1/stations/CP-A1/ocpp/Reset", 409),
        ("/api/v1/stations", 403),
    ]
    assert all(a["role"] == "operator" for a in mine["items"])
    by_id = (await api.get("/audit", params={"token_id": made.json()["id"]})).json()
    assert by_id["total"] == 2
    created = (await api.get("/audit", params={"station_id": "CP-A1"})).json()["items"]
    assert [a["method"] for a in created] == ["POST", "POST"]
    creation = created[-1]
    assert STATION_PASSWORD not in creation["summary"]
    assert json.loads(creation["summary"])["password"] == "***"
    assert creation["status_code"] == 201
    after = datetime.now(UTC) + timedelta(seconds=1)
    window = {"since": before.isoformat(), "until": after.isoformat(), "limit": 500}
    in_window = (await api.get("/audit", params=window)).json()
    assert in_window["total"] >= 4
    later = (await api.get("/audit", params={"since": after.isoformat()})).json()
    assert later["total"] == 0
    paged = (await api.get("/audit", params={"limit": 1, "offset": 1})).json()
    assert (paged["limit"], paged["offset"], len(paged["items"])) == (1, 1, 1)


async def test_operator_audit_pruning(store_url: str) -> None:
    # Its own engine, no server: the server's own pruning would race with the test.
    engine = create_engine(store_url)
    repo = OperatorAuditSql(engine)
    old = datetime.now(UTC) - timedelta(days=400)
    try:
        for at in (old, datetime.now(UTC)):
            await repo.record(
                OperatorAction(at, 1, "t", "admin", "DELETE", "/x\x00", None, None, 204, None, 3)
            )
        assert await repo.prune(datetime.now(UTC) - timedelta(days=365)) == 1
        page = await repo.list(OperatorActionFilter(), 10, 0)
    finally:
        await engine.dispose()
    assert page.total == 1 and page.items[0].created_at > old
    assert page.items[0].target == "/x\ufffd"  # NUL cannot be stored on PostgreSQL


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/messages", {"offset": str(2**63)}),
        ("GET", "/transactions", {"offset": "9223372036854775808"}),
        ("GET", "/transactions/99999999999999999999", {}),
        ("GET", "/transactions", {"remote_start_id": str(2**31)}),
        ("DELETE", "/tokens/2147483648", {}),
        ("GET", "/id-tokens/2147483648", {}),
        ("GET", "/webhooks/2147483648", {}),
        ("GET", "/audit", {"token_id": str(2**31)}),
    ],
)
async def test_integers_beyond_the_columns_are_422(
    srv: Server, method: str, path: str, params: dict[str, str]
) -> None:
    r = await srv.api().request(method, path, params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/messages", {"offset": str(2**63 - 1)}, 200),
        ("/transactions", {"offset": str(2**63 - 1)}, 200),
        ("/transactions/9223372036854775807", {}, 404),
        ("/id-tokens/2147483647", {}, 404),
        ("/transactions", {"remote_start_id": str(2**31 - 1)}, 200),
    ],
)
async def test_the_largest_integers_reach_the_database(
    srv: Server, path: str, params: dict[str, str], status: int
) -> None:
    r = await srv.api().get(path, params=params)
    assert r.status_code == status, r.text


async def test_last_used_at_is_written_and_listed(srv: Server) -> None:
    api = srv.api()
    made = await api.post("/tokens", json={"name": "grafana", "role": "viewer"})
    viewer = srv.api()
    viewer.headers["Authorization"] = f"Bearer {made.json()['token']}"
    listed = {t["name"]: t for t in (await api.get("/tokens")).json()["items"]}
    assert listed["grafana"]["last_used_at"] is None
    assert listed["bootstrap"]["last_used_at"] is not None  # this very request
    for _ in range(3):
        assert (await viewer.get("/stations")).status_code == 200
    listed = {t["name"]: t for t in (await api.get("/tokens")).json()["items"]}
    first = listed["grafana"]["last_used_at"]
    assert first is not None
    assert abs(datetime.fromisoformat(first) - datetime.now(UTC)) < timedelta(seconds=30)
    await viewer.get("/stations")
    again = {t["name"]: t for t in (await api.get("/tokens")).json()["items"]}
    assert again["grafana"]["last_used_at"] == first  # within a minute: not rewritten


async def test_bodies_over_the_limit_are_refused_over_http(
    start_server: StartServer, sqlite_url: str
) -> None:
    server = await start_server(sqlite_url, max_body_size=64 * 1024)
    api = server.api()
    big = b'{"id": "' + b"x" * (200 * 1024) + b'"}'
    json_type = {"Content-Type": "application/json"}
    declared = await api.post("/stations", content=big, headers=json_type)
    assert declared.status_code == 413
    assert declared.json()["type"] == "urn:ampyre:problem:body-too-large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(50):
            yield b"x" * 8192

    chunked = await api.post(
        "/stations", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413
    async with httpx.AsyncClient(base_url=f"{server.http_url}/api/v1", timeout=10) as anonymous:
        refused = await anonymous.post(
            "/stations", content=big[: 32 * 1024], headers={"Content-Type": "application/json"}
        )
    assert refused.status_code == 401
    assert (await api.post("/stations", json={"id": "CP-SMALL"})).status_code == 201
