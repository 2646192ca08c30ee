"""The tariff engine: a session's usage (domain/usage.py) priced with an OCPI 2.2.1
Tariff, giving the charging periods that justify the cost (mod_cdrs 10.4.6) and the cost
per dimension. Pure and exact: Decimal throughout; results are rounded to the 4 decimals
of the OCPI `number` type only where they leave (tariff_json.number).

The rules, with where they come from:
- A new charging period starts whenever what prices the session changes: the active
  Tariff Element of a dimension (time of day, date, day of week, kWh, duration, power,
  current) or charging/parking (OCPI 2.2.1 mod_cdrs 10.3.1 "ChargingPeriod"). The usage
  is cut at every restriction boundary (kWh thresholds interpolated inside a meter
  interval) and each piece is judged at its middle, so a piece never straddles one.
- Per dimension, the first element that prices it and whose restrictions all hold is
  active (mod_tariffs 11.3.1); no such element: that dimension is free. A restriction on
  a value the station never reported (power, current) does not exclude the element.
- ENERGY is billed on energy delivered whether charging or not; TIME while charging;
  PARKING_TIME while not; FLAT once per session, from the first period with an active
  FLAT component.
- step_size (mod_cdrs 10.3.1 "step_size", 2.2.1): taken into account once per session
  for ENERGY and once for TIME and PARKING_TIME combined, on the session total of the
  dimension, with the step of the last component used; when both TIME and PARKING_TIME
  were billed only the parking total is rounded. The extra volume is billed at the last
  component's price in the last period that used it. Reservation time is rounded on its
  own.
- Reservations (mod_tariffs 11.4.3): elements with a `reservation` restriction price
  only the reservation; for an expired reservation RESERVATION_EXPIRES elements come
  first, RESERVATION elements price what they do not.
- VAT per component (mod_tariffs 11.4.2): incl_vat = sum of cost x (1 + vat/100); a cost
  from a component without `vat` leaves incl_vat unknown (None; the tariff_7 example).
- min_price / max_price (mod_tariffs 11.3.1 notes): applied to excl_vat and incl_vat
  separately, each where given.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_CEILING, Decimal

from ampyre.domain.priced import (
    CdrDimension,
    CdrDimensionType,
    ChargingPeriod,
    PricedPeriod,
    PricedSession,
    charging_period_json,
    priced_session_json,
)
from ampyre.domain.tariff_json import round4
from ampyre.domain.tariffs import (
    WEEKDAYS,
    Price,
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffElement,
    TariffRestrictions,
)
from ampyre.domain.usage import Usage, UsageInterval

__all__ = [
    "CdrDimension",
    "CdrDimensionType",
    "ChargingPeriod",
    "PricedPeriod",
    "PricedSession",
    "charging_period_json",
    "price_session",
    "priced_session_json",
]

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
ENERGY, FLAT = TariffDimensionType.ENERGY, TariffDimensionType.FLAT
TIME, PARKING = TariffDimensionType.TIME, TariffDimensionType.PARKING_TIME


class _Category(enum.StrEnum):
    FIXED = "fixed"
    ENERGY = "energy"
    TIME = "time"
    PARKING = "parking"
    RESERVATION = "reservation"


@dataclass(slots=True)
class _Slice:
    """A piece of the session inside which no restriction changes."""

    start: datetime
    end: datetime
    energy_wh: Decimal
    charging: bool
    power_kw: Decimal | None
    current_a: Decimal | None
    energy_before_wh: Decimal = _ZERO  # delivered in the session before this slice
    active: tuple[int | None, ...] = ()  # element index per _DIMENSIONS

    @property
    def seconds(self) -> Decimal:
        return _seconds(self.end - self.start)


_DIMENSIONS = (ENERGY, TIME, PARKING, FLAT)


@dataclass(slots=True)
class _Charge:
    period: int
    category: _Category
    amount: Decimal  # excl. VAT
    vat: Decimal | None


@dataclass(slots=True)
class _Period:
    start: datetime
    end: datetime
    charging: bool
    active: tuple[int | None, ...]
    slices: list[_Slice] = field(default_factory=list)
    reservation: bool = False


def _seconds(delta: timedelta) -> Decimal:
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1000000


def _delta(seconds: Decimal) -> timedelta:
    return timedelta(microseconds=int((seconds * 1000000).to_integral_value()))


# ---------------------------------------------------------------- restrictions


@dataclass(frozen=True, slots=True)
class _Moment:
    """What a restriction is judged on: the middle of a slice."""

    local: datetime
    elapsed_s: Decimal
    energy_kwh: Decimal
    power_kw: Decimal | None
    current_a: Decimal | None


def _time_ok(r: TariffRestrictions, local: datetime) -> bool:
    now = local.time().replace(tzinfo=None)
    start, end = r.start_time, r.end_time
    if start is not None and end is not None:
        if start < end:
            return start <= now < end
        if start > end:  # over midnight
            return now >= start or now < end
        return True
    if start is not None:
        return now >= start
    return end is None or now < end


def _within(value: Decimal | None, low: Decimal | None, high: Decimal | None) -> bool:
    """min inclusive, max exclusive; an unknown value restricts nothing."""
    if value is None:
        return True
    if low is not None and value < low:
        return False
    return high is None or value < high


def _matches(r: TariffRestrictions | None, m: _Moment) -> bool:
    if r is None:
        return True
    if not _time_ok(r, m.local):
        return False
    day = m.local.date()
    if r.start_date is not None and day < r.start_date:
        return False
    if r.end_date is not None and day >= r.end_date:
        return False
    if r.day_of_week and WEEKDAYS[day.weekday()] not in r.day_of_week:
        return False
    low = None if r.min_duration is None else Decimal(r.min_duration)
    high = None if r.max_duration is None else Decimal(r.max_duration)
    return (
        _within(m.elapsed_s, low, high)
        and _within(m.energy_kwh, r.min_kwh, r.max_kwh)
        and _within(m.power_kw, r.min_power, r.max_power)
        and _within(m.current_a, r.min_current, r.max_current)
    )


_Order = tuple[tuple[int, ...], ...]


def _order(
    elements: Sequence[TariffElement],
    reservation: ReservationRestrictionType | None,
    expired: bool = False,
) -> _Order:
    """Per _DIMENSIONS, the elements that may price it, in the order they are tried: only
    reservation elements for a reservation (RESERVATION_EXPIRES first when it expired),
    only the others for the session."""
    kinds = (
        (ReservationRestrictionType.RESERVATION_EXPIRES, ReservationRestrictionType.RESERVATION)
        if expired
        else (reservation,)
    )
    order = [i for kind in kinds for i, e in enumerate(elements) if _kind(e) is kind]
    return tuple(
        tuple(i for i in order if elements[i].component(dim) is not None) for dim in _DIMENSIONS
    )


def _active(
    elements: Sequence[TariffElement], order: _Order, moment: _Moment
) -> tuple[int | None, ...]:
    """The index of the active element per _DIMENSIONS at `moment`: the first that may
    price it and whose restrictions hold."""
    judged: dict[int, bool] = {}
    out: list[int | None] = []
    for candidates in order:
        found = None
        for i in candidates:
            holds = judged.get(i)
            if holds is None:
                holds = judged[i] = _matches(elements[i].restrictions, moment)
            if holds:
                found = i
                break
        out.append(found)
    return tuple(out)


def _kind(element: TariffElement) -> ReservationRestrictionType | None:
    return None if element.restrictions is None else element.restrictions.reservation


# ---------------------------------------------------------------- cutting the usage


def _local_cuts(tariff: Tariff, start: datetime, end: datetime, tz: tzinfo) -> Iterator[datetime]:
    """Every instant in (start, end) where a time-of-day restriction or the local date
    (day of week, start/end date) changes."""
    times = {datetime.min.time()}
    for element in tariff.elements:
        r = element.restrictions
        if r is not None:
            times.update(t for t in (r.start_time, r.end_time) if t is not None)
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    while day <= last:
        for t in times:
            at = datetime.combine(day, t, tzinfo=tz).astimezone(UTC)
            if start < at < end:
                yield at
        day += timedelta(days=1)


def _split(
    piece: _Slice, at: datetime, energy_first: Decimal | None = None
) -> tuple[_Slice, _Slice]:
    whole = piece.seconds
    first = _seconds(at - piece.start)
    if energy_first is None:
        energy_first = piece.energy_wh * first / whole if whole > 0 else _ZERO
    a = replace(piece, end=at, energy_wh=energy_first)
    b = replace(piece, start=at, energy_wh=piece.energy_wh - energy_first)
    return a, b


def _slices(tariff: Tariff, usage: Usage, tz: tzinfo) -> list[_Slice]:
    cuts = set(_local_cuts(tariff, usage.start, usage.end, tz))
    thresholds_wh: set[Decimal] = set()
    for element in tariff.elements:
        r = element.restrictions
        if r is None:
            continue
        for seconds in (r.min_duration, r.max_duration):
            if seconds is not None:
                at = usage.start + timedelta(seconds=seconds)
                if usage.start < at < usage.end:
                    cuts.add(at)
        thresholds_wh.update(k * 1000 for k in (r.min_kwh, r.max_kwh) if k is not None)
    ordered = sorted(cuts)
    out: list[_Slice] = []
    for interval in usage.intervals:
        out.extend(_cut_interval(interval, ordered))
    if not out:  # a session of no length still starts (and pays its flat fee)
        out.append(_Slice(usage.start, usage.start, _ZERO, False, _ZERO, _ZERO))
    # kWh thresholds, where the delivered energy crosses them (linear inside a slice).
    delivered = _ZERO
    final: list[_Slice] = []
    for piece in out:
        for threshold in sorted(thresholds_wh):
            after = delivered + piece.energy_wh
            if delivered < threshold < after:
                share = (threshold - delivered) / piece.energy_wh
                at = piece.start + _delta(piece.seconds * share)
                if piece.start < at < piece.end:
                    head, piece = _split(piece, at, threshold - delivered)
                    head.energy_before_wh = delivered
                    final.append(head)
                    delivered = threshold
        piece.energy_before_wh = delivered
        final.append(piece)
        delivered += piece.energy_wh
    return final


def _cut_interval(interval: UsageInterval, cuts: Sequence[datetime]) -> Iterator[_Slice]:
    piece = _Slice(
        interval.start,
        interval.end,
        interval.energy_wh,
        interval.charging,
        interval.power_kw,
        interval.current_a,
    )
    for at in cuts:
        if piece.start < at < piece.end:
            head, piece = _split(piece, at)
            yield head
    yield piece


def _moment(piece: _Slice, usage: Usage, tz: tzinfo) -> _Moment:
    middle = piece.start + (piece.end - piece.start) / 2
    return _Moment(
        local=middle.astimezone(tz),
        elapsed_s=_seconds(middle - usage.start),
        energy_kwh=(piece.energy_before_wh + piece.energy_wh / 2) / 1000,
        power_kw=piece.power_kw,
        current_a=piece.current_a,
    )


# ---------------------------------------------------------------- periods and charges


def _periods(tariff: Tariff, usage: Usage, tz: tzinfo) -> list[_Period]:
    periods: list[_Period] = []
    booked = usage.reservation
    if booked is not None and booked.end > booked.start:
        middle = booked.start + (booked.end - booked.start) / 2
        moment = _Moment(middle.astimezone(tz), _ZERO, _ZERO, None, None)
        order = _order(tariff.elements, ReservationRestrictionType.RESERVATION, booked.expired)
        active = _active(tariff.elements, order, moment)
        periods.append(_Period(booked.start, booked.end, False, active, reservation=True))
    if booked is not None and booked.expired:
        return periods  # no session followed
    order = _order(tariff.elements, None)
    for piece in _slices(tariff, usage, tz):
        piece.active = _active(tariff.elements, order, _moment(piece, usage, tz))
        last = periods[-1] if periods else None
        if (
            last is not None
            and not last.reservation
            and last.charging == piece.charging
            and last.active == piece.active
            and last.end == piece.start
        ):
            last.slices.append(piece)
            last.end = piece.end
        else:
            periods.append(_Period(piece.start, piece.end, piece.charging, piece.active, [piece]))
    return periods


def _component(tariff: Tariff, period: _Period, dim: TariffDimensionType) -> PriceComponent | None:
    index = period.active[_DIMENSIONS.index(dim)]
    return None if index is None else tariff.elements[index].component(dim)


def _round_up(volume: Decimal, step: int) -> Decimal:
    if step <= 0 or volume <= 0:
        return volume
    return (volume / step).to_integral_value(rounding=ROUND_CEILING) * step


def _charges(tariff: Tariff, periods: Sequence[_Period]) -> list[_Charge]:
    charges: list[_Charge] = []
    flat_paid = reservation_flat_paid = False
    # Per rounding group: billed volume (Wh or s) and the last (period, component).
    totals: dict[str, Decimal] = {}
    last: dict[str, tuple[int, PriceComponent, _Category, Decimal]] = {}
    for n, period in enumerate(periods):
        if period.reservation:
            seconds = _seconds(period.end - period.start)
            time = _component(tariff, period, TIME)
            if time is not None:
                billed = _round_up(seconds, time.step_size)  # reservation time on its own
                charges.append(
                    _Charge(n, _Category.RESERVATION, billed / 3600 * time.price, time.vat)
                )
            flat = _component(tariff, period, FLAT)
            if flat is not None and not reservation_flat_paid:
                reservation_flat_paid = True
                charges.append(_Charge(n, _Category.RESERVATION, flat.price, flat.vat))
            continue
        flat = _component(tariff, period, FLAT)
        if flat is not None and not flat_paid:
            flat_paid = True
            charges.append(_Charge(n, _Category.FIXED, flat.price, flat.vat))
        energy_wh = sum((s.energy_wh for s in period.slices), _ZERO)
        seconds = sum((s.seconds for s in period.slices), _ZERO)
        energy = _component(tariff, period, ENERGY)
        if energy is not None and energy_wh > 0:
            charges.append(
                _Charge(n, _Category.ENERGY, energy_wh / 1000 * energy.price, energy.vat)
            )
            totals["energy"] = totals.get("energy", _ZERO) + energy_wh
            last["energy"] = (n, energy, _Category.ENERGY, Decimal(1000))
        dim, group, category = (
            (TIME, "time", _Category.TIME)
            if period.charging
            else (PARKING, "parking", _Category.PARKING)
        )
        timed = _component(tariff, period, dim)
        if timed is not None and seconds > 0:
            charges.append(_Charge(n, category, seconds / 3600 * timed.price, timed.vat))
            totals[group] = totals.get(group, _ZERO) + seconds
            last[group] = (n, timed, category, Decimal(3600))
    # OCPI 2.2.1 mod_cdrs "step_size": once for ENERGY, once for TIME and PARKING_TIME
    # combined (only the parking total when parking was billed too).
    groups = ["energy", "parking" if "parking" in last else "time"]
    for group in groups:
        if group not in last:
            continue
        n, component, category, unit = last[group]
        extra = _round_up(totals[group], component.step_size) - totals[group]
        if extra > 0:
            charges.append(_Charge(n, category, extra / unit * component.price, component.vat))
    return charges


# ---------------------------------------------------------------- totals


def _price(charges: Sequence[_Charge]) -> Price:
    excl = sum((c.amount for c in charges), _ZERO)
    incl: Decimal | None = _ZERO
    for c in charges:
        if c.amount == 0:
            continue
        if c.vat is None or incl is None:
            incl = None
        else:
            incl += c.amount * (1 + c.vat / _HUNDRED)
    return Price(excl, incl)


def _rounded(price: Price) -> Price:
    return Price(round4(price.excl_vat), None if price.incl_vat is None else round4(price.incl_vat))


def _category(charges: Sequence[_Charge], category: _Category) -> Price | None:
    mine = [c for c in charges if c.category is category]
    return _rounded(_price(mine)) if mine else None


def _limit(tariff: Tariff, total: Price) -> tuple[Price, str | None]:
    """OCPI 2.2.1 mod_tariffs 11.3.1 notes: min_price and max_price apply to the cost
    excl. VAT and to the cost incl. VAT, each separately."""
    excl, incl = total.excl_vat, total.incl_vat
    applied = None
    low, high = tariff.min_price, tariff.max_price
    if low is not None:
        if excl < low.excl_vat:
            excl, applied = low.excl_vat, "min_price"
        if incl is not None and low.incl_vat is not None and incl < low.incl_vat:
            incl, applied = low.incl_vat, "min_price"
    if high is not None:
        if excl > high.excl_vat:
            excl, applied = high.excl_vat, "max_price"
        if incl is not None and high.incl_vat is not None and incl > high.incl_vat:
            incl, applied = high.incl_vat, "max_price"
    return Price(excl, incl), applied


def _dimensions(period: _Period) -> tuple[CdrDimension, ...]:
    if period.reservation:
        hours = _seconds(period.end - period.start) / 3600
        return (CdrDimension(CdrDimensionType.RESERVATION_TIME, hours),)
    energy = sum((s.energy_wh for s in period.slices), _ZERO) / 1000
    hours = sum((s.seconds for s in period.slices), _ZERO) / 3600
    out = [
        CdrDimension(CdrDimensionType.ENERGY, energy),
        CdrDimension(
            CdrDimensionType.TIME if period.charging else CdrDimensionType.PARKING_TIME, hours
        ),
    ]
    if period.charging:
        powers = [s.power_kw for s in period.slices if s.power_kw is not None]
        currents = [s.current_a for s in period.slices if s.current_a is not None]
        if powers:
            out.append(CdrDimension(CdrDimensionType.MAX_POWER, max(powers)))
            out.append(CdrDimension(CdrDimensionType.MIN_POWER, min(powers)))
        if currents:
            out.append(CdrDimension(CdrDimensionType.MAX_CURRENT, max(currents)))
            out.append(CdrDimension(CdrDimensionType.MIN_CURRENT, min(currents)))
    return tuple(out)


def price_session(tariff: Tariff, usage: Usage, tz: tzinfo = UTC) -> PricedSession:
    """Price `usage` with `tariff`; restrictions on time of day, date and day of week are
    judged in `tz` (the Location's time zone)."""
    periods = _periods(tariff, usage, tz)
    charges = _charges(tariff, periods)
    by_period: list[list[_Charge]] = [[] for _ in periods]
    for charge in charges:
        by_period[charge.period].append(charge)
    priced = tuple(
        PricedPeriod(
            ChargingPeriod(p.start, _dimensions(p), tariff.id),
            p.end,
            _rounded(_price(by_period[n])),
        )
        for n, p in enumerate(periods)
    )
    total, applied = _limit(tariff, _price(charges))
    parking_s = sum(
        (s.seconds for p in periods if not p.charging and not p.reservation for s in p.slices),
        _ZERO,
    )
    start = periods[0].start if periods else usage.start
    return PricedSession(
        tariff=tariff,
        currency=tariff.currency,
        start_date_time=start,
        end_date_time=usage.end,
        periods=priced,
        total_cost=_rounded(total),
        total_fixed_cost=_category(charges, _Category.FIXED),
        total_energy=usage.total_energy_wh / 1000,
        total_energy_cost=_category(charges, _Category.ENERGY),
        total_time=_seconds(usage.end - usage.start) / 3600,
        total_time_cost=_category(charges, _Category.TIME),
        total_parking_time=parking_s / 3600,
        total_parking_cost=_category(charges, _Category.PARKING),
        total_reservation_cost=_category(charges, _Category.RESERVATION),
        price_limit=applied,
    )
