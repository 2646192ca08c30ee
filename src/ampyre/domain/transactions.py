"""Charging transactions, version-neutral: what 1.6 StartTransaction / MeterValues /
StopTransaction and 2.0.1/2.1 TransactionEvent / MeterValues all reduce to.

A transaction is identified towards the station by `transaction_id` (a string, unique per
station: the station's own id in 2.x, the integer Ampyre issued in 1.6) and towards
operators by `id` (Ampyre's integer primary key, used in the REST API).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
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
    # 2.x seqNo values missing between the lowest and highest received (read side).
    missing_seq_nos: list[int] = field(default_factory=list)

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
