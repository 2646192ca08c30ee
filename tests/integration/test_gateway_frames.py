"""The gateway's WebSocket details beyond test_gateway.py: fragmented messages, invalid
UTF-8, close frames from the station, the HTTP answers' headers."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from ampyre.domain.models import Station

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

RECV_TIMEOUT = 5.0


async def _open(server: Server, station_id: str, **kwargs: Any) -> ClientConnection:
    await server.app.store.create_station(Station(id=station_id))
    return await connect(
        server.station_url(station_id),
        subprotocols=[Subprotocol("ocpp1.6")],
        open_timeout=5,
        close_timeout=2,
        **kwargs,
    )


async def _heartbeat(ws: ClientConnection, uid: str = "h") -> list[Any]:
    await ws.send(json.dumps([2, uid, "Heartbeat", {}]))
    reply: list[Any] = json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT))
    return reply


async def _closed_with(ws: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), RECV_TIMEOUT)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_101_names_the_subprotocol_and_the_server(server: Server) -> None:
    ws = await _open(server, "CP-HDR")
    async with ws:
        assert ws.response is not None
        assert ws.response.headers["Sec-WebSocket-Protocol"] == "ocpp1.6"
        assert ws.response.headers["Server"] == "Ampyre"
        assert (await _heartbeat(ws))[:2] == [3, "h"]


async def test_refusals_are_plain_text_from_ampyre(server: Server) -> None:
    with pytest.raises(InvalidStatus) as info:
        await connect(server.station_url("CP-NOBODY"), subprotocols=[Subprotocol("ocpp1.6")])
    response = info.value.response
    assert response.status_code == 404
    assert response.headers["Server"] == "Ampyre"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.body == b"Unknown station\n"


async def test_fragmented_message_is_reassembled(server: Server) -> None:
    ws = await _open(server, "CP-FRAG")
    async with ws:
        await ws.send(["[2,", '"f","Heart', 'beat",{}]'])  # three frames, one message
        reply = json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT))
        assert reply[:2] == [3, "f"]
        assert (await _heartbeat(ws))[:2] == [3, "h"]  # in order, still working


async def test_fragmented_message_over_the_limit_closes_with_1009(
    start_server: StartServer, sqlite_url: str
) -> None:
    server = await start_server(sqlite_url, max_message_size=4096)
    ws = await _open(server, "CP-FRAGBIG", max_size=None)
    async with ws:
        await ws.send(["x" * 3000, "y" * 3000])  # each frame fits, the message does not
        assert await _closed_with(ws) == 1009


async def test_text_that_is_not_utf8_closes_with_1007(server: Server) -> None:
    ws = await _open(server, "CP-UTF")
    async with ws:
        await ws.send(b'[2,"u","Heartbeat",{"x":"\xff"}]', text=True)
        assert await _closed_with(ws) == 1007


@pytest.mark.parametrize("code", [1000, 4000])
async def test_station_closing_is_answered_and_cleaned_up(server: Server, code: int) -> None:
    ws = await _open(server, "CP-BYE")
    await _heartbeat(ws)
    assert server.app.registry.get("CP-BYE") is not None
    await ws.close(code, "bye")
    assert ws.close_code == code  # echoed by the server (RFC 6455 5.5.1)

    async def gone() -> None:
        while server.app.registry.get("CP-BYE") is not None:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        while (await server.app.store.get_station("CP-BYE")).connected:  # type: ignore[union-attr]  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    await asyncio.wait_for(gone(), 5)


async def test_messages_are_processed_in_order(server: Server) -> None:
    ws = await _open(server, "CP-ORDER")
    async with ws:
        for i in range(50):  # sent without waiting: queued behind each other
            await ws.send(json.dumps([2, f"m{i}", "Heartbeat", {}]))
        replies = [json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT)) for _ in range(50)]
        assert [r[1] for r in replies] == [f"m{i}" for i in range(50)]


async def test_request_that_is_not_http_is_refused(server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.app.gateway.port)
    writer.write(b"HELLO\r\n\r\n")
    status = await asyncio.wait_for(reader.readline(), RECV_TIMEOUT)
    assert status.startswith(b"HTTP/1.1 400 ")
    writer.close()


async def test_oversized_request_head_is_refused(server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.app.gateway.port)
    writer.write(b"GET /ocpp/CP-1 HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 9000)
    status = await asyncio.wait_for(reader.readline(), RECV_TIMEOUT)
    assert status.startswith(b"HTTP/1.1 431 ")
    writer.close()
