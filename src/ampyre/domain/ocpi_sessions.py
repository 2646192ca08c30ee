"""OCPI 2.2.1 Sessions as plain values: the Session object Ampyre (as CPO) builds from a
transaction and its priced usage, the charging periods and prices it shares with CDRs,
and the rules for sessions a CPO partner pushes to Ampyre (as eMSP).

No I/O. Money and volumes are `Decimal`; `json_value` turns them into JSON numbers only at
the edge (OCPI 2.2.1 types.asciidoc: `number` is a JSON number, DateTime is UTC with Z).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

OURS = "ours"  # Ampyre is the CPO of the object
RECEIVED = "received"  # a CPO partner sent it to Ampyre as eMSP
SIDES = (OURS, RECEIVED)

KWH = Decimal("0.001")  # volumes in kWh kept to the Wh
HOURS = Decimal("0.000001")  # durations in hours kept to a few ms


class SessionStatus(enum.StrEnum):
    """OCPI 2.2.1 mod_sessions SessionStatus."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"


class AuthMethod(enum.StrEnum):
    """OCPI 2.2.1 mod_cdrs AuthMethod."""

    AUTH_REQUEST = "AUTH_REQUEST"
    COMMAND = "COMMAND"
    WHITELIST = "WHITELIST"


class CdrDimensionType(enum.StrEnum):
    """OCPI 2.2.1 mod_cdrs CdrDimensionType (the Session-only ones marked)."""

    CURRENT = "CURRENT"  # Session only
    ENERGY = "ENERGY"
    ENERGY_EXPORT = "ENERGY_EXPORT"  # Session only
    ENERGY_IMPORT = "ENERGY_IMPORT"  # Session only
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    POWER = "POWER"  # Session only
    RESERVATION_TIME = "RESERVATION_TIME"
    STATE_OF_CHARGE = "STATE_OF_CHARGE"  # Session only
    TIME = "TIME"


# OCPI 2.2.1 mod_cdrs 12.4.3: these SHALL only be used in Sessions, never in a CDR.
SESSION_ONLY = frozenset(
    {
        CdrDimensionType.CURRENT,
        CdrDimensionType.ENERGY_EXPORT,
        CdrDimensionType.ENERGY_IMPORT,
        CdrDimensionType.POWER,
        CdrDimensionType.STATE_OF_CHARGE,
    }
)


@dataclass(slots=True, frozen=True)
class Price:
    """OCPI 2.2.1 types Price: excl_vat, and incl_vat when VAT is known."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None

    def negated(self) -> Price:
        return Price(-self.excl_vat, None if self.incl_vat is None else -self.incl_vat)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"excl_vat": json_value(self.excl_vat)}
        if self.incl_vat is not None:
            out["incl_vat"] = json_value(self.incl_vat)
        return out


ZERO = Price(Decimal("0.00"), Decimal("0.00"))


@dataclass(slots=True, frozen=True)
class Dimension:
    type: str  # a CdrDimensionType value
    volume: Decimal


@dataclass(slots=True, frozen=True)
class Period:
    """OCPI 2.2.1 mod_cdrs ChargingPeriod: from `start` until the next period's start (the
    last one until the session's end), with the volumes that decide its cost."""

    start: datetime
    dimensions: tuple[Dimension, ...]
    tariff_id: str | None = None

    def to_json(self, *, for_cdr: bool = False) -> dict[str, Any]:
        dims = [
            {"type": d.type, "volume": json_value(d.volume)}
            for d in self.dimensions
            if not (for_cdr and d.type in SESSION_ONLY)
        ]
        out: dict[str, Any] = {"start_date_time": ocpi_time(self.start), "dimensions": dims}
        if self.tariff_id is not None:
            out["tariff_id"] = self.tariff_id
        return out


@dataclass(slots=True, frozen=True)
class CdrToken:
    """OCPI 2.2.1 mod_cdrs CdrToken: the token and the eMSP that owns it."""

    country_code: str
    party_id: str
    uid: str
    type: str  # mod_tokens TokenType
    contract_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "country_code": self.country_code,
            "party_id": self.party_id,
            "uid": self.uid,
            "type": self.type,
            "contract_id": self.contract_id,
        }

    @property
    def owner(self) -> tuple[str, str]:
        return (self.country_code.upper(), self.party_id.upper())


@dataclass(slots=True, frozen=True)
class TokenGrant:
    """A token as Sessions and CDRs name it, and how it was let in (mod_cdrs AuthMethod;
    the eMSP's authorization_reference, if it gave one)."""

    token: CdrToken
    auth_method: AuthMethod
    authorization_reference: str | None = None


def grant_of(obj: Mapping[str, Any]) -> TokenGrant:
    """The token grant a Session or CDR object records (ValueError when malformed)."""
    try:
        t = obj["cdr_token"]
        token = CdrToken(
            country_code=str(t["country_code"]),
            party_id=str(t["party_id"]),
            uid=str(t["uid"]),
            type=str(t["type"]),
            contract_id=str(t["contract_id"]),
        )
        method = AuthMethod(obj["auth_method"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"no complete cdr_token/auth_method: {exc}") from exc
    reference = obj.get("authorization_reference")
    return TokenGrant(token, method, None if reference is None else str(reference))


# OCPP id token types (2.0.1 IdTokenEnumType; 1.6 has none: an RFID idTag) as OCPI
# mod_tokens TokenType, for CDRs of local tokens.
_TOKEN_TYPES = {
    None: "RFID",
    "ISO14443": "RFID",
    "ISO15693": "RFID",
    "Central": "APP_USER",
}


def token_type_of(ocpp_type: str | None) -> str:
    return _TOKEN_TYPES.get(ocpp_type, "OTHER")


@dataclass(slots=True, frozen=True)
class Pricing:
    """What the tariff engine says of a session's usage, in the shape Sessions and CDRs
    need: the charging periods that justify the cost, the totals and the tariffs used.
    Volumes in kWh and hours; None for a cost nobody computed."""

    currency: str
    periods: tuple[Period, ...]
    total_cost: Price | None
    total_energy: Decimal
    total_time: Decimal
    total_parking_time: Decimal | None = None
    total_fixed_cost: Price | None = None
    total_energy_cost: Price | None = None
    total_time_cost: Price | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    tariffs: tuple[Mapping[str, Any], ...] = ()  # OCPI Tariff objects, as JSON


@dataclass(slots=True, frozen=True)
class SessionFacts:
    """Everything an OCPI Session of ours says, gathered from the transaction (id, times,
    token, place) and its pricing."""

    country_code: str
    party_id: str
    session_id: str
    start: datetime
    end: datetime | None
    kwh: Decimal
    token: CdrToken
    auth_method: AuthMethod
    location_id: str
    evse_uid: str
    connector_id: str
    currency: str
    status: SessionStatus
    last_updated: datetime
    periods: tuple[Period, ...] = ()
    total_cost: Price | None = None
    authorization_reference: str | None = None
    meter_id: str | None = None


def session_object(f: SessionFacts) -> dict[str, Any]:
    """The OCPI 2.2.1 Session object (mod_sessions 9.3.1), optional fields left out when
    unknown."""
    out: dict[str, Any] = {
        "country_code": f.country_code,
        "party_id": f.party_id,
        "id": f.session_id,
        "start_date_time": ocpi_time(f.start),
    }
    if f.end is not None:
        out["end_date_time"] = ocpi_time(f.end)
    out["kwh"] = json_value(f.kwh)
    out["cdr_token"] = f.token.to_json()
    out["auth_method"] = f.auth_method.value
    if f.authorization_reference is not None:
        out["authorization_reference"] = f.authorization_reference
    out["location_id"] = f.location_id
    out["evse_uid"] = f.evse_uid
    out["connector_id"] = f.connector_id
    if f.meter_id is not None:
        out["meter_id"] = f.meter_id
    out["currency"] = f.currency
    out["charging_periods"] = [p.to_json() for p in f.periods]
    if f.total_cost is not None:
        out["total_cost"] = f.total_cost.to_json()
    out["status"] = f.status.value
    out["last_updated"] = ocpi_time(f.last_updated)
    return out


# Fields a PATCH of ours carries (OCPI 2.2.1 mod_sessions 9.2.2.3: only what changed, and
# always last_updated). Charging periods go by PUT (the whole object) so that no receiver
# has to guess whether a PATCHed list adds to or replaces its own.
PATCH_FIELDS = ("end_date_time", "kwh", "total_cost", "status", "last_updated")


def session_patch(session: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body that brings a receiver holding `previous` to `session` when the
    charging periods are unchanged: the PATCH fields that differ, and last_updated."""
    out = {
        key: session[key]
        for key in PATCH_FIELDS
        if key in session and session.get(key) != previous.get(key)
    }
    out["last_updated"] = session["last_updated"]
    return out


@dataclass(slots=True)
class RoamingSession:
    """A stored Session, ours or received (tables_roaming.ocpi_sessions)."""

    id: int
    side: str
    country_code: str
    party_id: str
    session_id: str
    status: str
    kwh: Decimal
    currency: str
    start_date_time: datetime
    last_updated: datetime
    body: dict[str, Any]
    end_date_time: datetime | None = None
    total_cost: Price | None = None
    transaction_pk: int | None = None
    partner_id: int | None = None
    token_uid: str | None = None
    token_country_code: str | None = None
    token_party_id: str | None = None
    pushed_at: datetime | None = None
    pushed_periods: int = 0
    dirty: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------- received sessions


class SessionRejected(ValueError):
    """A pushed Session (or PATCH) that cannot be taken: the OCPI answer is 2001."""


def merge_patch(stored: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """A received Session after a PATCH (OCPI 2.2.1 mod_sessions 9.2.2.3): the fields
    present replace the stored ones, except `charging_periods`, which are added to the
    stored list (an omitted or empty list changes nothing). `last_updated` is required.
    The identity of the session (country_code, party_id, id) cannot change."""
    if "last_updated" not in patch or patch["last_updated"] is None:
        raise SessionRejected("a PATCH must contain last_updated")
    merged = dict(stored)
    for key, value in patch.items():
        if key in ("country_code", "party_id", "id"):
            if value != stored.get(key):
                raise SessionRejected(f"{key} of a session cannot be changed")
            continue
        if key == "charging_periods":
            if value:
                merged["charging_periods"] = [*stored.get("charging_periods", []), *value]
            continue
        merged[key] = value
    return merged


def same_key(body: Mapping[str, Any], country_code: str, party_id: str, session_id: str) -> None:
    """mod_sessions 9.2.2.2: the URL's country_code and party_id SHALL be those of the
    object, and its session_id the object's id (compared without case: CiString)."""
    for key, value in (("country_code", country_code), ("party_id", party_id)):
        if str(body.get(key, "")).upper() != value.upper():
            raise SessionRejected(f"{key} of the body differs from the URL")
    if str(body.get("id", "")).upper() != session_id.upper():
        raise SessionRejected("id of the body differs from the URL")


def received_session(
    partner_id: int,
    body: dict[str, Any],
    previous: RoamingSession | None,
    now: datetime,
) -> RoamingSession:
    """The stored form of a Session a CPO partner sent, read from its (validated) object;
    SessionRejected when a required field is missing or malformed."""
    try:
        token = body["cdr_token"]
        end = body.get("end_date_time")
        return RoamingSession(
            id=0 if previous is None else previous.id,
            side=RECEIVED,
            country_code=str(body["country_code"]),
            party_id=str(body["party_id"]),
            session_id=str(body["id"]),
            status=str(body["status"]),
            kwh=decimal_of(body["kwh"]),
            currency=str(body["currency"]),
            start_date_time=parse_time(body["start_date_time"]),
            last_updated=parse_time(body["last_updated"]),
            body=body,
            end_date_time=None if end is None else parse_time(end),
            total_cost=price_of(body.get("total_cost")),
            partner_id=partner_id,
            token_uid=str(token["uid"]),
            token_country_code=str(token["country_code"]),
            token_party_id=str(token["party_id"]),
            created_at=now if previous is None else previous.created_at,
            updated_at=now,
        )
    except (KeyError, TypeError) as exc:
        raise SessionRejected(f"the session lacks a required field: {exc}") from exc
    except ValueError as exc:
        if isinstance(exc, SessionRejected):
            raise
        raise SessionRejected(str(exc)) from exc


# ---------------------------------------------------------------------- JSON helpers


def json_value(value: Decimal) -> int | float:
    """A Decimal as a JSON number: an int when whole, else the float whose shortest text
    is the Decimal's (every Decimal of up to 15 significant digits round-trips)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= 0:
        return int(value)
    return float(value)


def decimal_of(value: object) -> Decimal:
    """A JSON number (int, float, or numeric text) as a Decimal; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a number is expected")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            out = Decimal(value)
        except ArithmeticError as exc:
            raise ValueError(f"{value!r} is not a number") from exc
        if not out.is_finite():
            raise ValueError(f"{value!r} is not a number")
        return out
    raise ValueError("a number is expected")


def price_of(value: object) -> Price | None:
    """An OCPI Price from JSON (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError("a Price object is expected")
    incl = value.get("incl_vat")
    return Price(decimal_of(value.get("excl_vat")), None if incl is None else decimal_of(incl))


def ocpi_time(at: datetime) -> str:
    """OCPI 2.2.1 types DateTime: UTC, 'Z', at most milliseconds (string(25))."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    at = at.astimezone(UTC)
    if at.microsecond:
        return at.isoformat(timespec="milliseconds")[:-6] + "Z"
    return at.isoformat(timespec="seconds")[:-6] + "Z"


def parse_time(text: object) -> datetime:
    """An OCPI DateTime (with Z or an offset; without one it is UTC, as 2.2.1 allows)."""
    if not isinstance(text, str):
        raise ValueError("a DateTime string is expected")
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        at = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a DateTime") from exc
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def kwh_of_wh(wh: float | None) -> Decimal:
    """Wh (as the meter said) in kWh, to the Wh; 0 when unknown or negative."""
    if wh is None or wh <= 0:
        return Decimal("0.000")
    return (Decimal(repr(float(wh))) / 1000).quantize(KWH)


def hours_between(start: datetime, end: datetime) -> Decimal:
    seconds = max(0.0, (end - start).total_seconds())
    return (Decimal(repr(seconds)) / 3600).quantize(HOURS)


def periods_json(periods: Sequence[Period], *, for_cdr: bool = False) -> list[dict[str, Any]]:
    return [p.to_json(for_cdr=for_cdr) for p in periods]
