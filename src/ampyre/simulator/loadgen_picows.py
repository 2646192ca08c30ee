"""The load generator's picows client (`loadgen.py`): the same handshake, boot and
request loop as its websockets client, driven by picows' read callbacks instead of a
coroutine per station (about half the CPU per round trip). picows stays optional: it is
imported on first use.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import time
from typing import Any

import orjson
from websockets.exceptions import InvalidHandshake

from ampyre.simulator import messages as m
from ampyre.simulator.load_config import LoadConfig, LoadResult
from ampyre.simulator.load_frames import HEARTBEAT_SUFFIX, STATUS_EVERY, Frames


class PicowsClient(abc.ABC):
    """The picows half of `LoadGenerator` (a mixin: the generator's own state, the same
    attribute accesses on the hot path as before the split)."""

    config: LoadConfig
    result: LoadResult
    frames: Frames
    _counter: int
    _only_heartbeats: bool
    _active: int  # stations whose request loop has not ended
    _all_done: asyncio.Future[None] | None

    @abc.abstractmethod
    def _csms_reply(self, index: int, msg: Any) -> bytes | None: ...

    @abc.abstractmethod
    def _count_boot(self, reply: Any) -> None: ...

    @abc.abstractmethod
    def _count_connect_failure(self, exc: BaseException) -> None: ...

    async def _connect_and_boot_picows(self, index: int) -> Any | None:
        """The picows twin of _connect_and_boot: same handshake (subprotocol, Basic auth),
        same BootNotification, CSMS calls during the boot answered."""
        from picows import WSError, ws_connect  # type: ignore[import-not-found,unused-ignore]

        cfg = self.config
        sid = f"{cfg.prefix}{index:05d}"
        headers = {"Sec-WebSocket-Protocol": cfg.protocol}
        if cfg.password is not None:
            import base64

            token = base64.b64encode(f"{sid}:{cfg.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        boot = orjson.dumps(
            [m.CALL, "boot", "BootNotification", m.boot_notification(cfg.protocol, sid)]
        )
        station_class = picows_station_class()
        for attempt in range(cfg.connect_attempts):
            st: Any = None
            try:
                async with asyncio.timeout(cfg.connect_timeout):
                    _, st = await ws_connect(
                        lambda: station_class(self, index),
                        f"{cfg.url.rstrip('/')}/{sid}",
                        extra_headers=headers,
                        websocket_handshake_timeout=cfg.connect_timeout,
                        enable_auto_pong=True,
                        **cfg.connect_options(),
                    )
                    chosen = st.transport.response.headers.get("Sec-WebSocket-Protocol")
                    if chosen != cfg.protocol:
                        raise InvalidHandshake(f"subprotocol {chosen!r} negotiated")
                    st.send(boot)
                    while True:
                        raw = await st.inbox.get()
                        if raw is None:
                            raise ConnectionError("closed during the boot")
                        reply = orjson.loads(raw)
                        if reply[1] == "boot":
                            break
                        answer = self._csms_reply(index, reply)
                        if answer is not None:
                            st.send(answer)
                st.inbox = None  # from now on frames go to _picows_frame
                self._count_boot(reply)
                return st
            except (OSError, InvalidHandshake, TimeoutError, WSError) as exc:
                self._count_connect_failure(exc)
                if st is not None and st.transport is not None:
                    st.finished = True
                    st.transport.disconnect(graceful=False)
                await asyncio.sleep(0.5 * (attempt + 1))
        return None

    def _picows_start(self, st: Any, win_start: float, end: float, interval: float) -> None:
        st.win_start, st.end, st.interval = win_start, end, interval
        if interval:
            # Random-ish phase so paced stations do not fire together.
            st.scheduled = time.monotonic() + (st.index * 0.6180339887 % 1.0) * interval
            self._picows_next(st)
        else:
            self._picows_send(st)

    def _picows_next(self, st: Any) -> None:
        if st.interval:
            if st.scheduled >= st.end:
                self._picows_done(st)  # no CALL left in this run: no timer to wait for
                return
            delay = st.scheduled - time.monotonic()
            if delay > 0:
                asyncio.get_running_loop().call_later(delay, self._picows_send, st)
                return
        self._picows_send(st)

    def _picows_send(self, st: Any) -> None:
        if st.finished:
            return
        if st.interval:
            if st.scheduled >= st.end:
                self._picows_done(st)
                return
            t0 = st.scheduled  # measured from the intended send time
            st.scheduled += st.interval
        else:
            t0 = time.monotonic()
            if t0 >= st.end:
                self._picows_done(st)
                return
        self._counter += 1
        uid = b"%d" % self._counter
        st.k += 1
        if not self._only_heartbeats and st.k % STATUS_EVERY == 0:
            st.toggle ^= 1
            frame = b'[2,"' + uid + self.frames.status_suffix[st.toggle]
        else:
            frame = b'[2,"' + uid + HEARTBEAT_SUFFIX
        st.uid, st.frame, st.t0, st.busy = uid, frame, t0, True
        st.send(frame)

    def _picows_frame(self, st: Any, raw: bytes) -> None:
        """A text frame on a booted picows station (the hot path)."""
        if st.busy and (raw.startswith(b'[3,"' + st.uid + b'"') or raw == st.frame):
            self._picows_answered(st)
        elif not st.finished:
            self._picows_slow(st, raw)

    def _picows_answered(self, st: Any) -> None:
        t1 = time.monotonic()
        st.busy = False
        res = self.result
        res.msgs_total += 1
        if st.win_start <= t1 <= st.end:
            res.served += 1
            if st.t0 >= st.win_start:
                res.msgs += 1
                res.latencies.append(t1 - st.t0)
        self._picows_next(st)

    def _picows_slow(self, st: Any, raw: bytes) -> None:
        """Parse an unexpected frame: an error answer to our CALL, or a CSMS call."""
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.result.errors += 1
            self.result.error_kinds["bad-json"] += 1
            return
        if st.busy and isinstance(msg, list) and len(msg) >= 3 and str(msg[1]) == st.uid.decode():
            self.result.errors += 1
            code = msg[2] if msg[0] in (m.CALLERROR, m.CALLRESULTERROR) else f"type-{msg[0]}"
            self.result.error_kinds[f"reply:{code}"] += 1
            self._picows_answered(st)
            return
        answer = self._csms_reply(st.index, msg)
        if answer is not None:
            st.send(answer)

    def _picows_done(self, st: Any) -> None:
        if st.finished:
            return
        st.finished = True
        self._active -= 1
        if self._active <= 0 and self._all_done is not None and not self._all_done.done():
            self._all_done.set_result(None)

    def _picows_lost(self, st: Any) -> None:
        """A picows station's connection closed."""
        if st.finished or self._all_done is None:
            return  # closed before the load (connect_all counts it) or after its end
        res = self.result
        res.dropped += 1
        res.errors += 1
        res.error_kinds["connection-closed"] += 1
        self._picows_done(st)


async def picows_close(st: Any) -> None:
    from picows import WSCloseCode  # type: ignore[import-not-found,unused-ignore]

    st.finished = True
    transport = st.transport
    if transport is None or transport.is_disconnected():
        return
    transport.send_close(WSCloseCode.OK)
    transport.disconnect()
    await transport.wait_disconnected()


@functools.cache
def picows_station_class() -> type[Any]:
    """The picows listener of one station connection (a class built on first use, so that
    picows stays optional). Boot-phase frames go to ``inbox``; after the boot each text
    frame is handed to the generator's ``_picows_frame`` right in the read callback."""
    from picows import WSFrame, WSListener, WSMsgType, WSTransport  # type: ignore[import-not-found,unused-ignore]

    class PicowsStation(WSListener):  # type: ignore[misc,unused-ignore]
        def __init__(self, gen: PicowsClient, index: int) -> None:
            super().__init__()
            self.gen = gen
            self.index = index
            self.transport: WSTransport | None = None
            self.inbox: asyncio.Queue[bytes | None] | None = asyncio.Queue()
            self.busy = False  # a CALL of ours awaits its answer
            self.finished = False  # the request loop ended (or the connection did)
            self.uid = b""
            self.frame = b""
            self.t0 = 0.0
            self.k = index  # spreads StatusNotifications evenly over the stations
            self.toggle = 0
            self.scheduled = 0.0
            self.interval = 0.0
            self.win_start = 0.0
            self.end = 0.0

        def on_ws_connected(self, transport: WSTransport) -> None:
            self.transport = transport

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            kind = frame.msg_type
            if kind == WSMsgType.TEXT:
                data = frame.get_payload_as_bytes()
                if self.inbox is not None:
                    self.inbox.put_nowait(data)
                else:
                    self.gen._picows_frame(self, data)
            elif kind == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()

        def on_ws_disconnected(self, transport: WSTransport) -> None:
            if self.inbox is not None:
                self.inbox.put_nowait(None)
            self.gen._picows_lost(self)

        def send(self, data: bytes) -> None:
            assert self.transport is not None
            self.transport.send(WSMsgType.TEXT, data)

    return PicowsStation
