"""The composite schedule (domain.composite_schedule): the spec's combining rules by
example, and as a property: for any set of valid profiles the composite is never above
the limit of any profile that applies, at any second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ampyre.domain.charging_profiles import (
    ChargingProfile,
    CompositePeriod,
    InstalledProfile,
    Kind,
    Purpose,
    RateUnit,
    Recurrency,
    Schedule,
    SchedulePeriod,
)
from ampyre.domain.composite_schedule import composite_schedule, limit_at
from ampyre.domain.models import OcppVersion
from ampyre.domain.profile_rules import violations

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
A, W = RateUnit.AMPS, RateUnit.WATTS


def _p(
    pid: int,
    purpose: Purpose,
    periods: list[tuple[int, float]],
    *,
    evse: int = 1,
    level: int = 0,
    kind: Kind = Kind.ABSOLUTE,
    unit: RateUnit = A,
    start: datetime | None = T0,
    duration: int | None = None,
    tx: str | None = None,
    phases: int | None = None,
    **kw: object,
) -> InstalledProfile:
    schedule = Schedule(
        unit,
        tuple(SchedulePeriod(s, lim, number_phases=phases) for s, lim in periods),
        id=1,
        start=None if kind is Kind.RELATIVE else start,
        duration=duration,
    )
    profile = ChargingProfile(
        pid,
        level,
        purpose,
        kind,
        (schedule,),
        transaction_id=tx,
        **kw,  # type: ignore[arg-type]
    )
    return InstalledProfile("CP", evse, profile)


def _limits(installed: list[InstalledProfile], **kw: object) -> list[tuple[int, float | None]]:
    args: dict[str, object] = {"evse_id": 1, "start": T0, "duration": 3600, "rate_unit": A}
    args.update(kw)
    schedule = composite_schedule(installed, **args)  # type: ignore[arg-type]
    return [(p.start, p.limit) for p in schedule.periods]


def test_nothing_installed_means_no_limit() -> None:
    assert _limits([]) == [(0, None)]


def test_the_highest_stack_level_wins_while_it_is_valid() -> None:
    low = _p(1, Purpose.TX_DEFAULT, [(0, 32.0)], evse=0)
    high = _p(2, Purpose.TX_DEFAULT, [(0, 10.0)], level=1, valid_to=T0 + timedelta(minutes=30))
    assert _limits([low, high]) == [(0, 10.0), (1800, 32.0)]


def test_evse_default_wins_over_the_station_wide_one_at_the_same_level() -> None:
    station = _p(1, Purpose.TX_DEFAULT, [(0, 32.0)], evse=0)
    own = _p(2, Purpose.TX_DEFAULT, [(0, 20.0)])
    assert _limits([station, own]) == [(0, 20.0)]
    assert _limits([station, own], evse_id=2) == [(0, 32.0)]


def test_tx_profile_overrides_the_default_for_its_transaction_only() -> None:
    default = _p(1, Purpose.TX_DEFAULT, [(0, 16.0)], level=5)
    tx = _p(2, Purpose.TX, [(0, 25.0), (600, 8.0)], tx="T1")
    assert _limits([default, tx], transaction_id="T1") == [(0, 25.0), (600, 8.0)]
    assert _limits([default, tx], transaction_id="T2") == [(0, 16.0)]
    assert _limits([default, tx]) == [(0, 16.0)]


def test_station_max_and_external_constraints_cap_the_transaction() -> None:
    # OCPP 1.6 3.13.4 / 2.0.1 K: the composite is the minimum of the Tx(Default) limit,
    # the station maximum and the external constraints.
    tx = _p(1, Purpose.TX, [(0, 32.0), (900, 10.0)], tx="T1")
    station = _p(2, Purpose.STATION_MAX, [(0, 20.0)], evse=0)
    external = _p(3, Purpose.EXTERNAL, [(0, 32.0), (1800, 6.0), (2700, 32.0)], evse=0)
    schedule = composite_schedule(
        [tx, station, external],
        evse_id=1,
        start=T0,
        duration=3600,
        rate_unit=A,
        transaction_id="T1",
    )
    assert [(p.start, p.limit, p.decided_by) for p in schedule.periods] == [
        (0, 20.0, (2,)),
        (900, 10.0, (1,)),
        (1800, 6.0, (3,)),
        (2700, 10.0, (1,)),
    ]
    # EVSE 0: the station as a whole.
    assert _limits([tx, station, external], evse_id=0, transaction_id="T1") == [
        (0, 20.0),
        (1800, 6.0),
        (2700, 20.0),
    ]


def test_absolute_schedule_ends_after_its_duration() -> None:
    short = _p(1, Purpose.TX_DEFAULT, [(0, 10.0)], level=1, duration=600)
    base = _p(2, Purpose.TX_DEFAULT, [(0, 30.0)])
    assert _limits([short, base]) == [(0, 10.0), (600, 30.0)]


def test_recurring_daily_repeats_from_its_start() -> None:
    # Cheap night: 32 A from 22:00 to 06:00, 10 A during the day, started days ago.
    night = _p(
        1,
        Purpose.TX_DEFAULT,
        [(0, 32.0), (8 * 3600, 10.0)],
        kind=Kind.RECURRING,
        recurrency=Recurrency.DAILY,
        start=datetime(2026, 2, 20, 22, 0, tzinfo=UTC),
    )
    start = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    got = _limits([night], start=start, duration=24 * 3600)
    assert got == [(0, 10.0), (2 * 3600, 32.0), (10 * 3600, 10.0)]


def test_recurring_weekly() -> None:
    weekly = _p(
        1,
        Purpose.TX_DEFAULT,
        [(0, 6.0), (86400, 16.0)],
        kind=Kind.RECURRING,
        recurrency=Recurrency.WEEKLY,
        start=T0 - timedelta(days=14),
    )
    got = _limits([weekly], duration=8 * 86400)
    assert got == [(0, 6.0), (86400, 16.0), (7 * 86400, 6.0)]


def test_relative_runs_from_the_transaction_start() -> None:
    rel = _p(1, Purpose.TX, [(0, 6.0), (600, 16.0)], kind=Kind.RELATIVE, tx="T1")
    started = T0 - timedelta(seconds=300)
    got = _limits([rel], transaction_id="T1", tx_started_at=started)
    assert got == [(0, 6.0), (300, 16.0)]
    # No transaction start known: from the composite's start.
    assert _limits([rel], transaction_id="T1") == [(0, 6.0), (600, 16.0)]


def test_a_remote_start_profile_applies_to_the_transaction_it_started() -> None:
    rel = _p(1, Purpose.TX, [(0, 12.0)], kind=Kind.RELATIVE)
    assert _limits([rel], transaction_id="42") == [(0, 12.0)]
    assert _limits([rel]) == [(0, None)]


def test_amps_and_watts_convert_with_voltage_and_phases() -> None:
    station = _p(1, Purpose.STATION_MAX, [(0, 11040.0)], evse=0, unit=W)  # 16 A x 3 x 230 V
    tx = _p(2, Purpose.TX, [(0, 10.0), (60, 20.0)], tx="T")
    assert _limits([station, tx], transaction_id="T") == [(0, 10.0), (60, 16.0)]
    watts = _limits([station, tx], transaction_id="T", rate_unit=W)
    assert watts == [(0, 6900.0), (60, 11040.0)]
    # A single-phase period: 16 A on one phase is 3680 W.
    one = _p(3, Purpose.TX_DEFAULT, [(0, 16.0)], phases=1)
    schedule = composite_schedule([one], evse_id=1, start=T0, duration=60, rate_unit=W)
    assert schedule.periods == (CompositePeriod(0, 3680.0, number_phases=1, decided_by=(3,)),)


def test_equal_neighbours_are_merged_and_limit_at_finds_the_period() -> None:
    a = _p(1, Purpose.TX_DEFAULT, [(0, 16.0), (600, 16.0), (1200, 8.0)])
    schedule = composite_schedule([a], evse_id=1, start=T0, duration=3600, rate_unit=A)
    assert [(p.start, p.limit) for p in schedule.periods] == [(0, 16.0), (1200, 8.0)]
    period = limit_at(schedule, T0 + timedelta(seconds=1500))
    assert period is not None and period.limit == 8.0
    assert limit_at(schedule, T0 - timedelta(seconds=1)) is None
    assert limit_at(schedule, T0 + timedelta(seconds=3600)) is None


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        composite_schedule([], evse_id=1, start=T0, duration=-1, rate_unit=A)


# ---- property: never above any applicable limit ---------------------------------------

DURATION = 1800
VOLTAGE = 230.0


@st.composite
def _profiles(draw: st.DrawFn) -> list[InstalledProfile]:
    out: list[InstalledProfile] = []
    for pid in range(draw(st.integers(0, 7))):
        purpose = draw(
            st.sampled_from([Purpose.STATION_MAX, Purpose.TX_DEFAULT, Purpose.TX, Purpose.EXTERNAL])
        )
        evse = 0 if purpose is Purpose.STATION_MAX else draw(st.sampled_from([0, 1]))
        if purpose is Purpose.TX:
            evse = 1
        kind = draw(st.sampled_from([Kind.ABSOLUTE, Kind.RELATIVE, Kind.RECURRING]))
        if purpose is Purpose.STATION_MAX and kind is Kind.RELATIVE:
            kind = Kind.ABSOLUTE
        unit = draw(st.sampled_from([A, W]))
        top = 64.0 if unit is A else 44_000.0
        starts = sorted(draw(st.sets(st.integers(1, 2400), max_size=4)))
        limits = draw(
            st.lists(
                st.floats(0, top, allow_nan=False),
                min_size=len(starts) + 1,
                max_size=len(starts) + 1,
            )
        )
        phases = draw(st.sampled_from([None, 1, 3]))
        start = T0 + timedelta(seconds=draw(st.integers(-3000, 1500)))
        valid_from = draw(st.none() | st.integers(-600, 1500))
        valid_len = draw(st.none() | st.integers(1, 1800))
        valid_to = None
        if valid_len is not None:
            valid_to = T0 + timedelta(seconds=(valid_from or 0) + valid_len)
        p = _p(
            pid,
            purpose,
            list(zip([0, *starts], limits, strict=True)),
            evse=evse,
            level=draw(st.integers(0, 3)),
            kind=kind,
            unit=unit,
            start=start,
            duration=draw(st.none() | st.integers(1, 3000)),
            tx=draw(st.sampled_from(["T1", "T2", None])) if purpose is Purpose.TX else None,
            phases=phases,
            recurrency=Recurrency.DAILY if kind is Kind.RECURRING else None,
            valid_from=None if valid_from is None else T0 + timedelta(seconds=valid_from),
            valid_to=valid_to,
        )
        if purpose is not Purpose.EXTERNAL:  # external ones come from the station
            assert violations(p.profile, OcppVersion.V201, evse_id=evse) == []
        out.append(p)
    return out


def _oracle_limit(ip: InstalledProfile, at: datetime, tx_start: datetime) -> float | None:
    """The limit (A per phase) one profile sets at `at`, computed second by second."""
    p = ip.profile
    if (p.valid_from and at < p.valid_from) or (p.valid_to and at >= p.valid_to):
        return None
    s = p.schedules[0]
    origin = tx_start if p.kind is Kind.RELATIVE else s.start
    assert origin is not None
    elapsed = int((at - origin).total_seconds())
    if elapsed < 0:
        return None
    if p.kind is Kind.RECURRING:
        elapsed %= 86400
    if s.duration is not None and elapsed >= s.duration:
        return None
    period = [q for q in s.periods if q.start_period <= elapsed][-1]
    assert period.limit is not None
    if s.rate_unit is A:
        return period.limit
    return period.limit / (VOLTAGE * (period.number_phases or 3))


def _applicable(
    installed: list[InstalledProfile], at: datetime, tx: str | None, tx_start: datetime
) -> list[list[float]]:
    """The limits that apply at `at`: per purpose the highest active stack level (ties:
    the EVSE's own), a TxProfile of the transaction instead of the default."""
    active: dict[Purpose, list[tuple[int, int, float]]] = {}
    for ip in installed:
        p = ip.profile
        if p.purpose is Purpose.TX and (tx is None or p.transaction_id not in (None, tx)):
            continue
        limit = _oracle_limit(ip, at, tx_start)
        if limit is not None:
            active.setdefault(p.purpose, []).append((p.stack_level, ip.evse_id, limit))
    groups = [active.get(Purpose.TX) or active.get(Purpose.TX_DEFAULT)]
    groups += [active.get(Purpose.STATION_MAX), active.get(Purpose.EXTERNAL)]
    out: list[list[float]] = []
    for group in groups:
        if group:
            # Several at the same (level, EVSE) break the rules; each of them is a bound.
            best = max(group)[:2]
            out.append([lim for lvl, evse, lim in group if (lvl, evse) == best])
    return out


@settings(max_examples=80, deadline=None)
@given(
    installed=_profiles(),
    tx=st.sampled_from(["T1", None]),
    tx_offset=st.integers(-2000, 0),
    unit=st.sampled_from([A, W]),
)
def test_composite_is_never_above_an_applicable_limit(
    installed: list[InstalledProfile], tx: str | None, tx_offset: int, unit: RateUnit
) -> None:
    tx_start = T0 + timedelta(seconds=tx_offset)
    schedule = composite_schedule(
        installed,
        evse_id=1,
        start=T0,
        duration=DURATION,
        rate_unit=unit,
        transaction_id=tx,
        tx_started_at=tx_start,
        voltage=VOLTAGE,
    )
    starts = [p.start for p in schedule.periods]
    assert starts == sorted(set(starts)) and starts[0] == 0
    for second in range(0, DURATION, 3):
        at = T0 + timedelta(seconds=second)
        period = limit_at(schedule, at)
        assert period is not None
        bounds = _applicable(installed, at, tx, tx_start)
        if not bounds:
            assert period.limit is None, second
            continue
        assert period.limit is not None, second
        amps = period.limit
        if unit is W:
            amps /= VOLTAGE * (period.number_phases or 3)
        for bound in (b for group in bounds for b in group):
            assert amps <= bound + 1e-6, (second, amps, bounds)
        # And not needlessly lower: it is the smallest of them.
        assert amps >= min(min(group) for group in bounds) - 1e-6, (second, amps, bounds)
