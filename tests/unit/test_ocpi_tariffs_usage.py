"""The usage timeline built from what stations report (domain/usage.py)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ampyre.adapters.db.tariff_usage import SampleRow, merge_samples
from ampyre.domain.usage import (
    ChargingState,
    MeterSample,
    RegisterReading,
    ReservationUsage,
    build_usage,
    simple_usage,
)

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
D = Decimal


def m(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def test_register_only_charging_is_where_energy_rises() -> None:
    samples = [
        MeterSample(m(0), energy_wh=1000),
        MeterSample(m(30), energy_wh=6000),
        MeterSample(m(60), energy_wh=8000),
        MeterSample(m(90), energy_wh=8000),
    ]
    u = build_usage(T0, m(100), samples)
    assert [(i.start, i.end, i.charging) for i in u.intervals] == [
        (m(0), m(30), True),
        (m(30), m(60), True),
        (m(60), m(90), False),
        (m(90), m(100), False),
    ]
    assert [i.energy_wh for i in u.intervals] == [D(5000), D(2000), D(0), D(0)]
    assert u.intervals[0].power_kw == D(10)  # 5 kWh in half an hour
    assert u.intervals[1].power_kw == D(4)
    assert u.intervals[2].power_kw == D(0)
    assert u.total_energy_wh == D(7000)


def test_reported_state_decides_and_energy_goes_to_the_charging_part() -> None:
    """A reading gap split by SuspendedEV: its energy goes to the charging part only."""
    samples = [MeterSample(m(0), energy_wh=0), MeterSample(m(60), energy_wh=6000)]
    states = [ChargingState(m(0), True), ChargingState(m(40), False)]
    u = build_usage(T0, m(60), samples, states)
    assert [(i.end, i.charging, i.energy_wh) for i in u.intervals] == [
        (m(40), True, D(6000)),
        (m(60), False, D(0)),
    ]
    assert u.intervals[0].power_kw == D(9)


def test_state_without_energy_is_parking_and_resumes() -> None:
    samples = [MeterSample(m(0), energy_wh=0), MeterSample(m(90), energy_wh=3000)]
    states = [
        ChargingState(m(0), True),
        ChargingState(m(30), False),
        ChargingState(m(60), True),
    ]
    u = build_usage(T0, m(90), samples, states)
    assert [(i.charging, i.energy_wh) for i in u.intervals] == [
        (True, D(1500)),
        (False, D(0)),
        (True, D(1500)),
    ]


def test_meter_reset_adds_nothing_and_edges_are_clipped() -> None:
    samples = [
        MeterSample(m(-30), energy_wh=0),  # before the session: half of this gap is inside
        MeterSample(m(30), energy_wh=6000),
        MeterSample(m(45), energy_wh=10),  # reset
        MeterSample(m(60), energy_wh=1010),
    ]
    u = build_usage(T0, m(60), samples)
    assert [i.energy_wh for i in u.intervals] == [D(3000), D(0), D(1000)]
    assert [i.charging for i in u.intervals] == [True, False, True]


def test_power_and_current_from_reports_without_a_register() -> None:
    samples = [
        MeterSample(m(0), power_w=7400, current_a=32),
        MeterSample(m(20), power_w=3700, current_a=16),
    ]
    states = [ChargingState(m(0), True)]
    u = build_usage(T0, m(40), samples, states)
    assert [(i.power_kw, i.current_a) for i in u.intervals] == [
        (D("7.4"), D(32)),
        (D("3.7"), D(16)),
    ]
    assert u.total_energy_wh == 0


def test_nothing_to_build_for_an_empty_session() -> None:
    booked = ReservationUsage(m(-10), T0, expired=True)
    u = build_usage(T0, T0, [MeterSample(T0, energy_wh=5)], reservation=booked)
    assert u.intervals == ()
    assert u.reservation == booked


def test_simple_usage_shape() -> None:
    u = simple_usage(
        T0,
        charging=timedelta(hours=2),
        energy_kwh=D(22),
        parking=timedelta(minutes=30),
        reservation=timedelta(minutes=10),
    )
    assert [(i.charging, i.energy_wh, i.power_kw) for i in u.intervals] == [
        (True, D(22000), D(11)),
        (False, D(0), D(0)),
    ]
    assert u.reservation == ReservationUsage(m(-10), T0, False)
    assert u.end == m(150)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 240), st.integers(0, 50000)), min_size=0, max_size=30),
    st.lists(st.tuples(st.integers(0, 240), st.booleans()), max_size=8),
    st.integers(1, 240),
)
def test_timeline_is_contiguous_and_energy_is_conserved(
    readings: list[tuple[int, int]], changes: list[tuple[int, bool]], length: int
) -> None:
    """Whatever is reported: the intervals tile [start, end) exactly, no energy is
    negative, and the energy equals the register's rise inside the session."""
    ordered = sorted({at: wh for at, wh in readings}.items())
    # A monotone register, so the rise inside the session is well defined.
    total = 0
    register = []
    for at, wh in ordered:
        total += wh
        register.append(MeterSample(m(at), energy_wh=total))
    states = [ChargingState(m(at), c) for at, c in changes]
    end = m(length)
    u = build_usage(T0, end, register, states)
    assert u.intervals[0].start == T0 and u.intervals[-1].end == end
    for a, b in zip(u.intervals, u.intervals[1:], strict=False):
        assert a.end == b.start
    assert all(i.energy_wh >= 0 for i in u.intervals)
    rise = D(0)
    for a, b in itertools.pairwise(register):
        lo, hi = max(a.at, T0), min(b.at, end)
        if hi > lo and b.at > a.at:
            whole = (b.at - a.at).total_seconds()
            rise += (
                D(str(b.energy_wh - a.energy_wh))
                * D(str((hi - lo).total_seconds()))
                / D(str(whole))
            )
    assert abs(u.total_energy_wh - rise) < D("0.000001")


# ----------------------------------------------------- readings sharing a timestamp


def _row(pk: int, minute: float, wh: float, context: str = "Sample.Periodic") -> SampleRow:
    return SampleRow(pk, m(minute), "Energy.Active.Import.Register", "", context, wh, "Wh")


def test_merge_prefers_the_begin_end_reading_then_the_last_stored() -> None:
    """A 1.6 MeterValues reading at the very time of StartTransaction (and a clock reading
    beside the StopTransaction one): the transaction's own readings win, in any row
    order; without one, the highest id does."""
    rows = [
        _row(1, 0, 1000, "Transaction.Begin"),
        _row(2, 0, 4000),
        _row(3, 30, 6000),
        _row(4, 30, 6100, "Sample.Clock"),
        _row(5, 60, 8000, "Sample.Clock"),
        _row(6, 60, 8500, "Transaction.End"),
        SampleRow(7, m(30), "Power.Active.Import", "L1", "Sample.Periodic", 3000, "W"),
        SampleRow(8, m(30), "Power.Active.Import", "L1-N", "Sample.Periodic", 3100, "W"),
        SampleRow(9, m(30), "Power.Active.Import", "L2", "Sample.Periodic", 3000, "W"),
    ]
    want = [
        MeterSample(m(0), energy_wh=1000),
        MeterSample(m(30), energy_wh=6100, power_w=6100),  # L1-N (id 8) is L1's latest
        MeterSample(m(60), energy_wh=8500),
    ]
    for order in itertools.permutations(rows[:6]):
        assert merge_samples([*order, *rows[6:]]) == want
    assert merge_samples(reversed(rows)) == want
    u = build_usage(T0, m(60), merge_samples(rows))
    assert u.total_energy_wh == D(7500)


def test_transaction_meters_are_the_register_at_the_ends() -> None:
    """Duplicate readings at the start and end, a reading before the start meter and one
    after the stop meter: the usage bills meter_stop - meter_start, whatever else was
    sampled at those times."""
    samples = [
        MeterSample(m(-5), energy_wh=500),  # before the start meter: does not count
        MeterSample(m(0), energy_wh=4000),  # same time as meterStart, disagrees
        MeterSample(m(0), energy_wh=1000),
        MeterSample(m(30), energy_wh=6000),
        MeterSample(m(60), energy_wh=8000),  # same time as meterStop, disagrees
        MeterSample(m(70), energy_wh=9900),  # after the stop meter: does not count
    ]
    start, stop = RegisterReading(m(0), 1000), RegisterReading(m(60), 8500)
    u = build_usage(T0, m(60), samples, meter_start=start, meter_stop=stop)
    assert [(i.start, i.end, i.energy_wh) for i in u.intervals] == [
        (m(0), m(30), D(5000)),
        (m(30), m(60), D(2500)),
    ]
    assert u.total_energy_wh == D(7500)
    # Without the meters, readings sharing a time bill nothing between them (documented).
    assert build_usage(T0, m(60), samples).total_energy_wh == D(4000)


def test_transaction_meters_taken_outside_the_session_count_at_its_ends() -> None:
    """A 2.x Transaction.Begin reading stamped before the Started event, the End reading
    after the Ended event: the whole transaction energy, nothing clipped away; the energy
    before the first and after the last sample is still the meters' difference."""
    samples = [MeterSample(m(20), energy_wh=3000), MeterSample(m(40), energy_wh=5000)]
    start, stop = RegisterReading(m(-1), 1000), RegisterReading(m(61), 8000)
    u = build_usage(T0, m(60), samples, meter_start=start, meter_stop=stop)
    assert [(i.start, i.end, i.energy_wh) for i in u.intervals] == [
        (m(0), m(20), D(2000)),
        (m(20), m(40), D(2000)),
        (m(40), m(60), D(3000)),
    ]
    assert u.total_energy_wh == D(7000)
    # A stop meter not reached yet (priced up to an earlier time) is not given: the
    # energy ends with the last reading.
    live = build_usage(T0, m(50), samples, meter_start=start)
    assert live.total_energy_wh == D(4000)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-30, 270), st.integers(0, 50000)), max_size=30),
    st.integers(-30, 120),
    st.integers(1, 150),
    st.integers(1, 240),
    st.integers(0, 5000),
    st.integers(0, 5000),
)
def test_priced_energy_is_the_transaction_energy(
    readings: list[tuple[int, int]],
    first: int,
    span: int,
    length: int,
    below: int,
    above: int,
) -> None:
    """A rising register and the transaction's meters around it (taken anywhere, even
    outside the session or at a sample's time): the usage's energy is meter_stop -
    meter_start whenever the stop meter comes after the start one within the session."""
    ordered = sorted({at: wh for at, wh in readings}.items())
    total = 0
    register = []
    for at, wh in ordered:
        total += wh
        register.append(MeterSample(m(at), energy_wh=1000 + total))
    lo = min((s.energy_wh or 0 for s in register), default=1000)
    hi = max((s.energy_wh or 0 for s in register), default=1000)
    start = RegisterReading(m(first), lo - below)
    stop = RegisterReading(m(first + span), hi + above)
    end = m(length)
    u = build_usage(T0, end, register, meter_start=start, meter_stop=stop)
    if min(stop.at, end) > max(start.at, T0) and max(start.at, T0) < end:
        assert u.total_energy_wh == D(stop.wh - start.wh)
    assert all(i.energy_wh >= 0 for i in u.intervals)
