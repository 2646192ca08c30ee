"""Domain events published to subscribers (webhooks now; the bus later)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class EventType(enum.StrEnum):
    TRANSACTION_STARTED = "transaction.started"
    TRANSACTION_UPDATED = "transaction.updated"
    TRANSACTION_ENDED = "transaction.ended"
    STATION_CONNECTED = "station.connected"
    STATION_DISCONNECTED = "station.disconnected"
    STATION_STATUS_CHANGED = "station.status_changed"


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
