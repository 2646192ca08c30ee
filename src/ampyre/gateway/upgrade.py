"""The HTTP request that opens a station's WebSocket, before the WebSocket library sees it.

picows asks for its answer to the upgrade request synchronously, but admitting a station is
asynchronous (a database read, a password check in a thread, throttling). So the gateway
reads the request head itself (bounded, within a deadline, parsed by h11), holds the socket
while the checks run, then either answers with an HTTP refusal and closes, or hands the
socket and every byte read so far to the WebSocket protocol the checks chose.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import cast

import h11

log = logging.getLogger(__name__)

MAX_HEAD = 8 * 1024  # bytes: request line and headers (under picows' own 16 KiB limit)
OPEN_TIMEOUT = 10.0  # seconds from accept to a complete request head (websockets' default)
SERVER = "Ampyre"


@dataclass(slots=True, frozen=True)
class UpgradeRequest:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]  # names in lower case, in the order received
    peer: str | None  # the TCP peer address (no port)
    transport: asyncio.Transport  # for TLS details: get_extra_info("peercert"), ...

    def get(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]


@dataclass(slots=True, frozen=True)
class Refusal:
    status: HTTPStatus
    text: str
    headers: tuple[tuple[str, str], ...] = ()


# What the admission checks return: a refusal, or the protocol that takes the socket over.
Decision = Refusal | asyncio.BaseProtocol
Admit = Callable[[UpgradeRequest], Awaitable[Decision]]


def refusal_bytes(refusal: Refusal) -> bytes:
    """The HTTP response for a refused upgrade: the headers websockets sent before us."""
    body = refusal.text.encode()
    lines = [
        f"HTTP/1.1 {refusal.status.value} {refusal.status.phrase}",
        f"Date: {formatdate(usegmt=True)}",
        "Connection: close",
        f"Content-Length: {len(body)}",
        "Content-Type: text/plain; charset=utf-8",
        *(f"{name}: {value}" for name, value in refusal.headers),
        f"Server: {SERVER}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def parse_head(head: bytes) -> tuple[str, str, tuple[tuple[str, str], ...]] | None:
    """(method, target, headers) of a complete HTTP/1.1 request head; None if malformed."""
    parser = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    parser.receive_data(head)
    try:
        event = parser.next_event()
    except h11.RemoteProtocolError:
        return None
    if not isinstance(event, h11.Request):
        return None
    headers = tuple(
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in event.headers
    )
    return event.method.decode("ascii"), event.target.decode("latin-1"), headers


class UpgradeProtocol(asyncio.Protocol):
    """One accepted socket until its upgrade request is answered."""

    __slots__ = ("_admit", "_buffer", "_pending", "_task", "_timer", "_transport")

    def __init__(self, admit: Admit, pending: set[UpgradeProtocol]) -> None:
        self._admit = admit
        self._pending = pending  # the gateway's: what shutdown must close
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; they have its methods.
        self._transport = cast(asyncio.Transport, transport)
        self._pending.add(self)
        self._timer = asyncio.get_running_loop().call_later(OPEN_TIMEOUT, self.abort)
        if self._buffer:  # bytes that came with the end of a TLS handshake (tls.TlsAccept)
            self._process()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        # Not yet: already deciding (reading is paused; a late chunk), or (TLS) the
        # transport is still to be handed over.
        if self._task is None and self._transport is not None:
            self._process()

    def _process(self) -> None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD:
                self._refuse(Refusal(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too large\n"))
            return
        assert self._transport is not None
        self._transport.pause_reading()
        parsed = parse_head(bytes(self._buffer[: end + 4]))
        if parsed is None or parsed[0] != "GET":
            self._refuse(Refusal(HTTPStatus.BAD_REQUEST, "Invalid HTTP request\n"))
            return
        method, target, headers = parsed
        peer = self._transport.get_extra_info("peername")
        request = UpgradeRequest(
            method, target, headers, str(peer[0]) if peer else None, self._transport
        )
        self._task = asyncio.get_running_loop().create_task(self._decide(request))

    async def _decide(self, request: UpgradeRequest) -> None:
        try:
            decision = await self._admit(request)
        except Exception:
            log.exception("gateway: admission check failed")
            decision = Refusal(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal error\n")
        transport = self._transport
        if transport is None or transport.is_closing():
            return  # the client left (or shutdown closed it) while we were deciding
        if isinstance(decision, Refusal):
            self._refuse(decision)
            return
        self._done()
        # The WebSocket protocol takes the socket over and reads the request again itself
        # (it answers 101 and computes Sec-WebSocket-Accept), then any frames after it.
        transport.set_protocol(decision)
        decision.connection_made(transport)
        if isinstance(decision, asyncio.BufferedProtocol):
            feed(decision, bytes(self._buffer))
        else:
            decision.data_received(bytes(self._buffer))  # type: ignore[attr-defined]
        self._buffer = bytearray()
        if not transport.is_closing():
            transport.resume_reading()

    def _refuse(self, refusal: Refusal) -> None:
        self._done()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(refusal_bytes(refusal))
            self._transport.close()

    def _done(self) -> None:
        self._pending.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def abort(self) -> None:
        """Handshake timeout or shutdown: drop the socket without an answer."""
        self._done()
        if self._transport is not None:
            self._transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._done()
        self._transport = None


def feed(protocol: asyncio.BufferedProtocol, data: bytes) -> None:
    """Give bytes already read to a buffered protocol, as the transport would."""
    view = memoryview(data)
    while view:
        buffer = memoryview(protocol.get_buffer(len(view)))
        n = min(len(buffer), len(view))
        buffer[:n] = view[:n]
        protocol.buffer_updated(n)
        view = view[n:]
