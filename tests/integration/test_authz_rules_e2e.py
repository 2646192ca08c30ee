"""One authorization rule end to end (real server, real WebSockets, SQLite and PostgreSQL):
id tokens are case insensitive for uniqueness, Authorize, blocking and the transactions
filter; the status stored with a transaction is the one the station was told; card-like
types of one value are one card; every refusal is logged."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

TS = "2025-01-01T12:00:00Z"


@pytest.fixture
async def srv(store_url: str, start_server: StartServer) -> Server:
    # store_url first: the server stops before its database is dropped.
    return await start_server(store_url)


@asynccontextmanager
async def station(server: Server, station_id: str, version: str) -> AsyncIterator[Any]:
    await server.create_station(station_id)
    async with connect(
        server.station_url(station_id), subprotocols=[Subprotocol(version)], open_timeout=5
    ) as ws:
        yield ws


async def call(ws: ClientConnection, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps([2, action, action, payload]))
    msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert msg[0] == 3, msg
    result: dict[str, Any] = msg[2]
    return result


async def test_one_case_rule_for_uniqueness_authorize_blocking_and_filters(
    srv: Server, caplog: pytest.LogCaptureFixture
) -> None:
    api = srv.api()
    assert (await api.post("/id-tokens", json={"id_token": "NEWCOMER-0002"})).status_code == 201
    again = await api.post("/id-tokens", json={"id_token": "Newcomer-0002"})
    assert again.status_code == 409, again.text
    created = await api.post("/id-tokens", json={"id_token": "newcomer-0001"})
    blocked = await api.patch(f"/id-tokens/{created.json()['id']}", json={"status": "blocked"})
    assert blocked.status_code == 200, blocked.text

    caplog.set_level("INFO", logger="ampyre.services.authz")
    async with station(srv, "CP-16", "ocpp1.6") as ws16:
        for spelling in ("Newcomer-0001", "NEWCOMER-0001", "newcomer-0001"):
            answer = await call(ws16, "Authorize", {"idTag": spelling})
            assert answer["idTagInfo"]["status"] == "Blocked", spelling
        assert (await call(ws16, "Authorize", {"idTag": "newcomer-0002"}))["idTagInfo"] == {
            "status": "Accepted"
        }
        start = await call(
            ws16,
            "StartTransaction",
            {"connectorId": 1, "idTag": "newComer-0002", "meterStart": 0, "timestamp": TS},
        )
        assert start["idTagInfo"]["status"] == "Accepted"
    async with station(srv, "CP-201", "ocpp2.0.1") as ws201:
        answer = await call(
            ws201, "Authorize", {"idToken": {"idToken": "NEWCOMER-0001", "type": "ISO14443"}}
        )
        assert answer["idTokenInfo"]["status"] == "Blocked"
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert any(
        m.startswith("CP-16: id token *********0001 (any type) refused: Blocked")
        and "blocked by the operator" in m
        for m in refused
    ), refused
    assert not any("newcomer" in m.lower() for m in refused)  # masked

    for spelling in ("NEWCOMER-0002", "newcomer-0002"):
        page = (await api.get("/transactions", params={"id_token": spelling})).json()
        assert [t["id_token"] for t in page["items"]] == ["newComer-0002"], spelling


async def test_unknown_token_is_stored_as_told(
    srv: Server, caplog: pytest.LogCaptureFixture
) -> None:
    api = srv.api()
    caplog.set_level("INFO", logger="ampyre.services.authz")
    async with station(srv, "CP-U16", "ocpp1.6") as ws16:
        answer = await call(ws16, "Authorize", {"idTag": "STRANGER-00"})
        assert answer["idTagInfo"] == {"status": "Invalid"}
        start = await call(
            ws16,
            "StartTransaction",
            {"connectorId": 1, "idTag": "STRANGER-01", "meterStart": 0, "timestamp": TS},
        )
        assert start["idTagInfo"]["status"] == "Invalid"  # 1.6 has no Unknown
    async with station(srv, "CP-U201", "ocpp2.0.1") as ws201:
        event = await call(
            ws201,
            "TransactionEvent",
            {
                "eventType": "Started",
                "timestamp": TS,
                "triggerReason": "Authorized",
                "seqNo": 0,
                "transactionInfo": {"transactionId": "T-U"},
                "idToken": {"idToken": "STRANGER-02", "type": "ISO14443"},
                "evse": {"id": 1, "connectorId": 1},
            },
        )
        assert event["idTokenInfo"]["status"] == "Unknown"
    stored = {
        t["station_id"]: t["auth_status"] for t in (await api.get("/transactions")).json()["items"]
    }
    assert stored == {"CP-U16": "Invalid", "CP-U201": "Unknown"}
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "CP-U16: id token *******R-00 (any type) refused: Invalid (unknown id token)" in refused
    assert "CP-U16: id token *******R-01 (any type) refused: Invalid (unknown id token)" in refused
    assert "CP-U201: id token *******R-02 (ISO14443) refused: Unknown (unknown id token)" in refused


async def test_card_authorized_as_local_starts_as_iso14443(srv: Server) -> None:
    api = srv.api()
    created = await api.post("/id-tokens", json={"id_token": "04E1A2B3C4", "type": "ISO14443"})
    assert created.status_code == 201
    async with station(srv, "CP-CARD", "ocpp2.0.1") as ws:
        local = {"idToken": "04e1a2b3c4", "type": "Local"}
        assert (await call(ws, "Authorize", {"idToken": local}))["idTokenInfo"] == {
            "status": "Accepted"
        }
        event = await call(
            ws,
            "TransactionEvent",
            {
                "eventType": "Started",
                "timestamp": TS,
                "triggerReason": "Authorized",
                "seqNo": 0,
                "transactionInfo": {"transactionId": "T-CARD"},
                "idToken": {"idToken": "04E1A2B3C4", "type": "ISO14443"},
                "evse": {"id": 1, "connectorId": 1},
            },
        )
        assert event["idTokenInfo"]["status"] == "Accepted"
        other = {"idToken": "04E1A2B3C4", "type": "eMAID"}  # not a card: another token
        assert (await call(ws, "Authorize", {"idToken": other}))["idTokenInfo"][
            "status"
        ] == "Unknown"
    # Registered as two cards by the operator: the Local one is its own token.
    blocked = await api.post(
        "/id-tokens", json={"id_token": "04E1A2B3C4", "type": "Local", "status": "blocked"}
    )
    assert blocked.status_code == 201
    async with station(srv, "CP-CARD2", "ocpp2.0.1") as ws:
        for type_, status in (("Local", "Blocked"), ("ISO14443", "Accepted")):
            token = {"idToken": "04E1A2B3C4", "type": type_}
            answer = await call(ws, "Authorize", {"idToken": token})
            assert answer["idTokenInfo"]["status"] == status
