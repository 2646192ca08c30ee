"""OCPP 2.0.1 block K (smart charging), and 2.1's with its V2X fields: SetChargingProfile,
ClearChargingProfile, GetChargingProfiles, GetCompositeSchedule (CSMS -> station) and
ReportChargingProfiles, NotifyChargingLimit, ClearedChargingLimit, NotifyEVChargingNeeds,
NotifyEVChargingSchedule (station -> CSMS). `v21` selects the 2.1 fields (limit per phase,
discharge limits, setpoints, operation modes, Dynamic profiles); a 2.0.1 station never
gets them. Thin: encode / decode, the charging-profile service decides."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from ampyre.domain.charging_profiles import (
    ChargingProfile,
    CompositePeriod,
    CompositeSchedule,
    InstalledProfile,
    Kind,
    OperationMode,
    ProfileSource,
    Purpose,
    RateUnit,
    Recurrency,
    Schedule,
    SchedulePeriod,
)
from ampyre.domain.ev_needs import ChargingLimit, EvChargingNeeds, EvChargingSchedule
from ampyre.protocol.codec import Request
from ampyre.protocol.errors import ErrorKind, OcppError
from ampyre.protocol.session import CallContext, Handler
from ampyre.protocol.timefmt import from_ocpp, to_ocpp
from ampyre.services.charging_profiles import ChargingProfileService
from ampyre.services.station_port import NotAddressable

log = logging.getLogger(__name__)
T = TypeVar("T")

_PURPOSES_201 = frozenset({Purpose.STATION_MAX, Purpose.TX_DEFAULT, Purpose.TX, Purpose.EXTERNAL})
_KINDS_201 = frozenset({Kind.ABSOLUTE, Kind.RECURRING, Kind.RELATIVE})
# Period fields 2.1 added (domain name -> JSON name).
_PERIOD_21 = (
    ("limit_l2", "limit_L2"),
    ("limit_l3", "limit_L3"),
    ("discharge_limit", "dischargeLimit"),
    ("discharge_limit_l2", "dischargeLimit_L2"),
    ("discharge_limit_l3", "dischargeLimit_L3"),
    ("setpoint", "setpoint"),
    ("setpoint_l2", "setpoint_L2"),
    ("setpoint_l3", "setpoint_L3"),
)


def _not_201(what: str) -> NotAddressable:
    return NotAddressable(f"{what} is OCPP 2.1 only; the station runs 2.0.1")


def purpose_name(purpose: Purpose, v21: bool) -> str:
    if not v21 and purpose not in _PURPOSES_201:
        raise _not_201(f"charging profile purpose {purpose.value}")
    return purpose.value


def profile_payload(p: ChargingProfile, v21: bool) -> dict[str, Any]:
    """ChargingProfileType (K01). Raises NotAddressable for 2.1-only parts sent to 2.0.1."""
    if not v21 and p.kind not in _KINDS_201:
        raise _not_201(f"charging profile kind {p.kind.value}")
    out: dict[str, Any] = {
        "id": p.id,
        "stackLevel": p.stack_level,
        "chargingProfilePurpose": purpose_name(p.purpose, v21),
        "chargingProfileKind": p.kind.value,
        "chargingSchedule": [
            schedule_payload(s, v21, default_id=n) for n, s in enumerate(p.schedules, 1)
        ],
    }
    if p.recurrency is not None:
        out["recurrencyKind"] = p.recurrency.value
    if p.valid_from is not None:
        out["validFrom"] = to_ocpp(p.valid_from)
    if p.valid_to is not None:
        out["validTo"] = to_ocpp(p.valid_to)
    if p.transaction_id is not None:
        out["transactionId"] = p.transaction_id
    extra = {
        "maxOfflineDuration": p.max_offline_duration,
        "invalidAfterOfflineDuration": p.invalid_after_offline_duration,
        "dynUpdateInterval": p.dyn_update_interval,
        "dynUpdateTime": None if p.dyn_update_time is None else to_ocpp(p.dyn_update_time),
    }
    for name, value in extra.items():
        if value is not None:
            if not v21:
                raise _not_201(name)
            out[name] = value
    return out


def schedule_payload(s: Schedule, v21: bool, default_id: int = 1) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": s.id if s.id is not None else default_id,
        "chargingRateUnit": s.rate_unit.value,
        "chargingSchedulePeriod": [_period_payload(x, v21) for x in s.periods],
    }
    if s.start is not None:
        out["startSchedule"] = to_ocpp(s.start)
    if s.duration is not None:
        out["duration"] = s.duration
    if s.min_rate is not None:
        out["minChargingRate"] = s.min_rate
    return out


def _period_payload(x: SchedulePeriod, v21: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"startPeriod": x.start_period}
    if x.limit is not None:
        out["limit"] = x.limit
    elif not v21:
        raise _not_201("a period without a limit")
    if x.number_phases is not None:
        out["numberPhases"] = x.number_phases
    if x.phase_to_use is not None:
        out["phaseToUse"] = x.phase_to_use
    for name, key in _PERIOD_21:
        value = getattr(x, name)
        if value is not None:
            if not v21:
                raise _not_201(key)
            out[key] = value
    if x.operation_mode is not None:
        if not v21:
            raise _not_201("operationMode")
        out["operationMode"] = x.operation_mode.value
    return out


def profile_of(d: dict[str, Any]) -> ChargingProfile:
    """A station's ChargingProfileType as the neutral profile (2.0.1 or 2.1). Raises
    KeyError / ValueError / TypeError on what the schema let through but the model
    cannot hold."""
    recurrency = d.get("recurrencyKind")
    return ChargingProfile(
        id=int(d["id"]),
        stack_level=int(d["stackLevel"]),
        purpose=Purpose(d["chargingProfilePurpose"]),
        kind=Kind(d["chargingProfileKind"]),
        schedules=tuple(schedule_of(s) for s in d["chargingSchedule"]),
        recurrency=Recurrency(recurrency) if recurrency else None,
        valid_from=from_ocpp(d.get("validFrom")),
        valid_to=from_ocpp(d.get("validTo")),
        transaction_id=d.get("transactionId"),
        max_offline_duration=d.get("maxOfflineDuration"),
        invalid_after_offline_duration=d.get("invalidAfterOfflineDuration"),
        dyn_update_interval=d.get("dynUpdateInterval"),
        dyn_update_time=from_ocpp(d.get("dynUpdateTime")),
    )


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def schedule_of(d: dict[str, Any]) -> Schedule:
    return Schedule(
        rate_unit=RateUnit(d["chargingRateUnit"]),
        periods=tuple(_period_of(x) for x in d["chargingSchedulePeriod"]),
        id=d.get("id"),
        start=from_ocpp(d.get("startSchedule")),
        duration=d.get("duration"),
        min_rate=_num(d.get("minChargingRate")),
    )


def _period_of(x: dict[str, Any]) -> SchedulePeriod:
    mode = x.get("operationMode")
    extra = {name: _num(x.get(key)) for name, key in _PERIOD_21}
    return SchedulePeriod(
        start_period=int(x["startPeriod"]),
        limit=_num(x.get("limit")),
        number_phases=x.get("numberPhases"),
        phase_to_use=x.get("phaseToUse"),
        operation_mode=OperationMode(mode) if mode else None,
        **extra,
    )


# ------------------------------------------------------------------ CSMS -> station


def set_charging_profile(evse_id: int, profile: ChargingProfile, v21: bool) -> Request:
    """SetChargingProfileRequest (K01): evseId 0 is the whole station."""
    return "SetChargingProfile", {
        "evseId": evse_id,
        "chargingProfile": profile_payload(profile, v21),
    }


def clear_charging_profile(
    profile_id: int | None,
    evse_id: int | None,
    purpose: Purpose | None,
    stack_level: int | None,
    v21: bool,
) -> Request:
    """ClearChargingProfileRequest (K10): a profile id, criteria, or neither (all)."""
    payload: dict[str, Any] = {}
    if profile_id is not None:
        payload["chargingProfileId"] = profile_id
    criteria: dict[str, Any] = {}
    if evse_id is not None:
        criteria["evseId"] = evse_id
    if purpose is not None:
        criteria["chargingProfilePurpose"] = purpose_name(purpose, v21)
    if stack_level is not None:
        criteria["stackLevel"] = stack_level
    if criteria:
        payload["chargingProfileCriteria"] = criteria
    return "ClearChargingProfile", payload


def get_charging_profiles(request_id: int, evse_id: int | None) -> Request:
    """GetChargingProfilesRequest (K09): empty criteria ask for every profile (of the
    EVSE, if one is named); the station answers in ReportChargingProfiles."""
    payload: dict[str, Any] = {"requestId": request_id, "chargingProfile": {}}
    if evse_id is not None:
        payload["evseId"] = evse_id
    return "GetChargingProfiles", payload


def get_composite_schedule(evse_id: int, duration: int, rate_unit: RateUnit) -> Request:
    """GetCompositeScheduleRequest (K08)."""
    return "GetCompositeSchedule", {
        "evseId": evse_id,
        "duration": duration,
        "chargingRateUnit": rate_unit.value,
    }


def composite_of(
    answer: dict[str, Any], evse_id: int, duration: int, now: datetime
) -> CompositeSchedule | None:
    """GetCompositeScheduleResponse's schedule (None when Rejected or without one)."""
    schedule = answer.get("schedule")
    if answer.get("status") != "Accepted" or not isinstance(schedule, dict):
        return None
    periods = tuple(
        CompositePeriod(
            start=int(x["startPeriod"]),
            limit=_num(x.get("limit")),
            number_phases=x.get("numberPhases"),
            limit_l2=_num(x.get("limit_L2")),
            limit_l3=_num(x.get("limit_L3")),
            discharge_limit=_num(x.get("dischargeLimit")),
        )
        for x in schedule.get("chargingSchedulePeriod", [])
    )
    return CompositeSchedule(
        evse_id=int(schedule.get("evseId", evse_id)),
        start=from_ocpp(schedule.get("scheduleStart")) or now,
        duration=int(schedule.get("duration", duration)),
        rate_unit=RateUnit(schedule["chargingRateUnit"]),
        periods=periods,
    )


# ------------------------------------------------------------------ station -> CSMS


def needs_of(station_id: str, p: dict[str, Any], received_at: datetime) -> EvChargingNeeds:
    """NotifyEVChargingNeedsRequest (K15): AC or DC parameters, departure time."""
    needs = p["chargingNeeds"]
    ac = needs.get("acChargingParameters") or {}
    dc = needs.get("dcChargingParameters") or {}
    params = ac or dc
    return EvChargingNeeds(
        station_id=station_id,
        evse_id=int(p["evseId"]),
        requested_energy_transfer=str(needs["requestedEnergyTransfer"]),
        received_at=received_at,
        departure_time=from_ocpp(needs.get("departureTime")),
        energy_amount_wh=_num(params.get("energyAmount")),
        ev_min_current=_num(ac.get("evMinCurrent")),
        ev_max_current=_num(params.get("evMaxCurrent")),
        ev_max_voltage=_num(params.get("evMaxVoltage")),
        ev_max_power=_num(dc.get("evMaxPower")),
        state_of_charge=dc.get("stateOfCharge"),
        max_schedule_tuples=p.get("maxScheduleTuples"),
    )


_INT32_MAX = 2**31 - 1


def _stored_ints(p: dict[str, Any], *names: str) -> None:
    """The ids Ampyre stores must fit their 32-bit columns; the schemas set no maximum.
    Beyond it: PropertyConstraintViolation for this message alone (on every database)."""
    for name in names:
        value = p.get(name)
        if isinstance(value, int) and not 0 <= value <= _INT32_MAX:
            raise OcppError(ErrorKind.PROPERTY, f"{name} {value} is out of range 0..{_INT32_MAX}")


def handlers(svc: ChargingProfileService) -> dict[str, Handler]:
    """The station -> CSMS messages of block K (2.1 keeps their fields it reads)."""

    async def report_charging_profiles(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        # K09: one message per EVSE and limit source; tbc on all but the last.
        _stored_ints(p, "evseId", "requestId")
        await svc.record(ctx.station_id, "ReportChargingProfiles", p)
        evse_id = int(p["evseId"])
        source = p["chargingLimitSource"]
        items = []
        for raw in p["chargingProfile"]:
            profile = _decoded(profile_of, raw, ctx.station_id)
            if profile is not None:
                items.append(
                    InstalledProfile(
                        ctx.station_id,
                        evse_id,
                        profile,
                        ProfileSource.STATION,
                        limit_source=source,
                    )
                )
        await svc.profiles_reported(
            ctx.station_id, int(p["requestId"]), items, final=not p.get("tbc", False)
        )
        return {}

    async def notify_charging_limit(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        # K12: an external limit (EMS, SO, ...) now applies on the EVSE / the station.
        _stored_ints(p, "evseId")
        await svc.record(ctx.station_id, "NotifyChargingLimit", p)
        limit = p["chargingLimit"]
        schedules = []
        for raw in p.get("chargingSchedule") or []:
            schedule = _decoded(schedule_of, raw, ctx.station_id)
            if schedule is not None:
                schedules.append(schedule)
        await svc.limit_notified(
            ChargingLimit(
                station_id=ctx.station_id,
                source=str(limit["chargingLimitSource"]),
                received_at=svc.now(),
                evse_id=p.get("evseId"),
                is_grid_critical=limit.get("isGridCritical"),
                schedules=tuple(schedules),
            )
        )
        return {}

    async def cleared_charging_limit(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        # K13: the external limit of that source is gone.
        _stored_ints(p, "evseId")
        await svc.record(ctx.station_id, "ClearedChargingLimit", p)
        await svc.limit_cleared(ctx.station_id, str(p["chargingLimitSource"]), p.get("evseId"))
        return {}

    async def notify_ev_charging_needs(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        _stored_ints(p, "evseId")
        await svc.record(ctx.station_id, "NotifyEVChargingNeeds", p)
        status, reason = await svc.ev_needs(needs_of(ctx.station_id, p, svc.now()))
        answer: dict[str, Any] = {"status": status}
        if reason is not None:
            answer["statusInfo"] = {"reasonCode": reason[:20]}
        return answer

    async def notify_ev_charging_schedule(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        # K17: the schedule the EV chose within the profile it was given.
        _stored_ints(p, "evseId")
        await svc.record(ctx.station_id, "NotifyEVChargingSchedule", p)
        schedule = _decoded(schedule_of, p["chargingSchedule"], ctx.station_id)
        if schedule is None:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidSchedule"}}
        status = await svc.ev_schedule(
            EvChargingSchedule(
                station_id=ctx.station_id,
                evse_id=int(p["evseId"]),
                time_base=from_ocpp(p["timeBase"]) or svc.now(),
                schedule=schedule,
                received_at=svc.now(),
                selected_schedule_id=p.get("selectedChargingScheduleId"),
            )
        )
        return {"status": status}

    return {
        "ReportChargingProfiles": report_charging_profiles,
        "NotifyChargingLimit": notify_charging_limit,
        "ClearedChargingLimit": cleared_charging_limit,
        "NotifyEVChargingNeeds": notify_ev_charging_needs,
        "NotifyEVChargingSchedule": notify_ev_charging_schedule,
    }


def _decoded(decode: Callable[[dict[str, Any]], T], raw: Any, station_id: str) -> T | None:
    """One odd item (a value the schema let through but the model cannot hold) is
    skipped and logged; the rest of the message still counts."""
    try:
        return decode(raw)
    except (KeyError, ValueError, TypeError) as exc:
        log.warning("%s: skipped a charging schedule/profile it sent: %s", station_id, exc)
        return None
