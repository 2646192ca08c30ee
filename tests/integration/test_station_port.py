"""On the wire, against a real server: stored notifications, DataTransfer by vendorId,
NotSupported / NotImplemented, CALLERRORs logged with their action, the raw endpoint's
refusals, and commands through the StationCommands port (local list, reservation)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from ampyre.services.data_transfer import DataTransferStatus, VendorMessage, VendorReply

if TYPE_CHECKING:
    from conftest import Server, StartServer

TS = "2025-01-01T12:00:00Z"


@asynccontextmanager
async def booted(server: Server, station_id: str, version: str) -> AsyncIterator[ClientConnection]:
    async with connect(
        server.station_url(station_id), subprotocols=[Subprotocol(version)], open_timeout=5
    ) as ws:
        if version == "ocpp1.6":
            boot = {"chargePointVendor": "ACME", "chargePointModel": "One"}
        else:
            boot = {"chargingStation": {"vendorName": "ACME", "model": "One"}, "reason": "PowerUp"}
        assert (await rpc(ws, [2, "boot", "BootNotification", boot]))[2]["status"] == "Accepted"
        yield ws


async def recv(ws: ClientConnection) -> list[Any]:
    msg: list[Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return msg


async def rpc(ws: ClientConnection, msg: list[Any]) -> list[Any]:
    await ws.send(json.dumps(msg))
    return await recv(ws)


async def eventually(check: Any, timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.05)


async def test_notifications_data_transfer_and_error_codes(
    start_server: StartServer, store_url: str
) -> None:
    server = await start_server(store_url)

    async def acme(message: VendorMessage) -> VendorReply:
        return VendorReply(DataTransferStatus.ACCEPTED, f"hello {message.station_id}")

    server.app.data_transfer.register("com.acme", acme)
    api = server.api()
    await server.create_station("N16")
    await server.create_station("N201")
    async with booted(server, "N16", "ocpp1.6") as ws:
        reply = await rpc(ws, [2, "f", "FirmwareStatusNotification", {"status": "Installed"}])
        assert reply == [3, "f", {}]
        event = {"type": "StartupOfTheDevice", "timestamp": TS}
        assert await rpc(ws, [2, "s", "SecurityEventNotification", event]) == [3, "s", {}]
        reply = await rpc(ws, [2, "d", "DataTransfer", {"vendorId": "org.other"}])
        assert reply == [3, "d", {"status": "UnknownVendorId"}]
        reply = await rpc(ws, [2, "d2", "DataTransfer", {"vendorId": "COM.ACME"}])
        assert reply == [3, "d2", {"status": "Accepted", "data": "hello N16"}]
        assert (await rpc(ws, [2, "g", "GetConfiguration", {}]))[2] == "NotSupported"
        assert (await rpc(ws, [2, "t", "TransactionEvent", {}]))[2] == "NotImplemented"
    async with booted(server, "N201", "ocpp2.0.1") as ws:
        payload = {"status": "Uploaded", "requestId": 12}
        assert await rpc(ws, [2, "l", "LogStatusNotification", payload]) == [3, "l", {}]
        reply = await rpc(ws, [2, "d", "DataTransfer", {"vendorId": "x", "data": {"a": 1}}])
        assert reply == [3, "d", {"status": "UnknownVendorId"}]
        assert (await rpc(ws, [2, "n", "NotifyDERAlarm", {}]))[2] == "NotImplemented"
    reports = (await api.get("/stations/N16/reports")).json()["items"]
    assert [r["action"] for r in reports] == [
        "SecurityEventNotification",
        "FirmwareStatusNotification",
    ]
    assert reports[1]["payload"] == {"status": "Installed"}
    reports = (await api.get("/stations/N201/reports")).json()["items"]
    assert [(r["action"], r["request_id"]) for r in reports] == [("LogStatusNotification", 12)]


async def test_callerror_logged_with_its_action_and_raw_refusals(
    start_server: StartServer, store_url: str
) -> None:
    server = await start_server(store_url)
    api = server.api()
    await server.create_station("CE1")
    async with booted(server, "CE1", "ocpp2.0.1") as ws:
        pending = asyncio.create_task(
            api.post("/stations/CE1/ocpp/Reset", json={"type": "Immediate"})
        )
        call = await recv(ws)
        await ws.send(json.dumps([4, call[1], "NotSupported", "no", {}]))
        assert (await pending).status_code == 502

        async def error_entry() -> list[dict[str, Any]]:
            items = (await api.get("/messages", params={"station_id": "CE1"})).json()["items"]
            return [m for m in items if m["message_type"] == 4]

        (entry,) = await eventually(error_entry)
        assert entry["action"] == "Reset" and entry["unique_id"] == call[1]

        # Refused by the raw endpoint, nothing sent to the station.
        r = await api.post("/stations/CE1/ocpp/SendLocalList", json={})
        assert r.status_code == 409
        assert r.json()["typed_endpoint"] == "POST /api/v1/local-lists/push"
        r = await api.post("/stations/CE1/ocpp/BootNotification", json={})
        assert r.status_code == 422
        with_timeout = asyncio.wait_for(ws.recv(), 0.3)
        try:
            unexpected = await with_timeout
        except TimeoutError:
            unexpected = None
        assert unexpected is None


async def _answer(
    ws: ClientConnection, answers: dict[str, dict[str, Any]], seen: list[list[Any]]
) -> None:
    """Play a station that answers each CALL from `answers` until cancelled."""
    while True:
        call = await recv(ws)
        seen.append(call)
        await ws.send(json.dumps([3, call[1], answers[call[2]]]))


async def test_commands_through_the_port(start_server: StartServer, store_url: str) -> None:
    server = await start_server(store_url)
    api = server.api()
    await server.create_station("PC16")
    r = await api.post("/id-tokens", json={"id_token": "CARD-1", "type": "ISO14443"})
    assert r.status_code == 201, r.text
    async with booted(server, "PC16", "ocpp1.6") as ws:
        answers = {
            "SendLocalList": {"status": "Accepted"},
            "GetLocalListVersion": {"listVersion": 1},
            "ReserveNow": {"status": "Occupied"},
        }
        seen: list[list[Any]] = []
        station = asyncio.create_task(_answer(ws, answers, seen))
        try:
            r = await api.post("/local-lists/push", json={"station_ids": ["PC16"]})
            assert r.status_code == 200, r.text
            (result,) = r.json()["results"]
            assert (result["status"], result["version"]) == ("accepted", 1)
            r = await api.get("/stations/PC16/local-list", params={"live": "true"})
            assert r.json()["live_version"] == 1
            expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
            r = await api.post(
                "/reservations",
                json={"station_id": "PC16", "id_token": "CARD-1", "expires_at": expires},
            )
            assert r.status_code in (200, 201), r.text
            assert (r.json()["status"], r.json()["station_answer"]) == ("rejected", "Occupied")
        finally:
            station.cancel()
    # The 1.6 encodings of the commands the services gave in domain terms.
    assert [c[2] for c in seen] == ["SendLocalList", "GetLocalListVersion", "ReserveNow"]
    assert seen[0][3] == {
        "listVersion": 1,
        "updateType": "Full",
        "localAuthorizationList": [{"idTag": "CARD-1", "idTagInfo": {"status": "Accepted"}}],
    }
    assert seen[2][3]["idTag"] == "CARD-1" and seen[2][3]["connectorId"] == 0
