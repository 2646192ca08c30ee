"""The composite schedule of an EVSE (issue 18 part 3): what the installed profiles
allow at every second, computed the way the spec tells a station to (OCPP 1.6 3.13.2
"stacking" and 3.13.4 "combining charging profile purposes"; OCPP 2.0.1 K08
GetCompositeSchedule and the "Charging profile stacking / combining" sections of K).

At every moment, per purpose, the valid profile with the highest stack level decides
(a profile that has not started, has ended or is outside its validity does not count,
so a lower stack level shows through). A TxProfile (of the running transaction)
overrides the TxDefaultProfile; the result is the minimum of that, the
ChargingStationMaxProfile and the ChargingStationExternalConstraints. Profiles on EVSE
0 apply to every EVSE; an EVSE's own TxDefaultProfile wins over the station-wide one
at the same stack level.

Time: Absolute schedules run from startSchedule (1.6 without one: from validFrom or
when the profile was installed), Recurring ones repeat daily/weekly from startSchedule,
Relative ones run from the transaction's start (or from `start` when there is none).
2.1 Dynamic profiles run like Absolute ones from dynUpdateTime / installation.
Only a profile's first schedule is used (2.x sends more only for ISO 15118 sales
tariffs). The 2.1 PriorityCharging and LocalGeneration purposes only apply on the
station's own decision, so they are not part of the computed composite.

Units: limits are compared per phase in A (W / (voltage x phases)); the result is
given in the requested unit. Pure: plain values in, plain values out.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ampyre.domain.charging_profiles import (
    ChargingProfile,
    CompositePeriod,
    CompositeSchedule,
    InstalledProfile,
    Kind,
    Purpose,
    RateUnit,
    Recurrency,
    SchedulePeriod,
)

DAY = 86_400
WEEK = 7 * DAY
_MAX_CYCLES = 400  # recurring repetitions considered in one composite (over a year daily)


@dataclass(slots=True, frozen=True)
class _Context:
    start: datetime
    duration: int
    evse_id: int
    transaction_id: str | None
    tx_started_at: datetime | None
    voltage: float
    phases: int


@dataclass(slots=True, frozen=True)
class _Amps:
    """One period's limit as amps per phase (L1, L2, L3), with its phases."""

    l1: float
    l2: float
    l3: float
    phases: int
    per_phase: bool  # the profile gave per-phase limits (2.1)
    discharge: float | None  # amps per phase, <= 0
    number_phases: int | None  # as the period said (None: not said)


def composite_schedule(
    installed: Sequence[InstalledProfile],
    *,
    evse_id: int,
    start: datetime,
    duration: int,
    rate_unit: RateUnit,
    transaction_id: str | None = None,
    tx_started_at: datetime | None = None,
    voltage: float = 230.0,
    phases: int = 3,
) -> CompositeSchedule:
    """The composite schedule of `evse_id` from `start` for `duration` seconds."""
    if duration < 0:
        raise ValueError("duration must be >= 0")
    if voltage <= 0 or phases not in (1, 2, 3):
        raise ValueError("voltage must be > 0 and phases 1..3")
    ctx = _Context(start, duration, evse_id, transaction_id, tx_started_at, voltage, phases)
    relevant = [ip for ip in installed if _applies(ip, ctx)]
    points = sorted({0, *(t for ip in relevant for t in _boundaries(ip, ctx))})
    periods: list[CompositePeriod] = []
    for t in points:
        period = _period_at(relevant, ctx, t, rate_unit)
        if periods and _same_limits(periods[-1], period):
            continue
        periods.append(period)
    return CompositeSchedule(evse_id, start, duration, rate_unit, tuple(periods))


def limit_at(schedule: CompositeSchedule, at: datetime) -> CompositePeriod | None:
    """The composite period in force at `at` (None: outside the schedule)."""
    offset = (at - schedule.start).total_seconds()
    if offset < 0 or offset >= schedule.duration:
        return None
    found: CompositePeriod | None = None
    for period in schedule.periods:
        if period.start > offset:
            break
        found = period
    return found


# ---- which profiles, when ----------------------------------------------------------------


def _applies(ip: InstalledProfile, ctx: _Context) -> bool:
    p = ip.profile
    if not p.schedules or not p.schedules[0].periods:
        return False
    if ip.evse_id not in (0, ctx.evse_id):
        return False
    if ctx.evse_id == 0:
        # The station as a whole: its maximum and the external constraints on it.
        return p.purpose in (Purpose.STATION_MAX, Purpose.EXTERNAL)
    if p.purpose is Purpose.TX:
        # Only the running transaction's TxProfile (one sent with a remote start has no
        # transaction id yet and belongs to the transaction it started).
        if ctx.transaction_id is None or ip.evse_id != ctx.evse_id:
            return False
        return p.transaction_id in (None, ctx.transaction_id)
    return p.purpose in (Purpose.STATION_MAX, Purpose.TX_DEFAULT, Purpose.EXTERNAL)


def _anchor(ip: InstalledProfile, ctx: _Context) -> datetime:
    """Where the profile's first schedule begins (its period 0)."""
    p = ip.profile
    schedule = p.schedules[0]
    if p.kind is Kind.RELATIVE:
        # 1.6 7.8 / 2.0.1: relative to the start of the transaction (K01: without one,
        # from the moment the schedule is taken into use).
        return ctx.tx_started_at or ctx.start
    if p.kind is Kind.DYNAMIC:
        return schedule.start or p.dyn_update_time or ip.installed_at or ctx.start
    return schedule.start or p.valid_from or ip.installed_at or ctx.start


def _cycle(p: ChargingProfile) -> int | None:
    if p.kind is not Kind.RECURRING:
        return None
    return WEEK if p.recurrency is Recurrency.WEEKLY else DAY


def _offset(ctx: _Context, at: datetime) -> float:
    return (at - ctx.start).total_seconds()


def _boundaries(ip: InstalledProfile, ctx: _Context) -> Iterator[int]:
    """The seconds (from ctx.start, within the duration) where this profile may change:
    validity edges, period starts, schedule ends (per recurrence)."""
    p = ip.profile
    schedule = p.schedules[0]
    edges: list[float] = []
    for t in (p.valid_from, p.valid_to):
        if t is not None:
            edges.append(_offset(ctx, t))
    anchor = _offset(ctx, _anchor(ip, ctx))
    cycle = _cycle(p)
    starts = [float(period.start_period) for period in schedule.periods]
    if schedule.duration is not None:
        starts.append(float(schedule.duration))
    if cycle is None:
        edges.extend(anchor + s for s in starts)
    else:
        first = max(0, math.floor(-anchor / cycle) - 1)
        last = min(first + _MAX_CYCLES, math.ceil((ctx.duration - anchor) / cycle) + 1)
        for k in range(first, last + 1):
            edges.extend(anchor + k * cycle + s for s in starts)
    for edge in edges:
        second = math.ceil(edge)
        if 0 <= second < ctx.duration:
            yield second


def _active_period(ip: InstalledProfile, ctx: _Context, at: datetime) -> SchedulePeriod | None:
    """The period of this profile in force at `at`, or None when it does not apply."""
    p = ip.profile
    if p.valid_from is not None and at < p.valid_from:
        return None
    if p.valid_to is not None and at >= p.valid_to:
        return None
    schedule = p.schedules[0]
    elapsed = (at - _anchor(ip, ctx)).total_seconds()
    if elapsed < 0:
        return None
    cycle = _cycle(p)
    if cycle is not None:
        elapsed %= cycle
    if schedule.duration is not None and elapsed >= schedule.duration:
        return None
    found: SchedulePeriod | None = None
    for period in schedule.periods:
        if period.start_period > elapsed:
            break
        found = period
    return found


# ---- combining ---------------------------------------------------------------------------


def _winner(
    candidates: list[tuple[InstalledProfile, _Amps]],
) -> tuple[InstalledProfile, _Amps] | None:
    """Highest stack level; at a tie the EVSE's own profile over the station-wide one,
    and between equals (which the rules refuse) the lower limit."""
    if not candidates:
        return None
    return max(
        candidates,
        key=lambda c: (c[0].profile.stack_level, c[0].evse_id, -min(c[1].l1, c[1].l2, c[1].l3)),
    )


def _period_at(
    relevant: Sequence[InstalledProfile], ctx: _Context, t: int, unit: RateUnit
) -> CompositePeriod:
    at = ctx.start + timedelta(seconds=t)
    by_purpose: dict[Purpose, list[tuple[InstalledProfile, _Amps]]] = {}
    for ip in relevant:
        period = _active_period(ip, ctx, at)
        amps = _to_amps(ip, period, ctx) if period is not None else None
        if amps is not None:
            by_purpose.setdefault(ip.profile.purpose, []).append((ip, amps))
    tx = _winner(by_purpose.get(Purpose.TX, []))
    deciders = [
        tx or _winner(by_purpose.get(Purpose.TX_DEFAULT, [])),
        _winner(by_purpose.get(Purpose.STATION_MAX, [])),
        _winner(by_purpose.get(Purpose.EXTERNAL, [])),
    ]
    limits = [d for d in deciders if d is not None]
    if not limits:
        return CompositePeriod(start=t, limit=None)
    return _combine(t, limits, ctx, unit)


def _to_amps(ip: InstalledProfile, period: SchedulePeriod, ctx: _Context) -> _Amps | None:
    if period.limit is None:
        return None
    unit = ip.profile.schedules[0].rate_unit
    n = period.number_phases or ctx.phases
    per_phase = period.limit_l2 is not None or period.limit_l3 is not None
    if unit is RateUnit.AMPS:
        scale = 1.0
    elif per_phase:
        scale = 1.0 / ctx.voltage  # 2.1: with L2/L3 given, each value is one phase's W
    else:
        scale = 1.0 / (ctx.voltage * n)
    l1 = period.limit * scale
    l2 = period.limit_l2 * scale if period.limit_l2 is not None else l1
    l3 = period.limit_l3 * scale if period.limit_l3 is not None else l1
    discharge = None
    if period.discharge_limit is not None:
        dscale = 1.0 if unit is RateUnit.AMPS else 1.0 / (ctx.voltage * n)
        discharge = period.discharge_limit * dscale
    return _Amps(l1, l2, l3, n, per_phase, discharge, period.number_phases)


def _combine(
    t: int, limits: list[tuple[InstalledProfile, _Amps]], ctx: _Context, unit: RateUnit
) -> CompositePeriod:
    l1 = min(a.l1 for _, a in limits)
    l2 = min(a.l2 for _, a in limits)
    l3 = min(a.l3 for _, a in limits)
    n = min(a.phases for _, a in limits)
    per_phase = any(a.per_phase for _, a in limits) and n == 3
    said = [a.number_phases for _, a in limits if a.number_phases is not None]
    discharges = [a.discharge for _, a in limits if a.discharge is not None]
    # The least discharge (closest to 0) is what every limit allows.
    discharge = max(discharges) if discharges else None
    lowest = min(l1, l2, l3)
    decided = tuple(
        sorted(
            {
                ip.profile.id
                for ip, a in limits
                if math.isclose(min(a.l1, a.l2, a.l3), lowest, rel_tol=1e-9, abs_tol=1e-9)
            }
        )
    )
    if not per_phase:
        l1 = min(l1, l2, l3)
    if unit is RateUnit.AMPS:
        out_l1, out_l2, out_l3 = l1, l2, l3
        out_dis = discharge
    elif per_phase:
        out_l1, out_l2, out_l3 = l1 * ctx.voltage, l2 * ctx.voltage, l3 * ctx.voltage
        out_dis = discharge * ctx.voltage * n if discharge is not None else None
    else:
        out_l1 = l1 * ctx.voltage * n
        out_l2 = out_l3 = out_l1
        out_dis = discharge * ctx.voltage * n if discharge is not None else None
    return CompositePeriod(
        start=t,
        limit=out_l1,
        number_phases=min(said) if said else None,
        limit_l2=out_l2 if per_phase else None,
        limit_l3=out_l3 if per_phase else None,
        discharge_limit=out_dis,
        decided_by=decided,
    )


def _same_limits(a: CompositePeriod, b: CompositePeriod) -> bool:
    return (a.limit, a.number_phases, a.limit_l2, a.limit_l3, a.discharge_limit) == (
        b.limit,
        b.number_phases,
        b.limit_l2,
        b.limit_l3,
        b.discharge_limit,
    )
