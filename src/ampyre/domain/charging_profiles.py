"""Charging profiles, version-neutral (issue 18 part 1): what OCPP 1.6 ChargingProfile
(3.13, 7.8-7.13) and 2.0.1/2.1 ChargingProfileType (K01, 2.1 with V2X) all reduce to.

The shape follows 2.0.1/2.1, which is a superset of 1.6: a 1.6 ChargePointMaxProfile is
`Purpose.STATION_MAX`, a 1.6 profile's single schedule is `schedules[0]`, a 1.6
connectorId is `evse_id` (0 = the whole station). Limits are in the schedule's rate
unit (A per phase or W for all phases); 2.1 adds per-phase limits, discharge limits and
setpoints (V2X) and operation modes.

Plain values only; the rules over them (validation, the composite schedule) are pure
functions in domain/profile_rules.py and domain/composite_schedule.py.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Purpose(enum.StrEnum):
    STATION_MAX = "ChargingStationMaxProfile"  # 1.6 ChargePointMaxProfile
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"
    EXTERNAL = "ChargingStationExternalConstraints"  # 2.x only; set by the station (K12)
    PRIORITY = "PriorityCharging"  # 2.1 only
    LOCAL_GENERATION = "LocalGeneration"  # 2.1 only


class Kind(enum.StrEnum):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"
    DYNAMIC = "Dynamic"  # 2.1 only


class Recurrency(enum.StrEnum):
    DAILY = "Daily"
    WEEKLY = "Weekly"


class RateUnit(enum.StrEnum):
    AMPS = "A"
    WATTS = "W"


class OperationMode(enum.StrEnum):
    """2.1 OperationModeEnumType: what a period asks of a (bidirectional) EVSE."""

    IDLE = "Idle"
    CHARGING_ONLY = "ChargingOnly"
    CENTRAL_SETPOINT = "CentralSetpoint"
    EXTERNAL_SETPOINT = "ExternalSetpoint"
    EXTERNAL_LIMITS = "ExternalLimits"
    CENTRAL_FREQUENCY = "CentralFrequency"
    LOCAL_FREQUENCY = "LocalFrequency"
    LOCAL_LOAD_BALANCING = "LocalLoadBalancing"


@dataclass(slots=True, frozen=True)
class SchedulePeriod:
    """One period: from `start_period` seconds after the schedule's start until the next
    period's start. `limit` is None only in a 2.1 period whose operation mode needs none.
    Discharge limits are <= 0 (2.1 V2X); a limit < 0 asks for discharging."""

    start_period: int
    limit: float | None
    number_phases: int | None = None  # None: 3 (the spec default for AC)
    phase_to_use: int | None = None  # 2.x: with number_phases 1 on a switching EVSE
    # 2.1 only
    limit_l2: float | None = None
    limit_l3: float | None = None
    discharge_limit: float | None = None
    discharge_limit_l2: float | None = None
    discharge_limit_l3: float | None = None
    setpoint: float | None = None
    setpoint_l2: float | None = None
    setpoint_l3: float | None = None
    operation_mode: OperationMode | None = None  # None: ChargingOnly


# The numbers of a period (every one must be finite; stored and read back alike).
PERIOD_NUMBERS = (
    "limit",
    "limit_l2",
    "limit_l3",
    "discharge_limit",
    "discharge_limit_l2",
    "discharge_limit_l3",
    "setpoint",
    "setpoint_l2",
    "setpoint_l3",
)


@dataclass(slots=True, frozen=True)
class Schedule:
    rate_unit: RateUnit
    periods: tuple[SchedulePeriod, ...]
    id: int | None = None  # required in 2.x, absent in 1.6
    start: datetime | None = None  # startSchedule
    duration: int | None = None  # seconds; None: until the profile ends
    min_rate: float | None = None  # minChargingRate


@dataclass(slots=True, frozen=True)
class ChargingProfile:
    id: int
    stack_level: int
    purpose: Purpose
    kind: Kind
    schedules: tuple[Schedule, ...]  # 1 in 1.6; 1..3 in 2.x (K01.FR.xx)
    recurrency: Recurrency | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None  # TxProfile: the transaction it is for
    # 2.1 only
    max_offline_duration: int | None = None
    invalid_after_offline_duration: bool | None = None
    dyn_update_interval: int | None = None
    dyn_update_time: datetime | None = None


class ProfileSource(enum.StrEnum):
    """Who put a profile on a station, as Ampyre keeps it."""

    OPERATOR = "operator"  # through the API
    BALANCER = "balancer"  # site load management
    STATION = "station"  # reported by the station (ReportChargingProfiles, external)
    REMOTE_START = "remote_start"  # sent with a remote start
    EV_NEEDS = "ev_needs"  # computed for an ISO 15118 car's charging needs (2.x K15)


@dataclass(slots=True, frozen=True)
class InstalledProfile:
    """A profile as Ampyre believes one station has it installed on one EVSE (0: the
    station as a whole)."""

    station_id: str
    evse_id: int
    profile: ChargingProfile
    source: ProfileSource = ProfileSource.OPERATOR
    installed_at: datetime | None = None
    # What the station last said about it: None until reconciled with a report.
    confirmed_at: datetime | None = None
    # A ChargingLimitSourceEnumType for profiles the station reports (EMS, SO, CSO, ...).
    limit_source: str | None = None


@dataclass(slots=True, frozen=True)
class Violation:
    """One broken rule: where (a JSON-pointer-like path in the profile), what, and the
    spec requirement that says so (e.g. "OCPP 2.0.1 K01.FR.03")."""

    path: str
    message: str
    requirement: str | None = None


class ProfileInvalid(ValueError):
    """A profile breaks the spec's rules; the API answers 422 with the violations."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(f"{v.path}: {v.message}" for v in violations))
        self.violations = violations


@dataclass(slots=True, frozen=True)
class CompositePeriod:
    """One period of a composite schedule: from `start` seconds after the schedule's
    start; `limit` in the schedule's unit (None: no limit applies), per phase where the
    merged profiles say so, with the profile ids that decided it (for explanations)."""

    start: int
    limit: float | None
    number_phases: int | None = None
    limit_l2: float | None = None
    limit_l3: float | None = None
    discharge_limit: float | None = None
    decided_by: tuple[int, ...] = ()


@dataclass(slots=True, frozen=True)
class CompositeSchedule:
    evse_id: int
    start: datetime
    duration: int
    rate_unit: RateUnit
    periods: tuple[CompositePeriod, ...] = field(default_factory=tuple)
