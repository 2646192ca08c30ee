"""One simulated charging station: connect, boot, report status, heartbeat, answer the CSMS,
and run charging sessions that survive losing the connection.

Tasks per station: the connection loop (run), and while connected a reader, the
behaviour loop (heartbeats) and the outbox sender; one task per running charging
session and one per connector that plugs EVs in (with sessions on). They sleep nearly
all the time, so thousands of stations fit in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from ampyre.simulator import control
from ampyre.simulator import firmware as fw
from ampyre.simulator import messages as m
from ampyre.simulator import txmessages as tx
from ampyre.simulator.certificates import StationCertificates
from ampyre.simulator.connection_security import ConnectionSecurity, SecurityOps
from ampyre.simulator.costs import StationCosts
from ampyre.simulator.device_ops import DeviceOps
from ampyre.simulator.monitoring import MonitoringOps
from ampyre.simulator.plug_and_charge import PNC_TOKEN_TYPE, PlugAndChargeEv
from ampyre.simulator.power import Charge
from ampyre.simulator.session import (
    Outbox,
    Queued,
    Session,
    SessionConfig,
    new_ev,
    new_transaction_id,
)
from ampyre.simulator.smart_charging import SmartCharging, departure_at, ev_charging_needs

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0
REBOOT_DELAY = 1.0
_CLOSED: list[Any] = [-1]  # resolves the pending CALLs of a lost connection


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
    # charging sessions
    sessions_started: int = 0
    sessions_completed: int = 0  # stop message queued
    sessions_rejected: int = 0  # id token not accepted
    remote_starts: int = 0
    remote_stops: int = 0
    authorizations: int = 0
    tx_messages_acked: int = 0  # Start/Stop/MeterValues/TransactionEvent answered
    meter_values_acked: int = 0  # periodic/triggered meter value messages answered
    sampled_values_acked: int = 0  # sampled values in all acked transaction messages
    tx_messages_discarded: int = 0  # gave up after repeated CALLERRORs
    replayed: int = 0  # acked messages that had been queued while offline
    queue_dropped: int = 0  # meter values dropped because the outbox was full
    queue_peak: int = 0
    duplicates_sent: int = 0
    duplicate_mismatches: int = 0  # a resent message got a different answer
    offline_windows: int = 0
    energy_wh: int = 0  # delivered in completed sessions


def _sampled_count(payload: dict[str, Any]) -> int:
    return sum(len(mv.get("sampledValue", ())) for mv in payload.get("meterValue", ()))


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
        sessions: SessionConfig | None = None,
        offline_windows: Sequence[tuple[float, float]] = (),
        token_index: int = 0,
    ) -> None:
        m.check_protocol(protocol)
        self.station_id = station_id
        self.url = url
        self.protocol = protocol
        self.v16 = m.is_v16(protocol)
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
        # Sessions: remote starts always work; local (RFID) sessions only with `sessions`.
        self.cfg = sessions or SessionConfig(local_sessions=False)
        self.local_sessions = sessions is not None and sessions.local_sessions
        self.offline_windows = sorted(offline_windows)
        # Each connector has its regular driver: station k's connector j presents
        # id_tokens[(k * connectors + j) % len]; distinct while there are enough tokens,
        # so no token is in two transactions at once (the CSMS would say ConcurrentTx).
        self.token_index = token_index
        self.forced_offline = False
        self._online = asyncio.Event()
        self._online.set()
        self.outbox = Outbox(limit=self.cfg.queue_limit)
        self._outbox_ready = asyncio.Event()
        self.session_connectors = [c for c in self.statuses if c != 0]
        self.active: dict[int, Session] = {}
        self.completed: list[Session] = []  # last few, for tests and reports
        self._session_tasks: dict[int, asyncio.Task[None]] = {}
        self._wake: dict[int, asyncio.Event] = {}
        # Lifetime energy registers (Wh) per connector: never reset, never from 0.
        self.registers = {
            c: float(self.rng.randrange(1_000_000, 50_000_000)) for c in self.session_connectors
        }
        interval = f"{self.cfg.meter_interval:g}"
        self.state.config16["MeterValueSampleInterval"] = (interval, False)
        self.state.variables[("SampledDataCtrlr", "TxUpdatedInterval")] = (interval, False)
        answer = self._answer_16 if self.v16 else self._answer_2x
        self._tx_handlers: dict[str, Callable[[dict[str, Any]], m.Payload]] = answer()
        self._tx_handlers["ChangeAvailability"] = self._change_availability
        self._tx_handlers["Reset"] = self._reset
        self._tx_handlers["UnlockConnector"] = self._unlock
        self._tx_handlers["TriggerMessage"] = self._trigger
        # Firmware updates: download from the CSMS's URL, progress, reboot (firmware.py).
        self.firmware = fw.FirmwareUpdater(protocol, self.state, self._call, self._firmware_reboot)
        updates = ("UpdateFirmware", "SignedUpdateFirmware") if self.v16 else ("UpdateFirmware",)
        for action in updates:
            self._tx_handlers[action] = self._firmware_answer(action)
        self._after_answer: list[Callable[[], None]] = []
        # Log uploads, display messages, customer information (simulator/device_ops.py).
        self.device = DeviceOps(station_id, protocol, self._call, self._later)
        self._tx_handlers.update(self.device.handlers())
        # Faults (alerts) and 2.x variable monitoring (simulator/monitoring.py).
        self.monitoring = MonitoringOps(
            station_id, protocol, self._call, self._later, self.statuses, self.rng
        )
        self._tx_handlers.update(self.monitoring.handlers())
        # Charging profiles and composite schedules; EVs follow them (smart_charging.py).
        currents = self.cfg.max_currents_a
        self.max_current_a = currents[token_index % len(currents)] if currents else None
        self.smart = SmartCharging(
            station_id,
            protocol,
            evse_ids=self.session_connectors,
            sessions=self.active,
            started_at=self._tx_started_at,
            on_change=self._limits_changed,
            report=lambda calls: self._later(lambda: self._send_in_order(calls)),
            max_current_a=self.max_current_a,
            max_power_w=self.cfg.max_power_kw * 1000.0,
        )
        self._tx_handlers.update(self.smart.handlers())

        # Profiles 1-3, and obeying password / profile changes (connection_security.py).
        async def reconnect() -> None:
            ws = self._ws
            if ws is not None:
                await ws.close()

        self.conn = SecurityOps(
            station_id,
            protocol,
            self.state,
            url,
            ConnectionSecurity(password=password),
            reconnect=lambda: self._later(reconnect),
        )
        self._tx_handlers.update(self.conn.handlers())
        # Keys, CSRs, signed chains and installed roots (simulator/certificates.py).
        self.certificates = StationCertificates(station_id, protocol, self._call, self._later)
        self._tx_handlers.update(
            self.certificates.handlers(
                self._trigger, lambda p: m.answer_call(self.state, "DataTransfer", p)
            )
        )
        # Cost messages: 2.x CostUpdated and tariffs, 1.6 California Pricing DataTransfer
        # (simulator/costs.py; other vendorIds go on to the handler before it).
        self.costs = StationCosts()
        other_vendors = self._tx_handlers.get(
            "DataTransfer", lambda p: m.answer_call(self.state, "DataTransfer", p)
        )
        self._tx_handlers.update(self.costs.handlers(other_vendors))
        # Set by simulator/plug_and_charge.attach: the first connector's EVs then
        # authorize with a contract certificate installed through the CSMS.
        self.pnc: PlugAndChargeEv | None = None
        # ChangeAvailability Inoperative: Unavailable once idle (kept across reboots).
        self.inoperative: set[int] = set()
        # A reset is on its way (2.x OnIdle waiting, or rebooting): no new sessions.
        self.reset_pending = False
        self._reset_on_idle = False

    # ---- connection lifecycle -----------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return self.conn.headers()  # the profile decides

    async def run(self) -> None:
        """Stay connected until cancelled, reconnecting with exponential backoff; charge
        EVs meanwhile (sessions go on while offline)."""
        helpers: list[asyncio.Task[None]] = []
        if self.offline_windows:
            helpers.append(asyncio.create_task(self._offline_schedule()))
        if self.local_sessions:
            helpers += [asyncio.create_task(self._plug_in_loop(c)) for c in self.session_connectors]
        if self.monitoring.fault_every > 0:
            helpers.append(asyncio.create_task(self.monitoring.fault_loop()))
        try:
            await self._connection_loop()
        finally:
            await self.firmware.close()
            tasks = [*helpers, *self._session_tasks.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _connection_loop(self) -> None:
        backoff = 1.0
        while True:
            if self.forced_offline:
                await self._online.wait()
            try:
                ws = await connect(
                    self.conn.url(),  # ws:// or wss:// by security profile
                    ssl=self.conn.ssl_context(),
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
            if ws.subprotocol != self.protocol or self.forced_offline:
                if not self.forced_offline:
                    self.counters.connect_failures += 1
                    log.warning("%s: server did not accept %s", self.station_id, self.protocol)
                await ws.close()
                if not self.forced_offline:
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
                self.outbox.drop_volatile()
                # A cancelled shutdown still says goodbye; close() is bounded by close_timeout.
                with contextlib.suppress(Exception):
                    await ws.close()
            self.counters.disconnects += 1
            # A reset whose going-down was cut short by the connection dropping counts too.
            if self.state.reset_requested or (self.reset_pending and not self._reset_on_idle):
                self.state.reset_requested = False
                self.booted = False
                self.counters.resets += 1
                self.reset_pending = self._reset_on_idle = False
                self.statuses = {
                    c: (self._idle_status(c) if c not in self.active else s)
                    for c, s in self.statuses.items()
                }
                await asyncio.sleep(REBOOT_DELAY)
                backoff = 1.0
                continue
            if self.forced_offline:
                backoff = 1.0
                continue
            await asyncio.sleep(backoff * self.rng.uniform(0.5, 1.5))
            backoff = min(backoff * 2, MAX_BACKOFF) if not self.booted else 1.0

    async def _offline_schedule(self) -> None:
        """Scheduled offline windows ``(after, duration)`` seconds from the start: the
        station drops its connection and stays away, charging on."""
        loop = asyncio.get_running_loop()
        epoch = loop.time()
        for after, duration in self.offline_windows:
            await asyncio.sleep(max(0.0, epoch + after - loop.time()))
            self.forced_offline = True
            self._online.clear()
            self.counters.offline_windows += 1
            ws = self._ws
            if ws is not None:
                with contextlib.suppress(Exception):
                    await ws.close()
            await asyncio.sleep(duration)
            self.forced_offline = False
            self._online.set()

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
            self._ws = None
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_result(_CLOSED)
            self._pending.clear()
            for task in (reader, behaviour, *self._background):
                task.cancel()
            await asyncio.gather(reader, behaviour, *self._background, return_exceptions=True)

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
        handler = self._tx_handlers.get(str(action))
        try:
            if handler is not None:
                result = handler(payload)
            else:
                result = m.answer_call(self.state, str(action), payload)
            frame = [m.CALLRESULT, unique_id, result]
        except m.NotImplementedAction:
            self.counters.csms_not_implemented += 1
            frame = [m.CALLERROR, unique_id, "NotImplemented", f"{action} not supported", {}]
        await ws.send(orjson.dumps(frame), text=True)
        # Whatever the answer promised (a session start, a triggered message) happens
        # only after the answer left.
        after, self._after_answer = self._after_answer, []
        for action_after in after:
            action_after()
        if self.state.reset_requested:
            # Reboot: drop the connection; run() reconnects and boots again.
            await ws.close()
            return
        while self.state.triggered:
            requested = self.state.triggered.pop(0)
            task = asyncio.create_task(self._send_triggered(requested))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        if self.state.follow_ups:
            calls, self.state.follow_ups = self.state.follow_ups, []
            task = asyncio.create_task(self._send_in_order(calls))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _send_in_order(self, calls: list[tuple[str, dict[str, Any]]]) -> None:
        for action, payload in calls:
            await self._call(action, payload)

    async def _send_triggered(self, requested: str, target: int | None = None) -> None:
        if requested == "BootNotification":
            payload = m.boot_notification(
                self.protocol, self.station_id, self.state.firmware_version
            )
            if not self.v16:
                payload["reason"] = "Triggered"
            await self._call("BootNotification", payload)
        elif requested == "Heartbeat":
            await self._heartbeat()
        elif requested == "StatusNotification":
            if target is None:
                await self._send_all_statuses()
            else:
                await self._send_status(target)
        elif requested in ("FirmwareStatusNotification", "DiagnosticsStatusNotification"):
            # Nothing being installed or uploaded: Idle, which is sent only when triggered
            # (1.6 FirmwareStatus / DiagnosticsStatus, 2.0.1 FirmwareStatusEnumType).
            await self._call(requested, {"status": "Idle"})
        elif requested == "LogStatusNotification":
            await self._call(requested, {"status": "Idle"})

    def _firmware_reboot(self) -> None:
        """Reboot into new firmware: running transactions end first (reason Reboot, in
        1.6 Reason and 2.x ReasonEnumType), then the station goes down gracefully."""
        self.reset_pending = True
        for session in [s for s in self.active.values() if not s.ended]:
            self._stop_session(session, "Reboot")
        self._start_reboot(graceful=True)

    def _firmware_answer(self, action: str) -> Callable[[dict[str, Any]], m.Payload]:
        def answer(payload: dict[str, Any]) -> m.Payload:
            result, start = self.firmware.answer(action, payload)
            if start:
                self._after_answer.append(self.firmware.start)
            return result

        return answer

    def _trigger(self, payload: dict[str, Any]) -> m.Payload:
        plan = control.trigger(self.protocol, payload, list(self.statuses), self.booted)
        if plan.status != "Accepted":
            return {"status": plan.status}
        if plan.message in ("MeterValues", "TransactionEvent"):
            ok = self._trigger_meter_values(plan.target, plan.message == "TransactionEvent")
            return {"status": "Accepted" if ok else "Rejected"}

        def send() -> None:
            task = asyncio.create_task(self._send_triggered(plan.message, plan.target))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

        self._after_answer.append(send)
        return {"status": "Accepted"}

    def _later(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `job` once the answer being built has been sent."""

        def start() -> None:
            task = asyncio.create_task(job())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

        self._after_answer.append(start)

    def _unlock(self, payload: dict[str, Any]) -> m.Payload:
        charging = {c for c, s in self.active.items() if not s.ended}
        result = control.unlock(self.protocol, payload, self.session_connectors, charging)
        if result.stop_connector is not None:
            self._stop_session(self.active[result.stop_connector], "UnlockCommand")
        return {"status": result.status}

    # ---- CSMS calls about transactions ------------------------------------------------

    def _usable(self, connector: int) -> bool:
        """Free for a new session: idle, operative, and no reset coming."""
        return (
            connector not in self._session_tasks
            and connector not in self.inoperative
            and 0 not in self.inoperative
            and not self.reset_pending
        )

    def _free_connector(self, wanted: int | None) -> int | None:
        if wanted is not None:
            ok = wanted in self.session_connectors and self._usable(wanted)
            return wanted if ok else None
        return next((c for c in self.session_connectors if self._usable(c)), None)

    def _idle_status(self, connector: int) -> str:
        # 0 = the whole station (ChangeAvailability without an EVSE / connectorId 0).
        if connector in self.inoperative or 0 in self.inoperative:
            return "Unavailable"
        return "Available"

    # ---- availability and reset (simulator/control.py) ---------------------------------

    def _change_availability(self, payload: dict[str, Any]) -> m.Payload:
        targets = control.availability_targets(self.protocol, payload, list(self.statuses))
        if targets is None:
            return {"status": "Rejected"}
        inoperative = control.wants_inoperative(self.protocol, payload)
        if inoperative:
            self.inoperative.update(targets)
        else:
            self.inoperative.difference_update(targets)
        busy = [c for c in targets if c in self._session_tasks]

        def apply() -> None:
            # 1.6 5.2 / 2.0.1 G03.FR.05: report the new state; a busy connector changes
            # when its transaction has ended (_charge).
            for c in self.statuses:
                idle = self._idle_status(c)
                if c not in self._session_tasks and self.statuses[c] != idle:
                    self._set_status(c, idle)

        self._after_answer.append(apply)
        # 1.6 5.2 / 2.0.1 G03.FR.03: Scheduled while a transaction runs there.
        return {"status": "Scheduled" if inoperative and busy else "Accepted"}

    def _reset(self, payload: dict[str, Any]) -> m.Payload:
        order = control.reset_order(self.protocol, payload)
        if order is None:
            return {"status": "Rejected"}
        if order.evse_id is not None:
            # 2.x: reset one EVSE; the station stays connected.
            if order.evse_id not in self.session_connectors:
                return {"status": "Rejected"}
            session = self.active.get(order.evse_id)
            if session is None or session.ended:
                return {"status": "Accepted"}
            if order.on_idle:
                return {"status": "Scheduled"}
            self._stop_session(session, control.IMMEDIATE_RESET)
            return {"status": "Accepted"}
        running = [s for s in self.active.values() if not s.ended]
        self.reset_pending = True
        if order.on_idle and running:
            # 2.0.1 B12.FR.01: wait for the transactions to end, then reset (_charge).
            self._reset_on_idle = True
            return {"status": "Scheduled"}
        if order.stop_reason is not None:
            for session in running:
                self._stop_session(session, order.stop_reason)
        self._after_answer.append(lambda: self._start_reboot(order.graceful))
        return {"status": "Accepted"}

    # ---- smart charging (simulator/smart_charging.py) ------------------------------------

    def _tx_started_at(self, connector: int) -> datetime | None:
        session = self.active.get(connector)
        if session is None or not session.started_at:
            return None
        ago = asyncio.get_running_loop().time() - session.started_at
        return datetime.now(UTC) - timedelta(seconds=ago)

    def _limits_changed(self, evse_id: int) -> None:
        # A new limit applies at once: the charging loops re-read their cap.
        for connector, wake in self._wake.items():
            if evse_id in (0, connector):
                wake.set()

    def _apply_cap(self, s: Session) -> float:
        """Put the composite limit on the EV; the loop time it may change next."""
        cap = self.smart.cap(s.connector_id, s.charge)
        s.charge.cap(cap.watts)
        if cap.seconds is None:
            return float("inf")
        return asyncio.get_running_loop().time() + max(cap.seconds, 0.5)

    def _stop_session(self, session: Session, reason: str) -> None:
        session.stop_reason = reason
        wake = self._wake.get(session.connector_id)
        if wake is not None:
            wake.set()

    def _start_reboot(self, graceful: bool) -> None:
        ws = self._ws
        if ws is None:
            # Offline: the next connection boots again.
            self.booted = False
            self.counters.resets += 1
            self.reset_pending = self._reset_on_idle = False
            return
        task = asyncio.create_task(self._reboot(ws, graceful))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _reboot(self, ws: ClientConnection, graceful: bool) -> None:
        """Go down for a reset: a graceful one first lets the ended sessions queue their
        stop and sends it (1.6 Soft, 2.0.1); a hard one goes at once and the stop
        follows the boot (1.6 5.14). Bounded: a CSMS that does not answer cannot stop it."""
        if graceful:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + max(self.call_timeout, 1.0)
            tasks = [t for c, t in self._session_tasks.items() if c in self.active]
            if tasks:
                await asyncio.wait(tasks, timeout=max(0.0, deadline - loop.time()))
            # The sender drains the outbox; poll it (bounded by the deadline).
            while self.outbox.pending_for(None) and loop.time() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        self.state.reset_requested = True
        await ws.close()

    def _find(self, transaction_id: object) -> Session | None:
        for session in self.active.values():
            if session.transaction_id == transaction_id and not session.ended:
                return session
        return None

    def _remote_stop(self, transaction_id: object) -> m.Payload:
        session = self._find(transaction_id)
        if session is None:
            return {"status": "Rejected"}
        self.counters.remote_stops += 1
        session.stop_reason = "Remote"
        wake = self._wake.get(session.connector_id)
        if wake is not None:
            wake.set()
        return {"status": "Accepted"}

    def _trigger_meter_values(self, connector: int | None, as_event: bool) -> bool:
        sessions = [s for c, s in self.active.items() if connector in (None, 0, c) and not s.ended]
        if as_event and not sessions:
            return False

        def send() -> None:
            ts = m.now_iso()
            for s in sessions:
                self._enqueue(s, *s.periodic(ts, offline=False, trigger="Trigger"))
            if not sessions and not as_event:
                c = connector or self.session_connectors[0]
                sample = Charge(new_ev(self.cfg, self.rng), self.registers[c]).sample()
                values = tx.meter_value(self.protocol, ts, sample, tx.TRIGGER, full=False)
                payload = (
                    tx.meter_values_16(c, None, values)
                    if self.v16
                    else tx.meter_values_2x(c, values)
                )
                self._put(Queued("MeterValues", payload, transactional=False))

        self._after_answer.append(send)
        return True

    def _answer_16(self) -> dict[str, Callable[[dict[str, Any]], m.Payload]]:
        def remote_start(payload: dict[str, Any]) -> m.Payload:
            wanted = payload.get("connectorId")
            connector = self._free_connector(wanted if isinstance(wanted, int) else None)
            id_tag = str(payload.get("idTag", ""))
            if connector is None or not id_tag:
                return {"status": "Rejected"}
            profile = payload.get("chargingProfile")
            if profile is not None and not self.smart.remote_start_profile(connector, profile):
                return {"status": "Rejected"}  # 1.6 5.11: only a TxProfile, no transactionId
            self.counters.remote_starts += 1
            # AuthorizeRemoteTxRequests is false: start without an Authorize first.
            self._after_answer.append(
                lambda: self._spawn_session(connector, id_tag, tx.ID_TOKEN_TYPE, remote=True)
            )
            return {"status": "Accepted"}

        def remote_stop(payload: dict[str, Any]) -> m.Payload:
            return self._remote_stop(payload.get("transactionId"))

        return {
            "RemoteStartTransaction": remote_start,
            "RemoteStopTransaction": remote_stop,
        }

    def _answer_2x(self) -> dict[str, Callable[[dict[str, Any]], m.Payload]]:
        def request_start(payload: dict[str, Any]) -> m.Payload:
            wanted = payload.get("evseId")
            connector = self._free_connector(wanted if isinstance(wanted, int) else None)
            token = payload.get("idToken") or {}
            value, kind = str(token.get("idToken", "")), str(token.get("type", "Central"))
            remote_start_id = payload.get("remoteStartId")
            if connector is None or not isinstance(remote_start_id, int):
                return {"status": "Rejected"}
            profile = payload.get("chargingProfile")
            if profile is not None and not self.smart.remote_start_profile(connector, profile):
                return {"status": "Rejected"}  # 2.0.1 F01: a TxProfile without transactionId
            self.counters.remote_starts += 1
            # OCPP 2.0.1 F02 (remote start first): answer Accepted, then start the
            # transaction with triggerReason RemoteStart and the remoteStartId.
            self._after_answer.append(
                lambda: self._spawn_session(
                    connector, value, kind, remote=True, remote_start_id=remote_start_id
                )
            )
            return {"status": "Accepted"}

        def request_stop(payload: dict[str, Any]) -> m.Payload:
            return self._remote_stop(payload.get("transactionId"))

        def transaction_status(payload: dict[str, Any]) -> m.Payload:
            # OCPP 2.0.1 E14: are messages of (this) transaction still queued; is it ongoing.
            tid = payload.get("transactionId")
            result: m.Payload = {"messagesInQueue": self.outbox.pending_for(tid)}
            if tid is not None:
                result["ongoingIndicator"] = self._find(tid) is not None
            return result

        return {
            "RequestStartTransaction": request_start,
            "RequestStopTransaction": request_stop,
            "GetTransactionStatus": transaction_status,
        }

    # ---- outgoing CALLs -----------------------------------------------------------

    def _new_uid(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def _exchange(
        self, action: str, payload: dict[str, Any], unique_id: str | None = None
    ) -> tuple[str, Any]:
        """One CALL and its answer: ("result", payload) | ("error", frame) | ("timeout",
        None) | ("closed", None). At most one CALL is outstanding (OCPP-J rule)."""
        ws = self._ws
        if ws is None:
            return "closed", None
        async with self._lock:
            if self._ws is not ws:
                return "closed", None
            uid = unique_id or self._new_uid()
            fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            self._pending[uid] = fut
            try:
                await ws.send(orjson.dumps([m.CALL, uid, action, payload]), text=True)
            except ConnectionClosed:
                self._pending.pop(uid, None)
                return "closed", None
            self.counters.calls_sent += 1
            try:
                async with asyncio.timeout(self.call_timeout):
                    reply = await fut
            except TimeoutError:
                self._pending.pop(uid, None)
                self.counters.call_timeouts += 1
                log.debug("%s: %s timed out", self.station_id, action)
                return "timeout", None
        if reply is _CLOSED:
            return "closed", None
        if reply[0] == m.CALLRESULT:
            self.counters.call_results += 1
            return "result", reply[2] if isinstance(reply[2], dict) else {}
        self.counters.call_errors += 1
        log.debug("%s: %s answered with %r", self.station_id, action, reply)
        return "error", reply

    async def _call(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        kind, reply = await self._exchange(action, payload)
        return reply if kind == "result" else None

    async def _boot(self) -> None:
        while True:
            boot = m.boot_notification(self.protocol, self.station_id, self.state.firmware_version)
            if not self.v16 and self.firmware.installed_pending:
                boot["reason"] = "FirmwareUpdate"  # 2.x BootReasonEnumType
            reply = await self._call("BootNotification", boot)
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
                task = asyncio.create_task(self.firmware.booted())  # Installed, if rebooted so
                self._background.add(task)
                task.add_done_callback(self._background.discard)
                if self.certificates.sign_at_boot:
                    sign = asyncio.create_task(self._sign_at_boot())
                    self._background.add(sign)
                    sign.add_done_callback(self._background.discard)
                return
            if status == "Pending":
                self.counters.boots_pending += 1
            else:
                self.counters.boots_rejected += 1
            # OCPP 1.6 4.2 / 2.0.1 B02.FR.02: retry after the interval the CSMS gave.
            await asyncio.sleep(seconds or 30.0)

    async def _sign_at_boot(self) -> None:
        await self.certificates.request_certificate()

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
        # Replay what was queued while offline, in order (OCPP 2.0.1 E12, 1.6 4.7).
        sender = asyncio.create_task(self._sender())
        self._background.add(sender)
        sender.add_done_callback(self._background.discard)
        loop = asyncio.get_running_loop()
        now = loop.time()
        next_heartbeat = now + self.state.heartbeat_interval
        change_interval = self.status_change_interval if not self.local_sessions else 0.0
        next_change = (
            now + self.rng.uniform(0.1, 1.0) * change_interval if change_interval > 0 else None
        )
        while True:
            wake_at = next_heartbeat if next_change is None else min(next_heartbeat, next_change)
            await asyncio.sleep(max(0.0, wake_at - loop.time()))
            now = loop.time()
            if now >= next_heartbeat:
                await self._heartbeat()
                next_heartbeat = loop.time() + self.state.heartbeat_interval
            if next_change is not None and now >= next_change:
                changeable = [
                    c
                    for c in self.session_connectors
                    if c not in self._session_tasks and self._idle_status(c) == "Available"
                ]
                if changeable:
                    connector = self.rng.choice(changeable)
                    self.statuses[connector] = m.next_status(
                        self.protocol, self.statuses[connector]
                    )
                    await self._send_status(connector)
                next_change = loop.time() + self.rng.uniform(0.5, 1.5) * change_interval

    # ---- the outbox -------------------------------------------------------------------

    @property
    def online(self) -> bool:
        return self.connected and self.booted and self._ws is not None

    def _put(self, item: Queued) -> None:
        self.outbox.put(item)
        if len(self.outbox) > self.counters.queue_peak:
            self.counters.queue_peak = len(self.outbox)
        self._outbox_ready.set()

    def _enqueue(self, session: Session, action: str, payload: m.Payload) -> None:
        before = self.outbox.dropped
        self._put(Queued(action, payload, session, created_offline=not self.online))
        self.counters.queue_dropped += self.outbox.dropped - before

    def _set_status(self, connector: int, status: str) -> None:
        self.statuses[connector] = status
        if self.online:
            payload = m.status_notification(self.protocol, connector, status)
            self._put(Queued("StatusNotification", payload, transactional=False))

    async def _sender(self) -> None:
        """Send the outbox head until acknowledged; one message at a time, in order."""
        cfg = self.cfg
        while True:
            item = self.outbox.head()
            if item is None:
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
                continue
            if item.unique_id is None:
                item.unique_id = self._new_uid()
            kind, reply = await self._exchange(item.action, item.payload, item.unique_id)
            if kind == "closed":
                return  # the connection is gone; run() reconnects and a new sender resumes
            if kind == "timeout":
                # The answer is unknown: retransmit with the same unique id.
                if not item.transactional:
                    self.outbox.pop()
                continue
            if kind == "error":
                item.unique_id = None  # it was answered: a retry is a new message
                item.attempts += 1
                if not item.transactional or item.attempts >= cfg.message_attempts:
                    self.outbox.pop()
                    if item.transactional:
                        self.counters.tx_messages_discarded += 1
                    continue
                # OCPP 1.6 TransactionMessageRetryInterval / 2.0.1 E13
                # MessageAttemptInterval: wait longer after every failed attempt.
                await asyncio.sleep(cfg.retry_interval * item.attempts)
                continue
            self.outbox.pop()
            self._acked(item, reply)
            if item.transactional and cfg.duplicate_rate and self.rng.random() < cfg.duplicate_rate:
                self.counters.duplicates_sent += 1
                kind2, reply2 = await self._exchange(item.action, item.payload, item.unique_id)
                if kind2 == "result" and reply2 != reply:
                    self.counters.duplicate_mismatches += 1
                    log.info(
                        "%s: resent %s %s got %r, first answer %r",
                        self.station_id,
                        item.action,
                        item.unique_id,
                        reply2,
                        reply,
                    )

    def _acked(self, item: Queued, reply: dict[str, Any]) -> None:
        c = self.counters
        if not item.transactional:
            if item.action == "StatusNotification":
                c.status_notifications += 1
            return
        c.tx_messages_acked += 1
        if item.created_offline:
            c.replayed += 1
        n = _sampled_count(item.payload) + len(item.payload.get("transactionData", ()))
        c.sampled_values_acked += n
        session = item.session
        if item.action == "MeterValues" or (
            item.action == "TransactionEvent"
            and item.payload.get("eventType") == "Updated"
            and "meterValue" in item.payload
        ):
            c.meter_values_acked += 1
        if session is None:
            return
        info: Any = None
        if item.action == "StartTransaction":
            tid = reply.get("transactionId")
            if isinstance(tid, int):
                self.outbox.assign_transaction_id(session, tid)
            info = reply.get("idTagInfo")
        elif item.action == "TransactionEvent":
            info = reply.get("idTokenInfo")
        status = info.get("status") if isinstance(info, dict) else None
        if status not in (None, "Accepted") and not session.ended:
            # 1.6 StopTransactionOnInvalidId / 2.0.1 E05: the CSMS refused the id token.
            session.stop_reason = "DeAuthorized"
            wake = self._wake.get(session.connector_id)
            if wake is not None:
                wake.set()

    # ---- charging sessions --------------------------------------------------------------

    def _meter_interval(self) -> float:
        if self.v16:
            raw = self.state.config16["MeterValueSampleInterval"][0]
        else:
            raw = self.state.variables[("SampledDataCtrlr", "TxUpdatedInterval")][0]
        try:
            seconds = float(raw)
        except ValueError:
            seconds = self.cfg.meter_interval
        # 0 switches periodic sampling off (1.6 MeterValueSampleInterval).
        return seconds if seconds > 0 else float("inf")

    async def _plug_in_loop(self, connector: int) -> None:
        """EVs arrive at this connector with an RFID card, charge, leave, and so on."""
        cfg = self.cfg
        await asyncio.sleep(self.rng.uniform(0.0, max(cfg.idle_time, 0.5)))
        while True:
            task = self._session_tasks.get(connector)
            if task is None and self.booted and self._usable(connector):
                slot = self.token_index * len(self.session_connectors)
                slot += self.session_connectors.index(connector)
                token = cfg.id_tokens[slot % len(cfg.id_tokens)]
                token_type = tx.ID_TOKEN_TYPE
                if self.pnc is not None and connector == self.session_connectors[0]:
                    contract = await self.pnc.contract_token() if self.online else None
                    token, token_type = contract or (token, token_type)
                self._spawn_session(connector, token, token_type, remote=False)
                task = self._session_tasks.get(connector)
            if task is not None:
                await asyncio.wait({task})
            idle = self.rng.expovariate(1.0 / cfg.idle_time) if cfg.idle_time > 0 else 0.0
            await asyncio.sleep(max(idle, 0.2))

    def present_card(self, connector: int, id_token: str, token_type: str = "ISO14443") -> bool:
        """A driver plugs in at `connector` and presents `id_token` (authorized by the
        CSMS as any card is); False if a session runs there already."""
        if connector in self._session_tasks:
            return False
        self._spawn_session(connector, id_token, token_type, remote=False)
        return True

    def _spawn_session(
        self,
        connector: int,
        id_token: str,
        token_type: str,
        *,
        remote: bool,
        remote_start_id: int | None = None,
    ) -> None:
        if connector in self._session_tasks:
            return
        task = asyncio.create_task(
            self._charge(connector, id_token, token_type, remote, remote_start_id),
            name=f"{self.station_id}-{connector}",
        )
        self._session_tasks[connector] = task
        task.add_done_callback(lambda _t: self._session_tasks.pop(connector, None))

    async def _authorize(self, id_token: str, token_type: str) -> bool:
        known = id_token in self.cfg.id_tokens
        if not self.online:
            # Local authorization while offline (1.6 LocalAuthorizeOffline, 2.0.1
            # C12/OfflineTxForUnknownIdEnabled off): only the tokens the station knows.
            return known
        self.counters.authorizations += 1
        if self.pnc is not None and token_type == PNC_TOKEN_TYPE:
            accepted = await self.pnc.authorize(id_token)
            return known if accepted is None else accepted
        kind, reply = await self._exchange(
            "Authorize", tx.authorize(self.protocol, id_token, token_type)
        )
        if kind != "result":
            return known
        info = reply.get("idTagInfo" if self.v16 else "idTokenInfo")
        return isinstance(info, dict) and info.get("status") == "Accepted"

    async def _charge(
        self,
        connector: int,
        id_token: str,
        token_type: str,
        remote: bool,
        remote_start_id: int | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        cfg, rng = self.cfg, self.rng
        charge = Charge(new_ev(cfg, rng, self.max_current_a), register_wh=self.registers[connector])
        s = Session(
            self.protocol,
            connector,
            id_token,
            charge,
            token_type=token_type,
            remote_start_id=remote_start_id,
        )
        wake = asyncio.Event()
        self.active[connector] = s
        self._wake[connector] = wake
        self.counters.sessions_started += 1
        try:
            if not await self._begin(s, remote):
                self.counters.sessions_rejected += 1
                self._set_status(connector, self._idle_status(connector))
                return
            reason = await self._meter(s, wake)
            s.stop_reason = reason
            self._enqueue(s, *s.stop(m.now_iso(), reason, offline=not self.online, now=loop.time()))
            self.counters.sessions_completed += 1
            self.counters.energy_wh += int(charge.register_wh) - int(self.registers[connector])
            if self.v16:
                self._set_status(connector, "Finishing")
            # Available, or Unavailable after a Scheduled ChangeAvailability Inoperative.
            self._set_status(connector, self._idle_status(connector))
            self.completed = [*self.completed[-9:], s]
        finally:
            self.registers[connector] = charge.register_wh
            self.active.pop(connector, None)
            self.smart.transaction_ended(connector)
            self._wake.pop(connector, None)
            if self._reset_on_idle and not self.active:
                # 2.0.1 B12.FR.01: the last transaction has ended: reset now.
                self._reset_on_idle = False
                self._start_reboot(graceful=True)

    async def _begin(self, s: Session, remote: bool) -> bool:
        """Plug in and authorize; True when the transaction started."""
        loop = asyncio.get_running_loop()
        c = s.connector_id
        if self.v16:
            self._set_status(c, "Preparing")
            if not remote and not await self._authorize(s.id_token, s.token_type):
                return False
            s.started_at = loop.time()
            self._enqueue(s, *s.start(m.now_iso(), "", offline=not self.online, authorized=True))
            self._set_status(c, "Charging")
            return True
        self._set_status(c, "Occupied")
        s.transaction_id = new_transaction_id(self.rng)
        if remote:
            s.started_at = loop.time()
            start = s.start(m.now_iso(), "RemoteStart", offline=not self.online, authorized=True)
            self._enqueue(s, *start)
            return True
        # OCPP 2.0.1 E02 (cable plugged in first, TxStartPoint EVConnected): the
        # transaction starts at plug-in; authorization follows as an Updated event.
        start = s.start(m.now_iso(), "CablePluggedIn", offline=not self.online, authorized=False)
        self._enqueue(s, *start)
        if not await self._authorize(s.id_token, s.token_type):
            # E05: not accepted; the driver unplugs, the transaction ends.
            self._enqueue(
                s, *s.stop(m.now_iso(), "DeAuthorized", offline=not self.online, now=loop.time())
            )
            return False
        s.started_at = loop.time()
        self._enqueue(s, *s.authorized(m.now_iso(), offline=not self.online))
        return True

    async def _meter(self, s: Session, wake: asyncio.Event) -> str:
        """Charge until a stop; returns the stop reason."""
        loop = asyncio.get_running_loop()
        cfg = self.cfg
        charge = s.charge
        end_at = s.started_at + self.rng.uniform(0.5, 1.5) * cfg.session_duration
        if cfg.ev_charging_needs and not self.v16 and self.online:
            # 2.0.1 K15: an ISO 15118 car tells its needs once the transaction runs.
            needs = ev_charging_needs(
                s.connector_id, charge, departure_at(end_at - loop.time()), self.max_current_a
            )
            self._put(Queued("NotifyEVChargingNeeds", needs, transactional=False))
        last = loop.time()
        next_sample = last + self._meter_interval()
        cap_change = self._apply_cap(s)
        suspended = False
        while True:
            timeout = max(0.0, min(next_sample, end_at, cap_change) - loop.time())
            if not wake.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await wake.wait()
            wake.clear()
            now = loop.time()
            charge.advance(now - last)
            last = now
            cap_change = self._apply_cap(s)
            if s.stop_reason is not None:
                return s.stop_reason
            if now >= end_at:
                return "Local"
            if cfg.target_soc is not None and charge.soc >= cfg.target_soc:
                charge.charging = False
                return "EVDisconnected" if self.v16 else "SOCLimitReached"
            if charge.soc >= 100.0 and not suspended:
                suspended = True
                charge.charging = False
                if self.v16:
                    self._set_status(s.connector_id, "SuspendedEV")
                else:
                    self._enqueue(s, *s.suspended(m.now_iso(), offline=not self.online))
            if now >= next_sample:
                payload = s.periodic(m.now_iso(), offline=not self.online, full=cfg.full_sample)
                self._enqueue(s, *payload)
                next_sample += self._meter_interval()
                if next_sample <= now:
                    next_sample = now + self._meter_interval()
