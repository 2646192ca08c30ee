"""One simulated charging station: connect, boot, report status, heartbeat, answer the CSMS.

Each station costs two tasks while connected (its behaviour loop and a reader)
plus the WebSocket connection, so thousands fit in one process.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
from dataclasses import dataclass
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from ampyre.simulator import messages as m

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0
REBOOT_DELAY = 1.0


@dataclass(slots=True)
class Counters:
    """Totals over all stations of a simulation (one event loop, so no locking)."""

    connects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    boots_accepted: int = 0
    boots_pending: int = 0
    boots_rejected: int = 0
    calls_sent: int = 0
    call_results: int = 0
    call_errors: int = 0
    call_timeouts: int = 0
    heartbeats: int = 0
    status_notifications: int = 0
    csms_calls: int = 0
    csms_not_implemented: int = 0
    resets: int = 0


class SimulatedStation:
    def __init__(
        self,
        *,
        station_id: str,
        url: str,
        protocol: str,
        counters: Counters,
        password: str | None = None,
        heartbeat_interval: float | None = None,
        status_change_interval: float = 30.0,
        call_timeout: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        m.check_protocol(protocol)
        self.station_id = station_id
        self.url = url
        self.protocol = protocol
        self.counters = counters
        self.password = password
        self.heartbeat_override = heartbeat_interval
        self.status_change_interval = status_change_interval
        self.call_timeout = call_timeout
        self.rng = rng or random.Random()
        self.state = m.StationState(protocol=protocol, station_id=station_id)
        self.statuses: dict[int, str] = {c: "Available" for c in m.connectors(protocol)}
        self.connected = False
        self.booted = False
        self._ws: ClientConnection | None = None
        self._seq = 0
        self._pending: dict[str, asyncio.Future[list[Any]]] = {}
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()

    # ---- connection lifecycle -----------------------------------------------------

    def _headers(self) -> dict[str, str]:
        if self.password is None:
            return {}
        token = base64.b64encode(f"{self.station_id}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def run(self) -> None:
        """Stay connected until cancelled, reconnecting with exponential backoff."""
        backoff = 1.0
        while True:
            try:
                ws = await connect(
                    f"{self.url.rstrip('/')}/{self.station_id}",
                    subprotocols=[Subprotocol(self.protocol)],
                    additional_headers=self._headers(),
                    compression=None,
                    proxy=None,
                    open_timeout=15,
                    close_timeout=2,
                    max_size=1024 * 1024,
                )
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                self.counters.connect_failures += 1
                log.debug("%s: connect failed: %r", self.station_id, exc)
                await asyncio.sleep(backoff * self.rng.uniform(0.5, 1.5))
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if ws.subprotocol != self.protocol:
                self.counters.connect_failures += 1
                log.warning("%s: server did not accept %s", self.station_id, self.protocol)
                await ws.close()
                await asyncio.sleep(backoff * self.rng.uniform(0.5, 1.5))
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            self.counters.connects += 1
            self.connected = True
            try:
                await self._session(ws)
            except ConnectionClosed:
                pass
            finally:
                self.connected = False
                self._ws = None
                # A cancelled shutdown still says goodbye; close() is bounded by close_timeout.
                with contextlib.suppress(Exception):
                    await ws.close()
            self.counters.disconnects += 1
            if self.state.reset_requested:
                self.state.reset_requested = False
                self.booted = False
                self.counters.resets += 1
                self.statuses = {c: "Available" for c in self.statuses}
                await asyncio.sleep(REBOOT_DELAY)
                backoff = 1.0
                continue
            await asyncio.sleep(backoff * self.rng.uniform(0.5, 1.5))
            backoff = min(backoff * 2, MAX_BACKOFF) if not self.booted else 1.0

    async def _session(self, ws: ClientConnection) -> None:
        self._ws = ws
        reader = asyncio.create_task(self._reader(ws))
        behaviour = asyncio.create_task(self._behaviour())
        try:
            done, _ = await asyncio.wait({reader, behaviour}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                exc = task.exception()
                if exc is not None and not isinstance(exc, ConnectionClosed):
                    log.warning("%s: %r", self.station_id, exc)
        finally:
            for task in (reader, behaviour, *self._background):
                task.cancel()
            await asyncio.gather(reader, behaviour, *self._background, return_exceptions=True)
            for fut in self._pending.values():
                if not fut.done():
                    fut.cancel()
            self._pending.clear()

    # ---- incoming frames ----------------------------------------------------------

    async def _reader(self, ws: ClientConnection) -> None:
        async for raw in ws:
            try:
                msg = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(msg, list) or len(msg) < 3:
                continue
            kind = msg[0]
            if kind == m.CALL and len(msg) >= 4:
                await self._answer(ws, msg)
            elif kind in (m.CALLRESULT, m.CALLERROR, m.CALLRESULTERROR):
                fut = self._pending.pop(str(msg[1]), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)

    async def _answer(self, ws: ClientConnection, msg: list[Any]) -> None:
        self.counters.csms_calls += 1
        unique_id, action, payload = msg[1], msg[2], msg[3]
        if not isinstance(payload, dict):
            payload = {}
        try:
            result = m.answer_call(self.state, str(action), payload)
            frame = [m.CALLRESULT, unique_id, result]
        except m.NotImplementedAction:
            self.counters.csms_not_implemented += 1
            frame = [m.CALLERROR, unique_id, "NotImplemented", f"{action} not supported", {}]
        await ws.send(orjson.dumps(frame), text=True)
        if self.state.reset_requested:
            # Reboot: drop the connection; run() reconnects and boots again.
            await ws.close()
            return
        while self.state.triggered:
            requested = self.state.triggered.pop(0)
            task = asyncio.create_task(self._send_triggered(requested))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _send_triggered(self, requested: str) -> None:
        if requested == "BootNotification":
            await self._call(
                "BootNotification", m.boot_notification(self.protocol, self.station_id)
            )
        elif requested == "Heartbeat":
            await self._heartbeat()
        elif requested == "StatusNotification":
            await self._send_all_statuses()

    # ---- outgoing CALLs -----------------------------------------------------------

    async def _call(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Send one CALL and wait for its answer; at most one is outstanding (OCPP-J rule)."""
        ws = self._ws
        if ws is None:
            return None
        async with self._lock:
            self._seq += 1
            unique_id = str(self._seq)
            fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            self._pending[unique_id] = fut
            await ws.send(orjson.dumps([m.CALL, unique_id, action, payload]), text=True)
            self.counters.calls_sent += 1
            try:
                async with asyncio.timeout(self.call_timeout):
                    reply = await fut
            except TimeoutError:
                self._pending.pop(unique_id, None)
                self.counters.call_timeouts += 1
                log.debug("%s: %s timed out", self.station_id, action)
                return None
        if reply[0] == m.CALLRESULT:
            self.counters.call_results += 1
            return reply[2] if isinstance(reply[2], dict) else {}
        self.counters.call_errors += 1
        log.debug("%s: %s answered with %r", self.station_id, action, reply)
        return None

    async def _boot(self) -> None:
        while True:
            reply = await self._call(
                "BootNotification", m.boot_notification(self.protocol, self.station_id)
            )
            if reply is None:
                await asyncio.sleep(self.rng.uniform(5.0, 15.0))
                continue
            status = reply.get("status")
            interval = reply.get("interval")
            seconds = float(interval) if isinstance(interval, int | float) and interval > 0 else 0
            if status == "Accepted":
                self.counters.boots_accepted += 1
                self.booted = True
                self.state.set_heartbeat(self.heartbeat_override or seconds or 60.0)
                return
            if status == "Pending":
                self.counters.boots_pending += 1
            else:
                self.counters.boots_rejected += 1
            # OCPP 1.6 4.2 / 2.0.1 B02.FR.02: retry after the interval the CSMS gave.
            await asyncio.sleep(seconds or 30.0)

    async def _heartbeat(self) -> None:
        if await self._call("Heartbeat", {}) is not None:
            self.counters.heartbeats += 1

    async def _send_status(self, connector: int) -> None:
        payload = m.status_notification(self.protocol, connector, self.statuses[connector])
        if await self._call("StatusNotification", payload) is not None:
            self.counters.status_notifications += 1

    async def _send_all_statuses(self) -> None:
        for connector in self.statuses:
            await self._send_status(connector)

    async def _behaviour(self) -> None:
        if not self.booted:
            await self._boot()
        await self._send_all_statuses()
        loop = asyncio.get_running_loop()
        changeable = [c for c in self.statuses if c != 0]
        now = loop.time()
        next_heartbeat = now + self.state.heartbeat_interval
        next_change = now + self.rng.uniform(0.1, 1.0) * self.status_change_interval
        while True:
            await asyncio.sleep(max(0.0, min(next_heartbeat, next_change) - loop.time()))
            now = loop.time()
            if now >= next_heartbeat:
                await self._heartbeat()
                next_heartbeat = loop.time() + self.state.heartbeat_interval
            if now >= next_change and changeable:
                connector = self.rng.choice(changeable)
                self.statuses[connector] = m.next_status(self.protocol, self.statuses[connector])
                await self._send_status(connector)
                next_change = loop.time() + self.rng.uniform(0.5, 1.5) * (
                    self.status_change_interval
                )
