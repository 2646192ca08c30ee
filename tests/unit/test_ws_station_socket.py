"""StationSocket without a network: backpressure both ways, order, the task only while busy."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ampyre.gateway.station_socket import MAX_QUEUE, ConnectionClosed, StationSocket


class FakeUnderlying:
    def __init__(self) -> None:
        self.reading = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


class FakeWS:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.underlying_transport = FakeUnderlying()
        self.is_close_frame_sent = False

    def send(self, kind: Any, data: bytes) -> None:
        self.sent.append(data)


class FakeFrame:
    def __init__(self, text: str) -> None:
        from picows import WSMsgType

        self.msg_type = WSMsgType.TEXT
        self.fin = True
        self._text = text

    def get_payload_as_utf8_text(self) -> str:
        return self._text


async def _ignore(text: str) -> None:
    pass


async def _socket(on_message: Any = _ignore) -> tuple[StationSocket, FakeWS]:
    async def opened(sock: StationSocket) -> bool:
        sock.on_message = on_message
        return True

    async def closed(sock: StationSocket) -> None:
        pass

    sock = StationSocket("CP-1", 1024, 1.0, opened, closed)
    ws = FakeWS()
    sock.on_ws_connected(ws)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    return sock, ws


async def test_send_waits_while_the_station_does_not_read() -> None:
    sock, ws = await _socket()
    sock.pause_writing()
    sending = asyncio.create_task(sock.send(b"[3]"))
    await asyncio.sleep(0.01)
    assert ws.sent == [b"[3]"] and not sending.done()
    sock.resume_writing()
    await asyncio.wait_for(sending, 1)


async def test_send_on_a_lost_connection_raises() -> None:
    sock, _ = await _socket()
    sock.pause_writing()
    sending = asyncio.create_task(sock.send(b"[3]"))
    await asyncio.sleep(0)
    sock.on_ws_disconnected(None)  # type: ignore[arg-type]
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(sending, 1)
    with pytest.raises(ConnectionClosed):
        await sock.send(b"[3]")


async def test_messages_in_order_and_reading_paused_when_too_many_wait() -> None:
    seen: list[str] = []
    gate = asyncio.Event()

    async def on_message(text: str) -> None:
        await gate.wait()
        seen.append(text)

    sock, ws = await _socket(on_message)
    for i in range(MAX_QUEUE + 1):
        sock.on_ws_frame(ws, FakeFrame(str(i)))  # type: ignore[arg-type]
    assert ws.underlying_transport.reading is False  # the station waits, not our memory
    gate.set()
    for _ in range(100):
        await asyncio.sleep(0)
    assert seen == [str(i) for i in range(MAX_QUEUE + 1)]
    assert ws.underlying_transport.reading is True
    assert sock._runner is None  # idle: no task
