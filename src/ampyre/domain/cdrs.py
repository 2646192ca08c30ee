"""OCPI 2.2.1 CDRs (Charge Detail Records) as plain values: the CDR Ampyre (as CPO)
makes when a transaction ends, credit CDRs that cancel one (mod_cdrs 10.1.1), and what
Ampyre keeps of a CDR a CPO partner sends it (as eMSP).

A CDR is sealed when made: it is stored as the OCPI object and never changed. A
correction is a credit CDR (all the data of the original, `total_cost` negated, `credit`
true, `credit_reference_id` the original's id), optionally followed by a new CDR with a
new id. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ampyre.domain.ocpi_sessions import (
    AuthMethod,
    CdrToken,
    Dimension,
    Period,
    Price,
    Pricing,
    decimal_of,
    hours_between,
    json_value,
    ocpi_time,
    parse_time,
    price_of,
)
from ampyre.domain.pricing import PricedSession
from ampyre.domain.tariff_json import round4, tariff_to_json
from ampyre.domain.tariffs import Price as TariffPrice

CDR_ID_MAX = 39  # OCPI 2.2.1 mod_cdrs 10.4.1: id CiString(39)
NORMAL_ID_MAX = 36  # ... and a non-credit CDR's id at most 36
CREDIT_SUFFIX = "-C"  # "the id of the original CDR with something appended like -C"
NOT_AVAILABLE = "#NA"  # transport_and_format: a value that is not available


class CdrInvalid(ValueError):
    """A CDR that cannot be made or accepted as given."""


class CdrConflict(Exception):
    """The operation contradicts the CDRs already there (credited twice, a credit of a
    credit, an id already used for another CDR)."""


@dataclass(slots=True, frozen=True)
class CdrLocation:
    """OCPI 2.2.1 mod_cdrs CdrLocation: the location, EVSE and connector of the session,
    as they were at its start."""

    id: str
    address: str
    city: str
    country: str  # ISO 3166-1 alpha-3
    latitude: str
    longitude: str
    evse_uid: str
    evse_id: str
    connector_id: str
    connector_standard: str
    connector_format: str
    connector_power_type: str
    name: str | None = None
    postal_code: str | None = None
    state: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if self.name is not None:
            out["name"] = self.name
        out["address"] = self.address
        out["city"] = self.city
        if self.postal_code is not None:
            out["postal_code"] = self.postal_code
        if self.state is not None:
            out["state"] = self.state
        out["country"] = self.country
        out["coordinates"] = {"latitude": self.latitude, "longitude": self.longitude}
        out["evse_uid"] = self.evse_uid
        out["evse_id"] = self.evse_id
        out["connector_id"] = self.connector_id
        out["connector_standard"] = self.connector_standard
        out["connector_format"] = self.connector_format
        out["connector_power_type"] = self.connector_power_type
        return out


@dataclass(slots=True, frozen=True)
class CdrFacts:
    """Everything a CDR of ours says."""

    country_code: str
    party_id: str
    cdr_id: str
    start: datetime
    end: datetime
    token: CdrToken
    auth_method: AuthMethod
    location: CdrLocation
    pricing: Pricing
    last_updated: datetime
    session_id: str | None = None
    authorization_reference: str | None = None
    meter_id: str | None = None
    remark: str | None = None


def cdr_object(f: CdrFacts) -> dict[str, Any]:
    """The OCPI 2.2.1 CDR object (mod_cdrs 10.4.1). Charging periods keep no Session-only
    dimension; a CDR has at least one period (`+`): without one from the tariff engine, a
    single period of the whole session's energy and time, with no tariff."""
    if len(f.cdr_id) > NORMAL_ID_MAX:
        raise CdrInvalid(f"a CDR id has at most {NORMAL_ID_MAX} characters")
    if f.end < f.start:
        raise CdrInvalid("a CDR cannot end before it starts")
    p = f.pricing
    periods = p.periods or (
        Period(
            f.start,
            (Dimension("ENERGY", p.total_energy), Dimension("TIME", p.total_time)),
        ),
    )
    out: dict[str, Any] = {
        "country_code": f.country_code,
        "party_id": f.party_id,
        "id": f.cdr_id,
        "start_date_time": ocpi_time(f.start),
        "end_date_time": ocpi_time(f.end),
    }
    if f.session_id is not None:
        out["session_id"] = f.session_id
    out["cdr_token"] = f.token.to_json()
    out["auth_method"] = f.auth_method.value
    if f.authorization_reference is not None:
        out["authorization_reference"] = f.authorization_reference
    out["cdr_location"] = f.location.to_json()
    if f.meter_id is not None:
        out["meter_id"] = f.meter_id
    out["currency"] = p.currency
    if p.tariffs:
        out["tariffs"] = [dict(t) for t in p.tariffs]
    out["charging_periods"] = [q.to_json(for_cdr=True) for q in periods]
    # OCPI 2.2.1: total_cost is required; an unpriced session costs nothing to the eMSP
    # ("A total_cost of 0.00 means free of charge").
    total_cost = p.total_cost or Price(Decimal("0.00"), Decimal("0.00"))
    out["total_cost"] = total_cost.to_json()
    _price(out, "total_fixed_cost", p.total_fixed_cost)
    out["total_energy"] = json_value(p.total_energy)
    _price(out, "total_energy_cost", p.total_energy_cost)
    out["total_time"] = json_value(p.total_time)
    _price(out, "total_time_cost", p.total_time_cost)
    if p.total_parking_time is not None:
        out["total_parking_time"] = json_value(p.total_parking_time)
    _price(out, "total_parking_cost", p.total_parking_cost)
    _price(out, "total_reservation_cost", p.total_reservation_cost)
    if f.remark is not None:
        out["remark"] = f.remark[:255]
    out["last_updated"] = ocpi_time(f.last_updated)
    return out


def _price(out: dict[str, Any], key: str, price: Price | None) -> None:
    if price is not None:
        out[key] = price.to_json()


def unpriced(start: datetime, end: datetime, kwh: Decimal, currency: str) -> Pricing:
    """The pricing of a session no tariff priced: its energy and duration, no cost."""
    return Pricing(
        currency=currency,
        periods=(),
        total_cost=None,
        total_energy=kwh,
        total_time=hours_between(start, end),
    )


def credit_id(original_id: str) -> str:
    """The id of the credit CDR of `original_id` (mod_cdrs 10.1.1)."""
    out = original_id + CREDIT_SUFFIX
    if len(out) > CDR_ID_MAX:
        raise CdrInvalid(f"a credit CDR id has at most {CDR_ID_MAX} characters")
    return out


def reissue_id(transaction_pk: int, number: int) -> str:
    """The id of the `number`-th CDR of a transaction (the first is the plain pk; after a
    credit, a new CDR gets a new id: `<pk>-2`, `<pk>-3`, ...)."""
    return str(transaction_pk) if number <= 1 else f"{transaction_pk}-{number}"


def credit_object(
    original: Mapping[str, Any], new_id: str, now: datetime, remark: str | None = None
) -> dict[str, Any]:
    """The credit CDR of `original` (mod_cdrs 10.1.1): all its data, a new id, `credit`
    true, `credit_reference_id` the original's id, and only `total_cost` negated."""
    if original.get("credit"):
        raise CdrConflict("a credit CDR cannot be credited")
    out = dict(original)
    out["id"] = new_id
    total = price_of(original.get("total_cost"))
    if total is None:
        raise CdrInvalid("the CDR has no total_cost")
    out["total_cost"] = total.negated().to_json()
    out["credit"] = True
    out["credit_reference_id"] = original["id"]
    if remark is not None:
        out["remark"] = remark[:255]
    out["last_updated"] = ocpi_time(now)
    # Keep the OCPI field order: last_updated last.
    last = out.pop("last_updated")
    out["last_updated"] = last
    return out


@dataclass(slots=True, frozen=True)
class CdrSummary:
    """The columns kept beside a CDR's body, read from the OCPI object."""

    country_code: str
    party_id: str
    cdr_id: str
    session_id: str | None
    token_uid: str
    token_country_code: str
    token_party_id: str
    credit: bool
    credit_reference_id: str | None
    currency: str
    total_cost: Price
    total_energy: Decimal
    total_time: Decimal
    start: datetime
    end: datetime
    last_updated: datetime


def summarize(cdr: Mapping[str, Any]) -> CdrSummary:
    """Read the summary of an OCPI CDR (ours or a partner's); CdrInvalid when a required
    field is missing or malformed (mod_cdrs 10.4.1)."""
    try:
        token = cdr["cdr_token"]
        total_cost = price_of(cdr["total_cost"])
        if total_cost is None:
            raise CdrInvalid("total_cost is required")
        credit = bool(cdr.get("credit") or False)
        reference = cdr.get("credit_reference_id")
        if credit and not reference:
            raise CdrInvalid("a credit CDR needs credit_reference_id")
        return CdrSummary(
            country_code=str(cdr["country_code"]),
            party_id=str(cdr["party_id"]),
            cdr_id=str(cdr["id"]),
            session_id=None if cdr.get("session_id") is None else str(cdr["session_id"]),
            token_uid=str(token["uid"]),
            token_country_code=str(token["country_code"]),
            token_party_id=str(token["party_id"]),
            credit=credit,
            credit_reference_id=None if reference is None else str(reference),
            currency=str(cdr["currency"]),
            total_cost=total_cost,
            total_energy=decimal_of(cdr["total_energy"]),
            total_time=decimal_of(cdr["total_time"]),
            start=parse_time(cdr["start_date_time"]),
            end=parse_time(cdr["end_date_time"]),
            last_updated=parse_time(cdr["last_updated"]),
        )
    except (KeyError, TypeError) as exc:
        raise CdrInvalid(f"the CDR lacks a required field: {exc}") from exc
    except ValueError as exc:
        if isinstance(exc, CdrInvalid):
            raise
        raise CdrInvalid(str(exc)) from exc


@dataclass(slots=True)
class StoredCdr:
    """A stored CDR, ours or received (tables_roaming.ocpi_cdrs)."""

    id: int
    side: str
    summary: CdrSummary
    body: dict[str, Any]
    transaction_pk: int | None = None
    partner_id: int | None = None
    created_at: datetime | None = None
    credited_by: str | None = None  # read side: the id of the credit CDR of this one


# ---------------------------------------------------------------------- from the others


def pricing_of(priced: PricedSession) -> Pricing:
    """The tariff engine's answer in the shape of Sessions and CDRs: numbers rounded as
    the OCPI `number` type carries them (4 decimals), the tariff used as OCPI JSON."""

    def price(p: TariffPrice | None) -> Price | None:
        if p is None:
            return None
        return Price(round4(p.excl_vat), None if p.incl_vat is None else round4(p.incl_vat))

    periods = tuple(
        Period(
            p.start_date_time,
            tuple(Dimension(d.type.value, round4(d.volume)) for d in p.dimensions),
            p.tariff_id,
        )
        for p in priced.charging_periods
    )
    return Pricing(
        currency=priced.currency,
        periods=periods,
        total_cost=price(priced.total_cost),
        total_energy=round4(priced.total_energy),
        total_time=round4(priced.total_time),
        total_parking_time=round4(priced.total_parking_time),
        total_fixed_cost=price(priced.total_fixed_cost),
        total_energy_cost=price(priced.total_energy_cost),
        total_time_cost=price(priced.total_time_cost),
        total_parking_cost=price(priced.total_parking_cost),
        total_reservation_cost=price(priced.total_reservation_cost),
        tariffs=(tariff_to_json(priced.tariff),),
    )


@dataclass(slots=True, frozen=True)
class ConnectorKind:
    """A connector's standard, format and power type (mod_locations enums)."""

    standard: str
    format: str
    power_type: str


def cdr_location_of(
    obj: Mapping[str, Any] | None,
    *,
    location_id: str,
    evse_uid: str,
    connector_id: str,
    kind: ConnectorKind,
) -> CdrLocation:
    """A CdrLocation from the locations module's JSON; for a station in no (roaming)
    location, the fields nobody knows are #NA (transport_and_format "not available"),
    the coordinates 0,0 and the connector the configured default."""
    o: Mapping[str, Any] = obj or {}
    coordinates = o.get("coordinates") or {}
    return CdrLocation(
        id=str(o.get("id") or location_id)[:36],
        name=o.get("name"),
        address=str(o.get("address") or NOT_AVAILABLE)[:45],
        city=str(o.get("city") or NOT_AVAILABLE)[:45],
        postal_code=o.get("postal_code"),
        state=o.get("state"),
        country=str(o.get("country") or NOT_AVAILABLE)[:3],
        latitude=str(coordinates.get("latitude") or "0.000000"),
        longitude=str(coordinates.get("longitude") or "0.000000"),
        evse_uid=str(o.get("evse_uid") or evse_uid),
        evse_id=str(o.get("evse_id") or evse_uid)[:48],
        connector_id=str(o.get("connector_id") or connector_id),
        connector_standard=str(o.get("connector_standard") or kind.standard),
        connector_format=str(o.get("connector_format") or kind.format),
        connector_power_type=str(o.get("connector_power_type") or kind.power_type),
    )
