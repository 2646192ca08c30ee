"""The balancer's allocation (issue 18 part 4): how a site's capacity is shared by the
EVSEs charging in it, as a pure function of what is known now.

Rules, in order:

1. Every limit holds on every phase: the grid connection (A per phase, less the base
   load; a kW limit is one limit on the sum of all phases) and each circuit up the tree.
2. An EVSE whose station has not confirmed its profile, or is disconnected, counts at
   its maximum on all its phases ("failsafe"): its real current is not under our control.
3. Each charging EVSE gets at least its minimum or nothing: EVSEs are admitted in order
   (priority, then those already charging, then earliest start) while their minimum
   fits under every limit on their path; the rest are paused with limit 0 (a car cannot
   charge below about 6 A, IEC 61851-1; a limit between 0 and the minimum is invalid).
4. A car that draws clearly less than it is allowed (it is full, or its on-board charger
   is smaller) is capped at its draw plus some headroom, so the rest goes to others; one
   drawing up to its limit may use more and is capped at its maximum (and at the EV's
   maximum current when ISO 15118 said so).
5. The current an EV needs to get its energy by its departure time (ISO 15118 charging
   needs) is given first, then the rest is shared max-min fair ("water filling"),
   priority tiers one after the other: an EVSE only stops rising when it reaches its cap
   or a limit on its path is full.
6. A single-phase car (or EVSE) loads only the site phase it is wired to.

Every EVSE's result carries a sentence saying why it got what it got.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ampyre.domain.sites import PHASES, GridUnit, Member, Site

EPS = 1e-9
HEADROOM_A = 2.0  # a car drawing below its limit is capped at its draw plus this
BOUND_MARGIN_A = 1.0  # drawing within this of its limit: the car could use more
PHASE_IN_USE_A = 1.0  # a phase carrying at least this is in use by the car
STEP_A = 0.1  # allocations are rounded down to this


class EvseState(enum.StrEnum):
    CHARGING = "charging"
    PAUSED = "paused"
    FAILSAFE = "failsafe"
    IDLE = "idle"


@dataclass(slots=True, frozen=True)
class EvseInput:
    """One EVSE of the site as the balancer knows it now."""

    station_id: str
    evse_id: int
    member: Member
    transaction_id: str | None = None  # None: no transaction (idle)
    priority: int | None = None  # None: the member's
    failsafe: str | None = None  # why it must be counted at its maximum (None: it is not)
    # Failsafe but known to keep this limit (it refused a change: the profile it had
    # stays installed); None: its maximum.
    counted_a: float | None = None
    # What the car draws, per phase of the EVSE (its own L1, L2, L3), when measured.
    measured_a: tuple[float | None, float | None, float | None] | None = None
    limit_a: float | None = None  # the limit in effect (confirmed by the station)
    # The limit in effect when the draw was measured (None: `limit_a`), and whether the
    # car had settled to it (a car ramps up for a while after a limit goes up).
    measured_under: float | None = None
    settled: bool = True
    ev_max_a: float | None = None  # ISO 15118 charging needs
    ev_min_a: float | None = None
    need_a: float | None = None  # current needed to deliver its energy by departure
    need_reason: str | None = None
    started_at: datetime | None = None


@dataclass(slots=True, frozen=True)
class EvseAllocation:
    station_id: str
    evse_id: int
    transaction_id: str | None
    state: EvseState
    allocated_a: float  # A per phase; failsafe: the maximum it is counted at
    phases: tuple[str, ...]  # the site phases it loads
    demand_a: float  # what it could take (its cap)
    measured_a: float | None  # the highest phase current it draws, if measured
    reason: str
    limited_by: str | None = None  # the limit that stopped it, if any


@dataclass(slots=True, frozen=True)
class LimitUse:
    """One limit of the site and how it is used."""

    name: str
    limit_a: float
    reserved_a: float  # base load and failsafe EVSEs
    allocated_a: float  # EVSEs under control
    binding: bool  # full: some EVSE would take more


@dataclass(slots=True, frozen=True)
class SiteAllocation:
    site_id: int
    computed_at: datetime
    limit_a: tuple[float, float, float]  # grid connection per phase (kW spread evenly)
    base_load_a: tuple[float, float, float]
    allocated_a: tuple[float, float, float]  # to the EVSEs it controls, per phase
    failsafe_a: tuple[float, float, float]  # failsafe EVSEs counted at their maximum
    measured_a: tuple[float, float, float]  # what the cars draw per phase (as measured)
    at_limit: bool
    evses: tuple[EvseAllocation, ...]
    limits: tuple[LimitUse, ...]

    def targets(self) -> dict[tuple[str, int], float]:
        """The limit each EVSE with a transaction should have (failsafe ones: none)."""
        return {
            (e.station_id, e.evse_id): e.allocated_a
            for e in self.evses
            if e.state in (EvseState.CHARGING, EvseState.PAUSED)
        }


@dataclass(slots=True)
class _Limit:
    name: str
    cap: float  # the limit
    reserved: float  # base load + failsafe
    load: float = 0.0  # reserved + allocated so far
    members: list[tuple[int, int]] | None = None  # (evse index, phases of it counted)
    binding: bool = False


def _fmt(a: float) -> str:
    return f"{a:.1f} A"


class _Problem:
    """The arrays the allocation works on (lists indexed by EVSE, for speed)."""

    def __init__(self, site: Site, base_load: Sequence[float]) -> None:
        self.site = site
        self.limits: list[_Limit] = []
        # (circuit id or "" for the grid, site phase or -1 for a total) -> limit index
        self.index: dict[tuple[str, int], int] = {}
        phases = range(site.phases)
        if site.grid_limit.unit is GridUnit.AMPS:
            for p in phases:
                b = max(0.0, base_load[p])
                self._add(("", p), f"grid connection {PHASES[p]}", site.grid_limit.value, b)
        else:
            total = site.grid_limit.value * 1000.0 / site.voltage
            b = sum(max(0.0, base_load[p]) for p in phases)
            self._add(("", -1), f"grid connection ({site.grid_limit.value:g} kW)", total, b)
        self.circuits = {c.id: c for c in site.circuits}
        self._paths: dict[tuple[str | None, tuple[int, ...]], list[tuple[int, int]]] = {}
        for c in site.circuits:
            for p in phases:
                self._add((c.id, p), f"circuit {c.name or c.id} {PHASES[p]}", c.limit_a, 0.0)

    def _add(self, key: tuple[str, int], name: str, cap: float, reserved: float) -> None:
        self.index[key] = len(self.limits)
        self.limits.append(_Limit(name, cap, reserved, reserved, []))

    def path(self, member: Member, phases: tuple[int, ...]) -> list[tuple[int, int]]:
        """The limits an EVSE on these site phases is under, with how many of its phases
        each counts."""
        key = (member.circuit_id, phases)
        known = self._paths.get(key)
        if known is None:
            known = self._paths[key] = self._path(member.circuit_id, phases)
        return known

    def _path(self, circuit_id: str | None, phases: tuple[int, ...]) -> list[tuple[int, int]]:
        out: dict[int, int] = {}
        grid_total = self.index.get(("", -1))
        if grid_total is not None:
            out[grid_total] = len(phases)
        circuits = self.site.circuit_path(circuit_id)
        for p in phases:
            for cid in ("", *circuits):
                i = self.index.get((cid, p))
                if i is not None:
                    out[i] = out.get(i, 0) + 1
        return list(out.items())


def used_phases(e: EvseInput, site_phases: int) -> tuple[int, ...]:
    """The site phases the car loads: those its meter shows current on, else all the
    EVSE is wired for (a single-phase car on a 3-phase EVSE uses the EVSE's L1)."""
    wired = e.member.site_phases(site_phases)
    if e.measured_a is None:
        return wired
    drawing = tuple(
        wired[i]
        for i in range(len(wired))
        if (v := e.measured_a[i]) is not None and v >= PHASE_IN_USE_A
    )
    return drawing or wired


def _cap(e: EvseInput, wired: tuple[int, ...]) -> tuple[float, str]:
    """What an EVSE could take now, and why."""
    m = e.member
    cap, why = m.max_a, f"its maximum {_fmt(m.max_a)}"
    if e.ev_max_a is not None and e.ev_max_a < cap:
        cap, why = e.ev_max_a, f"the EV's maximum {_fmt(e.ev_max_a)} (ISO 15118)"
    under = e.measured_under if e.measured_under is not None else e.limit_a
    if e.measured_a is not None and under is not None and e.settled:
        draws = [v for i in range(len(wired)) if (v := e.measured_a[i]) is not None]
        if draws:
            draw = max(draws)
            if draw < under - BOUND_MARGIN_A and draw + HEADROOM_A < cap:
                cap = draw + HEADROOM_A
                why = f"the car draws only {_fmt(draw)} of {_fmt(under)} (+{HEADROOM_A:g} A)"
    return cap, why


def _level(events: list[tuple[float, int, int]], frozen: set[int], slack: float) -> float:
    """The highest level L such that raising every member i still rising (events: its
    (x_i, +n) and (hi_i, -n), sorted) to min(max(L, x_i), hi_i) adds at most `slack` to
    this limit (inf: it never fills)."""
    level = -math.inf
    added = 0.0
    slope = 0
    for at, dn, i in events:
        if i in frozen:
            continue
        if slope > 0:
            reach = level + (slack - added) / slope
            if reach <= at:
                return reach
            added += slope * (at - level)
        level = at
        slope += dn
    return math.inf


class _Filler:
    def __init__(self, problem: _Problem, paths: list[list[tuple[int, int]]]) -> None:
        self.p = problem
        self.paths = paths

    def fill(
        self, group: list[int], x: list[float], hi: list[float], limited: dict[int, str]
    ) -> None:
        """Raise the EVSEs of `group` together (max-min fair) until each reaches `hi` or
        a limit on its path is full; `limited` records which limit stopped whom.

        Progressive filling, lazily: the water level of each limit is where it would
        fill if all its members kept rising; the lowest one fills first, its members
        stop there, and only the limits they share need a new level (the others' stays
        what it was: their members rose along the same path). Each limit's breakpoints
        are sorted once."""
        limits = self.p.limits
        paths = self.paths
        remaining = {i for i in group if hi[i] > x[i] + EPS}
        if not remaining:
            return
        events: dict[int, list[tuple[float, int, int]]] = {}
        members: dict[int, list[tuple[int, int]]] = {}
        for i in remaining:
            for li, n in paths[i]:
                members.setdefault(li, []).append((i, n))
                ev = events.setdefault(li, [])
                ev.append((x[i], n, i))
                ev.append((hi[i], -n, i))
        slack = {li: max(0.0, limits[li].cap - limits[li].load) for li in members}
        # What the members still rising could add at most: below the slack, never full.
        room = {li: sum(n * (hi[i] - x[i]) for i, n in m) for li, m in members.items()}
        frozen: set[int] = set()
        level: dict[int, float] = {}
        alive = {li: len(m) for li, m in members.items()}

        def solve(li: int) -> float:
            if room[li] <= slack[li] + EPS:
                return math.inf
            return _level(events[li], frozen, slack[li])

        for li in members:
            events[li].sort()
            level[li] = solve(li)
        while remaining:
            best_li = min(level, key=level.__getitem__) if level else -1
            best = level[best_li] if best_li >= 0 else math.inf
            stop = [i for i, _n in members[best_li] if i not in frozen] if best < math.inf else []
            if not stop:
                stop = list(remaining)
            touched: set[int] = set()
            for i in stop:
                new = min(max(best, x[i]), hi[i])
                delta = new - x[i]
                for li, n in paths[i]:
                    if delta > 0:
                        limits[li].load += n * delta
                    if li in slack:
                        slack[li] -= n * delta
                        room[li] -= n * (hi[i] - x[i])
                        alive[li] -= 1
                    touched.add(li)
                x[i] = new
                if best < math.inf and new < hi[i] - EPS:
                    limited[i] = limits[best_li].name
                frozen.add(i)
                remaining.discard(i)
            if best < math.inf:
                limits[best_li].binding = True
            for li in touched:
                if li not in level:
                    continue
                if alive[li] <= 0:
                    del level[li]
                else:
                    level[li] = solve(li)


def allocate(
    site: Site,
    evses: Sequence[EvseInput],
    base_load: Sequence[float],
    now: datetime,
) -> SiteAllocation:
    """Share the site's capacity among `evses` (A per site phase of base load given)."""
    problem = _Problem(site, base_load)
    limits = problem.limits
    n = len(evses)
    x = [0.0] * n
    lo = [0.0] * n
    hi = [0.0] * n
    prio = [0] * n
    phases: list[tuple[int, ...]] = [()] * n
    paths: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    cap_why = [""] * n
    state = [EvseState.IDLE] * n
    reason = [""] * n
    limited: dict[int, str] = {}
    active: list[int] = []

    for i, e in enumerate(evses):
        m = e.member
        wired = m.site_phases(site.phases)
        if e.failsafe is not None:
            # Counted at its maximum on every phase it is wired for (rule 2), or at the
            # limit it is known to keep on the phases its car uses.
            value, phases[i] = _counted(e, site.phases)
            state[i] = EvseState.FAILSAFE
            x[i] = hi[i] = value
            reason[i] = (
                f"failsafe: {e.failsafe}; counted at its maximum {_fmt(m.max_a)}"
                if e.counted_a is None
                else f"failsafe: {e.failsafe}; counted at the {_fmt(value)} it keeps"
            )
            for li, k in problem.path(m, phases[i]):
                limits[li].reserved += k * value
                limits[li].load += k * value
            continue
        if e.transaction_id is None:
            reason[i] = "idle: no transaction"
            continue
        phases[i] = used_phases(e, site.phases)
        paths[i] = problem.path(m, phases[i])
        for li, k in paths[i]:
            limits[li].members.append((i, k))  # type: ignore[union-attr]
        low = m.min_a if e.ev_min_a is None else min(m.max_a, max(m.min_a, e.ev_min_a))
        cap, cap_why[i] = _cap(e, wired)
        lo[i], hi[i] = low, max(low, cap)
        prio[i] = m.priority if e.priority is None else e.priority
        active.append(i)

    # Rule 3: admission at the minimum, in order.
    def order(i: int) -> tuple[int, int, float, str, int]:
        e = evses[i]
        charging = 0 if (e.limit_a or 0.0) > 0 else 1
        started = e.started_at.timestamp() if e.started_at is not None else math.inf
        return (-prio[i], charging, started, e.station_id, e.evse_id)

    admitted: list[int] = []
    for i in sorted(active, key=order):
        short = None
        for li, k in paths[i]:
            lim = limits[li]
            if lim.load + k * lo[i] > lim.cap + 1e-6:
                short = lim
                break
        if short is None:
            admitted.append(i)
            x[i] = lo[i]
            for li, k in paths[i]:
                limits[li].load += k * lo[i]
            state[i] = EvseState.CHARGING
        else:
            short.binding = True
            left = max(0.0, short.cap - short.load)
            state[i] = EvseState.PAUSED
            limited[i] = short.name
            reason[i] = (
                f"paused: its minimum {_fmt(lo[i])} does not fit under the {short.name} "
                f"limit of {_fmt(short.cap)} ({_fmt(left)} left)"
            )

    # Rule 5: needs first, then fair shares, priority tiers one after the other.
    filler = _Filler(problem, paths)
    tiers = sorted({prio[i] for i in admitted}, reverse=True)
    needs = [min(hi[i], max(lo[i], evses[i].need_a or 0.0)) for i in range(n)]
    for tier in tiers:
        group = [i for i in admitted if prio[i] == tier and evses[i].need_a is not None]
        if group:
            filler.fill(group, x, needs, {})
    for tier in tiers:
        filler.fill([i for i in admitted if prio[i] == tier], x, hi, limited)

    results: list[EvseAllocation] = []
    for i, e in enumerate(evses):
        allocated = x[i]
        if state[i] is EvseState.CHARGING:
            allocated = max(lo[i], math.floor(x[i] / STEP_A + 1e-6) * STEP_A)
            allocated = round(allocated, 3)
            reason[i] = _explain(e, allocated, hi[i], cap_why[i], limited.get(i), tiers, prio[i])
            if allocated <= 0:
                state[i] = EvseState.PAUSED
        elif state[i] is EvseState.PAUSED:
            allocated = 0.0
        measured = _measured(e)
        results.append(
            EvseAllocation(
                e.station_id,
                e.evse_id,
                e.transaction_id,
                state[i],
                allocated,
                tuple(PHASES[p] for p in phases[i]),
                hi[i] if state[i] is not EvseState.IDLE else 0.0,
                measured,
                reason[i],
                limited.get(i) if state[i] is not EvseState.FAILSAFE else None,
            )
        )
    return _summary(site, problem, results, evses, base_load, now)


def _counted(e: EvseInput, site_phases: int) -> tuple[float, tuple[int, ...]]:
    """What a failsafe EVSE counts at, on which site phases."""
    if e.counted_a is None:
        return e.member.max_a, e.member.site_phases(site_phases)
    return e.counted_a, used_phases(e, site_phases)


def _explain(
    e: EvseInput,
    allocated: float,
    cap: float,
    cap_why: str,
    limited_by: str | None,
    tiers: list[int],
    priority: int,
) -> str:
    m = e.member
    if limited_by is None or allocated >= cap - STEP_A:
        text = f"{_fmt(allocated)}: capped at {cap_why}"
        if allocated > cap + EPS:  # its minimum is above what it takes
            text = f"{_fmt(allocated)}: its minimum (it takes {_fmt(cap)}: {cap_why})"
        if e.need_a is not None and e.need_reason:
            text += f"; {e.need_reason}"
        return text
    if allocated <= m.min_a + EPS and allocated < cap:
        text = f"{_fmt(allocated)}: its minimum; the {limited_by} limit is full"
    else:
        text = (
            f"{_fmt(allocated)}: fair share of the {limited_by} limit (it could take {_fmt(cap)})"
        )
    if len(tiers) > 1 and priority != tiers[0]:
        text += f"; priority {priority} comes after priority {tiers[0]}"
    if e.need_a is not None and e.need_reason:
        text += f"; {e.need_reason}"
    return text


def _measured(e: EvseInput) -> float | None:
    if e.measured_a is None:
        return None
    values = [v for v in e.measured_a if v is not None]
    return max(values) if values else None


def _summary(
    site: Site,
    problem: _Problem,
    results: list[EvseAllocation],
    evses: Sequence[EvseInput],
    base_load: Sequence[float],
    now: datetime,
) -> SiteAllocation:
    allocated = [0.0, 0.0, 0.0]
    failsafe = [0.0, 0.0, 0.0]
    measured = [0.0, 0.0, 0.0]
    for r, e in zip(results, evses, strict=True):
        for name in r.phases:
            if r.state is EvseState.FAILSAFE:
                failsafe[PHASES.index(name)] += r.allocated_a
            else:
                allocated[PHASES.index(name)] += r.allocated_a
        if e.measured_a is not None and r.state is not EvseState.IDLE:
            wired = e.member.site_phases(site.phases)
            for k, p in enumerate(wired):
                v = e.measured_a[k]
                if v is not None:
                    measured[p] += v
    per_phase = site.grid_phase_limit_a()
    limit = tuple(per_phase if p < site.phases else 0.0 for p in range(3))
    base = tuple(max(0.0, base_load[p]) if p < site.phases else 0.0 for p in range(3))
    uses = tuple(
        LimitUse(
            lim.name,
            round(lim.cap, 3),
            round(lim.reserved, 3),
            round(
                sum(k * results[i].allocated_a for i, k in (lim.members or [])),
                3,
            ),
            lim.binding,
        )
        for lim in problem.limits
    )
    at_limit = any(
        (r.state is EvseState.PAUSED and r.limited_by is not None)
        or (r.limited_by is not None and r.allocated_a < r.demand_a - 0.5)
        for r in results
    )
    return SiteAllocation(
        site_id=site.id,
        computed_at=now,
        limit_a=(limit[0], limit[1], limit[2]),
        base_load_a=(base[0], base[1], base[2]),
        allocated_a=(round(allocated[0], 3), round(allocated[1], 3), round(allocated[2], 3)),
        failsafe_a=(round(failsafe[0], 3), round(failsafe[1], 3), round(failsafe[2], 3)),
        measured_a=(round(measured[0], 3), round(measured[1], 3), round(measured[2], 3)),
        at_limit=at_limit,
        evses=tuple(results),
        limits=uses,
    )


def fit(
    site: Site,
    evses: Sequence[EvseInput],
    base_load: Sequence[float],
    wanted: dict[tuple[str, int], float],
) -> dict[tuple[str, int], float]:
    """What the EVSEs in `wanted` may have right now, while the others keep the limits
    they have (`limit_a`, failsafe ones their maximum): each gets the smaller of what it
    wants and the room left on its path, or 0 when that is below its minimum. In the
    order of `wanted`; what one gets is no longer room for the next."""
    problem = _Problem(site, base_load)
    limits = problem.limits
    by_key = {(e.station_id, e.evse_id): e for e in evses}
    for key, e in by_key.items():
        if key in wanted or (e.failsafe is None and e.transaction_id is None):
            continue
        if e.failsafe is not None:
            value, phases = _counted(e, site.phases)
        else:
            value, phases = (e.limit_a or 0.0), used_phases(e, site.phases)
        for li, k in problem.path(e.member, phases):
            limits[li].load += k * value
    out: dict[tuple[str, int], float] = {}
    for key, want in wanted.items():
        e = by_key[key]
        path = problem.path(e.member, used_phases(e, site.phases))
        room = min((limits[li].cap - limits[li].load) / k for li, k in path)
        value = max(0.0, min(want, math.floor(room / STEP_A + 1e-6) * STEP_A))
        if value < e.member.min_a or value <= 0:
            value = 0.0
        out[key] = round(value, 3)
        for li, k in path:
            limits[li].load += k * value
    return out
