"""OCPP 2.1 tariffs for local cost calculation (block I, I07-I10): an Ampyre tariff
(the OCPI 2.2.1 Tariff of domain/tariffs.py) as a TariffType, the SetDefaultTariff /
ChangeTransactionTariff / GetTariffs / ClearTariffs requests and their answers.

OCPI -> OCPP 2.1 TariffType:
- ENERGY components -> `energy.prices[].priceKwh`; TIME (per hour) ->
  `chargingTime.prices[].priceMinute` (price / 60); PARKING_TIME -> `idleTime`; FLAT ->
  `fixedFee.prices[].priceFixed`; in an element restricted to a reservation, TIME ->
  `reservationTime` and FLAT -> `reservationFixed`. Element order is kept (both specs
  take the first price whose conditions hold).
- Restrictions -> conditions: start/end time (HH:MM), dates, day of week, kWh -> Wh,
  kW -> W, A, duration s -> minTime/maxTime. A fixed price only has time conditions.
- VAT -> the dimension's `taxRates` (one rate per dimension: OCPP has no per-price tax).
- min_price / max_price -> minCost / maxCost; tariff_alt_text -> description;
  start_date_time -> validFrom.
What cannot be expressed (different VAT within a dimension, a reservation price in
energy, seconds in a time of day, a non-time condition on a fixed price) raises
TariffNotExpressible: nothing is sent. OCPI step_size has no OCPP counterpart: a station
counts the exact usage (Ampyre's final cost applies the steps).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from decimal import Decimal
from typing import Any

from ampyre.domain.tariffs import Price, Tariff, TariffRestrictions
from ampyre.protocol.codec import Request
from ampyre.protocol.timefmt import from_ocpp, to_ocpp
from ampyre.services.ocpp_costs import ClearResult, TariffAssignment, TariffNotExpressible

_THOUSAND = Decimal(1000)
_SIXTY = Decimal(60)
_DAY_NAMES = {
    "MONDAY": "Monday",
    "TUESDAY": "Tuesday",
    "WEDNESDAY": "Wednesday",
    "THURSDAY": "Thursday",
    "FRIDAY": "Friday",
    "SATURDAY": "Saturday",
    "SUNDAY": "Sunday",
}
_TIME_TARGET = {"TIME": "chargingTime", "PARKING_TIME": "idleTime"}
DESCRIPTION_MAX = 10  # TariffType.description maxItems
CONTENT_MAX = 1024


def _num(value: Decimal) -> float:
    return float(value)


def _hhmm(t: time, what: str) -> str:
    if t.second or t.microsecond:
        raise TariffNotExpressible(f"{what} {t.isoformat()} has seconds; OCPP takes HH:MM")
    return f"{t.hour:02d}:{t.minute:02d}"


def _time_conditions(r: TariffRestrictions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if r.start_time is not None:
        out["startTimeOfDay"] = _hhmm(r.start_time, "start_time")
    if r.end_time is not None:
        out["endTimeOfDay"] = _hhmm(r.end_time, "end_time")
    if r.day_of_week:
        out["dayOfWeek"] = [_DAY_NAMES[d.value] for d in r.day_of_week]
    if r.start_date is not None:
        out["validFromDate"] = r.start_date.isoformat()
    if r.end_date is not None:
        out["validToDate"] = r.end_date.isoformat()
    return out


def _conditions(r: TariffRestrictions | None) -> dict[str, Any]:
    if r is None:
        return {}
    out = _time_conditions(r)
    scaled = (
        ("minEnergy", r.min_kwh, _THOUSAND),
        ("maxEnergy", r.max_kwh, _THOUSAND),
        ("minCurrent", r.min_current, Decimal(1)),
        ("maxCurrent", r.max_current, Decimal(1)),
        ("minPower", r.min_power, _THOUSAND),
        ("maxPower", r.max_power, _THOUSAND),
    )
    for key, value, factor in scaled:
        if value is not None:
            out[key] = _num(value * factor)
    if r.min_duration is not None:
        out["minTime"] = r.min_duration
    if r.max_duration is not None:
        out["maxTime"] = r.max_duration
    return out


def _fixed_conditions(r: TariffRestrictions | None) -> dict[str, Any]:
    if r is None:
        return {}
    if any(
        v is not None
        for v in (
            r.min_kwh, r.max_kwh, r.min_current, r.max_current, r.min_power, r.max_power,
            r.min_duration, r.max_duration,
        )
    ):  # fmt: skip
        raise TariffNotExpressible(
            "a FLAT price with an energy, current, power or duration restriction "
            "(OCPP 2.1 TariffConditionsFixedType has time conditions only)"
        )
    return _time_conditions(r)


def _price_type(price: Price) -> dict[str, float]:
    out = {"exclTax": _num(price.excl_vat)}
    if price.incl_vat is not None:
        out["inclTax"] = _num(price.incl_vat)
    return out


class _Dimension:
    def __init__(self, name: str) -> None:
        self.name = name
        self.prices: list[dict[str, Any]] = []
        self.vats: set[Decimal | None] = set()

    def add(self, price: dict[str, Any], vat: Decimal | None) -> None:
        self.prices.append(price)
        self.vats.add(vat)

    def encode(self) -> dict[str, Any] | None:
        if not self.prices:
            return None
        if len(self.vats) > 1:
            raise TariffNotExpressible(
                f"different VAT rates within {self.name} (OCPP 2.1 has one tax per dimension)"
            )
        out: dict[str, Any] = {"prices": self.prices}
        vat = next(iter(self.vats))
        if vat is not None:
            out["taxRates"] = [{"type": "VAT", "tax": _num(vat)}]
        return out


def tariff_type(tariff: Tariff) -> dict[str, Any]:
    """The TariffType of an Ampyre tariff; raises TariffNotExpressible."""
    dims = {
        name: _Dimension(name)
        for name in (
            "energy", "chargingTime", "idleTime", "fixedFee", "reservationTime",
            "reservationFixed",
        )
    }  # fmt: skip
    for element in tariff.elements:
        r = element.restrictions
        reserved = r is not None and r.reservation is not None
        for c in element.price_components:
            kind = c.type.value
            if reserved and kind not in ("FLAT", "TIME"):
                raise TariffNotExpressible(f"a {kind} price for a reservation")
            if kind == "FLAT":
                entry: dict[str, Any] = {"priceFixed": _num(c.price)}
                conditions = _fixed_conditions(r)
                target = "reservationFixed" if reserved else "fixedFee"
            elif kind == "ENERGY":
                entry = {"priceKwh": _num(c.price)}
                conditions = _conditions(r)
                target = "energy"
            else:  # TIME, PARKING_TIME: OCPI per hour, OCPP per minute
                entry = {"priceMinute": _num(c.price / _SIXTY)}
                conditions = _conditions(r)
                target = _TIME_TARGET[kind] if not reserved else "reservationTime"
            if conditions:
                entry["conditions"] = conditions
            dims[target].add(entry, c.vat)
    out: dict[str, Any] = {"tariffId": tariff.id, "currency": tariff.currency}
    if tariff.tariff_alt_text:
        out["description"] = [
            {"format": "UTF8", "language": t.language[:8], "content": t.text[:CONTENT_MAX]}
            for t in tariff.tariff_alt_text[:DESCRIPTION_MAX]
        ]
    if tariff.start_date_time is not None:
        out["validFrom"] = to_ocpp(tariff.start_date_time)
    for name, dim in dims.items():
        encoded = dim.encode()
        if encoded is not None:
            out[name] = encoded
    if tariff.min_price is not None:
        out["minCost"] = _price_type(tariff.min_price)
    if tariff.max_price is not None:
        out["maxCost"] = _price_type(tariff.max_price)
    return out


def set_default_tariff(evse_id: int, tariff: Tariff) -> Request:
    """I07: evseId 0 = every EVSE of the station."""
    return "SetDefaultTariff", {"evseId": evse_id, "tariff": tariff_type(tariff)}


def change_transaction_tariff(transaction_id: str, tariff: Tariff) -> Request:
    return "ChangeTransactionTariff", {
        "transactionId": transaction_id,
        "tariff": tariff_type(tariff),
    }


def get_tariffs(evse_id: int) -> Request:
    """evseId 0: the tariffs of every EVSE."""
    return "GetTariffs", {"evseId": evse_id}


def clear_tariffs(tariff_ids: Sequence[str] | None, evse_id: int | None) -> Request:
    """Without ids: every tariff (at `evse_id`, or everywhere without one)."""
    payload: dict[str, Any] = {}
    if tariff_ids:
        payload["tariffIds"] = list(tariff_ids)
    if evse_id is not None:
        payload["evseId"] = evse_id
    return "ClearTariffs", payload


def status_info(answer: dict[str, Any]) -> dict[str, Any] | None:
    info = answer.get("statusInfo")
    return info if isinstance(info, dict) else None


def assignments(answer: dict[str, Any]) -> tuple[TariffAssignment, ...]:
    """GetTariffsResponse.tariffAssignments (schema-checked when received)."""
    out = []
    for a in answer.get("tariffAssignments") or ():
        out.append(
            TariffAssignment(
                tariff_id=a["tariffId"],
                tariff_kind=a["tariffKind"],
                valid_from=from_ocpp(a.get("validFrom")),
                evse_ids=tuple(a.get("evseIds") or ()),
                id_tokens=tuple(a.get("idTokens") or ()),
            )
        )
    return tuple(out)


def clear_results(answer: dict[str, Any]) -> tuple[ClearResult, ...]:
    return tuple(
        ClearResult(r["status"], r.get("tariffId"), status_info(r))
        for r in answer.get("clearTariffsResult") or ()
    )
