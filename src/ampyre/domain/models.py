"""Version-neutral domain records. Plain dataclasses: no I/O, no protocol types."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple


class OcppVersion(enum.StrEnum):
    """WebSocket subprotocol names, best first is decided by the gateway."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"
    V21 = "ocpp2.1"


class RegistrationStatus(enum.StrEnum):
    """What Ampyre answers a BootNotification with (1.6 / 2.0.1 / 2.1 share the names)."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class Role(enum.StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


class Direction(enum.StrEnum):
    IN = "in"  # station -> CSMS
    OUT = "out"  # CSMS -> station


@dataclass(slots=True)
class Station:
    id: str
    registration_status: RegistrationStatus = RegistrationStatus.ACCEPTED
    ocpp_version: str | None = None  # last negotiated subprotocol
    vendor: str | None = None
    model: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
    boot_reason: str | None = None  # 2.0.1/2.1 BootReasonEnumType
    description: str | None = None
    password_hash: str | None = None
    # The configured security profile (OCPP 2.0.1 Part 2 A00; 1.6 security whitepaper):
    # None = as before (a password asks for profile 1, else none); 1, 2 or 3: the
    # station may not connect with a lower one.
    security_profile: int | None = None
    pending_password_hash: str | None = None  # a rotated password not used yet
    connection_profile: int | None = None  # the profile of its last admitted connection
    connected: bool = False
    connected_node: str | None = None
    remote_address: str | None = None
    last_seen: datetime | None = None
    last_boot: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(slots=True, frozen=True)
class BootInfo:
    """What a station tells about itself in BootNotification (any version)."""

    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
    reason: str | None = None


@dataclass(slots=True)
class Connector:
    """One connector. 1.6: evse_id == connector_id (connector 0 = whole station, evse 0).
    2.0.1/2.1: EVSE id and connector id as the station reports them."""

    station_id: str
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    status_timestamp: datetime | None = None  # station's clock
    updated_at: datetime | None = None  # our clock


@dataclass(slots=True, frozen=True)
class StatusReport:
    """A StatusNotification, version-neutral; stored as history and as current state."""

    station_id: str
    evse_id: int
    connector_id: int
    status: str
    timestamp: datetime | None
    received_at: datetime
    error_code: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None


class MessageLogEntry(NamedTuple):
    """One OCPP frame in the audit log. A tuple of plain values on purpose: thousands are
    buffered every second, and tuples of atoms drop out of the garbage collector's
    tracking, where dataclass instances would make every full collection slower."""

    station_id: str
    direction: str  # Direction value: "in" (station -> CSMS) or "out"
    message_type: int  # 2 CALL, 3 CALLRESULT, 4 CALLERROR, 5 CALLRESULTERROR, 6 SEND
    unique_id: str
    action: str | None
    payload: str  # the raw JSON text as sent/received (bounded by max message size)
    created_at: datetime


@dataclass(slots=True, frozen=True)
class StationReport:
    """A raw device report (2.0.1/2.1 NotifyEvent, NotifyReport), kept as received."""

    station_id: str
    action: str
    payload: dict[str, Any]
    received_at: datetime
    request_id: int | None = None
    seq_no: int | None = None


@dataclass(slots=True)
class ApiToken:
    id: int | None
    name: str
    role: Role
    token_hash: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked: bool = False


@dataclass(slots=True, frozen=True)
class Page:
    items: list[Any]
    total: int
    limit: int
    offset: int


@dataclass(slots=True)
class StationUpdate:
    """Fields an operator may change through the API; None means 'leave as is'."""

    registration_status: RegistrationStatus | None = None
    description: str | None = None
    password_hash: str | None = None
    clear_password: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
