"""OCPI 2.2.1 tokens and commands as plain values, and the rules that decide with them
(no I/O): how a pushed token's whitelist type decides between the token itself and a
real-time authorization at its eMSP, how an eMSP's answer becomes the status a station is
told, which OCPI token one of Ampyre's own id tokens is published as, and which
CommandResult a station's answer to a command is.

Spec: OCPI 2.2.1 mod_tokens (Token, WhitelistType, AllowedType, AuthorizationInfo,
LocationReferences) and mod_commands (CommandType, CommandResponse, CommandResult).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ampyre.domain.authz import AuthStatus, IdToken, IdTokenType, TokenStatus
from ampyre.domain.ocpi import ocpi_time, parse_ocpi_time

# OCPI 2.2.1 field limits (mod_tokens 12.3.2 Token object; types CiString/string).
COUNTRY_CODE_LEN: Final = 2
PARTY_ID_LEN: Final = 3
UID_MAX: Final = 36
CONTRACT_ID_MAX: Final = 36
VISUAL_NUMBER_MAX: Final = 64
ISSUER_MAX: Final = 64
GROUP_ID_MAX: Final = 36
LANGUAGE_LEN: Final = 2
SUPPLIER_NAME_MAX: Final = 64
ENERGY_CONTRACT_ID_MAX: Final = 64
AUTHORIZATION_REFERENCE_MAX: Final = 36
LOCATION_ID_MAX: Final = 36
EVSE_UID_MAX: Final = 36
CONNECTOR_ID_MAX: Final = 36
RESERVATION_ID_MAX: Final = 36
SESSION_ID_MAX: Final = 36
URL_MAX: Final = 255  # OCPI 2.2.1 types: URL is string(255)

# OCPI 2.2.1 mod_commands 13.3.5 / 13.3.6: within 15 minutes after a StartSession or
# ReserveNow the CPO SHALL NOT do a real-time authorization for the Token at that Charge
# Point (the eMSP authorized it already).
COMMAND_GRANT_SECONDS: Final = 15 * 60


class TokenType(enum.StrEnum):
    """OCPI 2.2.1 mod_tokens 12.4.4 TokenType."""

    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    OTHER = "OTHER"
    RFID = "RFID"


class WhitelistType(enum.StrEnum):
    """OCPI 2.2.1 mod_tokens 12.4.5 WhitelistType: when the CPO may authorize a Token
    itself and when it has to ask the eMSP (real-time authorization)."""

    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class AllowedType(enum.StrEnum):
    """OCPI 2.2.1 mod_tokens 12.4.1 AllowedType: the eMSP's real-time answer."""

    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


class TokenSource(enum.StrEnum):
    """How a CPO came to hold a roaming token: pushed (or pulled) through the tokens
    module, or carried by a START_SESSION / RESERVE_NOW command (mod_commands: such
    tokens need not be stored, but their information SHALL be in the Session and CDR)."""

    PUSH = "push"
    COMMAND = "command"


@dataclass(slots=True, frozen=True)
class EnergyContract:
    supplier_name: str
    contract_id: str | None = None


@dataclass(slots=True, frozen=True)
class OcpiToken:
    """OCPI 2.2.1 mod_tokens 12.3.2 Token object."""

    country_code: str
    party_id: str
    uid: str
    type: TokenType
    contract_id: str
    issuer: str
    valid: bool
    whitelist: WhitelistType
    last_updated: datetime
    visual_number: str | None = None
    group_id: str | None = None
    language: str | None = None
    default_profile_type: str | None = None
    energy_contract: EnergyContract | None = None

    @property
    def owner(self) -> tuple[str, str]:
        return (self.country_code.upper(), self.party_id.upper())


@dataclass(slots=True)
class StoredToken:
    """A roaming token a CPO holds: the token and where it came from."""

    token: OcpiToken
    source: TokenSource
    partner_id: int | None
    received_at: datetime
    id: int | None = None


@dataclass(slots=True, frozen=True)
class LocationReferences:
    """OCPI 2.2.1 mod_tokens 12.4.3 LocationReferences (location and some of its EVSEs)."""

    location_id: str
    evse_uids: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class AuthorizationInfo:
    """OCPI 2.2.1 mod_tokens 12.3.1 AuthorizationInfo: an eMSP's real-time answer."""

    allowed: AllowedType
    token: OcpiToken
    location: LocationReferences | None = None
    authorization_reference: str | None = None
    info: dict[str, str] | None = None  # DisplayText {"language", "text"}


class AuthorizationKind(enum.StrEnum):
    """What a roaming authorization record is."""

    WHITELIST = "whitelist"  # CPO: decided from the pushed token itself
    REALTIME = "realtime"  # CPO: asked the eMSP (or fell back when it did not answer)
    COMMAND = "command"  # CPO: a START_SESSION / RESERVE_NOW the eMSP sent (a grant)
    ANSWERED = "answered"  # eMSP: our answer to a CPO's real-time authorization


@dataclass(slots=True)
class AuthorizationRecord:
    """One roaming authorization: what was asked, what was answered, and for how long the
    answer may be reused at that station (`valid_until`)."""

    kind: AuthorizationKind
    uid: str
    created_at: datetime
    token_type: str | None = None
    country_code: str | None = None
    party_id: str | None = None
    partner_id: int | None = None
    station_id: str | None = None
    evse_id: int | None = None
    location_id: str | None = None
    allowed: AllowedType | None = None  # the eMSP's answer (None: none was received)
    outcome: str | None = None  # the AuthStatus the station was told (or AllowedType answered)
    reason: str | None = None
    authorization_reference: str | None = None
    valid_until: datetime | None = None
    id: int | None = None


# ---------------------------------------------------------------------- JSON shape


def token_to_json(t: OcpiToken) -> dict[str, Any]:
    """The Token object as OCPI sends it (optional fields left out when empty)."""
    out: dict[str, Any] = {
        "country_code": t.country_code,
        "party_id": t.party_id,
        "uid": t.uid,
        "type": t.type.value,
        "contract_id": t.contract_id,
    }
    if t.visual_number is not None:
        out["visual_number"] = t.visual_number
    out["issuer"] = t.issuer
    if t.group_id is not None:
        out["group_id"] = t.group_id
    out["valid"] = t.valid
    out["whitelist"] = t.whitelist.value
    if t.language is not None:
        out["language"] = t.language
    if t.default_profile_type is not None:
        out["default_profile_type"] = t.default_profile_type
    if t.energy_contract is not None:
        ec: dict[str, Any] = {"supplier_name": t.energy_contract.supplier_name}
        if t.energy_contract.contract_id is not None:
            ec["contract_id"] = t.energy_contract.contract_id
        out["energy_contract"] = ec
    out["last_updated"] = ocpi_time(t.last_updated)
    return out


def token_from_json(d: dict[str, Any]) -> OcpiToken:
    """A Token from its (already validated) JSON object."""
    ec = d.get("energy_contract")
    return OcpiToken(
        country_code=str(d["country_code"]),
        party_id=str(d["party_id"]),
        uid=str(d["uid"]),
        type=TokenType(d["type"]),
        contract_id=str(d["contract_id"]),
        issuer=str(d["issuer"]),
        valid=bool(d["valid"]),
        whitelist=WhitelistType(d["whitelist"]),
        last_updated=parse_ocpi_time(str(d["last_updated"])),
        visual_number=d.get("visual_number"),
        group_id=d.get("group_id"),
        language=d.get("language"),
        default_profile_type=d.get("default_profile_type"),
        energy_contract=(
            None
            if not isinstance(ec, dict)
            else EnergyContract(str(ec["supplier_name"]), ec.get("contract_id"))
        ),
    )


def cdr_token(t: OcpiToken) -> dict[str, Any]:
    """The CdrToken of a Session / CDR for this token (OCPI 2.2.1 mod_cdrs 10.4.3)."""
    return {
        "country_code": t.country_code,
        "party_id": t.party_id,
        "uid": t.uid,
        "type": t.type.value,
        "contract_id": t.contract_id,
    }


def location_to_json(loc: LocationReferences) -> dict[str, Any]:
    out: dict[str, Any] = {"location_id": loc.location_id}
    if loc.evse_uids:
        out["evse_uids"] = list(loc.evse_uids)
    return out


def authorization_info_to_json(info: AuthorizationInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"allowed": info.allowed.value, "token": token_to_json(info.token)}
    if info.location is not None:
        out["location"] = location_to_json(info.location)
    if info.authorization_reference is not None:
        out["authorization_reference"] = info.authorization_reference
    if info.info is not None:
        out["info"] = dict(info.info)
    return out


# ---------------------------------------------------------------------- CPO rules


class Plan(enum.StrEnum):
    """How a CPO authorizes a pushed token (OCPI 2.2.1 mod_tokens 12.4.5)."""

    WHITELIST = "whitelist"  # from the token itself, no eMSP call
    REALTIME_OR_TOKEN = "realtime_or_token"  # ask; no answer: the token itself
    REALTIME_OR_FALLBACK = "realtime_or_fallback"  # ask; no answer: the configured fallback


def plan_for(whitelist: WhitelistType) -> Plan:
    """ALWAYS: the CPO "shall always allow any use" of a valid token, no real-time call.
    ALLOWED: the CPO may choose; Ampyre uses the whitelist (no delay at the charger).
    ALLOWED_OFFLINE: real-time first; when the eMSP cannot be reached the token is
    allowed: Ampyre decides from the pushed token (its `valid`).
    NEVER: only real-time; no answer -> the operator's fallback (accept or reject)."""
    if whitelist is WhitelistType.ALLOWED_OFFLINE:
        return Plan.REALTIME_OR_TOKEN
    if whitelist is WhitelistType.NEVER:
        return Plan.REALTIME_OR_FALLBACK
    return Plan.WHITELIST


def whitelisted_status(token: OcpiToken) -> AuthStatus:
    """The answer from the pushed token itself."""
    return AuthStatus.ACCEPTED if token.valid else AuthStatus.INVALID


_ALLOWED_STATUS: Final = {
    AllowedType.ALLOWED: AuthStatus.ACCEPTED,
    AllowedType.BLOCKED: AuthStatus.BLOCKED,
    AllowedType.EXPIRED: AuthStatus.EXPIRED,
    AllowedType.NO_CREDIT: AuthStatus.NO_CREDIT,
    AllowedType.NOT_ALLOWED: AuthStatus.NOT_AT_THIS_LOCATION,
}


def status_of_answer(info: AuthorizationInfo, evse_uid: str | None) -> AuthStatus:
    """The status a station is told for an eMSP's AuthorizationInfo. When the eMSP names
    the EVSEs allowed (mod_tokens 12.3.1: "Only the EVSEs the EV driver is allowed to
    charge at are returned") and ours is not among them, it is not allowed here."""
    status = _ALLOWED_STATUS[info.allowed]
    if (
        status is AuthStatus.ACCEPTED
        and evse_uid is not None
        and info.location is not None
        and info.location.evse_uids
        and fold(evse_uid) not in {fold(u) for u in info.location.evse_uids}
    ):
        return AuthStatus.NOT_AT_THIS_LOCATION
    return status


def fold(value: str) -> str:
    """CiString comparison (OCPI 2.2.1 types 16.1: case insensitive; ASCII printable)."""
    return value.lower()


# OCPP id token types a station may present for an OCPI token type, best first. 1.6 has
# no type (None): any OCPI type, RFID first.
_CARD_TYPES: Final = frozenset(
    {IdTokenType.ISO14443.value, IdTokenType.ISO15693.value, IdTokenType.LOCAL.value}
)


def ocpi_types_for(ocpp_type: str | None) -> tuple[TokenType, ...]:
    """Which OCPI token types an OCPP id token of `ocpp_type` can be, best first."""
    if ocpp_type is None or ocpp_type in _CARD_TYPES:
        return (TokenType.RFID, TokenType.OTHER, TokenType.APP_USER, TokenType.AD_HOC_USER)
    if ocpp_type == IdTokenType.CENTRAL.value:
        # What Ampyre sends a station for an app or ad-hoc token it starts remotely.
        return (TokenType.APP_USER, TokenType.AD_HOC_USER, TokenType.OTHER, TokenType.RFID)
    return (TokenType.OTHER, TokenType.RFID, TokenType.APP_USER, TokenType.AD_HOC_USER)


def ocpp_type_for(t: TokenType) -> str:
    """The OCPP 2.x IdTokenEnumType a station is given for an OCPI token (remote start,
    reservation): a card's UID is ISO14443; an app's or ad-hoc id is one the CSMS vouches
    for: Central."""
    return IdTokenType.ISO14443.value if t is TokenType.RFID else IdTokenType.CENTRAL.value


# ---------------------------------------------------------------------- eMSP rules

# Ampyre's id token types as OCPI token types; NoAuthorization is no token at all.
_PUBLISHED_TYPE: Final = {
    IdTokenType.ISO14443: TokenType.RFID,
    IdTokenType.ISO15693: TokenType.RFID,
    IdTokenType.LOCAL: TokenType.RFID,
    IdTokenType.CENTRAL: TokenType.APP_USER,
    IdTokenType.EMAID: TokenType.OTHER,
    IdTokenType.KEY_CODE: TokenType.OTHER,
    IdTokenType.MAC_ADDRESS: TokenType.OTHER,
}


def published_type(t: IdTokenType) -> TokenType | None:
    return _PUBLISHED_TYPE.get(IdTokenType(t))


def ampyre_types_for(t: TokenType) -> frozenset[IdTokenType]:
    return frozenset(k for k, v in _PUBLISHED_TYPE.items() if v is t)


@dataclass(slots=True, frozen=True)
class Identity:
    """Who Ampyre is as an eMSP, and how it publishes its tokens."""

    country_code: str
    party_id: str
    issuer: str
    rfid_whitelist: WhitelistType = WhitelistType.ALLOWED


def publish(
    token: IdToken, me: Identity, now: datetime, last_updated: datetime
) -> OcpiToken | None:
    """The OCPI token one of Ampyre's id tokens is published as, or None if it cannot be
    one (a NoAuthorization type, or a value longer than OCPI's uid of 36 characters).

    - valid: the operator's status is accepted and it has not expired (an invalidated or
      deleted token is published with valid false: OCPI tokens cannot be deleted,
      mod_tokens 12.1.1).
    - whitelist: app tokens NEVER (mod_tokens 12.4.4 recommends it), a token restricted
      to some of Ampyre's own stations NEVER too (it may not charge at a partner's
      location: the real-time answer says NOT_ALLOWED), others as configured.
    - contract_id: the token's value (Ampyre has no separate contract ids); for an eMAID
      token that is the contract id itself.
    - group_id: Ampyre's group id when it fits OCPI's 36 characters."""
    kind = published_type(token.type)
    if kind is None or not 1 <= len(token.id_token) <= UID_MAX:
        return None
    valid = token.status is TokenStatus.ACCEPTED and (
        token.expires_at is None or token.expires_at > now
    )
    if kind is not TokenType.RFID or token.restrictions:
        whitelist = WhitelistType.NEVER
    else:
        whitelist = me.rfid_whitelist
    group = token.group_id if token.group_id and len(token.group_id) <= GROUP_ID_MAX else None
    return OcpiToken(
        country_code=me.country_code,
        party_id=me.party_id,
        uid=token.id_token,
        type=kind,
        contract_id=token.id_token,
        issuer=me.issuer[:ISSUER_MAX],
        valid=valid,
        whitelist=whitelist,
        last_updated=last_updated,
        group_id=group,
    )


def same_published(a: OcpiToken, b: OcpiToken) -> bool:
    """Equal but for last_updated: nothing to push."""
    return token_to_json(a) | {"last_updated": ""} == token_to_json(b) | {"last_updated": ""}


_ALLOWED_OF: Final = {
    AuthStatus.ACCEPTED: AllowedType.ALLOWED,
    AuthStatus.BLOCKED: AllowedType.BLOCKED,
    AuthStatus.EXPIRED: AllowedType.EXPIRED,
    AuthStatus.NO_CREDIT: AllowedType.NO_CREDIT,
}


def allowed_of(status: AuthStatus) -> AllowedType:
    """Our answer to a CPO for the decision Ampyre's own rules give (domain.authz.decide):
    a token marked invalid, restricted to other (Ampyre) stations or otherwise refused is
    NOT_ALLOWED."""
    return _ALLOWED_OF.get(status, AllowedType.NOT_ALLOWED)
