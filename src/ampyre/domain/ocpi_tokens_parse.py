"""Checking OCPI 2.2.1 token and command objects received from a partner (a pushed
Token, a real-time AuthorizationInfo, a command body, a CommandResult) against the
spec's types and field limits, without a framework: one table of fields per object.

CiString(n) is printable ASCII (OCPI 2.2.1 types 16.1), string(n) any printable
characters (types 16.6: "case sensitive ... UTF-8"); n counts characters. Fields the
table does not name are dropped (a partner on a later minor version may send more).
An object that fails raises `InvalidObject` naming the field (the OCPI answer is 2001).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ampyre.domain.ocpi import ocpi_time, parse_ocpi_time
from ampyre.domain.ocpi_commands import (
    CommandResultType,
    CommandType,
)
from ampyre.domain.ocpi_tokens import (
    AUTHORIZATION_REFERENCE_MAX,
    CONNECTOR_ID_MAX,
    CONTRACT_ID_MAX,
    COUNTRY_CODE_LEN,
    ENERGY_CONTRACT_ID_MAX,
    EVSE_UID_MAX,
    GROUP_ID_MAX,
    ISSUER_MAX,
    LANGUAGE_LEN,
    LOCATION_ID_MAX,
    PARTY_ID_LEN,
    RESERVATION_ID_MAX,
    SESSION_ID_MAX,
    SUPPLIER_NAME_MAX,
    UID_MAX,
    URL_MAX,
    VISUAL_NUMBER_MAX,
    AllowedType,
    AuthorizationInfo,
    LocationReferences,
    OcpiToken,
    TokenType,
    WhitelistType,
    token_from_json,
    token_to_json,
)


class InvalidObject(ValueError):
    """A received object breaks the spec; `field` is its dotted path."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class Kind(enum.Enum):
    CI = "CiString"
    STR = "string"
    BOOL = "boolean"
    INT = "int"
    TIME = "DateTime"
    URL = "URL"
    ENUM = "enum"
    OBJECT = "object"
    CI_LIST = "CiString list"
    TEXTS = "DisplayText list"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    max: int | None = None
    required: bool = True
    exact: int | None = None  # a fixed length (country code, party id, language)
    enum: type[enum.StrEnum] | None = None
    fields: tuple[Field, ...] = ()  # of an OBJECT


def ci(name: str, max_: int, required: bool = True, exact: int | None = None) -> Field:
    return Field(name, Kind.CI, max_, required, exact)


def text(name: str, max_: int, required: bool = True, exact: int | None = None) -> Field:
    return Field(name, Kind.STR, max_, required, exact)


def choice(name: str, values: type[enum.StrEnum], required: bool = True) -> Field:
    return Field(name, Kind.ENUM, None, required, enum=values)


# The ProfileType values (OCPI 2.2.1 mod_sessions 9.4.4) a Token's default may name.
class ProfileType(enum.StrEnum):
    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


ENERGY_CONTRACT: Final = (
    text("supplier_name", SUPPLIER_NAME_MAX),
    text("contract_id", ENERGY_CONTRACT_ID_MAX, required=False),
)

# OCPI 2.2.1 mod_tokens 12.3.2 Token object.
TOKEN: Final = (
    ci("country_code", COUNTRY_CODE_LEN, exact=COUNTRY_CODE_LEN),
    ci("party_id", PARTY_ID_LEN, exact=PARTY_ID_LEN),
    ci("uid", UID_MAX),
    choice("type", TokenType),
    ci("contract_id", CONTRACT_ID_MAX),
    text("visual_number", VISUAL_NUMBER_MAX, required=False),
    text("issuer", ISSUER_MAX),
    ci("group_id", GROUP_ID_MAX, required=False),
    Field("valid", Kind.BOOL),
    choice("whitelist", WhitelistType),
    text("language", LANGUAGE_LEN, required=False, exact=LANGUAGE_LEN),
    choice("default_profile_type", ProfileType, required=False),
    Field("energy_contract", Kind.OBJECT, required=False, fields=ENERGY_CONTRACT),
    Field("last_updated", Kind.TIME),
)
# A PATCH names the token by its URL; the rest may come, last_updated SHALL
# (mod_tokens 12.2.1.3).
_TOKEN_KEYS: Final = frozenset({"country_code", "party_id", "uid", "type"})

# OCPI 2.2.1 mod_tokens 12.4.3 LocationReferences.
LOCATION_REFERENCES: Final = (
    ci("location_id", LOCATION_ID_MAX),
    Field("evse_uids", Kind.CI_LIST, EVSE_UID_MAX, required=False),
)

# OCPI 2.2.1 mod_commands 13.3.x request objects.
_URL: Final = Field("response_url", Kind.URL, URL_MAX)
_TOKEN_FIELD: Final = Field("token", Kind.OBJECT, fields=TOKEN)
_REFERENCE: Final = ci("authorization_reference", AUTHORIZATION_REFERENCE_MAX, required=False)
COMMANDS: Final[Mapping[CommandType, tuple[Field, ...]]] = {
    CommandType.CANCEL_RESERVATION: (_URL, ci("reservation_id", RESERVATION_ID_MAX)),
    CommandType.RESERVE_NOW: (
        _URL,
        _TOKEN_FIELD,
        Field("expiry_date", Kind.TIME),
        ci("reservation_id", RESERVATION_ID_MAX),
        ci("location_id", LOCATION_ID_MAX),
        ci("evse_uid", EVSE_UID_MAX, required=False),
        _REFERENCE,
    ),
    CommandType.START_SESSION: (
        _URL,
        _TOKEN_FIELD,
        ci("location_id", LOCATION_ID_MAX),
        ci("evse_uid", EVSE_UID_MAX, required=False),
        ci("connector_id", CONNECTOR_ID_MAX, required=False),
        _REFERENCE,
    ),
    CommandType.STOP_SESSION: (_URL, ci("session_id", SESSION_ID_MAX)),
    CommandType.UNLOCK_CONNECTOR: (
        _URL,
        ci("location_id", LOCATION_ID_MAX),
        ci("evse_uid", EVSE_UID_MAX),
        ci("connector_id", CONNECTOR_ID_MAX),
    ),
}

# OCPI 2.2.1 mod_commands 13.3.3 CommandResult.
COMMAND_RESULT: Final = (
    choice("result", CommandResultType),
    Field("message", Kind.TEXTS, 512, required=False),
)


def check(obj: Any, fields: Sequence[Field], where: str = "") -> dict[str, Any]:
    """The object with only the named fields, each checked; DateTimes parsed."""
    if not isinstance(obj, Mapping):
        raise InvalidObject(f"{where or 'body'} must be a JSON object", where)
    out: dict[str, Any] = {}
    for f in fields:
        path = f"{where}.{f.name}" if where else f.name
        value = obj.get(f.name)
        if value is None:
            if f.required:
                raise InvalidObject(f"{path} is required", path)
            continue
        out[f.name] = _value(f, value, path)
    return out


def _value(f: Field, value: Any, path: str) -> Any:
    if f.kind in (Kind.CI, Kind.STR, Kind.URL):
        return _string(f, value, path)
    if f.kind is Kind.BOOL:
        if not isinstance(value, bool):
            raise InvalidObject(f"{path} must be true or false", path)
        return value
    if f.kind is Kind.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidObject(f"{path} must be an integer", path)
        return value
    if f.kind is Kind.TIME:
        if not isinstance(value, str) or len(value) > 25:  # DateTime is string(25)
            raise InvalidObject(f"{path} must be an OCPI DateTime", path)
        try:
            return parse_ocpi_time(value)
        except ValueError:
            raise InvalidObject(f"{path} must be an OCPI DateTime", path) from None
    if f.kind is Kind.ENUM:
        assert f.enum is not None
        try:
            return f.enum(value)
        except ValueError:
            allowed = ", ".join(m.value for m in f.enum)
            raise InvalidObject(f"{path} must be one of {allowed}", path) from None
    if f.kind is Kind.OBJECT:
        return check(value, f.fields, path)
    if f.kind is Kind.CI_LIST:
        if not isinstance(value, list) or len(value) > 1000:
            raise InvalidObject(f"{path} must be a list", path)
        item = Field(f.name, Kind.CI, f.max)
        return [_string(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    # Kind.TEXTS: DisplayText list (types 16.3: language string(2), text string(512))
    if not isinstance(value, list) or len(value) > 20:
        raise InvalidObject(f"{path} must be a list of DisplayText", path)
    shape = (text("language", 2, exact=2), text("text", f.max or 512))
    return [check(v, shape, f"{path}[{i}]") for i, v in enumerate(value)]


def _string(f: Field, value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise InvalidObject(f"{path} must be a string", path)
    if f.exact is not None and len(value) != f.exact:
        raise InvalidObject(f"{path} must have {f.exact} characters", path)
    if f.max is not None and len(value) > f.max:
        raise InvalidObject(f"{path} has at most {f.max} characters", path)
    if f.kind is Kind.CI and not (value.isascii() and value.isprintable()):
        raise InvalidObject(f"{path} must be printable ASCII (CiString)", path)
    if not value.isprintable():
        raise InvalidObject(f"{path} must be printable", path)
    if f.kind is Kind.URL and not value.startswith(("http://", "https://")):
        raise InvalidObject(f"{path} must be an http(s) URL", path)
    if f.kind is not Kind.STR and not value:
        raise InvalidObject(f"{path} must not be empty", path)
    return value


# ---------------------------------------------------------------------- objects


def parse_token(obj: Any, where: str = "") -> OcpiToken:
    return _token(check(obj, TOKEN, where))


def _token(d: dict[str, Any]) -> OcpiToken:
    return token_from_json(d | {"last_updated": ocpi_time(d["last_updated"])})


def check_token_patch(obj: Any) -> dict[str, Any]:
    """The fields a PATCH changes (checked); last_updated is required."""
    if not isinstance(obj, Mapping):
        raise InvalidObject("body must be a JSON object")
    if obj.get("last_updated") is None:
        raise InvalidObject("last_updated is required in a PATCH", "last_updated")
    optional = tuple(Field(f.name, f.kind, f.max, False, f.exact, f.enum, f.fields) for f in TOKEN)
    return check(obj, optional)


def patched_token(current: OcpiToken, changes: Mapping[str, Any]) -> OcpiToken:
    """`current` with a checked PATCH applied; the identifying fields may not change."""
    for key in _TOKEN_KEYS & changes.keys():
        now = changes[key]
        was = getattr(current, key)
        same = now == was if key == "type" else str(now).lower() == str(was).lower()
        if not same:
            raise InvalidObject(f"{key} cannot be changed by a PATCH", key)
    merged = token_to_json(current)
    merged.update({k: v for k, v in changes.items() if k not in _TOKEN_KEYS})
    return parse_token(_jsonable(merged))


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    out = dict(d)
    for key, value in d.items():
        if hasattr(value, "isoformat"):
            out[key] = ocpi_time(value)
        elif isinstance(value, enum.Enum):
            out[key] = value.value
    return out


def parse_location_references(obj: Any) -> LocationReferences:
    d = check(obj, LOCATION_REFERENCES, "location")
    return LocationReferences(d["location_id"], tuple(d.get("evse_uids", ())))


def parse_authorization_info(obj: Any, asked: OcpiToken) -> AuthorizationInfo:
    """An eMSP's AuthorizationInfo. `allowed` decides; a token that does not parse is
    replaced by the one asked about (the answer still counts)."""
    if not isinstance(obj, Mapping):
        raise InvalidObject("AuthorizationInfo must be a JSON object")
    allowed = check(obj, (choice("allowed", AllowedType),))["allowed"]
    try:
        token = parse_token(obj.get("token"), "token")
    except InvalidObject:
        token = asked
    location = None
    if obj.get("location") is not None:
        try:
            location = parse_location_references(obj["location"])
        except InvalidObject:
            location = None
    reference = obj.get("authorization_reference")
    if not (
        isinstance(reference, str)
        and 0 < len(reference) <= AUTHORIZATION_REFERENCE_MAX
        and reference.isascii()
        and reference.isprintable()
    ):
        reference = None
    return AuthorizationInfo(allowed, token, location, reference)


def check_command(command: CommandType, obj: Any) -> dict[str, Any]:
    """A command's request object (mod_commands 13.3), checked; its token parsed."""
    d = check(obj, COMMANDS[command])
    if "token" in d:
        d["token"] = _token(d["token"])
    if command is CommandType.START_SESSION and "connector_id" in d and "evse_uid" not in d:
        # mod_commands 13.3.6: evse_uid is "Required when connector_id is set".
        raise InvalidObject("evse_uid is required when connector_id is set", "evse_uid")
    return d


def parse_command_result(obj: Any) -> tuple[CommandResultType, str | None]:
    d = check(obj, COMMAND_RESULT)
    texts = d.get("message") or []
    return d["result"], (texts[0]["text"] if texts else None)
