"""REST shapes of the charging-profile block: the profile is a snake_case mirror of
domain/charging_profiles.py (one shape for every OCPP version; what a version cannot
carry is a 422 with violations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ampyre.domain.charging_profiles import (
    ChargingProfile,
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

_INT32_MAX = 2**31 - 1


class PeriodModel(BaseModel):
    """A period as stored or reported (what a station reports is shown as it is)."""

    model_config = ConfigDict(from_attributes=True)

    start_period: int = Field(description="seconds after the schedule's start")
    limit: float | None = Field(None, description="A per phase or W; 2.1: may be left out")
    number_phases: int | None = None
    phase_to_use: int | None = Field(None, description="2.x")
    limit_l2: float | None = Field(None, description="2.1")
    limit_l3: float | None = Field(None, description="2.1")
    discharge_limit: float | None = Field(None, description="2.1 V2X, <= 0")
    discharge_limit_l2: float | None = None
    discharge_limit_l3: float | None = None
    setpoint: float | None = Field(None, description="2.1 V2X")
    setpoint_l2: float | None = None
    setpoint_l3: float | None = None
    operation_mode: OperationMode | None = Field(None, description="2.1")


class ScheduleModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int | None = Field(None, description="2.x (default: its position)")
    rate_unit: RateUnit
    start: datetime | None = Field(None, description="startSchedule")
    duration: int | None = Field(None, description="seconds")
    min_rate: float | None = Field(None, description="minChargingRate")
    periods: list[PeriodModel]


class ProfileModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    stack_level: int
    purpose: Purpose
    kind: Kind
    recurrency: Recurrency | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None
    schedules: list[ScheduleModel]
    max_offline_duration: int | None = Field(None, description="2.1")
    invalid_after_offline_duration: bool | None = Field(None, description="2.1")
    dyn_update_interval: int | None = Field(None, description="2.1")
    dyn_update_time: datetime | None = Field(None, description="2.1")

    @classmethod
    def of(cls, profile: ChargingProfile) -> ProfileModel:
        return cls.model_validate(profile, from_attributes=True)


# What the API takes: the same shape, with the bounds of the OCPP types (the spec's rules
# come after, from domain/profile_rules.py, as violations).


class PeriodIn(PeriodModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    start_period: int = Field(ge=0, le=_INT32_MAX, description="seconds after the start")
    number_phases: int | None = Field(None, ge=0, le=3)
    phase_to_use: int | None = Field(None, ge=0, le=3, description="2.x")

    def to_domain(self) -> SchedulePeriod:
        return SchedulePeriod(**self.model_dump())


class ScheduleIn(ScheduleModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: int | None = Field(None, ge=0, le=_INT32_MAX, description="2.x (default: its position)")
    start: AwareDatetime | None = Field(None, description="startSchedule")
    duration: int | None = Field(None, ge=0, le=_INT32_MAX, description="seconds")
    periods: list[PeriodIn] = Field(min_length=1, max_length=1024)  # type: ignore[assignment]

    def to_domain(self) -> Schedule:
        return Schedule(
            rate_unit=self.rate_unit,
            periods=tuple(p.to_domain() for p in self.periods),
            id=self.id,
            start=self.start,
            duration=self.duration,
            min_rate=self.min_rate,
        )


class ProfileIn(ProfileModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: int = Field(ge=0, le=_INT32_MAX)
    stack_level: int = Field(ge=0, le=_INT32_MAX)
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None
    transaction_id: str | None = Field(None, min_length=1, max_length=36)
    schedules: list[ScheduleIn] = Field(min_length=1, max_length=3)  # type: ignore[assignment]
    max_offline_duration: int | None = Field(None, ge=0, le=_INT32_MAX, description="2.1")
    dyn_update_interval: int | None = Field(None, ge=0, le=_INT32_MAX, description="2.1")
    dyn_update_time: AwareDatetime | None = Field(None, description="2.1")

    def to_domain(self) -> ChargingProfile:
        return ChargingProfile(
            id=self.id,
            stack_level=self.stack_level,
            purpose=self.purpose,
            kind=self.kind,
            schedules=tuple(s.to_domain() for s in self.schedules),
            recurrency=self.recurrency,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            transaction_id=self.transaction_id,
            max_offline_duration=self.max_offline_duration,
            invalid_after_offline_duration=self.invalid_after_offline_duration,
            dyn_update_interval=self.dyn_update_interval,
            dyn_update_time=self.dyn_update_time,
        )


class InstalledProfileOut(BaseModel):
    station_id: str
    evse_id: int = Field(description="0: the station as a whole")
    source: ProfileSource
    installed_at: datetime | None
    confirmed_at: datetime | None = Field(description="when the station last reported it")
    limit_source: str | None = Field(description="as the station reported it (EMS, CSO, ...)")
    profile: ProfileModel

    @classmethod
    def of(cls, i: InstalledProfile) -> InstalledProfileOut:
        return cls(
            station_id=i.station_id,
            evse_id=i.evse_id,
            source=i.source,
            installed_at=i.installed_at,
            confirmed_at=i.confirmed_at,
            limit_source=i.limit_source,
            profile=ProfileModel.of(i.profile),
        )


class InstalledList(BaseModel):
    items: list[InstalledProfileOut]
    total: int


class InstalledPage(InstalledList):
    limit: int
    offset: int


class SetProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evse_id: int = Field(ge=0, le=_INT32_MAX, description="0: the station as a whole")
    profile: ProfileIn
    timeout: float | None = Field(None, gt=0, le=300, description="seconds to wait")


class SetProfileOut(BaseModel):
    status: str = Field(description="the station's answer in lower case", examples=["accepted"])
    response: dict[str, Any]
    profile: ProfileModel


class ClearIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_id: int | None = Field(None, ge=0, le=_INT32_MAX)
    evse_id: int | None = Field(None, ge=0, le=_INT32_MAX)
    purpose: Purpose | None = None
    stack_level: int | None = Field(None, ge=0, le=_INT32_MAX)
    timeout: float | None = Field(None, gt=0, le=300)


class CommandOut(BaseModel):
    status: str
    response: dict[str, Any]


class RefreshOut(CommandOut):
    request_id: int
    complete: bool = Field(description="the station's report came in full in time")
    items: list[InstalledProfileOut]


class CompositePeriodOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    start: int
    limit: float | None
    number_phases: int | None = None
    limit_l2: float | None = None
    limit_l3: float | None = None
    discharge_limit: float | None = None
    decided_by: list[int] = Field(default_factory=list, description="profile ids")


class CompositeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    evse_id: int
    start: datetime
    duration: int
    rate_unit: RateUnit
    periods: list[CompositePeriodOut]

    @classmethod
    def of(cls, c: CompositeSchedule) -> CompositeOut:
        return cls.model_validate(c, from_attributes=True)


class DifferenceOut(BaseModel):
    start: int = Field(description="seconds after the computed schedule's start")
    computed: float | None
    reported: float | None


class CompositeViewOut(BaseModel):
    computed: CompositeOut
    reported: CompositeOut | None
    status: str = Field(description="the station's answer, or not_asked")
    matches: bool
    differences: list[DifferenceOut]


class ChargingLimitOut(BaseModel):
    evse_id: int | None
    source: str
    is_grid_critical: bool | None
    schedules: list[ScheduleModel]
    received_at: datetime
    cleared_at: datetime | None
    active: bool

    @classmethod
    def of(cls, x: ChargingLimit) -> ChargingLimitOut:
        return cls(
            evse_id=x.evse_id,
            source=x.source,
            is_grid_critical=x.is_grid_critical,
            schedules=[ScheduleModel.model_validate(s, from_attributes=True) for s in x.schedules],
            received_at=x.received_at,
            cleared_at=x.cleared_at,
            active=x.cleared_at is None,
        )


class ChargingLimitList(BaseModel):
    items: list[ChargingLimitOut]
    total: int


class EvNeedsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    requested_energy_transfer: str
    received_at: datetime
    departure_time: datetime | None
    energy_amount_wh: float | None
    ev_min_current: float | None
    ev_max_current: float | None
    ev_max_voltage: float | None
    ev_max_power: float | None
    state_of_charge: int | None
    max_schedule_tuples: int | None
    transaction_id: str | None
    status: str | None = Field(description="how Ampyre answered")
    detail: str | None


class EvScheduleOut(BaseModel):
    time_base: datetime
    received_at: datetime
    selected_schedule_id: int | None
    schedule: ScheduleModel


class EvseNeedsOut(BaseModel):
    evse_id: int
    needs: EvNeedsOut | None
    ev_schedule: EvScheduleOut | None

    @classmethod
    def of(cls, needs: EvChargingNeeds | None, ev: EvChargingSchedule | None) -> EvseNeedsOut:
        evse = needs.evse_id if needs is not None else ev.evse_id if ev is not None else 0
        return cls(
            evse_id=evse,
            needs=None if needs is None else EvNeedsOut.model_validate(needs),
            ev_schedule=None
            if ev is None
            else EvScheduleOut(
                time_base=ev.time_base,
                received_at=ev.received_at,
                selected_schedule_id=ev.selected_schedule_id,
                schedule=ScheduleModel.model_validate(ev.schedule, from_attributes=True),
            ),
        )


class EvNeedsList(BaseModel):
    items: list[EvseNeedsOut]
    total: int
