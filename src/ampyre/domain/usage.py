"""A charging session's usage as the tariff engine needs it: a timeline of contiguous
intervals, each charging (OCPI TIME) or not (PARKING_TIME), with the energy delivered in
it and the power and current it ran at. Built from what stations report: cumulative
energy-register samples, power and current samples, and charging-state changes
(2.x `chargingState`, 1.6 connector status). Plain values, no I/O.

How the timeline is derived (OCPI 2.2.1 mod_cdrs 10.3.1 allows the CPO to interpolate
between meter readings):
- the register is linear between two readings; before the first and after the last
  reading nothing is known to be delivered. A register that goes down (a meter reset) adds
  nothing. Readings that share a time and disagree bill nothing between them (the smaller
  value ends the gap before, the larger starts the one after), so callers merge them first
  (adapters/db/tariff_usage.py);
- a transaction's own start and stop readings (`meter_start`/`meter_stop`: OCPP 1.6
  StartTransaction meterStart / StopTransaction meterStop, 2.x Transaction.Begin/End
  samples, else its first/last reading, as the transaction store picks them, ADR 0004) are
  the register at the session's start and end: a reading before the start one or after
  the stop one does not count, and at their times they win over any other reading. A
  start reading taken before `start` counts as taken at `start`, a stop reading taken after
  `end` as taken at `end`, so a rising register bills exactly meter_stop - meter_start;
- an interval is charging when the latest reported state says so; before any state is
  reported, when the register rose in it;
- a reading gap split by a state change puts its energy into its charging parts (by
  duration), or, when none is charging, into all of them;
- a charging interval's power is its average (energy / duration) when the register
  covers it, else the last reported power; its current the last reported current. A
  parking interval runs at 0 kW and 0 A.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class MeterSample:
    at: datetime
    energy_wh: float | None = None  # cumulative import register (outlet, no phase)
    power_w: float | None = None  # Power.Active.Import
    current_a: float | None = None  # Current.Import, summed over the phases


@dataclass(frozen=True, slots=True)
class RegisterReading:
    """One energy-register reading (Wh): a transaction's start or stop meter."""

    at: datetime
    wh: float


@dataclass(frozen=True, slots=True)
class ChargingState:
    at: datetime
    charging: bool


@dataclass(frozen=True, slots=True)
class ReservationUsage:
    """A reservation before the session (`end` = when charging started), or an expired
    one that no session followed (OCPI 2.2.1 mod_tariffs 11.4.3)."""

    start: datetime
    end: datetime
    expired: bool = False


@dataclass(frozen=True, slots=True)
class UsageInterval:
    start: datetime
    end: datetime
    energy_wh: Decimal
    charging: bool
    power_kw: Decimal | None = None
    current_a: Decimal | None = None

    @property
    def seconds(self) -> Decimal:
        return _seconds(self.end - self.start)


@dataclass(frozen=True, slots=True)
class Usage:
    start: datetime
    end: datetime
    intervals: tuple[UsageInterval, ...]
    reservation: ReservationUsage | None = None

    @property
    def total_energy_wh(self) -> Decimal:
        return sum((i.energy_wh for i in self.intervals), _ZERO)


def _seconds(delta: timedelta) -> Decimal:
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1000000


def _dec(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass(frozen=True, slots=True)
class _Gap:
    """Between two register readings: the energy delivered in it."""

    start: datetime
    end: datetime
    energy_wh: Decimal


def _register_gaps(
    samples: Sequence[MeterSample],
    start: datetime,
    end: datetime,
    meter_start: RegisterReading | None,
    meter_stop: RegisterReading | None,
) -> list[_Gap]:
    readings = sorted((s.at, s.energy_wh) for s in samples if s.energy_wh is not None)
    first_at = None
    if meter_start is not None:
        # The transaction's start meter: nothing before it counts (module docstring).
        first_at = min(max(meter_start.at, start), end)
        readings = [(first_at, meter_start.wh)] + [r for r in readings if r[0] > first_at]
    if meter_stop is not None:
        last_at = max(min(meter_stop.at, end), start)
        if first_at is None or last_at > first_at:
            readings = [r for r in readings if r[0] < last_at] + [(last_at, meter_stop.wh)]
    gaps = []
    for (a, wa), (b, wb) in itertools.pairwise(readings):
        if b > a:
            gaps.append(_Gap(a, b, max(_dec(wb - wa) or _ZERO, _ZERO)))
    return gaps


def _last_before(points: list[tuple[datetime, float]], at: datetime) -> float | None:
    i = bisect.bisect_right(points, at, key=lambda p: p[0])
    return points[i - 1][1] if i else None


def build_usage(
    start: datetime,
    end: datetime,
    samples: Sequence[MeterSample],
    states: Sequence[ChargingState] = (),
    reservation: ReservationUsage | None = None,
    *,
    meter_start: RegisterReading | None = None,
    meter_stop: RegisterReading | None = None,
) -> Usage:
    """The usage timeline of a session from `start` to `end` (module docstring);
    `meter_start`/`meter_stop`: the transaction's own start/stop register readings."""
    if end <= start:
        return Usage(start, max(start, end), (), reservation)
    gaps = [
        g
        for g in _register_gaps(samples, start, end, meter_start, meter_stop)
        if g.end > start and g.start < end
    ]
    ordered_states = sorted(states, key=lambda s: s.at)
    cuts = {start, end}
    cuts.update(s.at for s in samples if start < s.at < end)
    cuts.update(s.at for s in ordered_states if start < s.at < end)
    for g in gaps:
        cuts.update(t for t in (g.start, g.end) if start < t < end)
    bounds = sorted(cuts)
    powers = sorted((s.at, s.power_w) for s in samples if s.power_w is not None)
    currents = sorted((s.at, s.current_a) for s in samples if s.current_a is not None)
    state_times = [s.at for s in ordered_states]

    gap_starts = [g.start for g in gaps]
    pieces: list[_Piece] = []
    for a, b in itertools.pairwise(bounds):
        j = bisect.bisect_right(gap_starts, a) - 1
        gap = j if j >= 0 and b <= gaps[j].end else None
        i = bisect.bisect_right(state_times, a)
        stated = ordered_states[i - 1].charging if i else None
        pieces.append(_Piece(a, b, gap, stated))
    energies = _spread(gaps, pieces)

    intervals = []
    for piece, energy in zip(pieces, energies, strict=True):
        a, b = piece.start, piece.end
        charging = piece.stated if piece.stated is not None else energy > 0
        seconds = _seconds(b - a)
        power: Decimal | None
        current: Decimal | None
        if not charging:
            power, current = _ZERO, _ZERO
        else:
            if piece.gap is not None and seconds > 0:
                power = energy / seconds * 3600 / 1000
            else:
                reported = _last_before(powers, a)
                power = None if reported is None else Decimal(str(reported)) / 1000
            current = _dec(_last_before(currents, a))
        intervals.append(UsageInterval(a, b, energy, charging, power, current))
    return Usage(start, end, tuple(intervals), reservation)


@dataclass(frozen=True, slots=True)
class _Piece:
    start: datetime
    end: datetime
    gap: int | None  # index of the reading gap it lies in
    stated: bool | None  # the reported charging state, None before any report


def _spread(gaps: Sequence[_Gap], pieces: Sequence[_Piece]) -> list[Decimal]:
    """Each piece's share of its reading gap's energy (module docstring): by duration
    over the gap's charging pieces (an unknown state counts as charging) when a state was
    reported in the gap and some piece charges, else over all its pieces. The part of a
    gap outside the session is not billed."""
    out = [_ZERO] * len(pieces)
    by_gap: dict[int, list[int]] = {}
    for k, piece in enumerate(pieces):
        if piece.gap is not None:
            by_gap.setdefault(piece.gap, []).append(k)
    for g, members in by_gap.items():
        gap = gaps[g]
        whole = _seconds(gap.end - gap.start)
        if gap.energy_wh <= 0 or whole == 0:
            continue
        charging = [k for k in members if pieces[k].stated is not False]
        stated = any(pieces[k].stated is not None for k in members)
        pool = charging if stated and charging else members
        inside = sum((_seconds(pieces[k].end - pieces[k].start) for k in members), _ZERO)
        pooled = sum((_seconds(pieces[k].end - pieces[k].start) for k in pool), _ZERO)
        if pooled == 0:
            continue
        energy = gap.energy_wh * inside / whole
        for k in pool:
            out[k] = energy * _seconds(pieces[k].end - pieces[k].start) / pooled
    return out


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of a made-up session (previews, tests)."""

    duration: timedelta
    energy_kwh: Decimal = _ZERO
    charging: bool = True
    power_kw: Decimal | None = None
    current_a: Decimal | None = None


def usage_from_segments(
    start: datetime,
    segments: Sequence[Segment],
    reservation: ReservationUsage | None = None,
) -> Usage:
    """A session made of the given segments, one after the other from `start`. A
    charging segment without a power runs at its average power."""
    intervals = []
    at = start
    for seg in segments:
        end = at + seg.duration
        seconds = _seconds(seg.duration)
        power = seg.power_kw
        if power is None and seg.charging and seconds > 0:
            power = seg.energy_kwh * 3600 / seconds
        current = seg.current_a
        if not seg.charging:
            power = _ZERO if power is None else power
            current = _ZERO if current is None else current
        if end > at:
            intervals.append(
                UsageInterval(at, end, seg.energy_kwh * 1000, seg.charging, power, current)
            )
        at = end
    return Usage(start, at, tuple(intervals), reservation)


def simple_usage(
    start: datetime,
    *,
    charging: timedelta,
    energy_kwh: Decimal,
    parking: timedelta = timedelta(0),
    power_kw: Decimal | None = None,
    current_a: Decimal | None = None,
    reservation: timedelta | None = None,
    reservation_expired: bool = False,
) -> Usage:
    """Charging for `charging` (delivering `energy_kwh`), then parked for `parking`; an
    optional reservation of `reservation` before it. An expired reservation has no
    session: `start` is then when the reservation ended."""
    booked = None
    if reservation is not None:
        booked = ReservationUsage(start - reservation, start, reservation_expired)
    if reservation_expired:
        return Usage(start, start, (), booked)
    return usage_from_segments(
        start,
        [
            Segment(charging, energy_kwh, True, power_kw, current_a),
            Segment(parking, _ZERO, False),
        ],
        booked,
    )
