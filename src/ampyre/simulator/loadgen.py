"""Lean OCPP load generator: many station connections, pre-encoded frames, latency samples.

Unlike the simulator it models no station behaviour: after a BootNotification
each connection runs either a closed loop (send, wait for the answer, send again)
or a paced loop (a fixed rate per connection) of Heartbeat / StatusNotification
CALLs and records the round-trip time of each. Frames are built by byte
concatenation around a counter-based unique id, so the generator spends its CPU
on the sockets rather than on JSON.

Run as a worker process by bench/run.py::

    python -m ampyre.simulator.loadgen --url ws://127.0.0.1:9000/ocpp --stations 1000 \
        --protocol ocpp1.6 --control --latency-file /tmp/lat.bin

``--mode transactions`` runs charging sessions instead (the `ampyre.simulator.session`
messages, schema-checked by the unit tests): per station Authorize, StartTransaction /
TransactionEvent Started, ``--session-samples`` meter-value messages paced so all
stations together send ``--rate`` of them per second, then StopTransaction /
TransactionEvent Ended, and again. Latencies of transaction messages are recorded
(meter values from their intended send time).

With ``--control`` it prints one JSON line ``{"event": "ready", ...}`` after all
stations connected and booted, waits for ``go <monotonic start time>`` on stdin,
runs, then prints ``{"event": "done", ...}``. Times are CLOCK_MONOTONIC, which
is shared by all processes of the machine, so several workers share one window.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import random
import resource
import sys
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from ampyre.simulator import messages as m
from ampyre.simulator import txmessages as tx
from ampyre.simulator.power import Charge
from ampyre.simulator.session import Session, SessionConfig, new_ev, new_transaction_id

HEARTBEAT_SUFFIX = b'","Heartbeat",{}]'
END_GRACE = 5.0  # seconds after the window an outstanding CALL may still take
STATUS_EVERY = 5  # every 5th CALL is a StatusNotification: 80 % Heartbeat, 20 % Status
MODES = ("closed", "paced", "idle", "transactions")
# WebSocket client of the request loops: picows (Cython framing, about half the CPU per
# round trip of websockets) when it is installed, else websockets. The transactions mode
# always uses websockets (a few hundred msgs/s; its flow reads best as coroutines).
CLIENTS = ("auto", "picows", "websockets")
BENCH_ID_TOKEN = "BENCHTAG"


def picows_installed() -> bool:
    try:
        import picows  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_client(client: str, mode: str) -> str:
    """The WebSocket client a generator uses: "picows" or "websockets"."""
    if client not in CLIENTS:
        raise ValueError(f"unknown client {client!r}")
    if mode == "transactions" or client == "websockets":
        return "websockets"
    if picows_installed():
        return "picows"
    if client == "picows":
        raise ValueError("client picows: picows is not installed (pip install picows)")
    return "websockets"


def bench_id_token(prefix: str, index: int) -> str:
    """Station `index`'s own RFID token: one token charging at 1,000 stations at once
    would be answered ConcurrentTx, as it should be."""
    return f"{prefix}{index:05d}"


@dataclass(slots=True)
class LoadConfig:
    url: str
    protocol: str
    stations: int
    mode: str = "closed"  # closed | paced | idle | transactions
    # paced: msgs/s for all stations of this generator; transactions: meter-value
    # messages/s for all of them
    rate: float = 0.0
    heartbeat_interval: float = 30.0  # idle: seconds between heartbeats of one station
    warmup: float = 2.0
    duration: float = 10.0
    prefix: str = "BENCH"
    first_index: int = 1
    password: str | None = None
    connect_concurrency: int = 100
    connect_attempts: int = 3
    connect_timeout: float = 30.0
    session_samples: int = 12  # transactions: meter-value messages per session
    id_token: str = BENCH_ID_TOKEN
    max_power_kw: float = 22.0
    client: str = "auto"  # auto | picows | websockets (CLIENTS)


@dataclass(slots=True)
class LoadResult:
    stations: int = 0
    connected: int = 0
    connect_failures: int = 0
    boot_accepted: int = 0
    boot_other: int = 0
    connect_start: float = 0.0
    connect_end: float = 0.0
    window_start: float = 0.0
    window_end: float = 0.0
    msgs: int = 0  # completed round trips inside the measured window
    msgs_total: int = 0
    # round trips completed inside the measured window whatever their send time (paced:
    # the served load, where `msgs` counts only those also sent in the window)
    served: int = 0
    errors: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    dropped: int = 0  # connections lost during the run
    csms_calls: int = 0
    cpu_seconds: float = 0.0  # this process, measured window only
    latencies: array[float] = field(default_factory=lambda: array("d"))
    # transactions mode (inside the window): meter-value messages and their sampled
    # values acked, other transaction messages acked, sessions started/ended, Authorize
    # answers that were not Accepted, meter latencies alone
    meter_msgs: int = 0
    sampled_values: int = 0
    tx_other: int = 0
    sessions_started: int = 0
    sessions_ended: int = 0
    auth_rejected: int = 0
    meter_latencies: array[float] = field(default_factory=lambda: array("d"))
    client: str = "websockets"  # the WebSocket client that carried the load

    @property
    def connect_seconds(self) -> float:
        return max(self.connect_end - self.connect_start, 1e-9)

    @property
    def connect_rate(self) -> float:
        return self.connected / self.connect_seconds

    @property
    def window(self) -> float:
        return max(self.window_end - self.window_start, 1e-9)

    @property
    def msgs_per_s(self) -> float:
        return self.msgs / self.window

    def summary(self) -> dict[str, Any]:
        pct = percentiles(self.latencies)
        return {
            "stations": self.stations,
            "connected": self.connected,
            "connect_failures": self.connect_failures,
            "boot_accepted": self.boot_accepted,
            "boot_other": self.boot_other,
            "connect_start": self.connect_start,
            "connect_end": self.connect_end,
            "connect_rate": self.connect_rate,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "msgs": self.msgs,
            "msgs_total": self.msgs_total,
            "served": self.served,
            "msgs_per_s": self.msgs_per_s,
            "errors": self.errors,
            "error_kinds": dict(self.error_kinds),
            "dropped": self.dropped,
            "csms_calls": self.csms_calls,
            "cpu_seconds": self.cpu_seconds,
            "cpu_utilisation": self.cpu_seconds / self.window,
            "meter_msgs": self.meter_msgs,
            "sampled_values": self.sampled_values,
            "tx_other": self.tx_other,
            "sessions_started": self.sessions_started,
            "sessions_ended": self.sessions_ended,
            "auth_rejected": self.auth_rejected,
            "meter_p99_ms": percentiles(self.meter_latencies)["p99_ms"],
            "client": self.client,
            **pct,
        }


def percentiles(samples: array[float]) -> dict[str, float | None]:
    """p50/p90/p99/max in milliseconds (None without samples)."""
    if not samples:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None, "mean_ms": None}
    ordered = sorted(samples)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, int(q * n))] * 1000.0

    return {
        "p50_ms": at(0.50),
        "p90_ms": at(0.90),
        "p99_ms": at(0.99),
        "max_ms": ordered[-1] * 1000.0,
        "mean_ms": sum(ordered) / n * 1000.0,
    }


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


def _timestamp() -> bytes:
    t = datetime.now(UTC)
    return (t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z").encode()


class _Frames:
    """Pre-encoded frame pieces; the status suffixes get a fresh timestamp every second."""

    def __init__(self, protocol: str) -> None:
        self.v16 = m.is_v16(protocol)
        self.statuses = (b"Available", b"Preparing") if self.v16 else (b"Available", b"Occupied")
        self.status_suffix: tuple[bytes, bytes] = (b"", b"")
        self.refresh()

    def refresh(self) -> None:
        ts = _timestamp()
        if self.v16:
            self.status_suffix = tuple(  # type: ignore[assignment]
                b'","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"'
                + s
                + b'","timestamp":"'
                + ts
                + b'"}]'
                for s in self.statuses
            )
        else:
            self.status_suffix = tuple(  # type: ignore[assignment]
                b'","StatusNotification",{"timestamp":"'
                + ts
                + b'","connectorStatus":"'
                + s
                + b'","evseId":1,"connectorId":1}]'
                for s in self.statuses
            )


class LoadGenerator:
    def __init__(self, config: LoadConfig) -> None:
        m.check_protocol(config.protocol)
        if config.mode not in MODES:
            raise ValueError(f"unknown mode {config.mode!r}")
        if config.mode in ("paced", "transactions") and config.rate <= 0:
            raise ValueError(f"{config.mode} mode needs rate > 0")
        if config.session_samples < 1:
            raise ValueError("session_samples must be >= 1")
        self.config = config
        self.frames = _Frames(config.protocol)
        self.result = LoadResult(stations=config.stations)
        self.client = resolve_client(config.client, config.mode)
        self.result.client = self.client
        self.connections: list[ClientConnection] = []
        self.stations: list[Any] = []  # picows: _picows_station_class() instances
        self._counter = 0
        self._states: dict[int, m.StationState] = {}
        self._only_heartbeats = config.mode == "idle"
        self._active = 0  # picows: stations whose request loop has not ended
        self._all_done: asyncio.Future[None] | None = None

    # ---- connect + boot -----------------------------------------------------------

    async def connect_all(self) -> None:
        cfg = self.config
        sem = asyncio.Semaphore(cfg.connect_concurrency)
        res = self.result
        res.connect_start = time.monotonic()

        async def one(index: int) -> None:
            async with sem:
                if self.client == "picows":
                    st = await self._connect_and_boot_picows(index)
                    if st is not None:
                        self.stations.append(st)
                        res.connect_end = time.monotonic()
                    return
                ws = await self._connect_and_boot(index)
            if ws is not None:
                self.connections.append(ws)
                res.connect_end = time.monotonic()

        await asyncio.gather(*(one(cfg.first_index + i) for i in range(cfg.stations)))
        res.connected = len(self.connections) + len(self.stations)
        if not res.connected:
            res.connect_end = time.monotonic()

    async def _connect_and_boot(self, index: int) -> ClientConnection | None:
        cfg = self.config
        sid = f"{cfg.prefix}{index:05d}"
        headers: dict[str, str] = {}
        if cfg.password is not None:
            import base64

            token = base64.b64encode(f"{sid}:{cfg.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        boot = orjson.dumps(
            [m.CALL, "boot", "BootNotification", m.boot_notification(cfg.protocol, sid)]
        )
        for attempt in range(cfg.connect_attempts):
            ws: ClientConnection | None = None
            try:
                ws = await connect(
                    f"{cfg.url.rstrip('/')}/{sid}",
                    subprotocols=[Subprotocol(cfg.protocol)],
                    additional_headers=headers,
                    compression=None,
                    proxy=None,
                    open_timeout=cfg.connect_timeout,
                    ping_interval=None,  # the load is the liveness check
                    close_timeout=2,
                    max_queue=64,
                )
                if ws.subprotocol != cfg.protocol:
                    raise InvalidHandshake(f"subprotocol {ws.subprotocol!r} negotiated")
                await ws.send(boot, text=True)
                async with asyncio.timeout(cfg.connect_timeout):
                    while True:
                        reply = orjson.loads(await ws.recv(decode=False))
                        if reply[1] == "boot":
                            break
                        await self._answer_csms(ws, index, reply)
                self._count_boot(reply)
                return ws
            except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
                self._count_connect_failure(exc)
                if ws is not None:
                    with contextlib.suppress(Exception):
                        await ws.close()
                await asyncio.sleep(0.5 * (attempt + 1))
        return None

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
        station_class = _picows_station_class()
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

    def _count_boot(self, reply: Any) -> None:
        """Count a station's answer to its BootNotification (either client)."""
        status = reply[2].get("status") if reply[0] == m.CALLRESULT else None
        if status == "Accepted" or reply[0] == m.CALL:  # CALL: echo server
            self.result.boot_accepted += 1
        else:
            self.result.boot_other += 1

    def _count_connect_failure(self, exc: BaseException) -> None:
        self.result.connect_failures += 1
        self.result.error_kinds[f"connect:{type(exc).__name__}"] += 1

    async def _answer_csms(self, ws: ClientConnection, index: int, msg: Any) -> None:
        """Answer a CSMS-initiated CALL that arrives while we wait for our own answer."""
        answer = self._csms_reply(index, msg)
        if answer is not None:
            await ws.send(answer, text=True)

    def _csms_reply(self, index: int, msg: Any) -> bytes | None:
        """The frame answering a CSMS-initiated CALL (None, counted as an error, when
        ``msg`` is no CALL)."""
        if not isinstance(msg, list) or len(msg) < 4 or msg[0] != m.CALL:
            self.result.errors += 1
            self.result.error_kinds["unexpected-frame"] += 1
            return None
        self.result.csms_calls += 1
        state = self._states.get(index)
        if state is None:
            state = self._states[index] = m.StationState(
                protocol=self.config.protocol, station_id=f"{self.config.prefix}{index:05d}"
            )
        try:
            payload = msg[3] if isinstance(msg[3], dict) else {}
            answer: list[Any] = [m.CALLRESULT, msg[1], m.answer_call(state, str(msg[2]), payload)]
        except m.NotImplementedAction:
            answer = [m.CALLERROR, msg[1], "NotImplemented", "", {}]
        state.reset_requested = False  # a load generator does not reboot
        state.triggered.clear()
        return orjson.dumps(answer)

    # ---- load ---------------------------------------------------------------------

    async def _refresher(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.frames.refresh()

    async def _station_loop(
        self, ws: ClientConnection, index: int, win_start: float, end: float, interval: float
    ) -> None:
        """One connection's request loop; interval 0 = closed loop, else paced."""
        res = self.result
        frames = self.frames
        lat = res.latencies
        send = ws.send
        recv = ws.recv
        mono = time.monotonic
        only_heartbeats = self.config.mode == "idle"
        k = index  # spreads StatusNotifications evenly over the stations
        toggle = 0
        scheduled = 0.0
        if interval:
            # Random-ish phase so paced stations do not fire together.
            scheduled = mono() + (index * 0.6180339887 % 1.0) * interval
        try:
            while True:
                if interval:
                    if scheduled >= end:
                        return
                    delay = scheduled - mono()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    t0 = scheduled  # measured from the intended send time
                    scheduled += interval
                else:
                    t0 = mono()
                if t0 >= end:
                    return
                self._counter += 1
                uid = b"%d" % self._counter
                k += 1
                if not only_heartbeats and k % STATUS_EVERY == 0:
                    toggle ^= 1
                    frame = b'[2,"' + uid + frames.status_suffix[toggle]
                else:
                    frame = b'[2,"' + uid + HEARTBEAT_SUFFIX
                await send(frame, text=True)
                while True:
                    raw = await recv(decode=False)
                    if raw.startswith(b'[3,"' + uid + b'"') or raw == frame:
                        break
                    if await self._slow_path(ws, index, uid, raw):
                        break
                t1 = mono()
                res.msgs_total += 1
                if win_start <= t1 <= end:
                    res.served += 1
                    if t0 >= win_start:
                        res.msgs += 1
                        lat.append(t1 - t0)
        except ConnectionClosed:
            res.dropped += 1
            res.errors += 1
            res.error_kinds["connection-closed"] += 1

    async def _slow_path(self, ws: ClientConnection, index: int, uid: bytes, raw: Any) -> bool:
        """Parse an unexpected frame; True when it answered our CALL (as an error)."""
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.result.errors += 1
            self.result.error_kinds["bad-json"] += 1
            return False
        if isinstance(msg, list) and len(msg) >= 3 and str(msg[1]) == uid.decode():
            self.result.errors += 1
            code = msg[2] if msg[0] in (m.CALLERROR, m.CALLRESULTERROR) else f"type-{msg[0]}"
            self.result.error_kinds[f"reply:{code}"] += 1
            return True
        await self._answer_csms(ws, index, msg)
        return False

    # ---- the same request loop on picows: callbacks instead of a coroutine per station ----

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

    # ---- transactions ---------------------------------------------------------------

    async def _rpc(
        self, ws: ClientConnection, index: int, action: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """One CALL; its answer's payload, or None for a CALLERROR."""
        self._counter += 1
        uid = b"%d" % self._counter
        await ws.send(orjson.dumps([m.CALL, uid.decode(), action, payload]), text=True)
        prefix = b'[3,"' + uid + b'"'
        while True:
            raw = await ws.recv(decode=False)
            if raw.startswith(prefix):
                reply = orjson.loads(raw)
                return reply[2] if isinstance(reply[2], dict) else {}
            if await self._slow_path(ws, index, uid, raw):
                return None

    async def _tx_loop(
        self, ws: ClientConnection, index: int, win_start: float, end: float, interval: float
    ) -> None:
        """Charging sessions back to back; meter values paced every ``interval`` s."""
        cfg = self.config
        res = self.result
        mono = time.monotonic
        rng = random.Random(cfg.first_index + index)
        v16 = m.is_v16(cfg.protocol)
        session_cfg = SessionConfig(max_power_kw=cfg.max_power_kw)
        register = float(rng.randrange(1_000_000, 50_000_000))
        # First meter value one interval after the station's first session starts, at
        # a per-station phase (golden-ratio spread) so that stations do not fire together.
        scheduled = mono() + (1.0 + index * 0.6180339887 % 1.0) * interval
        first_done = False

        async def timed(
            action: str, payload: dict[str, Any], t0: float, meter: bool = False
        ) -> dict[str, Any] | None:
            """Send, wait, and count the round trip if it lies in the measured window."""
            reply = await self._rpc(ws, index, action, payload)
            t1 = mono()
            res.msgs_total += 1
            if reply is None:
                res.errors += 1
                res.error_kinds[f"reply:{action}"] += 1
            elif t0 >= win_start and t1 <= end:
                res.msgs += 1
                res.latencies.append(t1 - t0)
                if meter:
                    res.meter_msgs += 1
                    res.sampled_values += sum(
                        len(mv["sampledValue"]) for mv in payload["meterValue"]
                    )
                    res.meter_latencies.append(t1 - t0)
                else:
                    res.tx_other += 1
            return reply

        try:
            # Stations begin their first session at their own phase, not all at once.
            delay = scheduled - interval - mono()
            if delay > 0:
                await asyncio.sleep(delay)
            while scheduled < end:
                charge = Charge(new_ev(session_cfg, rng), register_wh=register)
                token = bench_id_token(cfg.id_token, cfg.first_index + index)
                s = Session(cfg.protocol, 1, token, charge)
                reply = await self._rpc(
                    ws, index, "Authorize", tx.authorize(cfg.protocol, s.id_token)
                )
                info = (reply or {}).get("idTagInfo" if v16 else "idTokenInfo") or {}
                if info.get("status") != "Accepted":
                    res.auth_rejected += 1  # a load generator charges anyway
                t_start = mono()
                if not v16:
                    s.transaction_id = new_transaction_id(rng)
                action, payload = s.start(m.now_iso(), "Authorized", offline=False, authorized=True)
                reply = await timed(action, payload, t_start)
                if v16:
                    tid = (reply or {}).get("transactionId")
                    s.transaction_id = tid if isinstance(tid, int) else None
                if win_start <= t_start < end:
                    res.sessions_started += 1
                last = mono()
                # The first session has a random length, so that session boundaries
                # (Authorize + start + stop) spread evenly instead of coming in waves.
                samples = cfg.session_samples if first_done else rng.randint(1, cfg.session_samples)
                first_done = True
                for _ in range(samples):
                    if scheduled >= end:
                        break
                    delay = scheduled - mono()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    t0 = scheduled  # measured from the intended send time
                    scheduled += interval
                    now = mono()
                    charge.advance(now - last)
                    last = now
                    action, payload = s.periodic(m.now_iso(), offline=False)
                    await timed(action, payload, t0, meter=True)
                t_stop = mono()
                charge.advance(t_stop - last)
                action, payload = s.stop(m.now_iso(), "Local", offline=False, now=t_stop)
                ok = await timed(action, payload, t_stop) is not None
                if ok and win_start <= t_stop < end:
                    res.sessions_ended += 1
                register = charge.register_wh
        except ConnectionClosed:
            res.dropped += 1
            res.errors += 1
            res.error_kinds["connection-closed"] += 1

    async def run_load(self, start: float) -> None:
        """Run the load from ``start`` (monotonic) for warmup + duration seconds."""
        cfg = self.config
        win_start = start + cfg.warmup
        end = win_start + cfg.duration
        res = self.result
        res.window_start, res.window_end = win_start, end
        if cfg.mode == "closed":
            interval = 0.0
        elif cfg.mode in ("paced", "transactions"):
            interval = max(len(self.connections) + len(self.stations), 1) / cfg.rate
        else:
            interval = cfg.heartbeat_interval
        delay = start - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        refresher = asyncio.create_task(self._refresher())

        async def cpu_probe() -> None:
            await asyncio.sleep(max(0.0, win_start - time.monotonic()))
            cpu0 = time.process_time()
            await asyncio.sleep(max(0.0, end - time.monotonic()))
            res.cpu_seconds = time.process_time() - cpu0

        probe = asyncio.create_task(cpu_probe())
        if self.stations:
            self._all_done = asyncio.get_running_loop().create_future()
            self._active = len(self.stations)
            for st in self.stations:
                self._picows_start(st, win_start, end, interval)
        station_loop = self._tx_loop if cfg.mode == "transactions" else self._station_loop
        loops = [
            asyncio.create_task(station_loop(ws, i, win_start, end, interval))
            for i, ws in enumerate(self.connections)
        ]
        try:
            await probe
            # A CALL still unanswered shortly after the end is abandoned, so a stalled
            # server cannot keep the run going.
            if loops:
                _, late = await asyncio.wait(loops, timeout=END_GRACE)
                for task in late:
                    task.cancel()
                if late:
                    res.errors += len(late)
                    res.error_kinds["unanswered-at-end"] += len(late)
            if self._all_done is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._all_done), END_GRACE)
                late_stations = [st for st in self.stations if not st.finished]
                for st in late_stations:
                    st.finished, st.busy = True, False
                if late_stations:
                    res.errors += len(late_stations)
                    res.error_kinds["unanswered-at-end"] += len(late_stations)
        finally:
            for task in (refresher, probe, *loops):
                task.cancel()
            await asyncio.gather(refresher, probe, *loops, return_exceptions=True)

    async def close_all(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.gather(
                    *(ws.close() for ws in self.connections), return_exceptions=True
                )
                await asyncio.gather(
                    *(_picows_close(st) for st in self.stations), return_exceptions=True
                )
        self.connections.clear()
        self.stations.clear()


async def _picows_close(st: Any) -> None:
    from picows import WSCloseCode  # type: ignore[import-not-found,unused-ignore]

    st.finished = True
    transport = st.transport
    if transport is None or transport.is_disconnected():
        return
    transport.send_close(WSCloseCode.OK)
    transport.disconnect()
    await transport.wait_disconnected()


@functools.cache
def _picows_station_class() -> type[Any]:
    """The picows listener of one station connection (a class built on first use, so that
    picows stays optional). Boot-phase frames go to ``inbox``; after the boot each text
    frame is handed to the generator's ``_picows_frame`` right in the read callback."""
    from picows import WSFrame, WSListener, WSMsgType, WSTransport  # type: ignore[import-not-found,unused-ignore]

    class PicowsStation(WSListener):  # type: ignore[misc,unused-ignore]
        def __init__(self, gen: LoadGenerator, index: int) -> None:
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


async def run_load(config: LoadConfig) -> LoadResult:
    """Connect, boot, run the load right away, close; for in-process use and tests."""
    gen = LoadGenerator(config)
    try:
        await gen.connect_all()
        await gen.run_load(time.monotonic())
    finally:
        await gen.close_all()
    return gen.result


# ---- worker process -------------------------------------------------------------------


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def _worker(args: argparse.Namespace) -> LoadResult | None:
    config = LoadConfig(
        url=args.url,
        protocol=args.protocol,
        stations=args.stations,
        mode=args.mode,
        rate=args.rate,
        heartbeat_interval=args.heartbeat_interval,
        warmup=args.warmup,
        duration=args.duration,
        prefix=args.prefix,
        first_index=args.first_index,
        password=args.password,
        connect_concurrency=args.connect_concurrency,
        session_samples=args.session_samples,
        id_token=args.id_token,
        max_power_kw=args.max_power_kw,
        client=args.client,
    )
    gen = LoadGenerator(config)
    try:
        await gen.connect_all()
        res = gen.result
        if args.control:
            _emit(
                {
                    "event": "ready",
                    "connected": res.connected,
                    "connect_start": res.connect_start,
                    "connect_end": res.connect_end,
                }
            )
            line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            parts = line.split()
            if len(parts) != 2 or parts[0] != "go":
                return None
            start = float(parts[1])
        else:
            start = time.monotonic()
        await gen.run_load(start)
    finally:
        await gen.close_all()
    return gen.result


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--url", required=True)
    p.add_argument("--protocol", choices=m.PROTOCOLS, default="ocpp1.6")
    p.add_argument("--stations", type=int, default=100)
    p.add_argument("--mode", choices=MODES, default="closed")
    p.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="paced: total msgs/s; transactions: total meter-value messages/s",
    )
    p.add_argument(
        "--session-samples",
        type=int,
        default=12,
        help="transactions: meter-value messages per charging session",
    )
    p.add_argument(
        "--id-token",
        default=BENCH_ID_TOKEN,
        help="transactions: prefix of the stations' RFID id tokens (PREFIX00001, ...)",
    )
    p.add_argument("--max-power-kw", type=float, default=22.0, help="transactions: station limit")
    p.add_argument("--heartbeat-interval", type=float, default=30.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--prefix", default="BENCH")
    p.add_argument("--first-index", type=int, default=1)
    p.add_argument("--password", default=None)
    p.add_argument("--connect-concurrency", type=int, default=100)
    p.add_argument("--control", action="store_true", help="wait for 'go <t>' on stdin")
    p.add_argument("--latency-file", default=None, help="write raw latencies (float64 s)")
    p.add_argument("--no-uvloop", action="store_true")
    p.add_argument(
        "--client",
        choices=CLIENTS,
        default="auto",
        help="WebSocket client of the request loops (auto: picows when installed)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    raise_nofile_limit()
    result: LoadResult | None
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        args.no_uvloop = True
    result = asyncio.run(_worker(args)) if args.no_uvloop else uvloop.run(_worker(args))
    if result is None:
        return 2
    if args.latency_file:
        with open(args.latency_file, "wb") as fh:
            result.latencies.tofile(fh)
    _emit({"event": "done", **result.summary()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
