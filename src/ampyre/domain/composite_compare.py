"""Comparing two composite schedules of one EVSE (Ampyre's and the one a station
reports with GetCompositeSchedule, OCPP 1.6 5.7 / 2.0.1 K08), and the external limits a
station reports as the profiles they amount to. Pure functions over domain values."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from ampyre.domain.charging_profiles import (
    ChargingProfile,
    CompositeSchedule,
    InstalledProfile,
    Kind,
    ProfileSource,
    Purpose,
    RateUnit,
)
from ampyre.domain.ev_needs import ChargingLimit

# Limits closer than this are the same (1.6 limits are multiples of 0.1 A / W).
TOLERANCE = {RateUnit.AMPS: 0.1, RateUnit.WATTS: 1.0}
# Periods this short where the schedules disagree are clock rounding (a scheduleStart or
# a transaction start given to the second), not a different limit.
GLITCH = 1


@dataclass(slots=True, frozen=True)
class Difference:
    """Where the station's composite schedule and Ampyre's disagree: from `start`
    seconds after the computed schedule's start."""

    start: int
    computed: float | None
    reported: float | None


def limits_as_profiles(limits: Sequence[ChargingLimit]) -> list[InstalledProfile]:
    """External limits with schedules count like ChargingStationExternalConstraints
    profiles (ids below 0: they are not the station's profile ids)."""
    out: list[InstalledProfile] = []
    n = 0
    for limit in limits:
        for schedule in limit.schedules:
            n += 1
            kind = Kind.ABSOLUTE if schedule.start is not None else Kind.RELATIVE
            profile = ChargingProfile(
                id=-n, stack_level=0, purpose=Purpose.EXTERNAL, kind=kind, schedules=(schedule,)
            )
            out.append(
                InstalledProfile(
                    limit.station_id,
                    limit.evse_id or 0,
                    profile,
                    ProfileSource.STATION,
                    installed_at=limit.received_at,
                    limit_source=limit.source,
                )
            )
    return out


def compare(computed: CompositeSchedule, reported: CompositeSchedule) -> list[Difference]:
    """Where the two step functions differ beyond rounding, at each boundary of either
    (in seconds after the computed start; disagreements of a second or less are left
    out). Where no profile limits the EVSE (computed
    None), the station reports its own capacity: not a difference."""
    if computed.rate_unit is not reported.rate_unit:
        return [Difference(0, None, None)]
    shift = int((reported.start - computed.start).total_seconds())
    ours = [(p.start, p.limit) for p in computed.periods]
    theirs = [(p.start + shift, p.limit) for p in reported.periods]
    end = min(computed.duration, reported.duration + shift)
    tolerance = TOLERANCE[computed.rate_unit]
    out: list[Difference] = []
    points = sorted({s for s, _ in ours} | {s for s, _ in theirs} | {end})
    for at, following in itertools.pairwise(points):
        if at < max(0, shift) or at >= end:
            continue  # only where both schedules say something
        if following - at <= GLITCH:
            continue  # a start rounded to the second on either side
        a, b = _value_at(ours, at), _value_at(theirs, at)
        if a is None:
            continue
        if b is None or abs(a - b) > tolerance:
            out.append(Difference(at, a, b))
    return out


def _value_at(periods: Sequence[tuple[int, float | None]], at: int) -> float | None:
    found: float | None = None
    for start, limit in periods:
        if start > at:
            break
        found = limit
    return found
