"""What stations tell a CSMS about limits and cars (OCPP 2.0.1 K12/K13, K15-K17), and the
schedule Ampyre answers an EV's charging needs with. Plain values and one pure rule.

- ChargingLimit: an external limit (EMS, system operator, ...) the station reports with
  NotifyChargingLimit; ClearedChargingLimit ends it.
- EvChargingNeeds: an ISO 15118 car's needs (NotifyEVChargingNeeds): energy, departure
  time, current range.
- EvChargingSchedule: the schedule the car chose within the profile it got
  (NotifyEVChargingSchedule).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime

from ampyre.domain.charging_profiles import (
    ChargingProfile,
    Kind,
    Purpose,
    RateUnit,
    Schedule,
    SchedulePeriod,
)

NOMINAL_VOLTAGE = 230.0
# The TxProfile Ampyre computes for an EV's needs: one per EVSE, replaced by the next
# needs of that EVSE (same id, OCPP 2.0.1 K01.FR.05). Far from ids operators pick.
EV_NEEDS_PROFILE_BASE = 1_900_000_000
EV_NEEDS_STACK_LEVEL = 0


class EnergyTransfer(enum.StrEnum):
    """2.x EnergyTransferModeEnumType (2.1 adds more DC/V2X modes; kept as sent)."""

    DC = "DC"
    AC_SINGLE_PHASE = "AC_single_phase"
    AC_TWO_PHASE = "AC_two_phase"
    AC_THREE_PHASE = "AC_three_phase"


_AC_PHASES = {"AC_single_phase": 1, "AC_two_phase": 2, "AC_three_phase": 3}


@dataclass(slots=True, frozen=True)
class ChargingLimit:
    """An external limit on a station (evse_id None: the whole station)."""

    station_id: str
    source: str  # ChargingLimitSourceEnumType: EMS, Other, SO, CSO (2.1: any string)
    received_at: datetime
    evse_id: int | None = None
    is_grid_critical: bool | None = None
    schedules: tuple[Schedule, ...] = ()
    cleared_at: datetime | None = None


@dataclass(slots=True, frozen=True)
class EvChargingNeeds:
    station_id: str
    evse_id: int
    requested_energy_transfer: str
    received_at: datetime
    departure_time: datetime | None = None
    energy_amount_wh: float | None = None
    ev_min_current: float | None = None  # A (AC)
    ev_max_current: float | None = None  # A
    ev_max_voltage: float | None = None  # V
    ev_max_power: float | None = None  # W (DC)
    state_of_charge: int | None = None  # % (DC)
    max_schedule_tuples: int | None = None
    # The station's transaction on the EVSE when the needs came (for the TxProfile).
    transaction_id: str | None = None
    # How Ampyre answered: Accepted / Processing / Rejected, and why.
    status: str | None = None
    detail: str | None = None

    @property
    def ac(self) -> bool:
        return self.requested_energy_transfer in _AC_PHASES

    @property
    def phases(self) -> int:
        """AC phases the car asked for (3 for DC or an unknown mode)."""
        return _AC_PHASES.get(self.requested_energy_transfer, 3)


@dataclass(slots=True, frozen=True)
class EvChargingSchedule:
    station_id: str
    evse_id: int
    time_base: datetime
    schedule: Schedule
    received_at: datetime
    selected_schedule_id: int | None = None


def needs_schedule(
    needs: EvChargingNeeds, now: datetime, cap: float | None = None
) -> Schedule | None:
    """The schedule answering `needs` (OCPP 2.0.1 K15: the CSMS calculates a schedule
    within the limits it knows): AC in A per phase, DC in W. With an energy
    amount and a departure time still ahead, the energy is spread evenly until the
    departure (the lowest steady rate that still makes it, not below the car's minimum);
    otherwise the most the car and `cap` (the EVSE's composite limit now, in the same
    unit) allow. None when the needs give nothing to schedule by."""
    if needs.ac:
        most = needs.ev_max_current
        unit = RateUnit.AMPS
        per_unit = min(NOMINAL_VOLTAGE, needs.ev_max_voltage or NOMINAL_VOLTAGE) * needs.phases
    else:
        most = needs.ev_max_power
        if most is None and needs.ev_max_current is not None and needs.ev_max_voltage:
            most = needs.ev_max_current * needs.ev_max_voltage
        unit = RateUnit.WATTS
        per_unit = 1.0
    if cap is not None:
        most = cap if most is None else min(most, cap)
    if most is None:
        return None
    most = max(0.0, most)
    least = (needs.ev_min_current or 0.0) if needs.ac else 0.0
    duration: int | None = None
    rate = most
    if needs.departure_time is not None:
        seconds = (needs.departure_time - now).total_seconds()
        if seconds >= 1:
            duration = int(seconds)
            if needs.energy_amount_wh is not None and needs.energy_amount_wh > 0:
                steady = needs.energy_amount_wh * 3600.0 / seconds / per_unit
                rate = min(most, max(least, steady))
    rate = math.ceil(rate * 10) / 10 if rate < most else math.floor(most * 10) / 10
    period = SchedulePeriod(0, rate, number_phases=needs.phases if needs.ac else None)
    return Schedule(unit, (period,), id=1, start=now, duration=duration)


def needs_profile(evse_id: int, transaction_id: str, schedule: Schedule) -> ChargingProfile:
    """The TxProfile carrying a needs schedule (one per EVSE, same id each time)."""
    return ChargingProfile(
        id=EV_NEEDS_PROFILE_BASE + evse_id,
        stack_level=EV_NEEDS_STACK_LEVEL,
        purpose=Purpose.TX,
        kind=Kind.ABSOLUTE,
        schedules=(schedule,),
        transaction_id=transaction_id,
    )
