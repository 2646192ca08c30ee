"""OCPI 2.2.1 Session and CDR objects as pydantic models, to validate what CPO partners
send Ampyre as eMSP (mod_sessions 9.3, mod_cdrs 10.4): every field limit of the spec
(CiString/string lengths, enums, DateTime, required fields). Routes validate the parsed
JSON with them and keep the object as sent (numbers stay JSON numbers)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AfterValidator, Field, model_validator

from ampyre.api.ocpi.types import (
    CiString,
    CountryCode,
    GeoLocation,
    OcpiDateTime,
    OcpiModel,
    PartyId,
    Price,
    String,
)
from ampyre.domain.locations_enums import CONNECTOR_FORMATS, CONNECTOR_TYPES, POWER_TYPES
from ampyre.domain.ocpi_sessions import AuthMethod, CdrDimensionType, SessionStatus

MAX_PERIODS = 10_000  # charging periods in one object (bounded: a body limit applies too)
MAX_DIMENSIONS = 50
MAX_TARIFFS = 50


class TokenType(StrEnum):
    """mod_tokens 12.4.4 TokenType."""

    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    OTHER = "OTHER"
    RFID = "RFID"


def _one_of(allowed: frozenset[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"not a {what}")
        return value

    return AfterValidator(check)


class CdrTokenModel(OcpiModel):
    """mod_cdrs 10.4.3 CdrToken."""

    country_code: CountryCode
    party_id: PartyId
    uid: Annotated[str, CiString(36)]
    type: TokenType
    contract_id: Annotated[str, CiString(36)]


class CdrDimensionModel(OcpiModel):
    """mod_cdrs 10.4.2 CdrDimension."""

    type: CdrDimensionType
    volume: Decimal = Field(allow_inf_nan=False)


class ChargingPeriodModel(OcpiModel):
    """mod_cdrs 10.4.6 ChargingPeriod: at least one dimension."""

    start_date_time: OcpiDateTime
    dimensions: list[CdrDimensionModel] = Field(min_length=1, max_length=MAX_DIMENSIONS)
    tariff_id: Annotated[str, CiString(36)] | None = None


class SessionModel(OcpiModel):
    """mod_sessions 9.3.1 Session."""

    country_code: CountryCode
    party_id: PartyId
    id: Annotated[str, CiString(36)]
    start_date_time: OcpiDateTime
    end_date_time: OcpiDateTime | None = None
    kwh: Decimal = Field(allow_inf_nan=False)
    cdr_token: CdrTokenModel
    auth_method: AuthMethod
    authorization_reference: Annotated[str, CiString(36)] | None = None
    location_id: Annotated[str, CiString(36)]
    evse_uid: Annotated[str, CiString(36)]
    connector_id: Annotated[str, CiString(36)]
    meter_id: Annotated[str, String(255)] | None = None
    currency: Annotated[str, String(3)]
    charging_periods: list[ChargingPeriodModel] = Field(default=[], max_length=MAX_PERIODS)
    total_cost: Price | None = None
    status: SessionStatus
    last_updated: OcpiDateTime


class SessionPatchModel(OcpiModel):
    """A PATCH of a Session (mod_sessions 9.2.2.3): any field, last_updated required."""

    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    id: Annotated[str, CiString(36)] | None = None
    start_date_time: OcpiDateTime | None = None
    end_date_time: OcpiDateTime | None = None
    kwh: Decimal | None = Field(default=None, allow_inf_nan=False)
    cdr_token: CdrTokenModel | None = None
    auth_method: AuthMethod | None = None
    authorization_reference: Annotated[str, CiString(36)] | None = None
    location_id: Annotated[str, CiString(36)] | None = None
    evse_uid: Annotated[str, CiString(36)] | None = None
    connector_id: Annotated[str, CiString(36)] | None = None
    meter_id: Annotated[str, String(255)] | None = None
    currency: Annotated[str, String(3)] | None = None
    charging_periods: list[ChargingPeriodModel] | None = Field(default=None, max_length=MAX_PERIODS)
    total_cost: Price | None = None
    status: SessionStatus | None = None
    last_updated: OcpiDateTime


class CdrLocationModel(OcpiModel):
    """mod_cdrs 10.4.4 CdrLocation."""

    id: Annotated[str, CiString(36)]
    name: Annotated[str, String(255)] | None = None
    address: Annotated[str, String(45)]
    city: Annotated[str, String(45)]
    postal_code: Annotated[str, String(10)] | None = None
    state: Annotated[str, String(20)] | None = None
    country: Annotated[str, String(3)]
    coordinates: GeoLocation
    evse_uid: Annotated[str, CiString(36)]
    evse_id: Annotated[str, CiString(48)]
    connector_id: Annotated[str, CiString(36)]
    connector_standard: Annotated[str, _one_of(CONNECTOR_TYPES, "ConnectorType")]
    connector_format: Annotated[str, _one_of(CONNECTOR_FORMATS, "ConnectorFormat")]
    connector_power_type: Annotated[str, _one_of(POWER_TYPES, "PowerType")]


class SignedValueModel(OcpiModel):
    """mod_cdrs 10.4.8 SignedValue."""

    nature: Annotated[str, CiString(32)]
    plain_data: Annotated[str, String(512)]
    signed_data: Annotated[str, String(5000)]


class SignedDataModel(OcpiModel):
    """mod_cdrs 10.4.7 SignedData."""

    encoding_method: Annotated[str, CiString(36)]
    encoding_method_version: int | None = None
    public_key: Annotated[str, String(512)] | None = None
    signed_values: list[SignedValueModel] = Field(min_length=1, max_length=100)
    url: Annotated[str, String(512)] | None = None


class CdrModel(OcpiModel):
    """mod_cdrs 10.4.1 CDR."""

    country_code: CountryCode
    party_id: PartyId
    id: Annotated[str, CiString(39)]
    start_date_time: OcpiDateTime
    end_date_time: OcpiDateTime
    session_id: Annotated[str, CiString(36)] | None = None
    cdr_token: CdrTokenModel
    auth_method: AuthMethod
    authorization_reference: Annotated[str, CiString(36)] | None = None
    cdr_location: CdrLocationModel
    meter_id: Annotated[str, String(255)] | None = None
    currency: Annotated[str, String(3)]
    tariffs: list[dict[str, Any]] | None = Field(default=None, max_length=MAX_TARIFFS)
    charging_periods: list[ChargingPeriodModel] = Field(min_length=1, max_length=MAX_PERIODS)
    signed_data: SignedDataModel | None = None
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: Decimal = Field(allow_inf_nan=False)
    total_energy_cost: Price | None = None
    total_time: Decimal = Field(allow_inf_nan=False)
    total_time_cost: Price | None = None
    total_parking_time: Decimal | None = Field(default=None, allow_inf_nan=False)
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: Annotated[str, String(255)] | None = None
    invoice_reference_id: Annotated[str, CiString(39)] | None = None
    credit: bool | None = None
    credit_reference_id: Annotated[str, CiString(39)] | None = None
    home_charging_compensation: bool | None = None
    last_updated: OcpiDateTime

    @model_validator(mode="after")
    def _credit_has_reference(self) -> Self:
        # mod_cdrs 10.4.1: "When set to true ... credit_reference_id needs to be set";
        # a normal CDR's id has at most 36 characters.
        if self.credit and not self.credit_reference_id:
            raise ValueError("a credit CDR needs credit_reference_id")
        if not self.credit and len(self.id) > 36:
            raise ValueError("the id of a CDR that is not a credit CDR has at most 36 characters")
        return self
