"""The balancer's picture of its sites and what it derives from it, as plain functions
(services/balancer.py runs them): what it knows of each EVSE, the inputs of the
allocation (failsafe EVSEs, EV needs), the base load, the profile it sends, and what
meter values and site events say."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ampyre.config import Settings
from ampyre.domain.balancer import EvseInput, SiteAllocation
from ampyre.domain.charging_profiles import (
    ChargingProfile,
    Kind,
    ProfileInvalid,
    ProfileSource,
    Purpose,
    RateUnit,
    Schedule,
    SchedulePeriod,
)
from ampyre.domain.ev_needs import EvChargingNeeds
from ampyre.domain.sites import PHASES, BaseLoadMode, Site
from ampyre.services.ports import StoreUnavailable
from ampyre.services.sites_port import ProfileInstaller

log = logging.getLogger(__name__)

FIRST_RETRY = 0.5  # seconds before a refused profile is first sent again
# The balancer's profile on an EVSE: one id per EVSE, replaced by each new limit (same
# id, OCPP 1.6 3.13.2 / 2.0.1 K01.FR.05); far from the ids operators pick.
PROFILE_ID_BASE = 1_800_000_000
PUSH_STALE = 300.0  # seconds a pushed base load is trusted
NOMINAL_VOLTAGE = 230.0
Phase3 = tuple[float | None, float | None, float | None]


@dataclass(slots=True)
class EvseLive:
    """What the balancer knows of one EVSE of a site."""

    station_id: str
    evse_id: int
    transaction_id: str | None = None
    id_token: str | None = None
    started_at: datetime | None = None
    measured: Phase3 | None = None
    measured_at: datetime | None = None
    # The limit it was measured under, once the car had settled to it (None: not).
    measured_under: float | None = None
    meter_wh: float | None = None
    confirmed: float | None = None  # the limit the station accepted (None: none yet)
    changed_at: datetime | None = None  # when `confirmed` last changed
    raised_at: datetime | None = None  # when it was last raised (the rate limit)
    failed: str | None = None  # why its last profile was not accepted
    failed_at: datetime | None = None
    failures: int = 0  # in a row: the next try waits FIRST_RETRY * 2**(failures - 1)
    # It refused (answered) a change: its previous profile, `confirmed`, stays installed
    # (OCPP 1.6 5.16 / 2.0.1 K01: a rejected SetChargingProfile changes nothing).
    kept: bool = False
    needs: EvChargingNeeds | None = None
    needs_wh: float | None = None  # the meter when the needs came


@dataclass(slots=True)
class SiteRun:
    site: Site
    last: SiteAllocation | None = None
    signature: tuple[Any, ...] | None = None
    at_limit: bool = False
    sampled_at: datetime | None = None
    meter: tuple[float, float, float] | None = None
    meter_at: datetime | None = None
    dirty: bool = True
    trigger: str = "start"
    task: asyncio.Task[None] | None = None
    wake_at: asyncio.TimerHandle | None = None
    rounds: int = 0


@dataclass(slots=True)
class Round:
    """One recompute: the decision and the profiles it sends."""

    decision: SiteAllocation
    # (evse, limit, phases, is an increase)
    sends: list[tuple[EvseLive, float, int, bool]] = field(default_factory=list)
    probe: bool = False  # new EVSEs' first profiles only (nothing recorded)


def balancer_profile(
    evse_id: int, limit: float, phases: int, transaction_id: str | None, stack_level: int
) -> ChargingProfile:
    """A TxProfile for the running transaction (TxDefaultProfile while none is known):
    one period from the start of the transaction, `limit` A per phase."""
    purpose = Purpose.TX if transaction_id else Purpose.TX_DEFAULT
    period = SchedulePeriod(0, round(limit, 1), number_phases=phases)
    return ChargingProfile(
        id=PROFILE_ID_BASE + evse_id,
        stack_level=stack_level,
        purpose=purpose,
        kind=Kind.RELATIVE,
        schedules=(Schedule(RateUnit.AMPS, (period,), id=1),),
        transaction_id=transaction_id,
    )


def site_base_load(
    run: SiteRun, lives: Iterable[EvseLive], now: datetime
) -> tuple[float, float, float]:
    """The base load per phase: none, fixed, pushed (while fresh), or the main meter's
    reading (less the chargers' draw when it measures them too), else the fixed value."""
    site, b = run.site, run.site.base_load
    if b.mode is BaseLoadMode.NONE:
        return (0.0, 0.0, 0.0)
    fixed = (b.fixed_a, b.fixed_a, b.fixed_a)
    if b.mode is BaseLoadMode.FIXED:
        return fixed
    pushed, at = site.pushed_base_load, site.pushed_at
    if pushed is not None and at is not None and (now - at).total_seconds() <= PUSH_STALE:
        return pushed
    if run.meter is None:
        return fixed  # nothing measured lately: the configured value
    if b.meter is None or not b.meter.includes_evs:
        return run.meter
    # A grid meter also measures the chargers: take off what they draw.
    evs = [0.0, 0.0, 0.0]
    for live in lives:
        member = site.member_of(live.station_id, live.evse_id)
        if live.measured is None or member is None:
            continue
        for k, p in enumerate(member.site_phases(site.phases)):
            evs[p] += live.measured[k] or 0.0
    m = run.meter
    return (max(0.0, m[0] - evs[0]), max(0.0, m[1] - evs[1]), max(0.0, m[2] - evs[2]))


def site_inputs(
    site: Site, lives: Iterable[EvseLive], connected: set[str], now: datetime
) -> tuple[list[EvseInput], list[EvseInput]]:
    """The EVSEs as the allocation sees them: (safe, target). In `safe` an EVSE
    without a confirmed profile counts at its maximum; in `target` it takes part, to
    learn what to send it."""
    safe: list[EvseInput] = []
    target: list[EvseInput] = []
    seen: set[tuple[str, int]] = set()
    for live in lives:
        member = site.member_of(live.station_id, live.evse_id)
        if member is None:
            continue
        seen.add((live.station_id, live.evse_id))
        if live.transaction_id is None:
            continue
        prio = max(member.priority, site.token_priorities.get(live.id_token or "", -(2**31)))
        needs = live.needs
        need_a, need_why = _need(live, now, site.voltage, member.phases)
        base = EvseInput(
            live.station_id,
            live.evse_id,
            member,
            transaction_id=live.transaction_id,
            priority=prio,
            measured_a=live.measured,
            limit_a=live.confirmed,
            measured_under=live.measured_under,
            settled=live.measured_under is not None,
            ev_max_a=needs.ev_max_current if needs is not None else None,
            ev_min_a=needs.ev_min_current if needs is not None else None,
            need_a=need_a,
            need_reason=need_why,
            started_at=live.started_at,
        )
        unsafe: str | None = None
        counted: float | None = None
        if live.station_id not in connected:
            unsafe = "its station is disconnected"
            target.append(failsafe_input(base, unsafe))
        else:
            if live.failed is not None:
                unsafe = f"its profile was not accepted ({live.failed})"
                if live.kept:
                    counted = live.confirmed
            elif live.confirmed is None:
                unsafe = "its profile is not confirmed yet"
            target.append(base)
        safe.append(base if unsafe is None else failsafe_input(base, unsafe, counted))
    for m in site.members:
        if m.evse_id is not None and (m.station_id, m.evse_id) not in seen:
            idle = EvseInput(m.station_id, m.evse_id, m)
            safe.append(idle)
            target.append(idle)
    return safe, target


def failsafe_input(e: EvseInput, why: str, counted: float | None = None) -> EvseInput:
    return EvseInput(
        e.station_id,
        e.evse_id,
        e.member,
        transaction_id=e.transaction_id,
        failsafe=why,
        counted_a=counted,
        measured_a=e.measured_a,
        limit_a=e.limit_a,
    )


def draw_of(data: dict[str, Any], phases: int) -> Phase3 | None:
    """A transaction.updated event's draw per phase of the EVSE."""
    currents = data.get("current_a")
    if isinstance(currents, dict) and currents:
        if any(p in currents for p in PHASES):
            v = [currents.get(p) for p in PHASES]
            return tuple(float(x) if isinstance(x, int | float) else None for x in v)  # type: ignore[return-value]
        alike = currents.get("N/A")
        if isinstance(alike, int | float):
            return _spread(float(alike), phases)
    power = data.get("power_w")
    if isinstance(power, int | float):
        return _spread(float(power) / (NOMINAL_VOLTAGE * phases), phases)
    return None


def _spread(value: float, phases: int) -> Phase3:
    return (value, value if phases > 1 else None, value if phases > 2 else None)


def _need(
    live: EvseLive, now: datetime, voltage: float, phases: int
) -> tuple[float | None, str | None]:
    """The current an EV needs to get its remaining energy by its departure time."""
    n = live.needs
    if n is None or n.departure_time is None or not n.energy_amount_wh:
        return None, None
    seconds = (n.departure_time - now).total_seconds()
    if seconds <= 60:
        return None, None
    done = 0.0
    if live.meter_wh is not None and live.needs_wh is not None:
        done = max(0.0, live.meter_wh - live.needs_wh)
    left = max(0.0, n.energy_amount_wh - done)
    used = n.phases if n.ac else phases
    need = left * 3600.0 / seconds / (voltage * max(1, min(used, phases)))
    why = (
        f"needs {need:.1f} A for {left / 1000:.1f} kWh by "
        f"{n.departure_time.strftime('%H:%M')} UTC (ISO 15118)"
    )
    return need, why


def limit_event(site: Site, a: SiteAllocation) -> dict[str, Any]:
    return {
        "site_id": site.id,
        "name": site.name,
        "at_limit": a.at_limit,
        "limit_a": list(a.limit_a),
        "allocated_a": list(a.allocated_a),
        "failsafe_a": list(a.failsafe_a),
        "measured_a": list(a.measured_a),
        "base_load_a": [round(v, 3) for v in a.base_load_a],
        "binding": [u.name for u in a.limits if u.binding],
        "held_back": [
            {"station_id": e.station_id, "evse_id": e.evse_id, "allocated_a": e.allocated_a}
            for e in a.evses
            if e.limited_by is not None
        ],
    }


async def install_limit(
    installer: ProfileInstaller | None,
    live: EvseLive,
    limit: float,
    phases: int,
    raise_: bool,
    settings: Settings,
    clock: Callable[[], datetime],
) -> bool:
    """Send one EVSE its limit and note the answer on `live` (True: accepted)."""
    if installer is None:
        live.failed, live.failed_at = "no profile service", clock()
        return False
    profile = balancer_profile(
        live.evse_id, limit, phases, live.transaction_id, settings.balancer_stack_level
    )
    try:
        answer = await installer.install(
            live.station_id,
            live.evse_id,
            profile,
            source=ProfileSource.BALANCER,
            timeout=settings.balancer_call_timeout,
        )
        status = answer.status
        detail = answer.detail or answer.station_answer
    except ProfileInvalid as exc:
        status, detail = "invalid", str(exc)
    except StoreUnavailable as exc:
        status, detail = "error", str(exc)
    now = clock()
    if status == "accepted":
        if live.confirmed is None or abs(live.confirmed - limit) > 1e-9:
            live.changed_at = now
        live.confirmed = limit
        live.failed = live.failed_at = None
        live.failures = 0
        if raise_:
            live.raised_at = now
        return True
    live.failed = status if not detail else f"{status}: {detail}"[:200]
    live.failed_at = now
    # Answered with a refusal: what it had stays. No answer: it may have either.
    live.kept = live.confirmed is not None and status in ("rejected", "invalid")
    live.failures += 1
    log.info(
        "balancer: %s EVSE %s did not accept %.1f A: %s",
        live.station_id,
        live.evse_id,
        limit,
        live.failed,
    )
    return False


def retry_after(live: EvseLive, most: float) -> float:
    """Seconds before a refused profile is sent again: soon the first time (a 1.6
    station learns its transactionId only from the answer to StartTransaction, which
    may reach it after the balancer's profile), doubling up to `most`
    (AMPYRE_BALANCER_RETRY)."""
    return min(most, FIRST_RETRY * 2.0 ** max(0, live.failures - 1))
