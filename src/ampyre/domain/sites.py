"""Sites for load management (issue 18 part 4): a grid connection with its limit, a tree
of circuits under it as an electrician draws it (grid connection -> sub-distribution ->
feeder), a base load, and the member stations/EVSEs with their phase wiring.

Plain values and the rules that make a site valid (`check_site`); the allocation over a
site is domain/balancer.py.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from datetime import datetime
from itertools import permutations

PHASES = ("L1", "L2", "L3")
# A member's wiring: which site phase each of its own phases L1, L2, L3 is on
# ("L2L3L1": its L1 is the site's L2, ...). A single-phase EVSE uses its first entry.
ROTATIONS = tuple("".join(p) for p in permutations(PHASES))
MAX_CIRCUITS = 200
MAX_MEMBERS = 2000
MAX_CURRENT_A = 10_000.0
MAX_POWER_KW = 100_000.0


class GridUnit(enum.StrEnum):
    AMPS = "A"  # per phase
    KW = "kW"  # the total over all phases


class BaseLoadMode(enum.StrEnum):
    NONE = "none"
    FIXED = "fixed"  # `fixed_a` on every phase
    MEASURED = "measured"  # from a station's meter or pushed through the API


@dataclass(slots=True, frozen=True)
class GridLimit:
    unit: GridUnit
    value: float


@dataclass(slots=True, frozen=True)
class MeterRef:
    """Where the measured base load comes from: the Current.Import per phase a station
    reports outside transactions (evse 0: its main meter). `includes_evs`: the meter is
    at the grid connection and also measures the chargers (their draw is subtracted)."""

    station_id: str
    evse_id: int = 0
    includes_evs: bool = False


@dataclass(slots=True, frozen=True)
class BaseLoad:
    mode: BaseLoadMode = BaseLoadMode.NONE
    fixed_a: float = 0.0
    meter: MeterRef | None = None


@dataclass(slots=True, frozen=True)
class Circuit:
    """A distribution level with a per-phase limit; `parent_id` None hangs it directly
    under the grid connection."""

    id: str
    name: str
    limit_a: float
    parent_id: str | None = None


@dataclass(slots=True, frozen=True)
class Member:
    """A station (evse_id None: each of its EVSEs) or one EVSE in the site, on a circuit
    (None: directly under the grid connection)."""

    station_id: str
    evse_id: int | None = None
    circuit_id: str | None = None
    phase_rotation: str = "L1L2L3"
    phases: int = 3
    min_a: float = 6.0  # IEC 61851: below 6 A an AC car cannot charge
    max_a: float = 32.0
    priority: int = 0  # higher first

    def site_phases(self, site_phases: int) -> tuple[int, ...]:
        """The site phases (0..2) this member's own phases are wired to."""
        return _wiring(self.phase_rotation, self.phases, site_phases)


@functools.lru_cache(maxsize=64)
def _wiring(rotation: str, phases: int, site_phases: int) -> tuple[int, ...]:
    if site_phases == 1:
        return (0,)
    order = tuple(PHASES.index(rotation[i : i + 2]) for i in (0, 2, 4))
    return order[:phases]


@dataclass(slots=True)
class Site:
    id: int
    name: str
    grid_limit: GridLimit
    phases: int = 3
    voltage: float = 230.0
    base_load: BaseLoad = field(default_factory=BaseLoad)
    circuits: tuple[Circuit, ...] = ()
    members: tuple[Member, ...] = ()
    enabled: bool = True
    # id token -> priority (a driver's priority; the higher of it and the member's wins)
    token_priorities: dict[str, int] = field(default_factory=dict)
    # The last measured base load pushed through the API (A per phase) and when.
    pushed_base_load: tuple[float, float, float] | None = None
    pushed_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # member_of's index, rebuilt when `members` is replaced.
    _index: tuple[tuple[Member, ...], dict[tuple[str, int | None], Member]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def grid_phase_limit_a(self) -> float:
        """The grid connection's limit in A per phase (a kW limit spread evenly)."""
        if self.grid_limit.unit is GridUnit.AMPS:
            return self.grid_limit.value
        return self.grid_limit.value * 1000.0 / (self.voltage * self.phases)

    def member_of(self, station_id: str, evse_id: int) -> Member | None:
        """The member entry covering one EVSE (an EVSE entry wins over its station's)."""
        cached = self._index
        if cached is None or cached[0] is not self.members:
            index = {(m.station_id, m.evse_id): m for m in self.members}
            cached = self._index = (self.members, index)
        index = cached[1]
        found = index.get((station_id, evse_id))
        return found if found is not None else index.get((station_id, None))

    def circuit_path(self, circuit_id: str | None) -> tuple[str, ...]:
        """The circuit and its ancestors, innermost first (empty: the grid connection)."""
        by_id = {c.id: c for c in self.circuits}
        path: list[str] = []
        while circuit_id is not None and circuit_id in by_id and circuit_id not in path:
            path.append(circuit_id)
            circuit_id = by_id[circuit_id].parent_id
        return tuple(path)


class SiteInvalid(ValueError):
    """A site breaks a rule; `field` is the JSON path of the offending value."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def check_site(site: Site) -> None:
    """Raise SiteInvalid at the first broken rule."""
    if not site.name.strip():
        raise SiteInvalid("name must not be empty", "name")
    if site.phases not in (1, 3):
        raise SiteInvalid("phases must be 1 or 3", "phases")
    if not 100.0 <= site.voltage <= 480.0:
        raise SiteInvalid("voltage must be within 100..480 V", "voltage")
    top = MAX_CURRENT_A if site.grid_limit.unit is GridUnit.AMPS else MAX_POWER_KW
    if not 0 < site.grid_limit.value <= top:
        raise SiteInvalid(
            f"the grid limit must be > 0 and <= {top:g} {site.grid_limit.unit.value}",
            "grid_limit.value",
        )
    _check_base_load(site.base_load)
    _check_circuits(site.circuits)
    _check_members(site)


def _check_base_load(b: BaseLoad) -> None:
    if not 0 <= b.fixed_a <= MAX_CURRENT_A:
        raise SiteInvalid("fixed_a must be within 0..10000 A", "base_load.fixed_a")
    if b.mode is BaseLoadMode.MEASURED and b.meter is not None and not b.meter.station_id:
        raise SiteInvalid("the meter needs a station_id", "base_load.meter.station_id")
    if b.meter is not None and b.meter.evse_id < 0:
        raise SiteInvalid("evse_id must be >= 0", "base_load.meter.evse_id")


def _check_circuits(circuits: tuple[Circuit, ...]) -> None:
    if len(circuits) > MAX_CIRCUITS:
        raise SiteInvalid(f"at most {MAX_CIRCUITS} circuits", "circuits")
    by_id: dict[str, Circuit] = {}
    for i, c in enumerate(circuits):
        if not c.id or len(c.id) > 64:
            raise SiteInvalid("a circuit id has 1..64 characters", f"circuits.{i}.id")
        if c.id in by_id:
            raise SiteInvalid(f"circuit id {c.id!r} is used twice", f"circuits.{i}.id")
        if not 0 < c.limit_a <= MAX_CURRENT_A:
            raise SiteInvalid("limit_a must be > 0 and <= 10000", f"circuits.{i}.limit_a")
        by_id[c.id] = c
    for i, c in enumerate(circuits):
        if c.parent_id is not None and c.parent_id not in by_id:
            raise SiteInvalid(f"no circuit {c.parent_id!r}", f"circuits.{i}.parent_id")
        seen = {c.id}
        parent = c.parent_id
        while parent is not None:
            if parent in seen:
                raise SiteInvalid(
                    f"circuit {c.id!r} is its own ancestor", f"circuits.{i}.parent_id"
                )
            seen.add(parent)
            parent = by_id[parent].parent_id


def _check_members(site: Site) -> None:
    if len(site.members) > MAX_MEMBERS:
        raise SiteInvalid(f"at most {MAX_MEMBERS} members", "members")
    circuit_ids = {c.id for c in site.circuits}
    seen: set[tuple[str, int | None]] = set()
    for i, m in enumerate(site.members):
        where = f"members.{i}"
        if not m.station_id:
            raise SiteInvalid("station_id must not be empty", f"{where}.station_id")
        if m.evse_id is not None and m.evse_id < 1:
            raise SiteInvalid("evse_id must be >= 1 (null: every EVSE)", f"{where}.evse_id")
        if (m.station_id, m.evse_id) in seen:
            raise SiteInvalid("the same station/EVSE is listed twice", where)
        seen.add((m.station_id, m.evse_id))
        if m.circuit_id is not None and m.circuit_id not in circuit_ids:
            raise SiteInvalid(f"no circuit {m.circuit_id!r}", f"{where}.circuit_id")
        if m.phase_rotation not in ROTATIONS:
            raise SiteInvalid(
                "phase_rotation must be one of " + ", ".join(ROTATIONS), f"{where}.phase_rotation"
            )
        if m.phases not in (1, 3):
            raise SiteInvalid("phases must be 1 or 3", f"{where}.phases")
        if m.phases == 3 and site.phases == 1:
            raise SiteInvalid("a single-phase site has no 3-phase members", f"{where}.phases")
        if not 0 <= m.min_a <= MAX_CURRENT_A:
            raise SiteInvalid("min_a must be within 0..10000", f"{where}.min_a")
        if not 0 < m.max_a <= MAX_CURRENT_A:
            raise SiteInvalid("max_a must be > 0 and <= 10000", f"{where}.max_a")
        if m.min_a > m.max_a:
            raise SiteInvalid("min_a must not be above max_a", f"{where}.min_a")
