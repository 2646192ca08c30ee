"""The OCPI 2.2.1 Tariff (mod_tariffs) as plain values, and the rules a tariff must keep.

One model serves both OCPI (our tariffs served and pushed as the CPO, partners' tariffs
received as the eMSP) and Ampyre's own pricing (domain/pricing.py). Money is Decimal;
the OCPI JSON shape lives in domain/tariff_json.py.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any


class TariffDimensionType(enum.StrEnum):
    """OCPI 2.2.1 mod_tariffs 11.4.5: the unit `step_size` counts in is 1 Wh for
    ENERGY and 1 second for TIME/PARKING_TIME; FLAT has none."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class DayOfWeek(enum.StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


# date.weekday(): Monday is 0.
WEEKDAYS: tuple[DayOfWeek, ...] = tuple(DayOfWeek)


class ReservationRestrictionType(enum.StrEnum):
    """OCPI 2.2.1 mod_tariffs 11.4.3."""

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TariffType(enum.StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


@dataclass(frozen=True, slots=True)
class Price:
    """OCPI 2.2.1 types Price: a cost excluding VAT and, when known, including it."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


@dataclass(frozen=True, slots=True)
class DisplayText:
    language: str  # ISO 639-1
    text: str


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """OCPI 2.2.1 mod_tariffs 11.4.2: `price` per unit excl. VAT (kWh, hour, or the flat
    fee); `vat` a percentage, None meaning "no VAT applicable" (not the same as 0)."""

    type: TariffDimensionType
    price: Decimal
    step_size: int
    vat: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TariffRestrictions:
    """OCPI 2.2.1 mod_tariffs 11.4.6. Times and dates are local (the Location's time
    zone); every `min_*` is inclusive and every `max_*`/`end_*` exclusive."""

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None  # A, summed over phases
    max_current: Decimal | None = None
    min_power: Decimal | None = None  # kW
    max_power: Decimal | None = None
    min_duration: int | None = None  # seconds since the session started
    max_duration: int | None = None
    day_of_week: tuple[DayOfWeek, ...] = ()
    reservation: ReservationRestrictionType | None = None


@dataclass(frozen=True, slots=True)
class TariffElement:
    price_components: tuple[PriceComponent, ...]
    restrictions: TariffRestrictions | None = None

    def component(self, kind: TariffDimensionType) -> PriceComponent | None:
        for c in self.price_components:
            if c.type is kind:
                return c
        return None


@dataclass(frozen=True, slots=True)
class Tariff:
    """OCPI 2.2.1 mod_tariffs 11.3.1 Tariff object."""

    country_code: str
    party_id: str
    id: str
    currency: str
    elements: tuple[TariffElement, ...]
    last_updated: datetime
    type: TariffType | None = None
    tariff_alt_text: tuple[DisplayText, ...] = ()
    tariff_alt_url: str | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    energy_mix: Mapping[str, Any] | None = None  # the OCPI EnergyMix object as sent

    def valid_at(self, at: datetime) -> bool:
        """Whether the tariff is in force at `at` (start inclusive, end exclusive)."""
        if self.start_date_time is not None and at < self.start_date_time:
            return False
        return self.end_date_time is None or at < self.end_date_time


class TariffInvalid(ValueError):
    """A tariff breaking a rule; `field` names the offending field as a dotted path
    ("elements.0.price_components.1.step_size")."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


# OCPI 2.2.1 types: CiString and string are printable ASCII only.
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_CURRENCY = re.compile(r"[A-Z]{3}")
_LANGUAGE = re.compile(r"[a-zA-Z]{2}")
MAX_ELEMENTS = 100
MAX_COMPONENTS = 8
# Far beyond any real tariff, and small enough that no cost overflows a column.
MAX_PRICE = Decimal("1000000")
MAX_STEP = 2**31 - 1


def _require(ok: bool, message: str, field: str) -> None:
    if not ok:
        raise TariffInvalid(message, field)


def check_ascii(value: str, limit: int, field: str) -> None:
    """OCPI CiString(n)/string(n): at most `limit` printable ASCII characters."""
    _require(len(value) <= limit, f"{field} is longer than {limit} characters", field)
    _require(
        _PRINTABLE.fullmatch(value) is not None,
        f"{field} must be printable ASCII",
        field,
    )


def validate_tariff(t: Tariff) -> None:
    """Raise TariffInvalid for the first rule `t` breaks (OCPI 2.2.1 mod_tariffs)."""
    for name, limit in (("country_code", 2), ("party_id", 3), ("id", 36)):
        value = getattr(t, name)
        _require(bool(value), f"{name} is required", name)
        check_ascii(value, limit, name)
    _require(len(t.country_code) == 2, "country_code has 2 characters", "country_code")
    _require(len(t.party_id) == 3, "party_id has 3 characters", "party_id")
    _require(
        _CURRENCY.fullmatch(t.currency) is not None,
        "currency is an ISO 4217 code (3 capital letters)",
        "currency",
    )
    _require(t.last_updated.tzinfo is not None, "last_updated must be UTC", "last_updated")
    for i, text in enumerate(t.tariff_alt_text):
        at = f"tariff_alt_text.{i}"
        _require(
            _LANGUAGE.fullmatch(text.language) is not None,
            "language is an ISO 639-1 code",
            f"{at}.language",
        )
        _require(len(text.text) <= 512, "text is longer than 512 characters", f"{at}.text")
    if t.tariff_alt_url is not None:
        check_ascii(t.tariff_alt_url, 255, "tariff_alt_url")
        _require(
            t.tariff_alt_url.startswith(("http://", "https://")),
            "tariff_alt_url must be an http(s) URL",
            "tariff_alt_url",
        )
    for name in ("min_price", "max_price"):
        price = getattr(t, name)
        if price is not None:
            _check_price(price, name)
    if t.min_price is not None and t.max_price is not None:
        _require(
            t.min_price.excl_vat <= t.max_price.excl_vat,
            "min_price is above max_price",
            "min_price",
        )
    if t.start_date_time is not None and t.end_date_time is not None:
        _require(
            t.start_date_time < t.end_date_time,
            "end_date_time must be after start_date_time",
            "end_date_time",
        )
    _require(len(t.elements) >= 1, "a tariff has at least one element", "elements")
    _require(len(t.elements) <= MAX_ELEMENTS, f"at most {MAX_ELEMENTS} elements", "elements")
    for i, element in enumerate(t.elements):
        _check_element(element, f"elements.{i}")


def _check_price(price: Price, field: str) -> None:
    _require(0 <= price.excl_vat <= MAX_PRICE, "excl_vat is out of range", f"{field}.excl_vat")
    if price.incl_vat is not None:
        _require(
            price.excl_vat <= price.incl_vat <= MAX_PRICE,
            "incl_vat must be at least excl_vat",
            f"{field}.incl_vat",
        )


def _check_element(element: TariffElement, at: str) -> None:
    components = element.price_components
    _require(len(components) >= 1, "an element has at least one price component", at)
    _require(
        len(components) <= MAX_COMPONENTS,
        f"at most {MAX_COMPONENTS} price components",
        f"{at}.price_components",
    )
    kinds = [c.type for c in components]
    _require(
        len(set(kinds)) == len(kinds),
        "one price component per dimension in an element",
        f"{at}.price_components",
    )
    for j, c in enumerate(components):
        where = f"{at}.price_components.{j}"
        _require(0 <= c.price <= MAX_PRICE, "price is out of range", f"{where}.price")
        _require(0 <= c.step_size <= MAX_STEP, "step_size is out of range", f"{where}.step_size")
        if c.vat is not None:
            _require(0 <= c.vat <= 100, "vat is a percentage (0..100)", f"{where}.vat")
    r = element.restrictions
    if r is None:
        return
    where = f"{at}.restrictions"
    for low, high in (
        ("min_kwh", "max_kwh"),
        ("min_current", "max_current"),
        ("min_power", "max_power"),
        ("min_duration", "max_duration"),
    ):
        lo, hi = getattr(r, low), getattr(r, high)
        for name, value in ((low, lo), (high, hi)):
            if value is not None:
                _require(value >= 0, f"{name} must not be negative", f"{where}.{name}")
        if lo is not None and hi is not None:
            _require(lo < hi, f"{low} must be below {high}", f"{where}.{low}")
    if r.start_date is not None and r.end_date is not None:
        _require(
            r.start_date < r.end_date, "end_date must be after start_date", f"{where}.end_date"
        )
    _require(
        len(set(r.day_of_week)) == len(r.day_of_week),
        "day_of_week lists a day twice",
        f"{where}.day_of_week",
    )
    if r.reservation is not None:
        # OCPI 2.2.1 mod_tariffs 11.4.6: a reservation has only FLAT and TIME.
        for j, c in enumerate(components):
            _require(
                c.type in (TariffDimensionType.FLAT, TariffDimensionType.TIME),
                "a reservation element prices only FLAT and TIME",
                f"{at}.price_components.{j}.type",
            )


def parse_hhmm(value: str, field: str) -> time:
    """A restriction's time of day: OCPI 2.2.1 regex `([0-1][0-9]|2[0-3]):[0-5][0-9]`."""
    if re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value) is None:
        raise TariffInvalid(f"{field} must be HH:MM (24h)", field)
    return time(int(value[:2]), int(value[3:]))


def parse_day(value: str, field: str) -> date:
    """A restriction's date: OCPI 2.2.1 regex `([12][0-9]{3})-(0[1-9]|1[0-2])-(...)`."""
    if re.fullmatch(r"[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])", value) is None:
        raise TariffInvalid(f"{field} must be YYYY-MM-DD", field)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise TariffInvalid(f"{field} is not a date", field) from None
