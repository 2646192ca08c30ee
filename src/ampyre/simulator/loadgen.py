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

Its parts: settings and results in `load_config.py`, the pre-encoded frames in
`load_frames.py`, the picows client in `loadgen_picows.py` (a mixin of `LoadGenerator`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import resource
import sys
import time
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from ampyre.simulator import messages as m
from ampyre.simulator import txmessages as tx
from ampyre.simulator.load_config import (
    BENCH_ID_TOKEN,
    LoadConfig,
    LoadResult,
    bench_id_token,
)
from ampyre.simulator.load_frames import HEARTBEAT_SUFFIX, STATUS_EVERY, Frames
from ampyre.simulator.loadgen_picows import PicowsClient, picows_close
from ampyre.simulator.power import Charge
from ampyre.simulator.session import Session, SessionConfig, new_ev, new_transaction_id

END_GRACE = 5.0  # seconds after the window an outstanding CALL may still take
MODES = ("closed", "paced", "idle", "transactions")
# WebSocket client of the request loops: picows (Cython framing, about half the CPU per
# round trip of websockets) when it is installed, else websockets. The transactions mode
# always uses websockets (a few hundred msgs/s; its flow reads best as coroutines).
CLIENTS = ("auto", "picows", "websockets")


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


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


class LoadGenerator(PicowsClient):
    def __init__(self, config: LoadConfig) -> None:
        m.check_protocol(config.protocol)
        if config.mode not in MODES:
            raise ValueError(f"unknown mode {config.mode!r}")
        if config.mode in ("paced", "transactions") and config.rate <= 0:
            raise ValueError(f"{config.mode} mode needs rate > 0")
        if config.session_samples < 1:
            raise ValueError("session_samples must be >= 1")
        self.config = config
        self.frames = Frames(config.protocol)
        self.result = LoadResult(stations=config.stations)
        self.client = resolve_client(config.client, config.mode)
        self.result.client = self.client
        self.connections: list[ClientConnection] = []
        self.stations: list[Any] = []  # picows: picows_station_class() instances
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
                    **cfg.connect_options(),
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
                    *(picows_close(st) for st in self.stations), return_exceptions=True
                )
        self.connections.clear()
        self.stations.clear()


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
        source_address=args.source_address,
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
    p.add_argument(
        "--source-address",
        default=None,
        help="local address to connect from (127.0.0.2, ...): about 28,000 connections fit "
        "one source address towards one server port",
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
