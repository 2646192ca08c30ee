"""Charging transactions, version-neutral: what 1.6 StartTransaction / MeterValues /
StopTransaction and 2.0.1/2.1 TransactionEvent / MeterValues all reduce to.

A transaction is identified towards the station by `transaction_id` (a string, unique per
station: the station's own id in 2.x, the integer Ampyre issued in 1.6) and towards
operators by `id` (Ampyre's integer primary key, used in the REST API).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# The measurand of cumulative energy; register readings give the transaction's energy.
ENERGY_REGISTER = "Energy.Active.Import.Register"


class EventKind(enum.StrEnum):
    """2.0.1 TransactionEventEnumType; 1.6 Start/Stop map to STARTED/ENDED and a 1.6
    MeterValues with a transactionId to UPDATED."""

    STARTED = "Started"
    UPDATED = "Updated"
    ENDED = "Ended"


class TransactionStatus(enum.StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


@dataclass(slots=True, frozen=True)
class SampledValue:
    """One sampled value as sent, with spec defaults applied where the station left a field
    out (1.6 7.45 / 2.0.1 SampledValueType) and its value in SI units beside it."""

    value: float | None  # None when not numeric (1.6 format SignedData)
    raw_value: str  # the value exactly as sent (1.6 sends strings, 2.x numbers)
    measurand: str = ENERGY_REGISTER
    phase: str | None = None
    location: str = "Outlet"
    context: str = "Sample.Periodic"
    unit: str = "Wh"  # unit as sent (2.x unitOfMeasure.unit)
    multiplier: int = 0  # 2.x unitOfMeasure.multiplier (power of ten)
    format: str | None = None  # 1.6 Raw / SignedData
    signed: dict[str, Any] | None = None  # 2.x signedMeterValue, as sent
    si_value: float | None = None  # value * 10**multiplier converted to the SI unit
    si_unit: str | None = None  # "Wh", "W", "A", "V", "Percent", "K", "Hz", "varh", ...


def delivered_wh(sample: SampledValue) -> float | None:
    """The Wh of a sample that measures the energy delivered to the EV, else None: the
    total (no phase) import register at the outlet, the spec's default location (an
    EV-side or inlet register is another meter). Start/stop meters and energy use only
    these."""
    if (
        sample.measurand == ENERGY_REGISTER
        and sample.phase is None
        and sample.location == "Outlet"
        and sample.si_unit == "Wh"
    ):
        return sample.si_value
    return None


@dataclass(slots=True, frozen=True)
class MeterReading:
    """One meterValue: a timestamp and what was sampled at it."""

    timestamp: datetime
    values: tuple[SampledValue, ...]


@dataclass(slots=True, frozen=True)
class TransactionEvent:
    """One transaction message from a station (see module docstring)."""

    station_id: str
    kind: EventKind
    timestamp: datetime  # when it happened at the station
    received_at: datetime
    # The station-facing id. None only for a 1.6 StartTransaction: Ampyre issues it.
    transaction_id: str | None
    # Duplicate detection for a 1.6 StartTransaction (connector, idTag, timestamp,
    # meterStart); a resent start gets the id issued the first time.
    start_key: str | None = None
    # Key of the event in the transaction's history, unique per transaction: "seq:N" for
    # 2.x (seqNo), "Started"/"Ended" for 1.6; None = no history row (1.6 MeterValues).
    event_key: str | None = None
    seq_no: int | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: str | None = None
    id_token_type: str | None = None
    auth_status: str | None = None  # what Ampyre answered for id_token
    trigger_reason: str | None = None
    charging_state: str | None = None
    stop_reason: str | None = None
    remote_start_id: int | None = None
    reservation_id: int | None = None
    offline: bool = False
    meter_values: tuple[MeterReading, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict)  # as received, for the history
    ocpp_version: str | None = None


@dataclass(slots=True, frozen=True)
class StoredEvent:
    """What the store answers for a recorded TransactionEvent."""

    id: int  # Ampyre's transaction id
    transaction_id: str  # the station-facing id (issued here for a 1.6 start)
    # The transaction as merged by this write (no missing_seq_nos); saves a read.
    transaction: Transaction = field(compare=False, repr=False)


@dataclass(slots=True, frozen=True)
class StationMeterValues:
    """Meter values outside any transaction (1.6 MeterValues without transactionId,
    2.x MeterValues)."""

    station_id: str
    evse_id: int
    connector_id: int | None
    readings: tuple[MeterReading, ...]
    received_at: datetime


@dataclass(slots=True)
class Transaction:
    id: int
    station_id: str
    transaction_id: str
    status: TransactionStatus
    ocpp_version: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: str | None = None
    id_token_type: str | None = None
    auth_status: str | None = None
    started_at: datetime | None = None  # earliest event time known
    ended_at: datetime | None = None
    start_seen: bool = False  # the Started event arrived (else reconstructed)
    stop_reason: str | None = None
    meter_start_wh: float | None = None  # earliest energy register reading
    meter_start_at: datetime | None = None
    meter_stop_wh: float | None = None  # latest energy register reading (so far)
    meter_stop_at: datetime | None = None
    charging_state: str | None = None
    remote_start_id: int | None = None
    reservation_id: int | None = None
    offline: bool = False  # some message was sent while the station was offline
    last_message_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Merge bookkeeping (see `merge`): 1 when the start/stop meter is the transaction's
    # own begin/end reading; the meter time of the current charging_state; 1.6 start key.
    meter_start_rank: int = 0
    meter_stop_rank: int = 0
    charging_state_at: datetime | None = None
    start_key: str | None = None
    # An operator's administrative close (`close`): who (API token name), why, when.
    closed_by: str | None = None
    close_reason: str | None = None
    closed_at: datetime | None = None
    # 2.x seqNo values missing between the lowest and highest received (read side).
    missing_seq_nos: list[int] = field(default_factory=list)
    # Whether the station is connected now (read side; None = not looked up).
    station_connected: bool | None = None

    @property
    def energy_wh(self) -> float | None:
        """Last register reading minus first, by meter timestamp (never arrival order)."""
        if self.meter_start_wh is None or self.meter_stop_wh is None:
            return None
        return self.meter_stop_wh - self.meter_start_wh


@dataclass(slots=True, frozen=True)
class TransactionFilter:
    station_id: str | None = None
    id_token: str | None = None
    status: TransactionStatus | None = None
    started_from: datetime | None = None  # started_at >= this
    started_to: datetime | None = None  # started_at < this
    remote_start_id: int | None = None
    # Only stale (True) or only not stale (False) transactions; see `is_stale`.
    stale: bool | None = None
    # Filled in by the service for `stale`: silent since before this time = stale.
    silent_before: datetime | None = None
    # Only transactions with a smaller id: pages of a long export (newest first) that
    # new transactions cannot shift.
    before_id: int | None = None


@dataclass(slots=True, frozen=True)
class StoredMeterValue:
    """A meter value row as the API shows it."""

    timestamp: datetime
    sample: SampledValue
    evse_id: int | None
    connector_id: int | None
    received_at: datetime


@dataclass(slots=True, frozen=True)
class EventRecord:
    """One entry of a transaction's event history."""

    kind: str
    event_key: str
    seq_no: int | None
    timestamp: datetime
    trigger_reason: str | None
    charging_state: str | None
    offline: bool
    payload: dict[str, Any]
    received_at: datetime


# ---------------------------------------------------------------------- the merge
#
# What a transaction is, given the events received for it, as pure functions: the SQL
# store applies the same rules in its upsert (adapters/db/transactions.py, tested against
# these functions) and the in-memory stores call them. The result does not depend on the
# order in which the events arrive nor on how often each arrives (ADR 0004):
# - the start meter is the Transaction.Begin energy-register reading (1.6 meterStart);
#   without one, the earliest reading by meter time (ties: the smaller value); the stop
#   meter likewise the Transaction.End reading (1.6 meterStop), else the latest (ties: the
#   larger). Only the outlet's total import register counts (`delivered_wh`);
# - an Ended event ends the transaction for good; its time and reason win over a close
#   Ampyre or an operator made earlier (`close`);
# - the Started event's time is the start; without one, the earliest event's time;
# - first-known values are kept (id token, EVSE, connector, remote start id,
#   reservation), flags only turn on (start seen, offline);
# - the charging state is the one of the latest event (by station time) that has one.
# Energy is the stop meter minus the start meter, never a sum of arrivals; seqNo gaps
# are computed from the stored history (`missing_seq_nos`).

BEGIN_CONTEXT, END_CONTEXT = "Transaction.Begin", "Transaction.End"
_FIRST_KNOWN = (
    "start_key",
    "evse_id",
    "connector_id",
    "id_token",
    "id_token_type",
    "auth_status",
    "remote_start_id",
    "reservation_id",
)


def register_readings(readings: Iterable[MeterReading]) -> list[tuple[datetime, float, str]]:
    """(meter time, Wh, context) of every reading of the energy delivered to the EV."""
    return [
        (r.timestamp, wh, s.context)
        for r in readings
        for s in r.values
        if (wh := delivered_wh(s)) is not None
    ]


def contribution(
    event: TransactionEvent, pk: int, transaction_id: str, now: datetime
) -> Transaction:
    """The transaction as this one event alone describes it (the row the SQL upsert
    inserts or merges into the stored one)."""
    registers = register_readings(event.meter_values)
    start: tuple[datetime | None, float | None, int] = (None, None, 0)
    stop: tuple[datetime | None, float | None, int] = (None, None, 0)
    if registers:
        at, wh, context = min(registers, key=lambda r: (r[2] != BEGIN_CONTEXT, r[0], r[1]))
        start = (at, wh, int(context == BEGIN_CONTEXT))
        at, wh, context = max(registers, key=lambda r: (r[2] == END_CONTEXT, r[0], r[1]))
        stop = (at, wh, int(context == END_CONTEXT))
    ended = event.kind is EventKind.ENDED
    return Transaction(
        id=pk,
        station_id=event.station_id,
        transaction_id=transaction_id,
        status=TransactionStatus.ENDED if ended else TransactionStatus.ACTIVE,
        ocpp_version=event.ocpp_version,
        evse_id=event.evse_id,
        connector_id=event.connector_id,
        id_token=event.id_token,
        id_token_type=event.id_token_type,
        auth_status=event.auth_status if event.id_token is not None else None,
        started_at=event.timestamp,
        ended_at=event.timestamp if ended else None,
        start_seen=event.kind is EventKind.STARTED,
        stop_reason=event.stop_reason,
        meter_start_at=start[0],
        meter_start_wh=start[1],
        meter_start_rank=start[2],
        meter_stop_at=stop[0],
        meter_stop_wh=stop[1],
        meter_stop_rank=stop[2],
        charging_state=event.charging_state,
        charging_state_at=event.timestamp if event.charging_state is not None else None,
        remote_start_id=event.remote_start_id,
        reservation_id=event.reservation_id,
        offline=event.offline,
        last_message_at=event.received_at,
        start_key=event.start_key,
        created_at=now,
        updated_at=now,
    )


def _better(
    new: tuple[datetime | None, float | None, int],
    old: tuple[datetime | None, float | None, int],
    later_wins: bool,
) -> bool:
    """Whether a new start (later_wins False) / stop (True) reading replaces the old one:
    a begin/end reading beats a sample, then the earlier (start) / later (stop) meter time,
    then the smaller (start) / larger (stop) value."""
    at, wh, rank = new
    old_at, old_wh, old_rank = old
    if at is None or wh is None:
        return False
    if old_at is None or old_wh is None or rank != old_rank:
        return old_at is None or old_wh is None or rank > old_rank
    if at != old_at:
        return (at > old_at) if later_wins else (at < old_at)
    return (wh > old_wh) if later_wins else (wh < old_wh)


def merge(current: Transaction | None, new: Transaction) -> Transaction:
    """`current` (the stored transaction, None if there is none) with one event's
    `contribution` merged into it (rules above). Pure: returns a new object."""
    if current is None:
        return dataclasses.replace(new, missing_seq_nos=[])
    old = current
    changes: dict[str, Any] = {
        name: getattr(old, name) if getattr(old, name) is not None else getattr(new, name)
        for name in _FIRST_KNOWN
    }
    if new.status is TransactionStatus.ENDED:
        changes["status"] = TransactionStatus.ENDED
    changes["ocpp_version"] = new.ocpp_version or old.ocpp_version
    if new.start_seen:
        started_at = new.started_at
    elif old.start_seen or old.started_at is None:
        started_at = old.started_at if old.start_seen else new.started_at
    elif new.started_at is not None and new.started_at < old.started_at:
        started_at = new.started_at
    else:
        started_at = old.started_at
    changes["started_at"] = started_at
    changes["ended_at"] = new.ended_at if new.ended_at is not None else old.ended_at
    changes["start_seen"] = old.start_seen or new.start_seen
    changes["stop_reason"] = new.stop_reason if new.stop_reason is not None else old.stop_reason
    for prefix, later_wins in (("meter_start", False), ("meter_stop", True)):
        fields = (f"{prefix}_at", f"{prefix}_wh", f"{prefix}_rank")
        if _better(
            tuple(getattr(new, f) for f in fields),
            tuple(getattr(old, f) for f in fields),
            later_wins,
        ):
            changes.update({f: getattr(new, f) for f in fields})
    if new.charging_state is not None and (
        old.charging_state_at is None
        or (new.charging_state_at is not None and new.charging_state_at >= old.charging_state_at)
    ):
        changes["charging_state"] = new.charging_state
        changes["charging_state_at"] = new.charging_state_at
    changes["offline"] = old.offline or new.offline
    if old.last_message_at is None or (
        new.last_message_at is not None and new.last_message_at > old.last_message_at
    ):
        changes["last_message_at"] = new.last_message_at
    changes["updated_at"] = new.updated_at
    return dataclasses.replace(old, **changes, missing_seq_nos=[])


def merge_events(
    events: Iterable[TransactionEvent], pk: int, transaction_id: str, now: datetime
) -> Transaction | None:
    """The transaction the events describe, merged in the order given (any order gives
    the same result); None for no events."""
    tx: Transaction | None = None
    for event in events:
        tx = merge(tx, contribution(event, pk, transaction_id, now))
    return tx


def close(
    tx: Transaction,
    at: datetime,
    reason: str,
    closed_by: str | None = None,
    note: str | None = None,
) -> Transaction:
    """End an active transaction on Ampyre's or an operator's decision (the station never
    reported its end): status ended at `at`; the meters known so far are final. The stop
    reason is `reason` unless one is known; `closed_by`/`note` record an operator's
    administrative close. An Ended event that arrives later still wins (`merge`)."""
    if tx.status is not TransactionStatus.ACTIVE:
        return dataclasses.replace(tx)
    changes: dict[str, Any] = {
        "status": TransactionStatus.ENDED,
        "ended_at": at,
        "stop_reason": tx.stop_reason if tx.stop_reason is not None else reason,
        "updated_at": at,
    }
    if closed_by is not None:
        changes.update(closed_by=closed_by, close_reason=note, closed_at=at)
    return dataclasses.replace(tx, **changes)


def meter_place(event: TransactionEvent, tx: Transaction) -> tuple[int, int]:
    """(EVSE, connector) an event's meter values are filed under: the event's own, else
    the transaction's (1.6 StopTransaction and 2.x Updated/Ended may name none), else 0."""
    evse = event.evse_id if event.evse_id is not None else tx.evse_id
    connector = event.connector_id if event.connector_id is not None else tx.connector_id
    return (evse if evse is not None else 0, connector if connector is not None else 0)


def is_stale(tx: Transaction, now: datetime, silence_timeout: timedelta) -> bool:
    """An active transaction nobody is going to finish: its station is not connected
    (`station_connected` False), or it has been silent for longer than the timeout."""
    if tx.status is not TransactionStatus.ACTIVE:
        return False
    if tx.station_connected is False:
        return True
    return tx.last_message_at is not None and tx.last_message_at < now - silence_timeout
