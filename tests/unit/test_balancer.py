"""The balancer's allocation (domain/balancer.py): examples of each rule, and property
tests over random sites: no limit is ever exceeded on any phase, no charging EVSE is
below its minimum, and capacity a car does not use goes to the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ampyre.domain.balancer import (
    EvseInput,
    EvseState,
    SiteAllocation,
    allocate,
    fit,
    used_phases,
)
from ampyre.domain.sites import (
    PHASES,
    ROTATIONS,
    Circuit,
    GridLimit,
    GridUnit,
    Member,
    Site,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ZERO = (0.0, 0.0, 0.0)


def site(limit: float = 100.0, circuits: tuple[Circuit, ...] = (), unit: str = "A") -> Site:
    return Site(1, "home", GridLimit(GridUnit(unit), limit), circuits=circuits)


def ev(
    n: int,
    *,
    min_a: float = 6.0,
    max_a: float = 32.0,
    phases: int = 3,
    rotation: str = "L1L2L3",
    circuit: str | None = None,
    priority: int = 0,
    **kw: object,
) -> EvseInput:
    member = Member(f"CS{n}", 1, circuit, rotation, phases, min_a, max_a, priority)
    kw.setdefault("transaction_id", f"tx{n}")
    kw.setdefault("started_at", NOW - timedelta(minutes=100 - n))
    return EvseInput(f"CS{n}", 1, member, **kw)  # type: ignore[arg-type]


def by_station(a: SiteAllocation) -> dict[str, float]:
    return {e.station_id: e.allocated_a for e in a.evses}


def test_fair_share_under_the_grid_limit() -> None:
    a = allocate(site(100), [ev(i) for i in range(5)], ZERO, NOW)
    assert set(by_station(a).values()) == {20.0}
    assert a.allocated_a == (100.0, 100.0, 100.0)
    assert a.at_limit
    assert all("fair share of the grid connection" in e.reason for e in a.evses)


def test_below_the_limit_each_gets_its_maximum() -> None:
    a = allocate(site(100), [ev(1, max_a=16), ev(2, max_a=32)], ZERO, NOW)
    assert by_station(a) == {"CS1": 16.0, "CS2": 32.0}
    assert not a.at_limit
    assert "capped at its maximum 16.0 A" in a.evses[0].reason


def test_paused_rather_than_below_minimum() -> None:
    # 20 A for 4 cars with a 6 A minimum: three charge at 6.6 A, the last is paused.
    a = allocate(site(20), [ev(i) for i in range(4)], ZERO, NOW)
    got = by_station(a)
    assert got["CS3"] == 0.0
    assert a.evses[3].state is EvseState.PAUSED
    assert "does not fit under the grid connection L1" in a.evses[3].reason
    assert all(got[f"CS{i}"] >= 6.0 for i in range(3))
    assert sum(got.values()) <= 20.0


def test_base_load_is_taken_off_the_grid_limit() -> None:
    a = allocate(site(50), [ev(1), ev(2)], (10.0, 20.0, 5.0), NOW)
    assert by_station(a) == {"CS1": 15.0, "CS2": 15.0}  # L2 leaves 30 A
    assert a.base_load_a == (10.0, 20.0, 5.0)


def test_unused_capacity_goes_to_others() -> None:
    # CS1's car draws 5 A of 20 A: it is capped at 7 A and CS2 gets the rest.
    slow = ev(1, measured_a=(5.0, 5.0, 5.0), limit_a=20.0)
    a = allocate(site(40), [slow, ev(2, limit_a=20.0)], ZERO, NOW)
    assert by_station(a) == {"CS1": 7.0, "CS2": 32.0}
    assert "the car draws only 5.0 A" in a.evses[0].reason


def test_a_car_at_its_limit_may_take_more() -> None:
    busy = ev(1, measured_a=(19.6, 19.5, 19.7), limit_a=20.0)
    a = allocate(site(100), [busy], ZERO, NOW)
    assert by_station(a) == {"CS1": 32.0}


def test_measurement_before_the_limit_settled_is_ignored() -> None:
    ramping = ev(1, measured_a=(3.0, 3.0, 3.0), limit_a=20.0, settled=False)
    assert by_station(allocate(site(100), [ramping], ZERO, NOW)) == {"CS1": 32.0}


def test_single_phase_cars_load_their_wired_phase() -> None:
    # Three single-phase cars rotated onto L1, L2, L3 each get 32 A under a 32 A limit.
    evs = [ev(i, phases=1, rotation=r) for i, r in enumerate(("L1L2L3", "L2L3L1", "L3L1L2"))]
    a = allocate(site(32), evs, ZERO, NOW)
    assert set(by_station(a).values()) == {32.0}
    assert [e.phases for e in a.evses] == [("L1",), ("L2",), ("L3",)]
    # A single-phase car on a 3-phase EVSE is seen by its meter (only L1 carries current).
    car = ev(1, measured_a=(15.8, 0.0, 0.0), limit_a=16.0, rotation="L3L1L2")
    other = ev(2, limit_a=16.0)
    a = allocate(site(40), [car, other], ZERO, NOW)
    assert a.evses[0].phases == ("L3",)
    assert by_station(a) == {"CS1": 20.0, "CS2": 20.0}  # L3 is shared, L1/L2 are not
    assert a.allocated_a == (20.0, 20.0, 40.0)


def test_circuits_limit_their_subtree() -> None:
    circuits = (Circuit("sub", "garage", 40.0), Circuit("f1", "feeder 1", 16.0, "sub"))
    evs = [ev(1, circuit="f1"), ev(2, circuit="f1"), ev(3, circuit="sub"), ev(4)]
    a = allocate(site(100, circuits), evs, ZERO, NOW)
    got = by_station(a)
    assert got["CS1"] + got["CS2"] <= 16.0 and got["CS1"] == 8.0
    assert got["CS1"] + got["CS2"] + got["CS3"] <= 40.0 and got["CS3"] == 24.0
    assert got["CS4"] == 32.0
    assert "circuit feeder 1 L1" in a.evses[0].reason
    binding = {u.name for u in a.limits if u.binding}
    assert {"circuit feeder 1 L1", "circuit garage L1"} <= binding


def test_priorities_first() -> None:
    evs = [ev(1, priority=1), ev(2), ev(3)]
    a = allocate(site(50), evs, ZERO, NOW)
    got = by_station(a)
    assert got == {"CS1": 32.0, "CS2": 9.0, "CS3": 9.0}
    assert "priority 0 comes after priority 1" in a.evses[1].reason


def test_failsafe_counts_at_maximum() -> None:
    lost = ev(1, failsafe="its station is disconnected", max_a=32.0)
    a = allocate(site(50), [lost, ev(2)], ZERO, NOW)
    assert a.evses[0].state is EvseState.FAILSAFE and a.evses[0].allocated_a == 32.0
    assert by_station(a)["CS2"] == 18.0
    assert "counted at its maximum 32.0 A" in a.evses[0].reason
    assert a.targets() == {("CS2", 1): 18.0}


def test_needs_come_first() -> None:
    urgent = ev(2, need_a=20.0, need_reason="needs 20.0 A for 30 kWh by 17:00")
    a = allocate(site(30), [ev(1), urgent], ZERO, NOW)
    assert by_station(a) == {"CS1": 10.0, "CS2": 20.0}
    assert "needs 20.0 A" in a.evses[1].reason


def test_ev_maximum_from_charging_needs() -> None:
    a = allocate(site(100), [ev(1, ev_max_a=10.0)], ZERO, NOW)
    assert by_station(a) == {"CS1": 10.0}
    assert "the EV's maximum" in a.evses[0].reason


def test_kw_grid_limit_is_a_total() -> None:
    # 23 kW at 230 V: 100 A in total over the phases. Two single-phase cars on L1 may
    # take 32 A each (64 A < 100 A).
    evs = [ev(1, phases=1), ev(2, phases=1), ev(3)]
    a = allocate(site(23.0, unit="kW"), evs, ZERO, NOW)
    got = by_station(a)
    assert got["CS1"] + got["CS2"] + 3 * got["CS3"] <= 100.0 + 1e-6
    assert got["CS3"] >= 6.0


def test_idle_evse() -> None:
    a = allocate(site(), [ev(1, transaction_id=None)], ZERO, NOW)
    assert a.evses[0].state is EvseState.IDLE and a.evses[0].allocated_a == 0.0
    assert a.targets() == {}


# ------------------------------------------------------------------ properties

CIRCUIT_IDS = ("a", "b", "c", "d")


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Site, list[EvseInput], tuple[float, float, float]]:
    circuits: list[Circuit] = []
    for k, cid in enumerate(CIRCUIT_IDS[: draw(st.integers(0, 4))]):
        parent = draw(st.sampled_from([None, *CIRCUIT_IDS[:k]]))
        circuits.append(Circuit(cid, cid, draw(st.floats(5, 80)), parent))
    unit = draw(st.sampled_from(["A", "kW"]))
    value = draw(st.floats(10, 150)) if unit == "A" else draw(st.floats(5, 100))
    s = Site(1, "p", GridLimit(GridUnit(unit), value), circuits=tuple(circuits))
    evses: list[EvseInput] = []
    for n in range(draw(st.integers(0, 25))):
        phases = draw(st.sampled_from([1, 3]))
        min_a = draw(st.sampled_from([0.0, 6.0, 8.0]))
        max_a = draw(st.floats(min_a + 0.5, 63))
        measured = draw(st.none() | st.tuples(*[st.none() | st.floats(0, 40) for _ in PHASES]))
        member = Member(
            f"S{n}",
            1,
            draw(st.sampled_from([None, *[c.id for c in circuits]])),
            draw(st.sampled_from(ROTATIONS)),
            phases,
            min_a,
            max_a,
            draw(st.integers(0, 2)),
        )
        evses.append(
            EvseInput(
                f"S{n}",
                1,
                member,
                transaction_id=draw(st.sampled_from([None, f"t{n}", f"t{n}", f"t{n}"])),
                failsafe=draw(st.sampled_from([None, None, None, None, "lost"])),
                measured_a=measured,
                limit_a=draw(st.none() | st.floats(0, 63)),
                ev_max_a=draw(st.none() | st.floats(1, 40)),
                need_a=draw(st.none() | st.floats(0, 40)),
            )
        )
    base = draw(st.tuples(*[st.floats(0, 30) for _ in PHASES]))
    return s, evses, base


def _loads(s: Site, a: SiteAllocation, evses: list[EvseInput]) -> dict[str, float]:
    """The load on every limit, recomputed from the result (not from the allocator)."""
    loads: dict[str, float] = {}
    for r, e in zip(a.evses, evses, strict=True):
        if r.state is EvseState.IDLE:
            continue
        path = s.circuit_path(e.member.circuit_id)
        for name in r.phases:
            for cid in path:
                key = f"{cid} {name}"
                loads[key] = loads.get(key, 0.0) + r.allocated_a
            loads[f"grid {name}"] = loads.get(f"grid {name}", 0.0) + r.allocated_a
            loads["grid"] = loads.get("grid", 0.0) + r.allocated_a
    return loads


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_no_limit_is_ever_exceeded(case: tuple[Site, list[EvseInput], tuple[float, ...]]) -> None:
    """Without failsafe EVSEs (whose maximum may alone exceed a limit) the sum per phase
    never exceeds any circuit's limit, nor the grid limit less the base load."""
    s, evses, base = case
    evses = [e for e in evses if e.failsafe is None]
    a = allocate(s, evses, base, NOW)
    loads = _loads(s, a, evses)
    for c in s.circuits:
        for name in PHASES:
            assert loads.get(f"{c.id} {name}", 0.0) <= c.limit_a + 1e-6, (c, name)
    if s.grid_limit.unit is GridUnit.AMPS:
        for p, name in enumerate(PHASES):
            room = max(0.0, s.grid_limit.value - base[p])
            assert loads.get(f"grid {name}", 0.0) <= room + 1e-6
            assert a.allocated_a[p] == round(loads.get(f"grid {name}", 0.0), 3)
    else:
        total = s.grid_limit.value * 1000 / s.voltage - sum(base)
        assert loads.get("grid", 0.0) <= max(0.0, total) + 1e-6


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_limits_hold_with_failsafe_reservations(
    case: tuple[Site, list[EvseInput], tuple[float, ...]],
) -> None:
    """With failsafe EVSEs counted at their maximum, the controlled EVSEs get only what
    is left: if the reservations alone exceed a limit, nobody under it charges."""
    s, evses, base = case
    a = allocate(s, evses, base, NOW)
    for use in a.limits:
        if use.allocated_a > 0:
            assert use.reserved_a + use.allocated_a <= use.limit_a + 1e-6, use


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_no_charging_evse_below_its_minimum(
    case: tuple[Site, list[EvseInput], tuple[float, ...]],
) -> None:
    s, evses, base = case
    a = allocate(s, evses, base, NOW)
    for r, e in zip(a.evses, evses, strict=True):
        if r.state is EvseState.CHARGING:
            floor = e.member.min_a
            assert r.allocated_a >= floor - 1e-9 and r.allocated_a > 0
            assert r.allocated_a <= e.member.max_a + 1e-9
        elif r.state is EvseState.PAUSED:
            assert r.allocated_a == 0.0
        assert r.reason


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_unused_capacity_is_reassigned(
    case: tuple[Site, list[EvseInput], tuple[float, ...]],
) -> None:
    """Pareto: no charging EVSE below its cap could get more without breaking a limit
    (each one that is not at its cap has a full limit on its path)."""
    s, evses, base = case
    a = allocate(s, evses, base, NOW)
    full = {u.name for u in a.limits if u.limit_a - u.reserved_a - u.allocated_a < 0.1 * 3 + 1e-6}
    for r in a.evses:
        if r.state is EvseState.CHARGING and r.allocated_a < r.demand_a - 0.1 - 1e-6:
            assert r.limited_by is not None, r
            assert r.limited_by in full or any(
                u.name == r.limited_by and u.binding for u in a.limits
            ), (r, a.limits)


def test_allocation_of_500_evses_is_fast_enough_to_run() -> None:
    """Not a timing assertion (that is bench/balancing.py): the big case completes and
    holds its limits."""
    circuits = tuple(Circuit(f"f{k}", f"feeder {k}", 250.0) for k in range(10))
    evses = [
        ev(i, circuit=f"f{i % 10}", phases=1 if i % 4 == 0 else 3, rotation=ROTATIONS[i % 6])
        for i in range(500)
    ]
    a = allocate(site(1500, circuits), evses, (50.0, 50.0, 50.0), NOW)
    assert max(a.allocated_a) <= 1450.0 + 1e-6


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.lists(st.floats(0, 40), min_size=1, max_size=5))
def test_first_profiles_fit_beside_the_others(
    case: tuple[Site, list[EvseInput], tuple[float, ...]], wants: list[float]
) -> None:
    """A new EVSE's first limit (`fit`) never pushes a limit over, with the others at
    the limits they have; what does not reach its minimum is 0."""
    s, evses, base = case
    evses = [e for e in evses if e.failsafe is None]
    a = allocate(s, evses, base, NOW)
    settled = [
        EvseInput(e.station_id, e.evse_id, e.member, transaction_id=e.transaction_id,
                  measured_a=e.measured_a,
                  limit_a=r.allocated_a if r.state is EvseState.CHARGING else 0.0)
        for e, r in zip(evses, a.evses, strict=True)
    ]  # fmt: skip
    new = [
        EvseInput(f"N{i}", 1, Member(f"N{i}", 1, None, ROTATIONS[i % 6]), transaction_id="t")
        for i in range(len(wants))
    ]
    got = fit(s, settled + new, base, {("N" + str(i), 1): w for i, w in enumerate(wants)})
    final = [
        EvseInput(e.station_id, 1, e.member, transaction_id="t", limit_a=got[(e.station_id, 1)])
        for e in new
    ]
    for v in got.values():
        assert v == 0.0 or v >= 6.0
    loads: dict[str, float] = {}
    for e in settled + final:
        value = e.limit_a or 0.0 if e.transaction_id else 0.0
        for p in used_phases(e, s.phases):
            for cid in ("grid", *s.circuit_path(e.member.circuit_id)):
                loads[f"{cid} {p}"] = loads.get(f"{cid} {p}", 0.0) + value
            loads["grid"] = loads.get("grid", 0.0) + value
    for c in s.circuits:
        for p in range(3):
            assert loads.get(f"{c.id} {p}", 0.0) <= c.limit_a + 1e-6
    if s.grid_limit.unit is GridUnit.AMPS:
        for p in range(3):
            assert loads.get(f"grid {p}", 0.0) <= max(0.0, s.grid_limit.value - base[p]) + 1e-6
    else:
        total = s.grid_limit.value * 1000 / s.voltage - sum(base)
        assert loads.get("grid", 0.0) <= max(0.0, total) + 1e-6
