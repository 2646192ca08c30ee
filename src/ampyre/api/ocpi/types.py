"""OCPI 2.2.1 types (types chapter 16, and classes shared by several modules) as pydantic
types, so every module enforces the same limits: a too long or non-printable string, a
malformed DateTime or URL is a validation error (answered 2001 by the envelope).

* `Annotated[str, CiString(n)]`: case-insensitive, printable ASCII, at most n (16.1);
* `Annotated[str, String(n)]`: case-sensitive, printable UTF-8, at most n (16.6);
* `OcpiDateTime`: RFC 3339, UTC; no designator means UTC (16.2) -> aware UTC datetime;
* `Url`: string(255) (16.7), http(s).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from annotated_types import GroupedMetadata, MaxLen
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from ampyre.api.ocpi.envelope import invalid
from ampyre.domain.ocpi import OcpiRole, parse_ocpi_time


def _printable_ascii(value: str) -> str:
    if not value.isascii() or not value.isprintable():
        raise ValueError("only printable ASCII characters are allowed (CiString)")
    return value


def _printable(value: str) -> str:
    # types 16.6: "Non-printable characters like: Carriage returns, Tabs, Line breaks,
    # etc are not allowed".
    if not value.isprintable():
        raise ValueError("only printable characters are allowed (no tabs or line breaks)")
    return value


@dataclass(frozen=True, slots=True)
class CiString(GroupedMetadata):
    """types 16.1 CiString(length), as metadata: `Annotated[str, CiString(36)]`."""

    length: int

    def __iter__(self) -> Iterator[object]:
        yield MaxLen(self.length)
        yield AfterValidator(_printable_ascii)


@dataclass(frozen=True, slots=True)
class String(GroupedMetadata):
    """types 16.6 string(length), as metadata: `Annotated[str, String(255)]`."""

    length: int

    def __iter__(self) -> Iterator[object]:
        yield MaxLen(self.length)
        yield AfterValidator(_printable)


def _datetime(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > 35:
            raise ValueError("a DateTime has at most 25 characters")
        return parse_ocpi_time(value)
    return value


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    return value


OcpiDateTime = Annotated[datetime, BeforeValidator(_datetime)]
Url = Annotated[str, Field(max_length=255), AfterValidator(_printable), AfterValidator(_url)]
CountryCode = Annotated[str, Field(min_length=2, max_length=2), AfterValidator(_printable_ascii)]
PartyId = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_printable_ascii)]
# Money and quantities: JSON numbers, kept exact (types 16.4 number).
Number = Decimal


def parse_query_time(name: str, value: str | None) -> datetime | None:
    """A DateTime query parameter (date_from, date_to); 2001 when malformed."""
    if value is None or value == "":
        return None
    try:
        return parse_ocpi_time(value)
    except ValueError:
        raise invalid(f"{name}: not an OCPI DateTime") from None


class OcpiModel(BaseModel):
    """Base of the OCPI objects we read: unknown fields are ignored (other versions and
    custom fields), numbers stay Decimal."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=False)


class DisplayText(OcpiModel):
    """types 16.3."""

    language: Annotated[str, String(2)]
    text: Annotated[str, String(512)]


class Price(OcpiModel):
    """types 16.5 Price."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


class ImageCategory(StrEnum):
    """mod_locations 8.4.13."""

    CHARGER = "CHARGER"
    ENTRANCE = "ENTRANCE"
    LOCATION = "LOCATION"
    NETWORK = "NETWORK"
    OPERATOR = "OPERATOR"
    OTHER = "OTHER"
    OWNER = "OWNER"


class Image(OcpiModel):
    """mod_locations 8.4.12 Image."""

    url: Url
    thumbnail: Url | None = None
    category: ImageCategory
    type: Annotated[str, CiString(4)]
    width: int | None = Field(default=None, ge=0, le=99999)
    height: int | None = Field(default=None, ge=0, le=99999)


class BusinessDetails(OcpiModel):
    """mod_locations 8.4.2 BusinessDetails."""

    name: Annotated[str, String(100)]
    website: Url | None = None
    logo: Image | None = None


class GeoLocation(OcpiModel):
    """mod_locations 8.4.10 GeoLocation (WGS 84, 5 to 7 decimals)."""

    latitude: Annotated[str, Field(max_length=10, pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")]
    longitude: Annotated[str, Field(max_length=11, pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")]


class CredentialsRole(OcpiModel):
    """credentials 7.4.1 CredentialsRole."""

    role: OcpiRole
    business_details: BusinessDetails
    party_id: PartyId
    country_code: CountryCode


class Credentials(OcpiModel):
    """credentials 7.3.1 Credentials: token string(64), ASCII only, not encoded."""

    token: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_printable_ascii)]
    url: Url
    roles: Annotated[list[CredentialsRole], Field(min_length=1, max_length=100)]
