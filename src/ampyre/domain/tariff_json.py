"""The OCPI 2.2.1 Tariff JSON object, both ways, without a framework: what partners send
is parsed here (every field checked, a TariffInvalid naming the field otherwise), and
what we store, serve and push is emitted here. Numbers go out as JSON numbers with at
most 4 decimals (OCPI 2.2.1 types 16.4 `number`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar

from ampyre.domain.tariffs import (
    DayOfWeek,
    DisplayText,
    Price,
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffElement,
    TariffInvalid,
    TariffRestrictions,
    TariffType,
    parse_day,
    parse_hhmm,
    validate_tariff,
)

FOUR_PLACES = Decimal("0.0001")


def round4(value: Decimal) -> Decimal:
    """OCPI 2.2.1 types `number`: 4 decimals (half up)."""
    return value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


def number(value: Decimal) -> int | float:
    """A Decimal as a JSON number with at most 4 decimals (integral values as ints)."""
    rounded = round4(value)
    if rounded == rounded.to_integral_value():
        return int(rounded)
    return float(rounded)


def ocpi_datetime(value: datetime) -> str:
    """OCPI 2.2.1 types DateTime: UTC, `Z`, no fraction (string(25))."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_datetime(value: object, field: str) -> datetime:
    """An OCPI DateTime: UTC with `Z`, or without a designator (UTC implied). An offset
    is accepted and converted (+00:00 is tolerated although the spec discourages it)."""
    if not isinstance(value, str) or len(value) > 35:
        raise TariffInvalid(f"{field} must be a date-time string", field)
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TariffInvalid(f"{field} is not an ISO 8601 date-time", field) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _decimal(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TariffInvalid(f"{field} must be a number", field)
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise TariffInvalid(f"{field} must be a number", field) from None
    if not out.is_finite():
        raise TariffInvalid(f"{field} must be a finite number", field)
    return out


def _int(value: object, field: str) -> int:
    if isinstance(value, bool):
        raise TariffInvalid(f"{field} must be an integer", field)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise TariffInvalid(f"{field} must be an integer", field)
    return value


def _str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise TariffInvalid(f"{field} must be a string", field)
    return value


_E = TypeVar("_E", TariffDimensionType, DayOfWeek, ReservationRestrictionType, TariffType)


def _enum(kind: type[_E], value: object, field: str) -> _E:
    try:
        return kind(_str(value, field))
    except ValueError:
        allowed = ", ".join(kind)
        raise TariffInvalid(f"{field} must be one of {allowed}", field) from None


def _object(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TariffInvalid(f"{field} must be an object", field)
    return value


def _list(value: object, field: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise TariffInvalid(f"{field} must be a list", field)
    return value


def _price(value: object, field: str) -> Price:
    obj = _object(value, field)
    if "excl_vat" not in obj:
        raise TariffInvalid(f"{field}.excl_vat is required", f"{field}.excl_vat")
    incl = obj.get("incl_vat")
    return Price(
        excl_vat=_decimal(obj["excl_vat"], f"{field}.excl_vat"),
        incl_vat=None if incl is None else _decimal(incl, f"{field}.incl_vat"),
    )


def _component(value: object, field: str) -> PriceComponent:
    obj = _object(value, field)
    for name in ("type", "price"):
        if name not in obj:
            raise TariffInvalid(f"{field}.{name} is required", f"{field}.{name}")
    kind = _enum(TariffDimensionType, obj["type"], f"{field}.type")
    # step_size is required (card. 1); a FLAT component without one is common in the
    # field and has no unit anyway (OCPI 2.2.1 mod_tariffs 11.4.5), so it defaults to 1.
    if "step_size" not in obj and kind is not TariffDimensionType.FLAT:
        raise TariffInvalid(f"{field}.step_size is required", f"{field}.step_size")
    vat = obj.get("vat")
    return PriceComponent(
        type=kind,
        price=_decimal(obj["price"], f"{field}.price"),
        step_size=_int(obj.get("step_size", 1), f"{field}.step_size"),
        vat=None if vat is None else _decimal(vat, f"{field}.vat"),
    )


def _optional(obj: Mapping[str, Any], name: str, field: str) -> Decimal | None:
    value = obj.get(name)
    return None if value is None else _decimal(value, f"{field}.{name}")


def _restrictions(value: object, field: str) -> TariffRestrictions:
    obj = _object(value, field)
    text = {
        name: _str(obj[name], f"{field}.{name}")
        for name in ("start_time", "end_time", "start_date", "end_date")
        if obj.get(name) is not None
    }
    durations = {
        name: _int(obj[name], f"{field}.{name}")
        for name in ("min_duration", "max_duration")
        if obj.get(name) is not None
    }
    days = obj.get("day_of_week") or []
    reservation = obj.get("reservation")
    return TariffRestrictions(
        start_time=(
            parse_hhmm(text["start_time"], f"{field}.start_time") if "start_time" in text else None
        ),
        end_time=parse_hhmm(text["end_time"], f"{field}.end_time") if "end_time" in text else None,
        start_date=(
            parse_day(text["start_date"], f"{field}.start_date") if "start_date" in text else None
        ),
        end_date=parse_day(text["end_date"], f"{field}.end_date") if "end_date" in text else None,
        min_kwh=_optional(obj, "min_kwh", field),
        max_kwh=_optional(obj, "max_kwh", field),
        min_current=_optional(obj, "min_current", field),
        max_current=_optional(obj, "max_current", field),
        min_power=_optional(obj, "min_power", field),
        max_power=_optional(obj, "max_power", field),
        min_duration=durations.get("min_duration"),
        max_duration=durations.get("max_duration"),
        day_of_week=tuple(
            _enum(DayOfWeek, d, f"{field}.day_of_week.{i}")
            for i, d in enumerate(_list(days, f"{field}.day_of_week"))
        ),
        reservation=(
            None
            if reservation is None
            else _enum(ReservationRestrictionType, reservation, f"{field}.reservation")
        ),
    )


def _element(value: object, field: str) -> TariffElement:
    obj = _object(value, field)
    if "price_components" not in obj:
        raise TariffInvalid(f"{field}.price_components is required", f"{field}.price_components")
    components = _list(obj["price_components"], f"{field}.price_components")
    restrictions = obj.get("restrictions")
    return TariffElement(
        price_components=tuple(
            _component(c, f"{field}.price_components.{i}") for i, c in enumerate(components)
        ),
        restrictions=(
            None if restrictions is None else _restrictions(restrictions, f"{field}.restrictions")
        ),
    )


def tariff_from_json(value: object) -> Tariff:
    """An OCPI 2.2.1 Tariff object -> Tariff, checked by `validate_tariff`. Raise
    TariffInvalid naming the first bad field. Unknown fields are ignored (OCPI 2.2.1
    transport: receivers accept fields they do not know)."""
    obj = _object(value, "tariff")
    for name in ("country_code", "party_id", "id", "currency", "elements", "last_updated"):
        if obj.get(name) is None:
            raise TariffInvalid(f"{name} is required", name)
    texts = obj.get("tariff_alt_text") or []
    alt_texts = []
    for i, item in enumerate(_list(texts, "tariff_alt_text")):
        text = _object(item, f"tariff_alt_text.{i}")
        alt_texts.append(
            DisplayText(
                language=_str(text.get("language"), f"tariff_alt_text.{i}.language"),
                text=_str(text.get("text"), f"tariff_alt_text.{i}.text"),
            )
        )
    kind = obj.get("type")
    url = obj.get("tariff_alt_url")
    mix = obj.get("energy_mix")
    tariff = Tariff(
        country_code=_str(obj["country_code"], "country_code"),
        party_id=_str(obj["party_id"], "party_id"),
        id=_str(obj["id"], "id"),
        currency=_str(obj["currency"], "currency"),
        elements=tuple(
            _element(e, f"elements.{i}") for i, e in enumerate(_list(obj["elements"], "elements"))
        ),
        last_updated=parse_datetime(obj["last_updated"], "last_updated"),
        type=None if kind is None else _enum(TariffType, kind, "type"),
        tariff_alt_text=tuple(alt_texts),
        tariff_alt_url=None if url is None else _str(url, "tariff_alt_url"),
        min_price=None if obj.get("min_price") is None else _price(obj["min_price"], "min_price"),
        max_price=None if obj.get("max_price") is None else _price(obj["max_price"], "max_price"),
        start_date_time=(
            None
            if obj.get("start_date_time") is None
            else parse_datetime(obj["start_date_time"], "start_date_time")
        ),
        end_date_time=(
            None
            if obj.get("end_date_time") is None
            else parse_datetime(obj["end_date_time"], "end_date_time")
        ),
        energy_mix=None if mix is None else dict(_object(mix, "energy_mix")),
    )
    validate_tariff(tariff)
    return tariff


def price_to_json(price: Price) -> dict[str, int | float]:
    out: dict[str, int | float] = {"excl_vat": number(price.excl_vat)}
    if price.incl_vat is not None:
        out["incl_vat"] = number(price.incl_vat)
    return out


def _restrictions_json(r: TariffRestrictions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("start_time", "end_time"):
        value = getattr(r, name)
        if value is not None:
            out[name] = value.strftime("%H:%M")
    for name in ("start_date", "end_date"):
        value = getattr(r, name)
        if value is not None:
            out[name] = value.isoformat()
    for name in ("min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power"):
        value = getattr(r, name)
        if value is not None:
            out[name] = number(value)
    for name in ("min_duration", "max_duration"):
        value = getattr(r, name)
        if value is not None:
            out[name] = value
    if r.day_of_week:
        out["day_of_week"] = [d.value for d in r.day_of_week]
    if r.reservation is not None:
        out["reservation"] = r.reservation.value
    return out


def element_to_json(element: TariffElement) -> dict[str, Any]:
    components = []
    for c in element.price_components:
        component: dict[str, Any] = {
            "type": c.type.value,
            "price": number(c.price),
            "step_size": c.step_size,
        }
        if c.vat is not None:
            component["vat"] = number(c.vat)
        components.append(component)
    out: dict[str, Any] = {"price_components": components}
    if element.restrictions is not None:
        out["restrictions"] = _restrictions_json(element.restrictions)
    return out


def tariff_to_json(t: Tariff) -> dict[str, Any]:
    """The OCPI 2.2.1 Tariff object (optional fields left out when unset)."""
    out: dict[str, Any] = {
        "country_code": t.country_code,
        "party_id": t.party_id,
        "id": t.id,
        "currency": t.currency,
    }
    if t.type is not None:
        out["type"] = t.type.value
    if t.tariff_alt_text:
        out["tariff_alt_text"] = [
            {"language": x.language, "text": x.text} for x in t.tariff_alt_text
        ]
    if t.tariff_alt_url is not None:
        out["tariff_alt_url"] = t.tariff_alt_url
    if t.min_price is not None:
        out["min_price"] = price_to_json(t.min_price)
    if t.max_price is not None:
        out["max_price"] = price_to_json(t.max_price)
    out["elements"] = [element_to_json(e) for e in t.elements]
    if t.start_date_time is not None:
        out["start_date_time"] = ocpi_datetime(t.start_date_time)
    if t.end_date_time is not None:
        out["end_date_time"] = ocpi_datetime(t.end_date_time)
    if t.energy_mix is not None:
        out["energy_mix"] = dict(t.energy_mix)
    out["last_updated"] = ocpi_datetime(t.last_updated)
    return out
