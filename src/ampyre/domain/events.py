"""Domain events: what happened to stations and transactions, as stored in the outbox
(written in the same commit as the data they describe) and read by its consumers
(webhooks now; OCPI and other nodes later)."""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ampyre.domain.models import StatusReport
from ampyre.domain.transactions import (
    EventKind,
    MeterReading,
    StoredEvent,
    Transaction,
    TransactionEvent,
    delivered_wh,
)


class EventType(enum.StrEnum):
    TRANSACTION_STARTED = "transaction.started"
    TRANSACTION_UPDATED = "transaction.updated"
    TRANSACTION_ENDED = "transaction.ended"
    STATION_CONNECTED = "station.connected"
    STATION_DISCONNECTED = "station.disconnected"
    STATION_STATUS_CHANGED = "station.status_changed"
    # Firmware updates and rollouts (issue 17 part 4, services/firmware*.py).
    FIRMWARE_STATUS_CHANGED = "firmware.status_changed"
    ROLLOUT_PROGRESS = "rollout.progress"
    ROLLOUT_FINISHED = "rollout.finished"
    # Alerts (issue 17 part 2, domain/alerts.py): written in the commit of the change.
    ALERT_RAISED = "alert.raised"
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    ALERT_CLEARED = "alert.cleared"
    # Log uploads (issue 17 part 5, services/logs.py): a request's upload status changed
    # or its file arrived; written in the commit of the change.
    LOG_STATUS_CHANGED = "log.status_changed"
    # Site load management (issue 18 part 4, services/balancer.py): a site's EVSEs are
    # held back by one of its limits / no longer; written with the allocation decision.
    SITE_AT_LIMIT = "site.at_limit"
    SITE_BELOW_LIMIT = "site.below_limit"


@dataclass(slots=True, frozen=True)
class DomainEvent:
    type: EventType
    at: datetime
    station_id: str
    data: dict[str, Any] = field(default_factory=dict)  # JSON-ready


@dataclass(slots=True)
class Webhook:
    url: str
    secret: str
    event_types: list[str]  # EventType values; empty = all
    enabled: bool = True
    description: str | None = None
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # gave up after the last attempt


@dataclass(slots=True)
class Delivery:
    id: int
    webhook_id: int
    event_type: str
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime | None = None
    delivered_at: datetime | None = None
    event_id: int | None = None  # the outbox event it was made from; None: a ping
    # The lease of the process making the current attempt (webhook_deliveries columns).
    claimed_by: str | None = None
    claimed_until: datetime | None = None


@dataclass(slots=True, frozen=True)
class OutboxEvent:
    """A domain event as stored in the outbox: `id` orders the outbox (a consumer's cursor
    is the id of the last event it handled)."""

    id: int
    type: str
    at: datetime
    station_id: str | None
    data: dict[str, Any]
    created_at: datetime


# ---------------------------------------------------------------------- what events say
# Pure functions: the store calls them while it writes the data an event describes, so
# the event is committed with its data (the transactional outbox).


def json_safe(data: dict[str, Any]) -> dict[str, Any]:
    """`data` as plain JSON values (a stray datetime or Decimal becomes text), so that one
    odd value cannot make a batch unstorable."""
    safe: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return safe


def connection_event(
    station_id: str, connected: bool, at: datetime, ocpp_version: str | None
) -> DomainEvent:
    kind = EventType.STATION_CONNECTED if connected else EventType.STATION_DISCONNECTED
    return DomainEvent(kind, at, station_id, {"ocpp_version": ocpp_version})


def status_event(report: StatusReport) -> DomainEvent:
    return DomainEvent(
        EventType.STATION_STATUS_CHANGED,
        report.received_at,
        report.station_id,
        {
            "evse_id": report.evse_id,
            "connector_id": report.connector_id,
            "status": report.status,
            "error_code": report.error_code,
            "timestamp": _iso(report.timestamp),
        },
    )


def transaction_data(tx: Transaction) -> dict[str, Any]:
    """JSON-ready description of a transaction for domain events (webhooks)."""
    return {
        "id": tx.id,
        "station_id": tx.station_id,
        "transaction_id": tx.transaction_id,
        "status": tx.status.value,
        "evse_id": tx.evse_id,
        "connector_id": tx.connector_id,
        "id_token": tx.id_token,
        "id_token_type": tx.id_token_type,
        "started_at": _iso(tx.started_at),
        "ended_at": _iso(tx.ended_at),
        "meter_start_wh": tx.meter_start_wh,
        "meter_stop_wh": tx.meter_stop_wh,
        "energy_wh": tx.energy_wh,
        "stop_reason": tx.stop_reason,
        "charging_state": tx.charging_state,
        "remote_start_id": tx.remote_start_id,
        "start_seen": tx.start_seen,
        "offline": tx.offline,
    }


_TX_EVENT_TYPES = {
    EventKind.STARTED: EventType.TRANSACTION_STARTED,
    EventKind.UPDATED: EventType.TRANSACTION_UPDATED,
    EventKind.ENDED: EventType.TRANSACTION_ENDED,
}


def transaction_event(event: TransactionEvent, stored: StoredEvent, at: datetime) -> DomainEvent:
    """The domain event of one recorded TransactionEvent (1.6 Start/Stop/MeterValues in a
    transaction, 2.x TransactionEvent), as merged by the write that stored it."""
    data: dict[str, Any]
    if event.kind is EventKind.UPDATED:
        # Frequent (every meter value): described from the message.
        data = {
            "id": stored.id,
            "station_id": event.station_id,
            "transaction_id": stored.transaction_id,
            "evse_id": event.evse_id,
            "connector_id": event.connector_id,
            "id_token": event.id_token,
            "timestamp": _iso(event.timestamp),
            "seq_no": event.seq_no,
            "trigger_reason": event.trigger_reason,
            "charging_state": event.charging_state,
            "meter_wh": latest_register_wh(event.meter_values),
        }
        # What the car draws now, for load management (issue 18): per phase, if sent.
        drawn = latest_draw(event.meter_values)
        if drawn:
            data.update(drawn)
    else:
        data = transaction_data(stored.transaction)
        data["timestamp"] = _iso(event.timestamp)
        data["seq_no"] = event.seq_no
        data["trigger_reason"] = event.trigger_reason
    data["event_key"] = event.event_key
    return DomainEvent(_TX_EVENT_TYPES[event.kind], at, event.station_id, data)


def transaction_closed_event(tx: Transaction, at: datetime) -> DomainEvent:
    """transaction.ended of a transaction Ampyre closed itself (superseded, stale) or an
    operator closed administratively (then with who, why and when)."""
    data = transaction_data(tx)
    if tx.closed_by is not None:
        data["closed_administratively"] = True
        data["closed_by"] = tx.closed_by
        data["close_reason"] = tx.close_reason
        data["closed_at"] = _iso(tx.closed_at)
    return DomainEvent(EventType.TRANSACTION_ENDED, at, tx.station_id, data)


def latest_register_wh(readings: Sequence[MeterReading]) -> float | None:
    """The latest reading of the energy delivered to the EV (the store's rule)."""
    best: tuple[datetime, float] | None = None
    for reading in readings:
        for s in reading.values:
            wh = delivered_wh(s)
            if wh is not None and (best is None or reading.timestamp >= best[0]):
                best = (reading.timestamp, wh)
    return None if best is None else best[1]


CURRENT_IMPORT = "Current.Import"
POWER_IMPORT = "Power.Active.Import"


def latest_draw(readings: Sequence[MeterReading]) -> dict[str, Any]:
    """What the latest reading says the EV draws: `current_a` by phase ("L1", "L2",
    "L3"; a phase-less reading as "N/A" meaning all used phases alike) from
    Current.Import, and `power_w` from the phase-less Power.Active.Import. Outlet
    readings only (the spec's default location); empty when neither was sampled."""
    latest: MeterReading | None = None
    for reading in readings:
        newer = latest is None or reading.timestamp >= latest.timestamp
        if newer and any(s.measurand in (CURRENT_IMPORT, POWER_IMPORT) for s in reading.values):
            latest = reading
    if latest is None:
        return {}
    currents: dict[str, float] = {}
    power: float | None = None
    for s in latest.values:
        if s.location != "Outlet" or s.si_value is None:
            continue
        if s.measurand == CURRENT_IMPORT and s.si_unit == "A":
            phase = (s.phase or "N/A").split("-", 1)[0]  # 1.6 "L1-N" is L1
            if phase in ("L1", "L2", "L3", "N/A"):
                currents[phase] = s.si_value
        elif s.measurand == POWER_IMPORT and s.phase is None and s.si_unit == "W":
            power = s.si_value
    out: dict[str, Any] = {}
    if currents:
        out["current_a"] = currents
    if power is not None:
        out["power_w"] = power
    return out


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()
