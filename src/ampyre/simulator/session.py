"""Charging sessions of a simulated station: the per-transaction state and the outbox.

No I/O here. `Session` turns what happens at a connector (plug-in, authorization,
metering, stop) into the OCPP messages of the station's version; `Outbox` holds the
transaction-related messages in order until the CSMS acknowledged them, which is what
keeps a session going while the station is offline:

* OCPP 1.6 (4.7 "Transaction-related messages", 3.17 "offline transactions"): the
  station starts and stops transactions while offline and delivers StartTransaction,
  MeterValues and StopTransaction later, in order. It learns the transactionId only
  from the StartTransaction answer, so messages queued behind the start carry no id yet
  and are rewritten when the answer arrives (`Outbox.assign_transaction_id`).
* OCPP 2.0.1 E04/E08/E12: TransactionEvents that happened while offline are queued with
  their real timestamps and ``offline: true`` and sent in order on reconnect; the
  transactionId is the station's own string, so nothing needs rewriting.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from random import Random

from ampyre.simulator import txmessages as tx
from ampyre.simulator.messages import Payload, is_v16
from ampyre.simulator.power import NOMINAL_VOLTAGE_AC, Charge, EvModel, default_phases

DEFAULT_ID_TOKENS = ("SIMTAG0001", "SIMTAG0002", "SIMTAG0003")

# Messages that may be dropped when the outbox is full (never a start or a stop).
DROPPABLE = frozenset({"MeterValues"})


@dataclass(slots=True)
class SessionConfig:
    """How simulated stations charge; shared by all stations of a simulation."""

    id_tokens: tuple[str, ...] = DEFAULT_ID_TOKENS
    meter_interval: float = 60.0  # seconds between periodic meter values
    session_duration: float = 600.0  # mean seconds of charging before a local stop
    idle_time: float = 60.0  # mean seconds a connector stays free between sessions
    target_soc: float | None = None  # stop when the EV reaches this SoC (percent)
    max_power_kw: float = 22.0  # the station's limit; > 22 kW makes it a DC charger
    local_sessions: bool = True  # False: only remote starts
    full_sample: bool = True  # power/current/voltage/SoC besides the energy register
    duplicate_rate: float = 0.0  # share of acked transaction messages sent again
    queue_limit: int = 5_000  # queued messages per station before meter values are dropped
    message_attempts: int = 5  # tries of a transaction message answered with CALLERROR
    retry_interval: float = 2.0  # seconds, times the attempt number
    # Smart charging (issue 18; simulator/smart_charging.py).
    max_currents_a: tuple[float, ...] = ()  # per-phase max of station k: [k % len]; () = none
    single_phase_share: float = 0.0  # share of AC cars that charge on one phase (L1)
    ev_charging_needs: bool = False  # 2.x ISO 15118 cars: NotifyEVChargingNeeds at start

    def __post_init__(self) -> None:
        if not self.id_tokens:
            raise ValueError("at least one id token is needed")
        for token in self.id_tokens:
            if not 0 < len(token) <= 20:  # 1.6 IdToken is CiString20Type
                raise ValueError(f"id token {token!r} must have 1..20 characters")
        if self.meter_interval <= 0:
            raise ValueError("meter interval must be > 0")
        if self.session_duration <= 0:
            raise ValueError("session duration must be > 0")
        if self.idle_time < 0:
            raise ValueError("idle time must be >= 0")
        if self.max_power_kw <= 0:
            raise ValueError("maximum power must be > 0")
        if self.target_soc is not None and not 0 < self.target_soc <= 100:
            raise ValueError("target SoC must be within 0..100")
        if not 0.0 <= self.duplicate_rate <= 1.0:
            raise ValueError("duplicate rate must be within 0..1")
        if self.queue_limit < 10:
            raise ValueError("queue limit must be >= 10")
        if any(a <= 0 for a in self.max_currents_a):
            raise ValueError("maximum currents must be > 0")
        if not 0.0 <= self.single_phase_share <= 1.0:
            raise ValueError("single-phase share must be within 0..1")


def new_ev(config: SessionConfig, rng: Random, max_current_a: float | None = None) -> EvModel:
    """A plausible EV: 40-100 kWh battery, 7.4-150 kW on-board limit, 10-60 % SoC; a
    `single_phase_share` of AC cars charge on one phase (3.7 or 7.4 kW). With
    `max_current_a` the station gives at most that many A per phase (AC)."""
    station_w = config.max_power_kw * 1000.0
    phases = default_phases(station_w)
    if phases:
        ev_w = rng.choice((7_400.0, 11_000.0, 11_000.0, 22_000.0))
        if config.single_phase_share and rng.random() < config.single_phase_share:
            phases = 1
            ev_w = rng.choice((3_700.0, 7_400.0))
        if max_current_a is not None:
            station_w = min(station_w, max_current_a * NOMINAL_VOLTAGE_AC * phases)
    else:
        ev_w = rng.choice((50_000.0, 100_000.0, 150_000.0))
    return EvModel(
        station_max_w=station_w,
        ev_max_w=ev_w,
        capacity_wh=rng.choice((40_000.0, 60_000.0, 77_000.0, 100_000.0)),
        start_soc=round(rng.uniform(10.0, 60.0), 1),
        phases=phases,
    )


def new_transaction_id(rng: Random) -> str:
    """A 2.x transactionId (the station's own, <= 36 characters)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(slots=True, eq=False)
class Session:
    """One transaction at one connector (1.6) / EVSE (2.x)."""

    protocol: str
    connector_id: int  # 1.6 connectorId, 2.x evseId (connector 1 of it)
    id_token: str
    charge: Charge
    token_type: str = tx.ID_TOKEN_TYPE
    remote_start_id: int | None = None
    # 1.6: the id issued by the CSMS (None until the StartTransaction answer);
    # 2.x: the station's own string.
    transaction_id: int | str | None = None
    seq_no: int = 0  # 2.x: the next TransactionEvent's seqNo
    ended: bool = False
    stop_reason: str | None = None  # set by a remote stop / deauthorization
    started_at: float = 0.0  # loop time charging began (timeSpentCharging)
    begin: Payload | None = None  # 1.6: the Transaction.Begin reading (transactionData)
    meter_start: int | None = None  # register (Wh) reported at the start
    meter_stop: int | None = None  # register (Wh) reported at the stop

    @property
    def v16(self) -> bool:
        return is_v16(self.protocol)

    def _next_seq(self) -> int:
        # OCPP 2.0.1 TransactionEventRequest.seqNo: 0 for the first event of a
        # transaction, +1 for every following event of it (gaps tell the CSMS of loss).
        seq = self.seq_no
        self.seq_no += 1
        return seq

    def _event(
        self,
        event_type: str,
        ts: str,
        trigger: str,
        *,
        offline: bool,
        context: str | None = None,
        full: bool = True,
        **info: object,
    ) -> Payload:
        values = None
        if context is not None:
            values = [tx.meter_value(self.protocol, ts, self.charge.sample(), context, full=full)]
        assert isinstance(self.transaction_id, str)
        return tx.transaction_event(
            event_type,
            ts,
            trigger,
            self._next_seq(),
            self.transaction_id,
            meter_values=values,
            offline=offline,
            **info,  # type: ignore[arg-type]
        )

    # ---- messages, in session order ---------------------------------------------------

    def start(
        self, ts: str, trigger: str, *, offline: bool, authorized: bool
    ) -> tuple[str, Payload]:
        """1.6 StartTransaction, or 2.x TransactionEvent Started.

        2.x ``trigger``: CablePluggedIn (E02, cable first: not yet authorized, state
        EVConnected), Authorized (E03, id token first) or RemoteStart (F02).
        """
        sample = self.charge.sample()
        self.meter_start = sample.register_wh
        if self.v16:
            self.begin = tx.meter_value(self.protocol, ts, sample, tx.BEGIN, full=False)
            return "StartTransaction", tx.start_transaction(
                self.connector_id, self.id_token, sample.register_wh, ts
            )
        phases = self.charge.model.phases or None
        payload = self._event(
            "Started",
            ts,
            trigger,
            offline=offline,
            context=tx.BEGIN,
            full=False,
            charging_state="Charging" if authorized else "EVConnected",
            remote_start_id=self.remote_start_id,
            evse_id=self.connector_id,
            connector_id=1,
            id_token=self.id_token if authorized else None,
            token_type=self.token_type,
            phases=phases,
        )
        return "TransactionEvent", payload

    def authorized(self, ts: str, *, offline: bool) -> tuple[str, Payload]:
        """2.x E02: the id token was accepted after the cable was plugged in."""
        return "TransactionEvent", self._event(
            "Updated",
            ts,
            "Authorized",
            offline=offline,
            charging_state="Charging",
            id_token=self.id_token,
            token_type=self.token_type,
        )

    def periodic(
        self, ts: str, *, offline: bool, full: bool = True, trigger: str = "MeterValuePeriodic"
    ) -> tuple[str, Payload]:
        """1.6 MeterValues / 2.x TransactionEvent Updated with Sample.Periodic values
        (OCPP 2.0.1 J02: sampled data during a transaction goes in TransactionEvent)."""
        context = tx.PERIODIC if trigger == "MeterValuePeriodic" else tx.TRIGGER
        if self.v16:
            values = tx.meter_value(self.protocol, ts, self.charge.sample(), context, full=full)
            tid = self.transaction_id if isinstance(self.transaction_id, int) else None
            return "MeterValues", tx.meter_values_16(self.connector_id, tid, values)
        return "TransactionEvent", self._event(
            "Updated", ts, trigger, offline=offline, context=context, full=full
        )

    def suspended(self, ts: str, *, offline: bool) -> tuple[str, Payload]:
        """2.x: the EV stopped drawing power (battery full or target SoC reached)."""
        return "TransactionEvent", self._event(
            "Updated",
            ts,
            "ChargingStateChanged",
            offline=offline,
            charging_state="SuspendedEV",
        )

    def stop(self, ts: str, reason: str, *, offline: bool, now: float) -> tuple[str, Payload]:
        """1.6 StopTransaction with meterStop and transactionData, or 2.x TransactionEvent
        Ended with stoppedReason (OCPP 2.0.1 E06/E07, F03 for a remote stop)."""
        self.ended = True
        sample = self.charge.sample()
        self.meter_stop = sample.register_wh
        if self.v16:
            end = tx.meter_value(self.protocol, ts, sample, tx.END, full=False)
            data = [self.begin, end] if self.begin is not None else [end]
            tid = self.transaction_id if isinstance(self.transaction_id, int) else None
            return "StopTransaction", tx.stop_transaction(
                tid,
                sample.register_wh,
                ts,
                reason,
                id_tag=self.id_token if reason == "Local" else None,
                transaction_data=data,
            )
        trigger = {
            "Local": "StopAuthorized",
            "Remote": "RemoteStop",
            "DeAuthorized": "Deauthorized",
            "EVDisconnected": "EVDeparted",
            "SOCLimitReached": "EVDeparted",
            "ImmediateReset": "ResetCommand",  # OCPP 2.0.1 B12
        }.get(reason, "AbnormalCondition")
        return "TransactionEvent", self._event(
            "Ended",
            ts,
            trigger,
            offline=offline,
            context=tx.END,
            full=False,
            charging_state="EVConnected" if reason != "EVDisconnected" else "Idle",
            stopped_reason=reason,
            time_spent_charging=int(max(0.0, now - self.started_at)),
            id_token=self.id_token if reason == "Local" else None,
            token_type=self.token_type,
        )


@dataclass(slots=True, eq=False)
class Queued:
    """One message waiting for the CSMS's answer."""

    action: str
    payload: Payload
    session: Session | None = None
    transactional: bool = True  # False: StatusNotification etc., dropped when offline
    unique_id: str | None = None  # kept while the answer is unknown (retransmission)
    attempts: int = 0  # CALLERRORs so far
    created_offline: bool = False  # queued while the station had no CSMS connection


@dataclass(slots=True)
class Outbox:
    """Ordered messages of one station, bounded; survives reconnects."""

    limit: int = 5_000
    items: deque[Queued] = field(default_factory=deque)
    dropped: int = 0

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Queued]:
        return iter(self.items)

    def put(self, item: Queued) -> None:
        if len(self.items) >= self.limit:
            # Keep starts and stops: drop the oldest periodic meter value instead.
            for old in self.items:
                if old.action in DROPPABLE and old.unique_id is None:
                    self.items.remove(old)
                    self.dropped += 1
                    break
            else:
                if item.action in DROPPABLE:
                    self.dropped += 1
                    return
        self.items.append(item)

    def head(self) -> Queued | None:
        return self.items[0] if self.items else None

    def pop(self) -> None:
        self.items.popleft()

    def drop_volatile(self) -> int:
        """Forget the non-transactional messages (status etc.): on reconnect the station
        reports its current state instead."""
        keep = deque(q for q in self.items if q.transactional)
        gone = len(self.items) - len(keep)
        self.items = keep
        return gone

    def pending_for(self, transaction_id: str | int | None) -> bool:
        return any(
            q.transactional
            and (
                transaction_id is None or (q.session and q.session.transaction_id == transaction_id)
            )
            for q in self.items
        )

    def assign_transaction_id(self, session: Session, transaction_id: int) -> int:
        """1.6: the StartTransaction answer gave the id; put it into the session's
        queued MeterValues and StopTransaction. Returns how many were rewritten."""
        session.transaction_id = transaction_id
        rewritten = 0
        for q in self.items:
            if q.session is session and q.action in ("MeterValues", "StopTransaction"):
                q.payload["transactionId"] = transaction_id
                rewritten += 1
        return rewritten
