"""One station's WebSocket on picows: messages in order to its session, sends with
backpressure, close codes, keepalive state.

picows hands over frames synchronously; the session is asynchronous. A connection has a
task only while it has messages to process (an idle station costs no task): the first
message starts one, which then works through what arrived meanwhile, one message after the
other, as a receive loop would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

log = logging.getLogger(__name__)

MAX_QUEUE = 16  # messages waiting for the session before we stop reading the socket
CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002  # RFC 6455 7.4.1
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_INVALID_TEXT = 1007
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011

_TEXT = WSMsgType.TEXT
_CONTINUATION = WSMsgType.CONTINUATION
_BINARY = WSMsgType.BINARY
_PONG = WSMsgType.PONG
_CLOSE = WSMsgType.CLOSE


class ConnectionClosed(Exception):
    """The WebSocket is closed or closing: nothing more can be sent on it."""


class StationSocket(WSListener):
    """The picows listener of one admitted station (the registry's Link.socket)."""

    __slots__ = (
        "_drained",
        "_finished",
        "_on_close",
        "_on_open",
        "_parts",
        "_parts_size",
        "_pending",
        "_read_paused",
        "_runner",
        "close_timeout",
        "closing",
        "disconnected",
        "label",
        "max_size",
        "on_message",
        "ping_at",
        "pong_by",
        "ws",
    )

    def __init__(
        self,
        label: str,
        max_size: int,
        close_timeout: float,
        on_open: Callable[[StationSocket], Awaitable[bool]],
        on_close: Callable[[StationSocket], Awaitable[None]],
    ) -> None:
        self.label = label  # the station id, for logs
        self.max_size = max_size
        self.close_timeout = close_timeout
        # Set by on_open (the session's on_frame); None until then.
        self.on_message: Callable[[str], Coroutine[Any, Any, None]] | None = None
        self._on_open: Callable[[StationSocket], Awaitable[bool]] | None = on_open
        self._on_close = on_close
        self.ws: WSTransport | None = None
        self._pending: list[str] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._parts: list[bytes] | None = None  # a fragmented message being reassembled
        self._parts_size = 0
        self._read_paused = False
        self._drained: asyncio.Future[None] | None = None  # set while writing is paused
        self.closing = False  # a close frame was sent or received: no more messages
        self.disconnected = False
        self._finished = False
        self.ping_at = 0.0  # loop time of the next keepalive ping
        self.pong_by = 0.0  # deadline for the pong of the ping in flight; 0: none in flight

    # ------------------------------------------------------------------ picows callbacks

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.ws = transport
        self._runner = asyncio.get_running_loop().create_task(self._run(None))

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is _TEXT and frame.fin and self._parts is None:
            if self.closing:
                return
            try:
                text = frame.get_payload_as_utf8_text()
            except UnicodeDecodeError:
                self.fail(CLOSE_INVALID_TEXT, "invalid UTF-8 in a text frame")
                return
            self._deliver(text)
        elif kind is _PONG:
            self.pong_by = 0.0
        elif kind is _CLOSE:
            self._on_close_frame(frame)
        elif not self.closing:
            self._on_fragment(kind, frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.disconnected = self.closing = True
        self._pending = None
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._finish())

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    # ------------------------------------------------------------------ incoming

    def _on_fragment(self, kind: WSMsgType, frame: WSFrame) -> None:
        if kind is _BINARY:
            # OCPP-J (1.6J and 2.0.1 Part 4, RPC framework) carries its JSON in text
            # frames only: 1003 = unsupported data (RFC 6455 7.4.1).
            log.info("%s: binary frame; closing with 1003", self.label)
            self.fail(CLOSE_UNSUPPORTED_DATA, "OCPP-J uses text frames only")
            return
        if (kind is _TEXT) == (self._parts is not None):
            # A new message inside a fragmented one, or a continuation of nothing.
            self.fail(CLOSE_PROTOCOL_ERROR, "unexpected continuation frame")
            return
        if kind is _TEXT:
            self._parts, self._parts_size = [], 0
        assert self._parts is not None
        self._parts_size += frame.payload_size
        if self._parts_size > self.max_size:
            self._parts = None
            self.fail(CLOSE_TOO_BIG, f"message over {self.max_size} bytes")
            return
        self._parts.append(frame.get_payload_as_bytes())
        if frame.fin:
            data = b"".join(self._parts)
            self._parts = None
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                self.fail(CLOSE_INVALID_TEXT, "invalid UTF-8 in a text frame")
                return
            self._deliver(text)

    def _on_close_frame(self, frame: WSFrame) -> None:
        ws = self.ws
        assert ws is not None
        self.closing = True
        self._pending = None
        if not ws.is_close_frame_sent:  # the station closes: echo its code (RFC 6455 5.5.1)
            code = frame.get_close_code()
            if code == WSCloseCode.NO_INFO:
                ws.send(_CLOSE, b"")
            else:
                ws.send_close(code, frame.get_close_message())
        ws.disconnect()

    def _deliver(self, text: str) -> None:
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run(text))
            return
        pending = self._pending
        if pending is None:
            pending = self._pending = []
        pending.append(text)
        if len(pending) >= MAX_QUEUE and not self._read_paused and self.ws is not None:
            self._read_paused = True
            self.ws.underlying_transport.pause_reading()

    async def _run(self, first: str | None) -> None:
        """Process messages one after the other until none is waiting."""
        try:
            if self._on_open is not None:
                on_open, self._on_open = self._on_open, None
                if not await on_open(self):
                    return
            on_message = self.on_message
            assert on_message is not None
            if first is not None:
                await on_message(first)
            while self._pending:
                batch, self._pending = self._pending, None
                if self._read_paused and not self.closing:
                    self._read_paused = False
                    assert self.ws is not None
                    self.ws.underlying_transport.resume_reading()
                for text in batch:
                    if self.closing:
                        return
                    await on_message(text)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("%s: message processing failed", self.label)
            self.fail(CLOSE_INTERNAL_ERROR, "internal error")
        finally:
            self._runner = None
            if self.disconnected:
                self._runner = asyncio.get_running_loop().create_task(self._finish())

    async def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            await self._on_close(self)

    # ------------------------------------------------------------------ outgoing

    async def send(self, data: bytes) -> None:
        """Send one OCPP-J message (UTF-8 JSON) as a text frame; waits while the station
        does not read (the transport's buffer is over its high-water mark)."""
        if self.closing:
            raise ConnectionClosed(self.label)
        assert self.ws is not None
        self.ws.send(_TEXT, data)
        drained = self._drained
        if drained is not None:
            await asyncio.shield(drained)
            if self.disconnected:
                raise ConnectionClosed(self.label)

    def ping(self, now: float, interval: float, timeout: float) -> None:
        """The keepalive sweep's visit: fail a socket whose pong is late, else ping it
        when its interval is up."""
        if self.closing:
            return
        if self.pong_by:
            if now >= self.pong_by:
                log.info("%s: no pong within %g s; closing with 1011", self.label, timeout)
                self.fail(CLOSE_INTERNAL_ERROR, "keepalive ping timeout", wait=False)
        elif now >= self.ping_at:
            assert self.ws is not None
            self.ws.send_ping()
            self.ping_at = now + interval
            if timeout:
                self.pong_by = now + timeout

    def fail(self, code: int, reason: str, wait: bool = True) -> None:
        """Send a close frame and stop processing; the TCP connection is closed when the
        station answers it, or after close_timeout (at once when wait is False)."""
        self._start_close(code, reason)
        if self.disconnected or self.ws is None:
            return
        if wait:
            asyncio.get_running_loop().call_later(self.close_timeout, self._abort)
        else:
            self.ws.disconnect()

    async def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Close with a close handshake; returns once the connection is gone."""
        self._start_close(code, reason)
        ws = self.ws
        if self.disconnected or ws is None:
            return
        try:
            async with asyncio.timeout(self.close_timeout):
                await ws.wait_disconnected()
        except TimeoutError:
            ws.disconnect(graceful=False)
        except Exception:  # picows re-raises a local failure that ended the connection
            pass

    def _start_close(self, code: int, reason: str) -> None:
        ws = self.ws
        self.closing = True
        self._pending = None
        if ws is not None and not self.disconnected and not ws.is_close_frame_sent:
            ws.send_close(WSCloseCode(code), reason.encode())

    def _abort(self) -> None:
        if not self.disconnected and self.ws is not None:
            self.ws.disconnect(graceful=False)
