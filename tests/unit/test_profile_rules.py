"""The spec's rules for charging profiles per OCPP version (domain.profile_rules)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ampyre.domain.charging_profiles import (
    ChargingProfile,
    InstalledProfile,
    Kind,
    OperationMode,
    ProfileInvalid,
    Purpose,
    RateUnit,
    Recurrency,
    Schedule,
    SchedulePeriod,
)
from ampyre.domain.models import OcppVersion
from ampyre.domain.profile_rules import check, remote_start_violations, replaced_by, violations

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _schedule(*periods: SchedulePeriod, sid: int | None = 1, **kw: object) -> Schedule:
    return Schedule(
        rate_unit=RateUnit.AMPS,
        periods=periods or (SchedulePeriod(0, 16.0),),
        id=sid,
        start=kw.pop("start", T0),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def _profile(**kw: object) -> ChargingProfile:
    base: dict[str, object] = {
        "id": 1,
        "stack_level": 0,
        "purpose": Purpose.TX_DEFAULT,
        "kind": Kind.ABSOLUTE,
        "schedules": (_schedule(),),
    }
    base.update(kw)
    return ChargingProfile(**base)  # type: ignore[arg-type]


def _paths(profile: ChargingProfile, version: OcppVersion = V201, **kw: object) -> set[str]:
    kw.setdefault("evse_id", 1)
    return {v.path for v in violations(profile, version, **kw)}  # type: ignore[arg-type]


def _requirements(profile: ChargingProfile, version: OcppVersion = V201, **kw: object) -> set[str]:
    kw.setdefault("evse_id", 1)
    found = violations(profile, version, **kw)  # type: ignore[arg-type]
    return {v.requirement or "" for v in found}


@pytest.mark.parametrize("version", [V16, V201, V21])
def test_a_plain_default_profile_is_valid_in_every_version(version: OcppVersion) -> None:
    schedule = _schedule(sid=None if version is V16 else 1)
    assert violations(_profile(schedules=(schedule,)), version, evse_id=1) == []
    check(_profile(schedules=(schedule,)), version, evse_id=0)


def test_check_raises_with_the_violations() -> None:
    bad = _profile(stack_level=-1)
    with pytest.raises(ProfileInvalid) as info:
        check(bad, V201, evse_id=1)
    assert [v.path for v in info.value.violations] == ["/stack_level"]


def test_tx_profile_needs_a_running_transaction_and_an_evse() -> None:
    tx = _profile(purpose=Purpose.TX, transaction_id="T1")
    assert _paths(tx, transaction_ids={"T1"}) == set()
    assert _paths(tx, transaction_ids=set()) == {"/transaction_id"}
    assert "OCPP 2.0.1 K01.FR.09" in _requirements(tx, transaction_ids={"T2"})
    # 2.x: the id is required (K01.FR.03); unknown running set: not checked.
    no_id = replace(tx, transaction_id=None)
    assert "OCPP 2.0.1 K01.FR.03" in _requirements(no_id, transaction_ids={"T1"})
    assert _paths(no_id, transaction_ids=None) == set()
    # 1.6: without an id it applies to the running transaction, if there is one.
    v16 = replace(no_id, schedules=(_schedule(sid=None),))
    assert _paths(v16, V16, transaction_ids={"7"}) == set()
    assert _paths(v16, V16, transaction_ids=set()) == {"/transaction_id"}
    # Never on the station as a whole.
    assert "/evse_id" in _paths(tx, evse_id=0, transaction_ids=None)


def test_only_a_tx_profile_has_a_transaction_id() -> None:
    assert _paths(_profile(transaction_id="T1")) == {"/transaction_id"}


def test_station_max_only_on_evse_zero_and_not_relative_in_2x() -> None:
    station = _profile(purpose=Purpose.STATION_MAX)
    assert _paths(station, evse_id=0) == set()
    assert _paths(station, evse_id=2) == {"/evse_id"}
    relative = replace(station, kind=Kind.RELATIVE, schedules=(_schedule(start=None),))
    assert _paths(relative, evse_id=0) == {"/kind"}
    assert _paths(
        replace(relative, schedules=(_schedule(sid=None, start=None),)), V16, evse_id=0
    ) == (set())


def test_external_constraints_cannot_be_set_by_a_csms() -> None:
    assert "OCPP 2.0.1 K01.FR.22" in _requirements(_profile(purpose=Purpose.EXTERNAL), evse_id=0)


@pytest.mark.parametrize("purpose", [Purpose.PRIORITY, Purpose.LOCAL_GENERATION])
def test_21_purposes_and_kinds_are_refused_before_21(purpose: Purpose) -> None:
    assert "/purpose" in _paths(_profile(purpose=purpose), V201)
    assert "/purpose" not in _paths(_profile(purpose=purpose), V21)
    dynamic = _profile(kind=Kind.DYNAMIC)
    assert "/kind" in _paths(dynamic, V201)
    assert "/kind" not in _paths(dynamic, V21)


def test_21_fields_are_refused_before_21() -> None:
    period = SchedulePeriod(
        0, 16.0, discharge_limit=-10.0, operation_mode=OperationMode.CHARGING_ONLY
    )
    profile = _profile(schedules=(_schedule(period),), max_offline_duration=60)
    found = _paths(profile, V201)
    assert {
        "/schedules/0/periods/0/discharge_limit",
        "/schedules/0/periods/0/operation_mode",
        "/max_offline_duration",
    } <= found
    assert _paths(profile, V21) == set()


def test_periods_start_at_zero_and_strictly_increase() -> None:
    late = _profile(schedules=(_schedule(SchedulePeriod(10, 16.0)),))
    assert _paths(late) == {"/schedules/0/periods/0/start_period"}
    assert "OCPP 2.0.1 K01.FR.31" in _requirements(late)
    unordered = _schedule(SchedulePeriod(0, 16.0), SchedulePeriod(60, 8.0), SchedulePeriod(60, 6.0))
    assert _paths(_profile(schedules=(unordered,))) == {"/schedules/0/periods/2/start_period"}
    empty = Schedule(RateUnit.AMPS, (), id=1, start=T0)
    assert _paths(_profile(schedules=(empty,))) == {"/schedules/0/periods"}


def test_limits_are_not_negative_unless_21_discharge() -> None:
    negative = _profile(schedules=(_schedule(SchedulePeriod(0, -5.0)),))
    assert _paths(negative, V201) == {"/schedules/0/periods/0/limit"}
    # 2.1: discharge goes in dischargeLimit (<= 0); a negative limit only with V2X modes.
    assert _paths(negative, V21) == {"/schedules/0/periods/0/limit"}
    v2x = SchedulePeriod(0, -5.0, operation_mode=OperationMode.EXTERNAL_LIMITS)
    assert _paths(_profile(purpose=Purpose.TX_DEFAULT, schedules=(_schedule(v2x),)), V21) == set()
    wrong_sign = SchedulePeriod(0, 16.0, discharge_limit=5.0)
    assert _paths(_profile(schedules=(_schedule(wrong_sign),)), V21) == {
        "/schedules/0/periods/0/discharge_limit"
    }


def test_21_operation_modes_need_their_values() -> None:
    central = SchedulePeriod(0, None, operation_mode=OperationMode.CENTRAL_SETPOINT)
    profile = _profile(purpose=Purpose.TX, transaction_id="T", schedules=(_schedule(central),))
    assert _paths(profile, V21) == {"/schedules/0/periods/0/setpoint"}
    ok = replace(central, setpoint=-3000.0)
    assert _paths(replace(profile, schedules=(_schedule(ok),)), V21) == set()
    no_limit = SchedulePeriod(0, None)
    assert _paths(_profile(schedules=(_schedule(no_limit),)), V21) == {
        "/schedules/0/periods/0/limit"
    }
    idle = SchedulePeriod(0, None, operation_mode=OperationMode.IDLE)
    assert _paths(_profile(schedules=(_schedule(idle),)), V21) == set()
    # Bidirectional modes are per transaction, not a station maximum.
    station = _profile(purpose=Purpose.STATION_MAX, schedules=(_schedule(ok),))
    assert _paths(station, V21, evse_id=0) == {"/schedules/0/periods/0/operation_mode"}


def test_phases_and_phase_to_use() -> None:
    assert _paths(_profile(schedules=(_schedule(SchedulePeriod(0, 16.0, number_phases=4)),))) == {
        "/schedules/0/periods/0/number_phases"
    }
    switch = SchedulePeriod(0, 16.0, number_phases=1, phase_to_use=2)
    assert _paths(_profile(schedules=(_schedule(switch),))) == set()
    three = replace(switch, number_phases=3)
    assert "OCPP 2.0.1 K01.FR.19" in _requirements(_profile(schedules=(_schedule(three),)))
    v16 = _profile(schedules=(_schedule(switch, sid=None),))
    assert _paths(v16, V16) == {"/schedules/0/periods/0/phase_to_use"}
    per_phase = SchedulePeriod(0, 16.0, number_phases=1, limit_l2=10.0)
    assert _paths(_profile(schedules=(_schedule(per_phase),)), V21) == {
        "/schedules/0/periods/0/limit_l2"
    }


def test_kinds_need_their_start_and_recurrency() -> None:
    recurring = _profile(kind=Kind.RECURRING)
    assert _paths(recurring) == {"/recurrency"}
    assert _paths(replace(recurring, recurrency=Recurrency.DAILY)) == set()
    no_start = replace(recurring, recurrency=Recurrency.WEEKLY, schedules=(_schedule(start=None),))
    assert _paths(no_start) == {"/schedules/0/start"}
    relative = _profile(kind=Kind.RELATIVE)
    assert _paths(relative) == {"/schedules/0/start"}
    assert "/recurrency" in _paths(_profile(recurrency=Recurrency.DAILY))
    # 1.6: an Absolute schedule may leave startSchedule out; 2.x may not.
    absolute = _profile(schedules=(_schedule(start=None, sid=None),))
    assert _paths(absolute, V16) == set()
    assert "/schedules/0/start" in _paths(replace(absolute, schedules=(_schedule(start=None),)))


def test_validity() -> None:
    backwards = _profile(valid_from=T0, valid_to=T0 - timedelta(hours=1))
    assert _paths(backwards) == {"/valid_to"}
    expired = _profile(valid_to=T0)
    assert _paths(expired, now=T0 + timedelta(seconds=1)) == {"/valid_to"}
    assert _paths(expired, now=T0 - timedelta(seconds=1)) == set()


def test_schedule_counts_and_ids() -> None:
    two = (_schedule(sid=None), _schedule(sid=None))
    assert "/schedules" in _paths(_profile(schedules=two), V16)
    assert _paths(_profile(schedules=(_schedule(sid=1), _schedule(sid=2)))) == set()
    assert _paths(_profile(schedules=(_schedule(sid=1), _schedule(sid=1)))) == {"/schedules/1/id"}
    assert _paths(_profile(schedules=(_schedule(sid=None),))) == {"/schedules/0/id"}
    four = tuple(_schedule(sid=i) for i in range(4))
    assert "/schedules" in _paths(_profile(schedules=four))
    assert "/schedules" in _paths(_profile(schedules=()))


def _installed(profile: ChargingProfile, evse_id: int = 1) -> InstalledProfile:
    return InstalledProfile("CP1", evse_id, profile)


def test_stack_level_and_purpose_are_unique_per_evse_in_2x() -> None:
    existing = _installed(_profile(id=5, stack_level=2))
    new = _profile(id=6, stack_level=2)
    assert "OCPP 2.0.1 K01.FR.06" in _requirements(new, installed=[existing])
    # The same id replaces (K01.FR.05); another EVSE, level, purpose or validity is fine.
    assert _paths(replace(new, id=5), installed=[existing]) == set()
    assert _paths(new, installed=[_installed(existing.profile, evse_id=2)]) == set()
    assert _paths(replace(new, stack_level=3), installed=[existing]) == set()
    assert (
        _paths(replace(new, purpose=Purpose.STATION_MAX), evse_id=0, installed=[existing]) == set()
    )
    later = replace(new, valid_from=T0 + timedelta(days=1))
    earlier = _installed(replace(existing.profile, valid_to=T0 + timedelta(days=1)))
    assert _paths(later, installed=[earlier]) == set()
    # TxProfiles are unique per transaction.
    tx_a = _installed(_profile(id=7, purpose=Purpose.TX, transaction_id="A"))
    tx_b = _profile(id=8, purpose=Purpose.TX, transaction_id="B")
    assert _paths(tx_b, installed=[tx_a]) == set()
    assert "/stack_level" in _paths(replace(tx_b, transaction_id="A"), installed=[tx_a])


def test_16_replaces_the_same_stack_level_and_purpose() -> None:
    existing = _installed(_profile(id=5, stack_level=2, schedules=(_schedule(sid=None),)))
    new = _profile(id=6, stack_level=2, schedules=(_schedule(sid=None),))
    assert violations(new, V16, evse_id=1, installed=[existing]) == []
    assert replaced_by(new, V16, evse_id=1, installed=[existing]) == [existing]
    assert replaced_by(new, V201, evse_id=1, installed=[existing]) == []
    same_id = _installed(_profile(id=6, stack_level=9), evse_id=2)
    assert replaced_by(new, V201, evse_id=1, installed=[same_id]) == [same_id]


def test_remote_start_profile() -> None:
    tx = _profile(
        purpose=Purpose.TX, schedules=(_schedule(sid=None, start=None),), kind=Kind.RELATIVE
    )
    assert remote_start_violations(tx, V16, evse_id=1) == []
    with_id = replace(tx, transaction_id="T")
    assert [v.path for v in remote_start_violations(with_id, V16, evse_id=1)] == ["/transaction_id"]
    default = replace(tx, purpose=Purpose.TX_DEFAULT)
    assert [v.path for v in remote_start_violations(default, V16, evse_id=1)] == ["/purpose"]


def test_numbers_that_json_cannot_carry_are_violations() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for bad in (math.nan, math.inf, -math.inf):
        period = SchedulePeriod(0, bad)
        schedule = Schedule(RateUnit.AMPS, (period,), id=1, start=start, min_rate=bad)
        profile = ChargingProfile(1, 0, Purpose.TX_DEFAULT, Kind.ABSOLUTE, (schedule,))
        found = violations(profile, OcppVersion.V201, evse_id=1)
        paths = {v.path for v in found if v.message == "must be a finite number"}
        assert paths == {"/schedules/0/periods/0/limit", "/schedules/0/min_rate"}, found
