"""Authorization, version-neutral: id tokens, the answers given for them, local
authorization lists and reservations, and the rules that decide an answer (pure
functions: no I/O, no clock; property-tested in tests/unit/test_authz_domain.py)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from ampyre.domain.models import OcppVersion


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
    # Why the token is refused, for the operator's log (None when accepted).
    reason: str | None = None


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


# ---------------------------------------------------------------------- rules

# Card-like types: one physical card read by different readers (or reported by firmware
# that authorizes from its local list) arrives as any of these. OCPP 2.0.1 IdTokenEnumType:
# ISO14443 / ISO15693 are UIDs, Local a locally generated id, often the same UID.
RFID_TYPES: Final = frozenset({IdTokenType.ISO14443, IdTokenType.ISO15693, IdTokenType.LOCAL})

# Refusal reasons (log text).
REASON_UNKNOWN: Final = "unknown id token"
REASON_BLOCKED: Final = "blocked by the operator"
REASON_EXPIRED_STATUS: Final = "marked expired by the operator"
REASON_INVALID: Final = "marked invalid by the operator"
REASON_EXPIRED: Final = "expired"
REASON_LOCATION: Final = "restricted to other stations or EVSEs"

_STATUS: Final = {
    TokenStatus.ACCEPTED: (AuthStatus.ACCEPTED, None),
    TokenStatus.BLOCKED: (AuthStatus.BLOCKED, REASON_BLOCKED),
    TokenStatus.EXPIRED: (AuthStatus.EXPIRED, REASON_EXPIRED_STATUS),
    TokenStatus.INVALID: (AuthStatus.INVALID, REASON_INVALID),
}


def same_value(a: str, b: str) -> bool:
    """Id tokens are case insensitive (OCPP 1.6 section 7.28 CiString20Type; 2.0.1
    IdTokenType.idToken "case insensitive"). ASCII folding, as SQLite's lower() does:
    OCPP id tokens are printable ASCII in practice (1.6 CiString: ASCII only)."""
    return fold(a) == fold(b)


_ASCII_LOWER: Final = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def fold(value: str) -> str:
    """The case-folded form of an id token (ASCII only, matching the databases' lower())."""
    return value.translate(_ASCII_LOWER)


def pick_token(candidates: Iterable[IdToken], value: str, type_: str | None) -> IdToken | None:
    """Which stored token a presented (value, type) is.

    `candidates` are the stored tokens whose value equals `value` ignoring case, of any
    type. With `type_` None (1.6 idTags carry no type) any type matches: the one spelled
    exactly as presented first, then the oldest. With a type: the token of that type;
    else, for a card-like type (RFID_TYPES), the one card-like token of the value (a
    station may authorize a card as Local and start with it as ISO14443). If the operator
    registered the value as several card-like tokens, they are different tokens and a
    third card-like type matches none of them."""
    same = [c for c in candidates if same_value(c.id_token, value)]
    if type_ is None:
        if not same:
            return None
        return min(same, key=lambda c: (c.id_token != value, c.id or 0))
    exact = [c for c in same if c.type == type_]
    if exact:
        return min(exact, key=lambda c: (c.id_token != value, c.id or 0))
    if type_ in RFID_TYPES:
        cards = [c for c in same if c.type in RFID_TYPES]
        if len(cards) == 1:
            return cards[0]
    return None


def why_unknown(candidates: Iterable[IdToken], value: str, type_: str | None) -> str:
    """The refusal reason when pick_token found nothing (for the log)."""
    types = sorted({IdTokenType(c.type).value for c in candidates if same_value(c.id_token, value)})
    if not types:
        return REASON_UNKNOWN
    if type_ in RFID_TYPES and sum(t in RFID_TYPES for t in types) > 1:
        return f"{REASON_UNKNOWN}: the value is registered as distinct cards ({', '.join(types)})"
    return f"{REASON_UNKNOWN} of this type (registered as {', '.join(types)})"


def decide(
    token: IdToken | None,
    station_id: str,
    evse_id: int | None,
    now: datetime,
    type_: str | None = None,
) -> AuthDecision:
    """The answer for `token` (None = unknown) presented at `station_id`/`evse_id` at
    `now`. An operator's status wins over expiry, expiry over location."""
    if type_ == IdTokenType.NO_AUTHORIZATION:
        # 2.0.1 IdTokenEnumType NoAuthorization: the station did no authorization at all
        # (free vend); there is nothing to refuse.
        return AuthDecision(AuthStatus.ACCEPTED, token=token)
    if token is None:
        return AuthDecision(AuthStatus.UNKNOWN, reason=REASON_UNKNOWN)
    if token.type == IdTokenType.NO_AUTHORIZATION:
        return AuthDecision(AuthStatus.ACCEPTED, token.expires_at, token.group_id, token)
    status, reason = _STATUS.get(token.status, (AuthStatus.INVALID, REASON_INVALID))
    if status is AuthStatus.ACCEPTED and token.expires_at is not None and token.expires_at <= now:
        status, reason = AuthStatus.EXPIRED, REASON_EXPIRED
    if status is AuthStatus.ACCEPTED and not usable_at(token, station_id, evse_id):
        status, reason = AuthStatus.NOT_AT_THIS_LOCATION, REASON_LOCATION
    return AuthDecision(status, token.expires_at, token.group_id, token, reason)


def usable_at(token: IdToken, station_id: str, evse_id: int | None) -> bool:
    """True if the token's restrictions allow the station (and the EVSE, when known:
    2.0.1 Authorize names no EVSE, so a token restricted to some EVSEs of the station is
    accepted there and the EVSE is checked when the transaction names one)."""
    if not token.restrictions:
        return True
    for r in token.restrictions:
        if r.station_id != station_id:
            continue
        if r.evse_id is None or evse_id is None or r.evse_id == evse_id:
            return True
    return False


# OCPP 1.6 AuthorizationStatus has only these (section 7.2); every other refusal is told
# as Invalid ("Identifier is unknown. Not allowed for charging."), an unknown token too.
_STATUSES_16: Final = frozenset(
    {
        AuthStatus.ACCEPTED,
        AuthStatus.BLOCKED,
        AuthStatus.EXPIRED,
        AuthStatus.INVALID,
        AuthStatus.CONCURRENT_TX,
    }
)


def as_told(status: AuthStatus, ocpp_version: str | None) -> AuthStatus:
    """The status a station of `ocpp_version` is told for `status` (what is stored with a
    transaction: the answer as the station received it)."""
    if ocpp_version == OcppVersion.V16 and status not in _STATUSES_16:
        return AuthStatus.INVALID
    return status
