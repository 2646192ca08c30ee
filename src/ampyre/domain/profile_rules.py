"""The spec's rules for a charging profile, per OCPP version (issue 18 part 1).

`violations` lists every rule a profile breaks when the CSMS would send it to one EVSE
(0: the station as a whole) of a station speaking `version`; `check` raises
`ProfileInvalid` with them. Pure functions over domain values: the API turns the
violations into a 422, the simulator into a Rejected.

Sources: OCPP 1.6 3.13 (smart charging), 5.16 (SetChargingProfile), 7.8-7.13
(ChargingProfile types); OCPP 2.0.1 part 2 chapter K (K01 SetChargingProfile, K08
composite schedule, K15 ISO 15118 charging needs) and the ChargingProfileType schema;
OCPP 2.1 adds the V2X period fields (dischargeLimit, setpoints, operationMode), the
Dynamic kind and the PriorityCharging / LocalGeneration purposes.

Context the caller knows is optional: `installed` (what the station has, for the
stack-level uniqueness), `transaction_ids` (the transactions running on the EVSE; None:
unknown, so the "TxProfile needs a running transaction" rule is not checked) and `now`
(a profile already expired is refused).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime

from ampyre.domain.charging_profiles import (
    PERIOD_NUMBERS,
    ChargingProfile,
    InstalledProfile,
    Kind,
    OperationMode,
    ProfileInvalid,
    Purpose,
    Schedule,
    SchedulePeriod,
    Violation,
)
from ampyre.domain.models import OcppVersion

MAX_PERIODS = 1024  # 2.x chargingSchedulePeriod maxItems
MAX_SCHEDULES_2X = 3  # 2.x chargingSchedule maxItems

_V21_PURPOSES = frozenset({Purpose.PRIORITY, Purpose.LOCAL_GENERATION})
# 2.1 OperationModeEnumType: the modes that charge within `limit` need one.
_NEEDS_LIMIT = frozenset({None, OperationMode.CHARGING_ONLY, OperationMode.LOCAL_LOAD_BALANCING})
_NEEDS_SETPOINT = frozenset({OperationMode.CENTRAL_SETPOINT})
_V21_PERIOD_FIELDS = (
    "limit_l2",
    "limit_l3",
    "discharge_limit",
    "discharge_limit_l2",
    "discharge_limit_l3",
    "setpoint",
    "setpoint_l2",
    "setpoint_l3",
    "operation_mode",
)
_V21_PROFILE_FIELDS = (
    "max_offline_duration",
    "invalid_after_offline_duration",
    "dyn_update_interval",
    "dyn_update_time",
)
_WIRE = {  # domain field -> wire name, for messages
    "limit_l2": "limit_L2",
    "limit_l3": "limit_L3",
    "discharge_limit": "dischargeLimit",
    "discharge_limit_l2": "dischargeLimit_L2",
    "discharge_limit_l3": "dischargeLimit_L3",
    "setpoint": "setpoint",
    "setpoint_l2": "setpoint_L2",
    "setpoint_l3": "setpoint_L3",
    "operation_mode": "operationMode",
    "max_offline_duration": "maxOfflineDuration",
    "invalid_after_offline_duration": "invalidAfterOfflineDuration",
    "dyn_update_interval": "dynUpdateInterval",
    "dyn_update_time": "dynUpdateTime",
}


def _label(version: OcppVersion) -> str:
    return {OcppVersion.V16: "OCPP 1.6", OcppVersion.V201: "OCPP 2.0.1"}.get(version, "OCPP 2.1")


def violations(
    profile: ChargingProfile,
    version: OcppVersion,
    *,
    evse_id: int,
    installed: Sequence[InstalledProfile] = (),
    transaction_ids: Collection[str] | None = None,
    now: datetime | None = None,
) -> list[Violation]:
    """Every rule `profile` breaks when set on `evse_id` of a `version` station."""
    out = list(_profile_rules(profile, version, evse_id, transaction_ids, now))
    for i, schedule in enumerate(profile.schedules):
        out.extend(_schedule_rules(profile, schedule, f"/schedules/{i}", version))
    out.extend(_stack_rules(profile, version, evse_id, installed))
    return out


def check(
    profile: ChargingProfile,
    version: OcppVersion,
    *,
    evse_id: int,
    installed: Sequence[InstalledProfile] = (),
    transaction_ids: Collection[str] | None = None,
    now: datetime | None = None,
) -> None:
    """Raise ProfileInvalid with the violations, if there are any."""
    found = violations(
        profile,
        version,
        evse_id=evse_id,
        installed=installed,
        transaction_ids=transaction_ids,
        now=now,
    )
    if found:
        raise ProfileInvalid(found)


def remote_start_violations(
    profile: ChargingProfile, version: OcppVersion, *, evse_id: int
) -> list[Violation]:
    """The rules for a profile sent with a remote start (1.6 RemoteStartTransaction,
    2.x RequestStartTransaction): a TxProfile without a transaction id (the transaction
    does not exist yet), plus every other rule of `violations`."""
    spec = _label(version)
    out: list[Violation] = []
    if profile.purpose is not Purpose.TX:
        # OCPP 1.6 5.11 / 2.0.1 F01.FR.08: the purpose of a remote-start profile is TxProfile.
        out.append(
            Violation("/purpose", "a remote start profile must be a TxProfile", f"{spec} F01.FR.08")
        )
    if profile.transaction_id is not None:
        # OCPP 1.6 5.11 "transactionId SHALL NOT be set" / 2.0.1 F01.FR.09.
        out.append(
            Violation(
                "/transaction_id",
                "a remote start profile has no transaction id yet",
                f"{spec} F01.FR.09",
            )
        )
    rest = violations(profile, version, evse_id=evse_id, transaction_ids=None)
    return out + [v for v in rest if v.path != "/transaction_id"]


def replaced_by(
    profile: ChargingProfile,
    version: OcppVersion,
    *,
    evse_id: int,
    installed: Sequence[InstalledProfile],
) -> list[InstalledProfile]:
    """The installed profiles that `profile`, once accepted, replaces: the one with the
    same id (1.6 5.16, 2.0.1 K01.FR.05) and, in 1.6, one with the same stack level and
    purpose on the same connector (1.6 3.13.2; TxProfiles: the same transaction too).
    In 2.x such a clash is refused instead (K01.FR.06, see `violations`)."""
    out = []
    for other in installed:
        if other.profile.id == profile.id or (
            version is OcppVersion.V16 and _same_slot(profile, evse_id, other)
        ):
            out.append(other)
    return out


# ---- the rules ---------------------------------------------------------------------


def _profile_rules(
    p: ChargingProfile,
    version: OcppVersion,
    evse_id: int,
    transaction_ids: Collection[str] | None,
    now: datetime | None,
) -> Iterator[Violation]:
    spec = _label(version)
    v16 = version is OcppVersion.V16
    v21 = version is OcppVersion.V21
    if evse_id < 0:
        yield Violation("/evse_id", "the EVSE id must be >= 0", f"{spec} SetChargingProfile")
    if p.stack_level < 0:
        # 1.6 7.8 stackLevel "lowest level is 0"; 2.1 schema minimum 0.
        yield Violation("/stack_level", "the stack level must be >= 0", f"{spec} ChargingProfile")
    # Purposes and kinds by version.
    if p.purpose is Purpose.EXTERNAL:
        # 2.0.1 K01.FR.22: external constraints come from the station, never the CSMS;
        # 1.6 has no such purpose.
        yield Violation(
            "/purpose",
            "ChargingStationExternalConstraints profiles cannot be set by a CSMS",
            "OCPP 1.6 7.10" if v16 else f"{spec} K01.FR.22",
        )
    elif p.purpose in _V21_PURPOSES and not v21:
        yield Violation(
            "/purpose", f"{p.purpose} is an OCPP 2.1 purpose", f"{spec} ChargingProfile"
        )
    if p.kind is Kind.DYNAMIC and not v21:
        yield Violation("/kind", "the Dynamic kind is OCPP 2.1 only", f"{spec} ChargingProfile")
    if not v21:
        for name in _V21_PROFILE_FIELDS:
            if getattr(p, name) is not None:
                yield Violation(f"/{name}", f"{_WIRE[name]} is an OCPP 2.1 field", f"{spec} schema")
    # Where a purpose may be set.
    if p.purpose is Purpose.STATION_MAX and evse_id != 0:
        # 1.6 3.13.1 "ChargePointMaxProfile can only be set at connectorId 0";
        # 2.0.1 SetChargingProfileRequest.evseId: a ChargingStationMaxProfile uses 0.
        yield Violation(
            "/evse_id",
            f"{p.purpose} applies to the whole station: EVSE id must be 0",
            "OCPP 1.6 3.13.1" if v16 else f"{spec} SetChargingProfileRequest.evseId",
        )
    if p.purpose is Purpose.STATION_MAX and p.kind is Kind.RELATIVE and not v16:
        # 2.0.1 K01.FR.38: a station maximum cannot be relative to a transaction.
        yield Violation(
            "/kind", "a ChargingStationMaxProfile cannot be Relative", f"{spec} K01.FR.38"
        )
    if p.purpose is Purpose.TX:
        yield from _tx_rules(p, version, evse_id, transaction_ids)
    elif p.transaction_id is not None:
        # 2.0.1 ChargingProfileType.transactionId: "SHALL only be included if
        # ChargingProfilePurpose is set to TxProfile" (1.6 7.8 likewise).
        yield Violation(
            "/transaction_id",
            "only a TxProfile has a transaction id",
            "OCPP 1.6 7.8" if v16 else f"{spec} ChargingProfileType.transactionId",
        )
    # Kinds.
    yield from _kind_rules(p, version)
    if p.valid_from is not None and p.valid_to is not None and p.valid_from >= p.valid_to:
        yield Violation(
            "/valid_to", "validTo must be after validFrom", f"{spec} ChargingProfile validity"
        )
    if now is not None and p.valid_to is not None and p.valid_to <= now:
        yield Violation("/valid_to", "the profile has already expired", f"{spec} ChargingProfile")
    # Schedules: one in 1.6 (7.8), 1..3 with distinct ids in 2.x (K01 schema, K01.FR.xx).
    count = len(p.schedules)
    if count == 0:
        yield Violation("/schedules", "a profile needs a schedule", f"{spec} ChargingProfile")
    elif v16 and count > 1:
        yield Violation("/schedules", "OCPP 1.6 profiles have exactly one schedule", "OCPP 1.6 7.8")
    elif not v16 and count > MAX_SCHEDULES_2X:
        yield Violation(
            "/schedules", "at most 3 schedules per profile", f"{spec} ChargingProfileType"
        )
    if not v16:
        ids = [s.id for s in p.schedules]
        for i, sid in enumerate(ids):
            if sid is None:
                yield Violation(
                    f"/schedules/{i}/id", "a schedule needs an id", f"{spec} ChargingScheduleType"
                )
            elif ids.index(sid) != i:
                yield Violation(
                    f"/schedules/{i}/id",
                    f"schedule id {sid} is used twice",
                    f"{spec} ChargingScheduleType",
                )


def _tx_rules(
    p: ChargingProfile,
    version: OcppVersion,
    evse_id: int,
    transaction_ids: Collection[str] | None,
) -> Iterator[Violation]:
    spec = _label(version)
    v16 = version is OcppVersion.V16
    if evse_id <= 0:
        # 1.6 5.16 / 2.0.1 K01.FR.16: a TxProfile is set on an EVSE (connector) > 0.
        yield Violation(
            "/evse_id",
            "a TxProfile is set on an EVSE, not the station (EVSE id > 0)",
            "OCPP 1.6 5.16" if v16 else f"{spec} K01.FR.16",
        )
    if transaction_ids is None:
        return
    if p.transaction_id is None:
        if not v16:
            # 2.0.1 K01.FR.03: the CSMS includes the transactionId in a TxProfile.
            yield Violation(
                "/transaction_id", "a TxProfile needs the transaction id", f"{spec} K01.FR.03"
            )
        elif not transaction_ids:
            # 1.6 5.16: no transaction on the connector: the Charge Point discards it.
            yield Violation(
                "/transaction_id", "no transaction is running on this connector", "OCPP 1.6 5.16"
            )
    elif p.transaction_id not in transaction_ids:
        # 1.6 5.16 / 2.0.1 K01.FR.09: a TxProfile for no running transaction is rejected.
        yield Violation(
            "/transaction_id",
            f"transaction {p.transaction_id} is not running on EVSE {evse_id}",
            "OCPP 1.6 5.16" if v16 else f"{spec} K01.FR.09",
        )


def _kind_rules(p: ChargingProfile, version: OcppVersion) -> Iterator[Violation]:
    spec = _label(version)
    v16 = version is OcppVersion.V16
    starts = [s.start for s in p.schedules]
    if p.kind is Kind.RECURRING:
        if p.recurrency is None:
            # 1.6 7.8 / 2.0.1 ChargingProfileType.recurrencyKind: Daily or Weekly.
            yield Violation(
                "/recurrency",
                "a Recurring profile needs a recurrency kind",
                f"{spec} ChargingProfileType.recurrencyKind",
            )
        for i, start in enumerate(starts):
            if start is None:
                yield Violation(
                    f"/schedules/{i}/start",
                    "a Recurring schedule needs a start (startSchedule)",
                    f"{spec} K01.FR.40",
                )
    elif p.kind is Kind.ABSOLUTE and not v16:
        for i, start in enumerate(starts):
            if start is None:
                # 2.0.1 K01.FR.40: Absolute/Recurring schedules carry startSchedule. (1.6
                # leaves it optional: the schedule starts when the profile is applied.)
                yield Violation(
                    f"/schedules/{i}/start",
                    "an Absolute schedule needs a start (startSchedule)",
                    f"{spec} K01.FR.40",
                )
    elif p.kind is Kind.RELATIVE:
        for i, start in enumerate(starts):
            if start is not None:
                # 1.6 7.13 / 2.0.1 K01.FR.41: a Relative schedule has no startSchedule.
                yield Violation(
                    f"/schedules/{i}/start",
                    "a Relative schedule has no start: it begins with the transaction",
                    "OCPP 1.6 7.13" if v16 else f"{spec} K01.FR.41",
                )
    if p.kind is not Kind.RECURRING and p.recurrency is not None:
        yield Violation(
            "/recurrency",
            "only a Recurring profile has a recurrency kind",
            f"{spec} ChargingProfile",
        )


def _schedule_rules(
    p: ChargingProfile, s: Schedule, path: str, version: OcppVersion
) -> Iterator[Violation]:
    spec = _label(version)
    if s.duration is not None and s.duration <= 0:
        yield Violation(f"{path}/duration", "the duration must be > 0 seconds", f"{spec} schema")
    if s.min_rate is not None and not math.isfinite(s.min_rate):
        yield Violation(f"{path}/min_rate", "must be a finite number", f"{spec} schema")
    elif s.min_rate is not None and s.min_rate < 0:
        yield Violation(f"{path}/min_rate", "minChargingRate must be >= 0", f"{spec} schema")
    if not s.periods:
        yield Violation(f"{path}/periods", "a schedule needs at least one period", f"{spec} schema")
        return
    if len(s.periods) > MAX_PERIODS:
        yield Violation(f"{path}/periods", "at most 1024 periods", f"{spec} schema")
    if s.periods[0].start_period != 0:
        # 2.0.1 K01.FR.31 (1.6 7.12): the first period starts at the schedule's start.
        yield Violation(
            f"{path}/periods/0/start_period",
            "the first period must start at 0",
            "OCPP 1.6 7.12" if version is OcppVersion.V16 else f"{spec} K01.FR.31",
        )
    previous: int | None = None
    for i, period in enumerate(s.periods):
        here = f"{path}/periods/{i}"
        if previous is not None and period.start_period <= previous:
            # 2.0.1 K01.FR.35: start periods strictly increase.
            yield Violation(
                f"{here}/start_period",
                "periods must start in strictly increasing order",
                "OCPP 1.6 7.12" if version is OcppVersion.V16 else f"{spec} K01.FR.35",
            )
        previous = period.start_period
        yield from _period_rules(p, period, here, version)


def _period_rules(
    p: ChargingProfile, period: SchedulePeriod, here: str, version: OcppVersion
) -> Iterator[Violation]:
    spec = _label(version)
    v16 = version is OcppVersion.V16
    v21 = version is OcppVersion.V21
    for name in PERIOD_NUMBERS:
        value = getattr(period, name)
        if value is not None and not math.isfinite(value):
            # JSON has no NaN or infinity; no station could read one.
            yield Violation(f"{here}/{name}", "must be a finite number", f"{spec} schema")
    phases = period.number_phases
    if phases is not None and not 1 <= phases <= 3:
        yield Violation(f"{here}/number_phases", "numberPhases must be 1, 2 or 3", f"{spec} schema")
    if period.phase_to_use is not None:
        if v16:
            yield Violation(
                f"{here}/phase_to_use", "phaseToUse is not in OCPP 1.6", "OCPP 1.6 7.12"
            )
        elif phases != 1:
            # 2.0.1 K01.FR.19: phaseToUse only with numberPhases 1.
            yield Violation(
                f"{here}/phase_to_use",
                "phaseToUse is only allowed with numberPhases 1",
                f"{spec} K01.FR.19",
            )
        if not 1 <= period.phase_to_use <= 3:
            yield Violation(
                f"{here}/phase_to_use", "phaseToUse must be 1, 2 or 3", f"{spec} schema"
            )
    if not v21:
        for name in _V21_PERIOD_FIELDS:
            if getattr(period, name) is not None:
                yield Violation(
                    f"{here}/{name}", f"{_WIRE[name]} is an OCPP 2.1 field", f"{spec} schema"
                )
        if period.limit is None:
            yield Violation(f"{here}/limit", "a period needs a limit", f"{spec} schema")
        elif period.limit < 0:
            # Negative (discharge) limits only exist with 2.1 V2X.
            yield Violation(
                f"{here}/limit",
                "the limit must be >= 0 (discharging is OCPP 2.1)",
                f"{spec} schema",
            )
        return
    yield from _v21_period_rules(p, period, here)


def _v21_period_rules(p: ChargingProfile, period: SchedulePeriod, here: str) -> Iterator[Violation]:
    spec = "OCPP 2.1"
    mode = period.operation_mode
    if mode in _NEEDS_LIMIT and period.limit is None:
        yield Violation(
            f"{here}/limit", f"operation mode {mode or 'ChargingOnly'} needs a limit", spec
        )
    if mode in _NEEDS_SETPOINT and period.setpoint is None:
        # 2.1 Q: CentralSetpoint gives the setpoint the EVSE follows.
        yield Violation(f"{here}/setpoint", f"operation mode {mode} needs a setpoint", spec)
    if mode is OperationMode.IDLE and (period.setpoint is not None or period.discharge_limit):
        yield Violation(
            f"{here}/operation_mode", "an Idle period has no setpoint or discharge", spec
        )
    for name in ("limit", "limit_l2", "limit_l3"):
        value = getattr(period, name)
        if value is not None and value < 0 and mode in _NEEDS_LIMIT:
            # 2.1: charging limits are >= 0; discharging goes in dischargeLimit (a
            # negative `limit` is only tolerated with a V2X operation mode).
            yield Violation(f"{here}/{name}", "a charging limit must be >= 0", spec)
    for name in ("discharge_limit", "discharge_limit_l2", "discharge_limit_l3"):
        value = getattr(period, name)
        if value is not None and value > 0:
            # 2.1 ChargingSchedulePeriodType.dischargeLimit: "value <= 0".
            yield Violation(f"{here}/{name}", "a discharge limit must be <= 0", spec)
    if period.number_phases not in (None, 3):
        for name in (
            "limit_l2",
            "limit_l3",
            "discharge_limit_l2",
            "discharge_limit_l3",
            "setpoint_l2",
            "setpoint_l3",
        ):
            if getattr(period, name) is not None:
                yield Violation(f"{here}/{name}", "per-phase values need 3 phases", spec)
    if mode not in (None, OperationMode.CHARGING_ONLY) and p.purpose is Purpose.STATION_MAX:
        # A station maximum only limits; V2X operation modes are instructions for a
        # (bidirectional) transaction or EVSE, not for the station as a whole.
        yield Violation(
            f"{here}/operation_mode",
            f"operation mode {mode} is not allowed in a ChargingStationMaxProfile",
            spec,
        )


def _same_slot(p: ChargingProfile, evse_id: int, other: InstalledProfile) -> bool:
    """Same EVSE, purpose and stack level (TxProfiles: and the same transaction)."""
    o = other.profile
    if other.evse_id != evse_id or o.purpose is not p.purpose or o.stack_level != p.stack_level:
        return False
    return p.purpose is not Purpose.TX or o.transaction_id == p.transaction_id


def _overlap(a: ChargingProfile, b: ChargingProfile) -> bool:
    lo = max((t for t in (a.valid_from, b.valid_from) if t is not None), default=None)
    hi = min((t for t in (a.valid_to, b.valid_to) if t is not None), default=None)
    return lo is None or hi is None or lo < hi


def _stack_rules(
    p: ChargingProfile,
    version: OcppVersion,
    evse_id: int,
    installed: Sequence[InstalledProfile],
) -> Iterator[Violation]:
    if version is OcppVersion.V16:
        return  # 1.6 3.13.2: the same stack level and purpose replaces (replaced_by)
    spec = _label(version)
    for other in installed:
        if other.profile.id == p.id:
            continue  # K01.FR.05: the same id replaces the installed profile
        if other.profile.purpose is Purpose.EXTERNAL:
            continue
        if _same_slot(p, evse_id, other) and _overlap(p, other.profile):
            # 2.0.1 K01.FR.06: one profile per stack level and purpose on an EVSE in
            # any period of validity (TxProfiles: per transaction, K01.FR.39).
            yield Violation(
                "/stack_level",
                f"profile {other.profile.id} already has stack level {p.stack_level} for "
                f"{p.purpose} on EVSE {evse_id}",
                f"{spec} K01.FR.39" if p.purpose is Purpose.TX else f"{spec} K01.FR.06",
            )
