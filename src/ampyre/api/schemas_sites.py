"""Request and response bodies of the site routes (issue 18 part 4): the site document,
its status (what each EVSE got and why), the decision history and the load series."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ampyre.api.routes._common import INT32_MAX
from ampyre.domain.site_records import AllocationRecord, SiteSample
from ampyre.domain.sites import (
    MAX_CIRCUITS,
    MAX_MEMBERS,
    PHASES,
    BaseLoad,
    BaseLoadMode,
    Circuit,
    GridLimit,
    GridUnit,
    Member,
    MeterRef,
    Site,
)

_AMPS = 10_000.0


class GridLimitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: Literal["A", "kW"] = Field(description="A per phase, or kW over all phases")
    value: float = Field(gt=0, le=100_000)


class MeterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_id: str = Field(min_length=1, max_length=255)
    evse_id: int = Field(0, ge=0, le=INT32_MAX, description="0: the station's main meter")
    includes_evs: bool = Field(
        False, description="the meter is at the grid connection and also measures the chargers"
    )


class BaseLoadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["none", "fixed", "measured"] = "none"
    fixed_a: float = Field(
        0.0, ge=0, le=_AMPS, description="A per phase (measured: used while nothing is measured)"
    )
    meter: MeterIn | None = Field(
        None, description="measured: Current.Import of this meter (else pushed via the API)"
    )


class CircuitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    name: str = Field("", max_length=100)
    parent_id: str | None = Field(None, description="null: directly under the grid connection")
    limit_a: float = Field(gt=0, le=_AMPS, description="A per phase")


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_id: str = Field(min_length=1, max_length=255)
    evse_id: int | None = Field(None, ge=1, le=INT32_MAX, description="null: every EVSE")
    circuit_id: str | None = Field(None, description="null: directly under the grid connection")
    phase_rotation: str = Field(
        "L1L2L3", description="the site phases its L1, L2, L3 are wired to (e.g. L2L3L1)"
    )
    phases: Literal[1, 3] = 3
    min_a: float = Field(6.0, ge=0, le=_AMPS, description="below this it is paused instead")
    max_a: float = Field(32.0, gt=0, le=_AMPS)
    priority: int = Field(0, ge=-1000, le=1000, description="higher is served first")


class SiteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    grid_limit: GridLimitIn
    phases: Literal[1, 3] = 3
    voltage: float = Field(230.0, ge=100, le=480, description="V phase to neutral")
    base_load: BaseLoadIn = Field(
        default_factory=lambda: BaseLoadIn(mode="none", fixed_a=0.0, meter=None)
    )
    circuits: list[CircuitIn] = Field(default_factory=list, max_length=MAX_CIRCUITS)
    members: list[MemberIn] = Field(default_factory=list, max_length=MAX_MEMBERS)
    enabled: bool = True
    token_priorities: dict[str, int] = Field(
        default_factory=dict, description="id token -> priority (the higher of it and the EVSE's)"
    )

    def to_site(self, site_id: int = 0) -> Site:
        b = self.base_load
        return Site(
            id=site_id,
            name=self.name,
            grid_limit=GridLimit(GridUnit(self.grid_limit.unit), self.grid_limit.value),
            phases=self.phases,
            voltage=self.voltage,
            base_load=BaseLoad(
                BaseLoadMode(b.mode),
                b.fixed_a,
                None
                if b.meter is None
                else MeterRef(b.meter.station_id, b.meter.evse_id, b.meter.includes_evs),
            ),
            circuits=tuple(Circuit(c.id, c.name, c.limit_a, c.parent_id) for c in self.circuits),
            members=tuple(
                Member(
                    m.station_id,
                    m.evse_id,
                    m.circuit_id,
                    m.phase_rotation,
                    m.phases,
                    m.min_a,
                    m.max_a,
                    m.priority,
                )
                for m in self.members
            ),
            enabled=self.enabled,
            token_priorities=dict(self.token_priorities),
        )


class SiteOut(SiteIn):
    model_config = ConfigDict(extra="ignore")

    id: int
    pushed_base_load: dict[str, float] | None = Field(
        None, description="the last base load pushed through the API, A per phase"
    )
    pushed_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, s: Site) -> SiteOut:
        b = s.base_load
        return cls(
            id=s.id,
            name=s.name,
            grid_limit=GridLimitIn(unit=s.grid_limit.unit.value, value=s.grid_limit.value),
            phases=3 if s.phases == 3 else 1,
            voltage=s.voltage,
            base_load=BaseLoadIn(
                mode=b.mode.value,
                fixed_a=b.fixed_a,
                meter=None
                if b.meter is None
                else MeterIn(
                    station_id=b.meter.station_id,
                    evse_id=b.meter.evse_id,
                    includes_evs=b.meter.includes_evs,
                ),
            ),
            circuits=[
                CircuitIn(id=c.id, name=c.name, parent_id=c.parent_id, limit_a=c.limit_a)
                for c in s.circuits
            ],
            members=[
                MemberIn(
                    station_id=m.station_id,
                    evse_id=m.evse_id,
                    circuit_id=m.circuit_id,
                    phase_rotation=m.phase_rotation,
                    phases=3 if m.phases == 3 else 1,
                    min_a=m.min_a,
                    max_a=m.max_a,
                    priority=m.priority,
                )
                for m in s.members
            ],
            enabled=s.enabled,
            token_priorities=dict(s.token_priorities),
            pushed_base_load=None if s.pushed_base_load is None else per_phase(s.pushed_base_load),
            pushed_at=s.pushed_at,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class SitePage(BaseModel):
    items: list[SiteOut]
    total: int


class BaseLoadPush(BaseModel):
    model_config = ConfigDict(extra="forbid")

    l1: float = Field(ge=0, le=_AMPS)
    l2: float = Field(0.0, ge=0, le=_AMPS)
    l3: float = Field(0.0, ge=0, le=_AMPS)


def per_phase(values: Any) -> dict[str, float]:
    v = list(values or [])
    return {p: float(v[i]) if i < len(v) else 0.0 for i, p in enumerate(PHASES)}


class EvseAllocationOut(BaseModel):
    station_id: str
    evse_id: int
    transaction_id: str | None
    state: str = Field(description="charging, paused, failsafe or idle")
    allocated_a: float = Field(description="A per phase (failsafe: the maximum it counts at)")
    phases: list[str] = Field(description="the site phases it loads")
    demand_a: float = Field(description="what it could take now")
    measured_a: float | None = Field(description="its highest phase current, if measured")
    reason: str = Field(description="why it got what it got")
    limited_by: str | None = Field(description="the limit that held it back, if any")


class LimitOut(BaseModel):
    name: str
    limit_a: float
    reserved_a: float = Field(description="base load and failsafe EVSEs")
    allocated_a: float
    binding: bool


class SiteStatus(BaseModel):
    site_id: int
    computed_at: datetime
    trigger: str
    at_limit: bool
    limit_a: dict[str, float]
    base_load_a: dict[str, float]
    allocated_a: dict[str, float] = Field(description="to the EVSEs under control")
    failsafe_a: dict[str, float] = Field(
        description="failsafe EVSEs (disconnected, profile not accepted) at their maximum"
    )
    measured_a: dict[str, float]
    limits: list[LimitOut]
    evses: list[EvseAllocationOut]
    id: int | None = Field(None, description="the decision's id (null: live, not a record)")
    seen_event: int | None = Field(
        None, description="the last outbox event (webhook event id) the decision knew of"
    )

    @classmethod
    def of(cls, r: AllocationRecord) -> SiteStatus:
        s = r.summary
        return cls(
            site_id=r.site_id,
            computed_at=r.computed_at,
            trigger=r.trigger,
            at_limit=r.at_limit,
            limit_a=per_phase(s.get("limit_a")),
            base_load_a=per_phase(s.get("base_load_a")),
            allocated_a=per_phase(s.get("allocated_a")),
            failsafe_a=per_phase(s.get("failsafe_a")),
            measured_a=per_phase(s.get("measured_a")),
            limits=[LimitOut(**u) for u in s.get("limits") or []],
            evses=[EvseAllocationOut(**e) for e in r.evses],
            id=r.id,
            seen_event=s.get("seen_event"),
        )


class AllocationPage(BaseModel):
    items: list[SiteStatus]


class SamplePoint(BaseModel):
    at: datetime
    limit_a: dict[str, float]
    base_load_a: dict[str, float]
    allocated_a: dict[str, float]
    failsafe_a: dict[str, float]
    measured_a: dict[str, float]

    @classmethod
    def of(cls, s: SiteSample) -> SamplePoint:
        d = s.data
        return cls(
            at=s.at,
            limit_a=per_phase(d.get("limit_a")),
            base_load_a=per_phase(d.get("base_load_a")),
            allocated_a=per_phase(d.get("allocated_a")),
            failsafe_a=per_phase(d.get("failsafe_a")),
            measured_a=per_phase(d.get("measured_a")),
        )


class SeriesOut(BaseModel):
    site_id: int
    items: list[SamplePoint]


class RebalanceOut(BaseModel):
    site_id: int
    requested: bool
