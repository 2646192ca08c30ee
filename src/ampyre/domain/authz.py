"""Authorization, version-neutral: id tokens, the answers given for them, local
authorization lists and reservations."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class IdTokenType(enum.StrEnum):
    """2.0.1 IdTokenEnumType. A 1.6 idTag is stored as ISO14443 unless the operator says
    otherwise (1.6 has no type; most idTags are RFID UIDs)."""

    CENTRAL = "Central"
    EMAID = "eMAID"
    ISO14443 = "ISO14443"
    ISO15693 = "ISO15693"
    KEY_CODE = "KeyCode"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"
    NO_AUTHORIZATION = "NoAuthorization"


class TokenStatus(enum.StrEnum):
    """What an operator sets on a token."""

    ACCEPTED = "accepted"
    BLOCKED = "blocked"
    EXPIRED = "expired"
    INVALID = "invalid"


class AuthStatus(enum.StrEnum):
    """The answer sent to a station (2.0.1 AuthorizationStatusEnumType; 1.6 uses the
    subset Accepted/Blocked/Expired/Invalid/ConcurrentTx)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    CONCURRENT_TX = "ConcurrentTx"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    NO_CREDIT = "NoCredit"
    NOT_ALLOWED_TYPE_EVSE = "NotAllowedTypeEVSE"
    NOT_AT_THIS_LOCATION = "NotAtThisLocation"
    NOT_AT_THIS_TIME = "NotAtThisTime"
    UNKNOWN = "Unknown"


@dataclass(slots=True, frozen=True)
class Restriction:
    """Where a token may be used: a station, optionally one EVSE of it."""

    station_id: str
    evse_id: int | None = None


@dataclass(slots=True)
class IdToken:
    id_token: str
    type: IdTokenType = IdTokenType.ISO14443
    status: TokenStatus = TokenStatus.ACCEPTED
    expires_at: datetime | None = None
    group_id: str | None = None  # 1.6 parentIdTag / 2.0.1 groupIdToken
    # Empty = anywhere. Otherwise only at these stations (and EVSEs).
    restrictions: list[Restriction] = field(default_factory=list)
    description: str | None = None
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(slots=True, frozen=True)
class AuthDecision:
    """What to answer for an id token at a station (1.6 IdTagInfo / 2.0.1 IdTokenInfo)."""

    status: AuthStatus
    expires_at: datetime | None = None  # cacheExpiryDateTime / expiryDate
    group_id: str | None = None
    token: IdToken | None = None  # None when unknown


class ReservationStatus(enum.StrEnum):
    REQUESTED = "requested"  # sent, no answer yet
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # the station said Faulted/Occupied/Rejected/Unavailable
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    USED = "used"  # a transaction started on it
    FAILED = "failed"  # could not be delivered (station offline, timeout, error)


@dataclass(slots=True)
class Reservation:
    id: int  # the reservationId sent to the station
    station_id: str
    id_token: str
    id_token_type: IdTokenType
    expires_at: datetime
    status: ReservationStatus = ReservationStatus.REQUESTED
    evse_id: int | None = None  # 1.6: the connector; None / 0 = any
    connector_type: str | None = None  # 2.0.1 only
    group_id: str | None = None
    station_answer: str | None = None  # the status the station answered, as sent
    transaction_id: int | None = None  # Ampyre transaction that used it
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(slots=True)
class LocalListState:
    """What Ampyre last pushed to a station's local authorization list."""

    station_id: str
    version: int
    # id_token -> (type, status sent); what a differential update is computed against.
    entries: dict[str, tuple[str, str]] = field(default_factory=dict)
    last_status: str | None = None  # the station's answer to the last SendLocalList
    updated_at: datetime | None = None
