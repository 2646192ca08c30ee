"""OCPI 2.2.1 values shared by every roaming module: roles, endpoints, partners (the other
platforms Ampyre exchanges credentials with) and OCPI's DateTime format. Plain values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any

OCPI_VERSION = "2.2.1"
# The versions we can speak, best first (version negotiation picks the first in common).
SUPPORTED_VERSIONS: tuple[str, ...] = (OCPI_VERSION,)


class OcpiRole(StrEnum):
    """OCPI 2.2.1 types 16.5 Role."""

    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


class InterfaceRole(StrEnum):
    """OCPI 2.2.1 version_information_endpoint 6.2.3 InterfaceRole."""

    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


class ModuleId(StrEnum):
    """OCPI 2.2.1 version_information_endpoint 6.2.4 ModuleID."""

    CDRS = "cdrs"
    CHARGING_PROFILES = "chargingprofiles"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    HUB_CLIENT_INFO = "hubclientinfo"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"


class PartnerStatus(StrEnum):
    # PENDING: created, no handshake yet (or it failed): only our token A (or a token B we
    # offered) works, and only on versions, details and credentials.
    PENDING = "PENDING"
    REGISTERED = "REGISTERED"
    # Either side unregistered (credentials DELETE): no automated communication.
    UNREGISTERED = "UNREGISTERED"


@dataclass(frozen=True, slots=True)
class Endpoint:
    identifier: str
    role: InterfaceRole
    url: str


@dataclass(frozen=True, slots=True)
class PartyRole:
    """One CredentialsRole of a platform (credentials 7.4.1): a role under a country code
    and party id, with the business name."""

    role: OcpiRole
    country_code: str
    party_id: str
    name: str | None = None
    website: str | None = None

    def same_party(self, country_code: str, party_id: str) -> bool:
        # CiString: case-insensitive (OCPI 2.2.1 types 16.1).
        return (
            self.country_code.upper() == country_code.upper()
            and self.party_id.upper() == party_id.upper()
        )


@dataclass(frozen=True, slots=True)
class Partner:
    id: int
    name: str
    status: PartnerStatus
    versions_url: str | None
    version: str | None
    endpoints: tuple[Endpoint, ...]
    roles: tuple[PartyRole, ...]
    created_at: datetime
    updated_at: datetime
    registered_at: datetime | None = None
    last_error: str | None = None
    # The credentials token WE present to them (their token A before the handshake, then
    # their token B or C). Never shown in the API.
    token_out: str | None = field(default=None, repr=False)

    @property
    def registered(self) -> bool:
        return self.status is PartnerStatus.REGISTERED

    def endpoint(self, identifier: str, role: InterfaceRole) -> str | None:
        for endpoint in self.endpoints:
            if endpoint.identifier == identifier and endpoint.role is role:
                return endpoint.url
        if identifier == ModuleId.CREDENTIALS:
            # "for the credentials module, the role is not relevant" (6.2.2): either will do.
            for endpoint in self.endpoints:
                if endpoint.identifier == identifier:
                    return endpoint.url
        return None

    def has_party(self, country_code: str, party_id: str) -> bool:
        return any(r.same_party(country_code, party_id) for r in self.roles)

    def has_role(self, role: OcpiRole) -> bool:
        return any(r.role is role for r in self.roles)

    def party(self, role: OcpiRole | None = None) -> PartyRole | None:
        for party in self.roles:
            if role is None or party.role is role:
                return party
        return None


# OCPI 2.2.1 types 16.2 DateTime: RFC 3339, UTC; "the absence of the timezone designator
# implies a UTC timestamp"; fractional seconds may be used.
_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|z|[+-]\d{2}:\d{2})?$"
)


def ocpi_time(at: datetime) -> str:
    """A DateTime as OCPI writes it: UTC, `Z`, milliseconds only when there are some
    (at most 24 characters: DateTime is a string(25))."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    millis = at.microsecond // 1000
    if millis:
        text += f".{millis:03d}"
    return text + "Z"


def parse_ocpi_time(text: str) -> datetime:
    """An OCPI DateTime -> an aware UTC datetime. Offsets other than Z are converted (the
    spec asks for UTC; being lenient in what we accept costs nothing here)."""
    found = _DATETIME.match(text.strip())
    if found is None:
        raise ValueError(f"not an OCPI DateTime: {text[:40]!r}")
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    at = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    if zone in (None, "Z", "z"):
        return at.replace(tzinfo=UTC)
    return datetime.fromisoformat(at.isoformat() + zone).astimezone(UTC)


def ocpi_jsonable(value: Any) -> Any:
    """A value made of what `json` writes: Decimal -> a number (OCPI 2.2.1 types 16.4
    "number"; exact text for up to 15 significant digits, our money has 4 decimals),
    datetime -> ocpi_time, enums -> their value, dataclasses and objects with
    `model_dump` (pydantic models: by alias, None fields left out) -> dicts."""
    if value is None or isinstance(value, bool | int | str):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, float):
        return value
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) < 2**53:
            return int(value)
        return float(value)
    if isinstance(value, datetime):
        return ocpi_time(value)
    if isinstance(value, Enum):
        return ocpi_jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): ocpi_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [ocpi_jsonable(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return ocpi_jsonable(dump(by_alias=True, exclude_none=True))
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: ocpi_jsonable(getattr(value, f.name)) for f in fields(value)}
    raise TypeError(f"not JSON-able for OCPI: {type(value).__name__}")
