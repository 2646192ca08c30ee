"""What is kept of the balancer's work: allocation decisions (why each EVSE got what it
got) and load samples for a site's chart, as JSON-ready values; and the site's JSON
document (its configuration as stored and as the API shows it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ampyre.domain.balancer import EvseAllocation, SiteAllocation
from ampyre.domain.sites import (
    BaseLoad,
    BaseLoadMode,
    Circuit,
    GridLimit,
    GridUnit,
    Member,
    MeterRef,
    Site,
)


@dataclass(slots=True, frozen=True)
class AllocationRecord:
    site_id: int
    computed_at: datetime
    trigger: str
    at_limit: bool
    summary: dict[str, Any]  # per phase sums and the use of each limit
    evses: list[dict[str, Any]]
    id: int | None = None


@dataclass(slots=True, frozen=True)
class SiteSample:
    site_id: int
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)  # limit/allocated/measured/base


def evse_json(e: EvseAllocation) -> dict[str, Any]:
    return {
        "station_id": e.station_id,
        "evse_id": e.evse_id,
        "transaction_id": e.transaction_id,
        "state": e.state.value,
        "allocated_a": e.allocated_a,
        "phases": list(e.phases),
        "demand_a": round(e.demand_a, 3),
        "measured_a": e.measured_a,
        "reason": e.reason,
        "limited_by": e.limited_by,
    }


def summary_json(a: SiteAllocation, seen_event: int | None = None) -> dict[str, Any]:
    return {
        "seen_event": seen_event,
        "limit_a": list(a.limit_a),
        "base_load_a": [round(v, 3) for v in a.base_load_a],
        "allocated_a": list(a.allocated_a),
        "failsafe_a": list(a.failsafe_a),
        "measured_a": list(a.measured_a),
        "limits": [
            {
                "name": u.name,
                "limit_a": u.limit_a,
                "reserved_a": u.reserved_a,
                "allocated_a": u.allocated_a,
                "binding": u.binding,
            }
            for u in a.limits
        ],
    }


def record_of(a: SiteAllocation, trigger: str, seen_event: int | None = None) -> AllocationRecord:
    """`seen_event`: the last outbox event the balancer had read when it decided."""
    return AllocationRecord(
        site_id=a.site_id,
        computed_at=a.computed_at,
        trigger=trigger[:64],
        at_limit=a.at_limit,
        summary=summary_json(a, seen_event),
        evses=[evse_json(e) for e in a.evses],
    )


def sample_of(a: SiteAllocation) -> SiteSample:
    return SiteSample(
        a.site_id,
        a.computed_at,
        {
            "limit_a": list(a.limit_a),
            "base_load_a": [round(v, 3) for v in a.base_load_a],
            "allocated_a": list(a.allocated_a),
            "failsafe_a": list(a.failsafe_a),
            "measured_a": list(a.measured_a),
        },
    )


# ---------------------------------------------------------------- the site document


def site_config(site: Site) -> dict[str, Any]:
    """Everything of a site but its id, name, enabled flag and bookkeeping."""
    b = site.base_load
    return {
        "grid_limit": {"unit": site.grid_limit.unit.value, "value": site.grid_limit.value},
        "phases": site.phases,
        "voltage": site.voltage,
        "base_load": {
            "mode": b.mode.value,
            "fixed_a": b.fixed_a,
            "meter": None
            if b.meter is None
            else {
                "station_id": b.meter.station_id,
                "evse_id": b.meter.evse_id,
                "includes_evs": b.meter.includes_evs,
            },
        },
        "circuits": [
            {"id": c.id, "name": c.name, "parent_id": c.parent_id, "limit_a": c.limit_a}
            for c in site.circuits
        ],
        "members": [
            {
                "station_id": m.station_id,
                "evse_id": m.evse_id,
                "circuit_id": m.circuit_id,
                "phase_rotation": m.phase_rotation,
                "phases": m.phases,
                "min_a": m.min_a,
                "max_a": m.max_a,
                "priority": m.priority,
            }
            for m in site.members
        ],
        "token_priorities": dict(site.token_priorities),
    }


def site_from_config(
    site_id: int, name: str, enabled: bool, config: dict[str, Any], **extra: Any
) -> Site:
    grid = config.get("grid_limit") or {}
    b = config.get("base_load") or {}
    meter = b.get("meter")
    return Site(
        id=site_id,
        name=name,
        grid_limit=GridLimit(GridUnit(grid.get("unit", "A")), float(grid.get("value", 0))),
        phases=int(config.get("phases", 3)),
        voltage=float(config.get("voltage", 230.0)),
        base_load=BaseLoad(
            BaseLoadMode(b.get("mode", "none")),
            float(b.get("fixed_a") or 0.0),
            None
            if not meter
            else MeterRef(
                str(meter["station_id"]),
                int(meter.get("evse_id") or 0),
                bool(meter.get("includes_evs", False)),
            ),
        ),
        circuits=tuple(
            Circuit(str(c["id"]), str(c.get("name") or ""), float(c["limit_a"]), c.get("parent_id"))
            for c in config.get("circuits") or []
        ),
        members=tuple(
            Member(
                str(m["station_id"]),
                m.get("evse_id"),
                m.get("circuit_id"),
                str(m.get("phase_rotation", "L1L2L3")),
                int(m.get("phases", 3)),
                float(m.get("min_a", 6.0)),
                float(m.get("max_a", 32.0)),
                int(m.get("priority", 0)),
            )
            for m in config.get("members") or []
        ),
        enabled=enabled,
        token_priorities={
            str(k): int(v) for k, v in (config.get("token_priorities") or {}).items()
        },
        **extra,
    )
