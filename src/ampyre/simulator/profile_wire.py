"""Charging profiles on the wire, as a simulated station reads and writes them: OCPP 1.6
csChargingProfiles (7.8-7.13) and 2.0.1/2.1 ChargingProfileType <-> the domain model.

The simulator is a separate client, so it has its own small codec rather than the
CSMS's protocol package. Decoding raises ValueError on anything it cannot read (the
station then answers Rejected).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from ampyre.domain.charging_profiles import (
    ChargingProfile,
    CompositeSchedule,
    Kind,
    OperationMode,
    Purpose,
    RateUnit,
    Recurrency,
    Schedule,
    SchedulePeriod,
)

Payload = dict[str, Any]

_PURPOSE_16 = {"ChargePointMaxProfile": Purpose.STATION_MAX}
_PURPOSE_16_OUT = {Purpose.STATION_MAX: "ChargePointMaxProfile"}
# 2.1 period fields: wire name -> domain field
_V21_PERIOD = {
    "limit_L2": "limit_l2",
    "limit_L3": "limit_l3",
    "dischargeLimit": "discharge_limit",
    "dischargeLimit_L2": "discharge_limit_l2",
    "dischargeLimit_L3": "discharge_limit_l3",
    "setpoint": "setpoint",
    "setpoint_L2": "setpoint_l2",
    "setpoint_L3": "setpoint_l3",
}


def parse_time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a date-time: {value!r}")
    at = datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    return value


def _num(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)


def _opt_int(value: object, name: str) -> int | None:
    return None if value is None else _int(value, name)


def _period(raw: Payload, v21: bool) -> SchedulePeriod:
    extra: dict[str, Any] = {}
    if v21:
        for wire, field in _V21_PERIOD.items():
            extra[field] = _num(raw.get(wire), wire)
        mode = raw.get("operationMode")
        extra["operation_mode"] = OperationMode(mode) if mode is not None else None
    return SchedulePeriod(
        start_period=_int(raw.get("startPeriod"), "startPeriod"),
        limit=_num(raw.get("limit"), "limit"),
        number_phases=_opt_int(raw.get("numberPhases"), "numberPhases"),
        phase_to_use=_opt_int(raw.get("phaseToUse"), "phaseToUse"),
        **extra,
    )


def _schedule(raw: Payload, v21: bool) -> Schedule:
    periods = raw.get("chargingSchedulePeriod")
    if not isinstance(periods, list):
        raise ValueError("chargingSchedulePeriod must be a list")
    return Schedule(
        rate_unit=RateUnit(str(raw.get("chargingRateUnit"))),
        periods=tuple(_period(p, v21) for p in periods if isinstance(p, dict)),
        id=_opt_int(raw.get("id"), "id"),
        start=parse_time(raw.get("startSchedule")),
        duration=_opt_int(raw.get("duration"), "duration"),
        min_rate=_num(raw.get("minChargingRate"), "minChargingRate"),
    )


def decode_profile(raw: object, v16: bool, v21: bool = False) -> ChargingProfile:
    """1.6 csChargingProfiles / 2.x chargingProfile -> ChargingProfile."""
    if not isinstance(raw, dict):
        raise ValueError("a charging profile must be an object")
    purpose_raw = str(raw.get("chargingProfilePurpose"))
    purpose = _PURPOSE_16.get(purpose_raw) if v16 else None
    recurrency = raw.get("recurrencyKind")
    schedules_raw = raw.get("chargingSchedule")
    if v16:
        schedules_raw = [schedules_raw]
    if not isinstance(schedules_raw, list) or not all(isinstance(s, dict) for s in schedules_raw):
        raise ValueError("chargingSchedule is missing")
    tid = raw.get("transactionId")
    extra: dict[str, Any] = {}
    if v21:
        extra = {
            "max_offline_duration": _opt_int(raw.get("maxOfflineDuration"), "maxOfflineDuration"),
            "invalid_after_offline_duration": raw.get("invalidAfterOfflineDuration"),
            "dyn_update_interval": _opt_int(raw.get("dynUpdateInterval"), "dynUpdateInterval"),
            "dyn_update_time": parse_time(raw.get("dynUpdateTime")),
        }
    return ChargingProfile(
        id=_int(raw.get("chargingProfileId" if v16 else "id"), "id"),
        stack_level=_int(raw.get("stackLevel"), "stackLevel"),
        purpose=purpose or Purpose(purpose_raw),
        kind=Kind(str(raw.get("chargingProfileKind"))),
        schedules=tuple(_schedule(s, v21) for s in schedules_raw),
        recurrency=Recurrency(recurrency) if recurrency is not None else None,
        valid_from=parse_time(raw.get("validFrom")),
        valid_to=parse_time(raw.get("validTo")),
        transaction_id=str(tid) if tid is not None else None,
        **extra,
    )


def _encode_period(p: SchedulePeriod, v21: bool) -> Payload:
    out: Payload = {"startPeriod": p.start_period}
    if p.limit is not None:
        out["limit"] = p.limit
    if p.number_phases is not None:
        out["numberPhases"] = p.number_phases
    if p.phase_to_use is not None:
        out["phaseToUse"] = p.phase_to_use
    if v21:
        for wire, field in _V21_PERIOD.items():
            value = getattr(p, field)
            if value is not None:
                out[wire] = value
        if p.operation_mode is not None:
            out["operationMode"] = p.operation_mode.value
    return out


def encode_profile_2x(profile: ChargingProfile, v21: bool) -> Payload:
    """ChargingProfile -> 2.x ChargingProfileType (for ReportChargingProfiles)."""
    schedules = []
    for i, s in enumerate(profile.schedules):
        sched: Payload = {
            "id": s.id if s.id is not None else i + 1,
            "chargingRateUnit": s.rate_unit.value,
            "chargingSchedulePeriod": [_encode_period(p, v21) for p in s.periods],
        }
        if s.start is not None:
            sched["startSchedule"] = iso(s.start)
        if s.duration is not None:
            sched["duration"] = s.duration
        if s.min_rate is not None:
            sched["minChargingRate"] = s.min_rate
        schedules.append(sched)
    out: Payload = {
        "id": profile.id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": profile.purpose.value,
        "chargingProfileKind": profile.kind.value,
        "chargingSchedule": schedules,
    }
    if profile.recurrency is not None:
        out["recurrencyKind"] = profile.recurrency.value
    if profile.valid_from is not None:
        out["validFrom"] = iso(profile.valid_from)
    if profile.valid_to is not None:
        out["validTo"] = iso(profile.valid_to)
    if profile.transaction_id is not None:
        out["transactionId"] = profile.transaction_id
    return out


def purpose_of(raw: object, v16: bool) -> Purpose | None:
    """A purpose given in a request (ClearChargingProfile, GetChargingProfiles)."""
    if raw is None:
        return None
    text = str(raw)
    return (_PURPOSE_16.get(text) if v16 else None) or Purpose(text)


def _floor1(value: float) -> float:
    # 1.6 limits have one decimal; round down so the report never exceeds the limit.
    return math.floor(value * 10 + 1e-9) / 10


def encode_composite(schedule: CompositeSchedule, fill: float, v16: bool) -> Payload:
    """The composite as 1.6 chargingSchedule / 2.x CompositeScheduleType periods; a
    period no profile limits reports `fill` (the station's own maximum)."""
    periods = []
    for p in schedule.periods:
        limit = fill if p.limit is None else min(p.limit, fill)
        item: Payload = {"startPeriod": p.start, "limit": _floor1(limit)}
        if p.number_phases is not None:
            item["numberPhases"] = p.number_phases
        periods.append(item)
    if v16:
        return {
            "duration": schedule.duration,
            "startSchedule": iso(schedule.start),
            "chargingRateUnit": schedule.rate_unit.value,
            "chargingSchedulePeriod": periods,
        }
    return {
        "evseId": schedule.evse_id,
        "duration": schedule.duration,
        "scheduleStart": iso(schedule.start),
        "chargingRateUnit": schedule.rate_unit.value,
        "chargingSchedulePeriod": periods,
    }
