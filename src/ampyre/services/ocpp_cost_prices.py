"""The unit prices of a tariff at a moment, as a station shows and counts with them
between two cost updates (the OCA "California Pricing Requirements" RunningCost
`chargingPrice` / `idlePrice` / `nextPeriod`), and when they change next.

OCPI 2.2.1 mod_tariffs 4.1 (Tariff object, "elements"): for each dimension the first
element whose restrictions all hold and that has a price component of that dimension
gives its price. Here restrictions are read at one local moment: time of day (end
exclusive, wrapping past midnight when end < start), dates (end exclusive), day of week,
energy so far and duration so far. Elements with a current or power restriction, or a
reservation one, are skipped (neither is known between two meter values; the cost
itself always comes from the engine). Prices include VAT where the component has one
(what a driver pays; 2.0.1 costs are "including taxes").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from ampyre.domain.tariffs import Tariff, TariffElement, TariffRestrictions

_HUNDRED = Decimal(100)
_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
LOOKAHEAD_DAYS = 7


@dataclass(slots=True, frozen=True)
class UnitPrices:
    kwh: Decimal | None = None  # per kWh (ENERGY)
    hour: Decimal | None = None  # per hour charging (TIME)
    flat: Decimal | None = None  # per session (FLAT)
    idle_hour: Decimal | None = None  # per hour not charging (PARKING_TIME)

    @property
    def empty(self) -> bool:
        return (
            self.kwh is None
            and self.hour is None
            and self.flat is None
            and (self.idle_hour is None)
        )


@dataclass(slots=True, frozen=True)
class CostTriggers:
    """When a 1.6 station should send a meter value besides its sampled ones (RunningCost
    `triggerMeterValue`): at a price change, or when charging is suspended (idle fees)."""

    at_time: datetime | None = None
    at_status: tuple[str, ...] = ()


def _time_holds(r: TariffRestrictions, t: time) -> bool:
    start, end = r.start_time, r.end_time
    if start is not None and end is not None and end < start:
        return t >= start or t < end  # wraps past midnight
    if start is not None and t < start:
        return False
    return not (end is not None and t >= end)


def _holds(
    r: TariffRestrictions | None, at: datetime, energy_kwh: Decimal, duration_s: float | None
) -> bool:
    if r is None:
        return True
    if r.reservation is not None:
        return False
    if any(v is not None for v in (r.min_current, r.max_current, r.min_power, r.max_power)):
        return False
    if not _time_holds(r, at.time().replace(tzinfo=None)):
        return False
    day = at.date()
    if r.start_date is not None and day < r.start_date:
        return False
    if r.end_date is not None and day >= r.end_date:
        return False
    if r.day_of_week and _DAYS[at.weekday()] not in {d.value for d in r.day_of_week}:
        return False
    if r.min_kwh is not None and energy_kwh < r.min_kwh:
        return False
    if r.max_kwh is not None and energy_kwh >= r.max_kwh:
        return False
    if duration_s is not None:
        if r.min_duration is not None and duration_s < r.min_duration:
            return False
        if r.max_duration is not None and duration_s >= r.max_duration:
            return False
    return True


def _with_vat(price: Decimal, vat: Decimal | None) -> Decimal:
    return price if vat is None else price * (_HUNDRED + vat) / _HUNDRED


def unit_prices(
    tariff: Tariff,
    at: datetime,
    *,
    energy_kwh: Decimal = Decimal(0),
    duration_s: float | None = None,
) -> UnitPrices:
    """The price of each dimension at local time `at` (see the module docstring)."""
    found: dict[str, Decimal] = {}
    for element in tariff.elements:
        if not _holds(element.restrictions, at, energy_kwh, duration_s):
            continue
        for component in element.price_components:
            kind = component.type.value
            if kind not in found:
                found[kind] = _with_vat(component.price, component.vat)
    return UnitPrices(
        kwh=found.get("ENERGY"),
        hour=found.get("TIME"),
        flat=found.get("FLAT"),
        idle_hour=found.get("PARKING_TIME"),
    )


def _boundaries(elements: tuple[TariffElement, ...], at: datetime) -> list[datetime]:
    """Moments after `at` (within LOOKAHEAD_DAYS) where a time restriction may flip."""
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    out: set[datetime] = set()
    for days in range(LOOKAHEAD_DAYS + 1):
        day = midnight + timedelta(days=days)
        out.add(day)
        for element in elements:
            r = element.restrictions
            if r is None:
                continue
            for t in (r.start_time, r.end_time):
                if t is not None:
                    out.add(day.replace(hour=t.hour, minute=t.minute, second=t.second))
    return sorted(m for m in out if m > at)


def next_period(
    tariff: Tariff,
    at: datetime,
    *,
    energy_kwh: Decimal = Decimal(0),
) -> tuple[datetime, UnitPrices] | None:
    """When the unit prices change next by time alone (time of day, day of week, date),
    and to what; None when they stay the same for LOOKAHEAD_DAYS."""
    now = unit_prices(tariff, at, energy_kwh=energy_kwh)
    for moment in _boundaries(tariff.elements, at):
        then = unit_prices(tariff, moment, energy_kwh=energy_kwh)
        if then != now:
            return moment, then
    return None
