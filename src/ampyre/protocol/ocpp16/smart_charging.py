"""OCPP 1.6J smart charging (section 3.13; 5.5 ClearChargingProfile, 5.7
GetCompositeSchedule, 5.16 SetChargingProfile; 7.7-7.13 the profile types): encoders of
the version-neutral profile, decoders of what comes back. 1.6 stations send no smart
charging messages of their own. Thin: the charging-profile service decides."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ampyre.domain.charging_profiles import (
    ChargingProfile,
    CompositePeriod,
    CompositeSchedule,
    Kind,
    Purpose,
    RateUnit,
    Recurrency,
    Schedule,
    SchedulePeriod,
)
from ampyre.protocol.codec import Request
from ampyre.protocol.timefmt import from_ocpp, to_ocpp
from ampyre.services.station_port import NotAddressable

# 1.6 ChargingProfilePurposeType: the station-wide maximum has its 1.6 name.
_PURPOSES = {
    Purpose.STATION_MAX: "ChargePointMaxProfile",
    Purpose.TX_DEFAULT: "TxDefaultProfile",
    Purpose.TX: "TxProfile",
}
_PURPOSE_OF = {v: k for k, v in _PURPOSES.items()}
_KINDS = (Kind.ABSOLUTE, Kind.RECURRING, Kind.RELATIVE)


def _tenth(value: float) -> float:
    # 1.6 limits and minChargingRate are "multipleOf 0.1" (7.13 ChargingSchedulePeriod).
    return round(value, 1)


def purpose_name(purpose: Purpose) -> str:
    name = _PURPOSES.get(purpose)
    if name is None:
        raise NotAddressable(f"OCPP 1.6 has no charging profile purpose {purpose.value}")
    return name


def profile_payload(p: ChargingProfile) -> dict[str, Any]:
    """7.8 ChargingProfile (csChargingProfiles). Raises NotAddressable for what 1.6
    cannot carry: 2.x purposes and kinds, more than one schedule, a transaction id that
    is not an integer (1.6 transactionId is the integer the CSMS issued), V2X fields."""
    if p.kind not in _KINDS:
        raise NotAddressable(f"OCPP 1.6 has no charging profile kind {p.kind.value}")
    if len(p.schedules) != 1:
        raise NotAddressable("an OCPP 1.6 charging profile has exactly one schedule")
    out: dict[str, Any] = {
        "chargingProfileId": p.id,
        "stackLevel": p.stack_level,
        "chargingProfilePurpose": purpose_name(p.purpose),
        "chargingProfileKind": p.kind.value,
        "chargingSchedule": schedule_payload(p.schedules[0]),
    }
    if p.transaction_id is not None:
        try:
            out["transactionId"] = int(p.transaction_id)
        except ValueError:
            raise NotAddressable(
                f"transaction id {p.transaction_id!r} cannot be addressed over OCPP 1.6"
            ) from None
    if p.recurrency is not None:
        out["recurrencyKind"] = p.recurrency.value
    if p.valid_from is not None:
        out["validFrom"] = to_ocpp(p.valid_from)
    if p.valid_to is not None:
        out["validTo"] = to_ocpp(p.valid_to)
    return out


def schedule_payload(s: Schedule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "chargingRateUnit": s.rate_unit.value,
        "chargingSchedulePeriod": [_period_payload(x) for x in s.periods],
    }
    if s.duration is not None:
        out["duration"] = s.duration
    if s.start is not None:
        out["startSchedule"] = to_ocpp(s.start)
    if s.min_rate is not None:
        out["minChargingRate"] = _tenth(s.min_rate)
    return out


def _period_payload(x: SchedulePeriod) -> dict[str, Any]:
    v2x = (
        x.limit_l2,
        x.limit_l3,
        x.discharge_limit,
        x.discharge_limit_l2,
        x.discharge_limit_l3,
        x.setpoint,
        x.setpoint_l2,
        x.setpoint_l3,
        x.operation_mode,
    )
    if x.limit is None or any(v is not None for v in v2x) or x.phase_to_use is not None:
        raise NotAddressable("OCPP 1.6 periods have a limit and numberPhases only")
    out: dict[str, Any] = {"startPeriod": x.start_period, "limit": _tenth(x.limit)}
    if x.number_phases is not None:
        out["numberPhases"] = x.number_phases
    return out


def profile_of(d: dict[str, Any]) -> ChargingProfile:
    """A 1.6 csChargingProfiles as the neutral profile (for tests and reports)."""
    tx = d.get("transactionId")
    recurrency = d.get("recurrencyKind")
    return ChargingProfile(
        id=int(d["chargingProfileId"]),
        stack_level=int(d["stackLevel"]),
        purpose=_PURPOSE_OF[d["chargingProfilePurpose"]],
        kind=Kind(d["chargingProfileKind"]),
        schedules=(schedule_of(d["chargingSchedule"]),),
        recurrency=Recurrency(recurrency) if recurrency else None,
        valid_from=from_ocpp(d.get("validFrom")),
        valid_to=from_ocpp(d.get("validTo")),
        transaction_id=None if tx is None else str(tx),
    )


def schedule_of(d: dict[str, Any]) -> Schedule:
    return Schedule(
        rate_unit=RateUnit(d["chargingRateUnit"]),
        periods=tuple(
            SchedulePeriod(
                start_period=int(x["startPeriod"]),
                limit=float(x["limit"]),
                number_phases=x.get("numberPhases"),
            )
            for x in d["chargingSchedulePeriod"]
        ),
        start=from_ocpp(d.get("startSchedule")),
        duration=d.get("duration"),
        min_rate=d.get("minChargingRate"),
    )


def set_charging_profile(evse_id: int, profile: ChargingProfile) -> Request:
    """5.16 SetChargingProfile: connectorId 0 is the whole station."""
    return "SetChargingProfile", {
        "connectorId": evse_id,
        "csChargingProfiles": profile_payload(profile),
    }


def clear_charging_profile(
    profile_id: int | None,
    evse_id: int | None,
    purpose: Purpose | None,
    stack_level: int | None,
) -> Request:
    """5.5 ClearChargingProfile: every field is a criterion; none clears all profiles."""
    payload: dict[str, Any] = {}
    if profile_id is not None:
        payload["id"] = profile_id
    if evse_id is not None:
        payload["connectorId"] = evse_id
    if purpose is not None:
        payload["chargingProfilePurpose"] = purpose_name(purpose)
    if stack_level is not None:
        payload["stackLevel"] = stack_level
    return "ClearChargingProfile", payload


def get_composite_schedule(evse_id: int, duration: int, rate_unit: RateUnit) -> Request:
    return "GetCompositeSchedule", {
        "connectorId": evse_id,
        "duration": duration,
        "chargingRateUnit": rate_unit.value,
    }


def composite_of(
    answer: dict[str, Any], evse_id: int, duration: int, now: datetime
) -> CompositeSchedule | None:
    """GetCompositeSchedule.conf as a composite schedule (None if Rejected or without
    one). The start is scheduleStart, else the schedule's startSchedule, else now."""
    schedule = answer.get("chargingSchedule")
    if answer.get("status") != "Accepted" or not isinstance(schedule, dict):
        return None
    start = from_ocpp(answer.get("scheduleStart")) or from_ocpp(schedule.get("startSchedule"))
    periods = tuple(
        CompositePeriod(
            start=int(x["startPeriod"]),
            limit=float(x["limit"]),
            number_phases=x.get("numberPhases"),
        )
        for x in schedule.get("chargingSchedulePeriod", [])
    )
    return CompositeSchedule(
        evse_id=int(answer.get("connectorId", evse_id)),
        start=start or now,
        duration=int(schedule.get("duration", duration)),
        rate_unit=RateUnit(schedule["chargingRateUnit"]),
        periods=periods,
    )
