"""Smart charging codecs against the official schemas (the gateway's validators): the
version-neutral profile round-trips through each version's payload; what a version
cannot carry is refused before anything is sent; the station-side messages (limits,
profile reports, EV charging needs and schedules) reach the charging-profile service
and are answered as the schemas and block K say."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ampyre.config import Settings
from ampyre.domain.charging_profiles import (
    ChargingProfile,
    CompositePeriod,
    CompositeSchedule,
    InstalledProfile,
    Kind,
    OperationMode,
    ProfileInvalid,
    ProfileSource,
    Purpose,
    RateUnit,
    Recurrency,
    Schedule,
    SchedulePeriod,
)
from ampyre.domain.composite_compare import Difference, compare
from ampyre.domain.ev_needs import (
    EV_NEEDS_PROFILE_BASE,
    ChargingLimit,
    EvChargingNeeds,
    EvChargingSchedule,
    needs_schedule,
)
from ampyre.domain.models import OcppVersion, Page, StationReport
from ampyre.protocol import smart_charging as sc
from ampyre.protocol.ocpp16 import smart_charging as sc16
from ampyre.protocol.ocpp201 import smart_charging as sc201
from ampyre.protocol.schemas import Schemas
from ampyre.protocol.session import CallContext
from ampyre.services.charging_profiles import ChargingProfileService
from ampyre.services.charging_profiles_port import ClearCriteria, RunningTransaction
from ampyre.services.station_port import Answer, NotAddressable

SCHEMAS = Schemas()
V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def valid(
    version: OcppVersion, action: str, payload: dict[str, Any], response: bool = False
) -> None:
    problem = SCHEMAS[version].validate(action, payload, response)
    assert problem is None, (action, problem, payload)


def schedule(
    *limits: float, unit: RateUnit = RateUnit.AMPS, sid: int | None = 1, relative: bool = False
) -> Schedule:
    return Schedule(
        unit,
        tuple(SchedulePeriod(600 * n, x) for n, x in enumerate(limits)),
        id=sid,
        start=None if relative else NOW,
        duration=3600,
    )


PROFILES = [
    ChargingProfile(1, 0, Purpose.STATION_MAX, Kind.ABSOLUTE, (schedule(32.0, 16.5),)),
    ChargingProfile(
        2,
        1,
        Purpose.TX_DEFAULT,
        Kind.RECURRING,
        (
            Schedule(
                RateUnit.WATTS,
                (SchedulePeriod(0, 11000.0, number_phases=3), SchedulePeriod(3600, 7400.0)),
                id=1,
                start=NOW,
                duration=86400,
                min_rate=1400.0,
            ),
        ),
        recurrency=Recurrency.DAILY,
        valid_from=NOW,
        valid_to=NOW + timedelta(days=30),
    ),
    ChargingProfile(
        3, 2, Purpose.TX, Kind.RELATIVE, (schedule(10.0, relative=True),), transaction_id="42"
    ),
]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.purpose.value)
@pytest.mark.parametrize("version", [V16, V201, V21])
def test_profile_round_trips_through_each_version(
    profile: ChargingProfile, version: OcppVersion
) -> None:
    action, payload = sc.encode_set(version.value, 1, profile)
    assert action == "SetChargingProfile"
    valid(version, action, payload)
    if version is V16:
        assert payload["connectorId"] == 1
        back = sc16.profile_of(payload["csChargingProfiles"])
        # 1.6 carries no schedule id.
        expected = dataclasses.replace(
            profile, schedules=tuple(dataclasses.replace(s, id=None) for s in profile.schedules)
        )
    else:
        assert payload["evseId"] == 1
        back = sc201.profile_of(payload["chargingProfile"])
        expected = profile
    assert back == expected


def test_1_6_names_the_station_maximum_its_own_way_and_rounds_to_tenths() -> None:
    p = ChargingProfile(7, 0, Purpose.STATION_MAX, Kind.ABSOLUTE, (schedule(16.04, 7.36),))
    _, payload = sc.encode_set(V16.value, 0, p)
    valid(V16, "SetChargingProfile", payload)
    cp = payload["csChargingProfiles"]
    assert cp["chargingProfilePurpose"] == "ChargePointMaxProfile"
    assert [x["limit"] for x in cp["chargingSchedule"]["chargingSchedulePeriod"]] == [16.0, 7.4]
    assert "transactionId" not in cp
    tx = dataclasses.replace(PROFILES[2], transaction_id="17")
    assert sc.encode_set(V16.value, 1, tx)[1]["csChargingProfiles"]["transactionId"] == 17


@pytest.mark.parametrize(
    "profile",
    [
        dataclasses.replace(PROFILES[2], transaction_id="a-uuid-of-2.x"),  # 1.6 ids are integers
        dataclasses.replace(PROFILES[0], purpose=Purpose.EXTERNAL),
        dataclasses.replace(PROFILES[0], kind=Kind.DYNAMIC),
        dataclasses.replace(PROFILES[0], schedules=(schedule(1.0), schedule(2.0, sid=2))),
    ],
)
def test_what_1_6_cannot_carry_is_not_addressable(profile: ChargingProfile) -> None:
    with pytest.raises(NotAddressable):
        sc.encode_set(V16.value, 1, profile)


V2X = ChargingProfile(
    9,
    0,
    Purpose.TX_DEFAULT,
    Kind.ABSOLUTE,
    (
        Schedule(
            RateUnit.WATTS,
            (
                SchedulePeriod(
                    0,
                    7000.0,
                    number_phases=3,
                    limit_l2=7000.0,
                    limit_l3=6000.0,
                    discharge_limit=-5000.0,
                    discharge_limit_l2=-5000.0,
                    discharge_limit_l3=-4000.0,
                    operation_mode=OperationMode.EXTERNAL_LIMITS,
                ),
                SchedulePeriod(
                    900,
                    None,
                    setpoint=-3000.0,
                    setpoint_l2=-3000.0,
                    setpoint_l3=-3000.0,
                    operation_mode=OperationMode.CENTRAL_SETPOINT,
                ),
            ),
            id=4,
            start=NOW,
        ),
    ),
    max_offline_duration=600,
    invalid_after_offline_duration=True,
)


def test_2_1_v2x_fields_round_trip_and_are_refused_for_2_0_1() -> None:
    action, payload = sc.encode_set(V21.value, 2, V2X)
    valid(V21, action, payload)
    period = payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]
    assert period["dischargeLimit"] == -5000.0 and period["limit_L3"] == 6000.0
    assert period["operationMode"] == "ExternalLimits"
    assert sc201.profile_of(payload["chargingProfile"]) == V2X
    with pytest.raises(NotAddressable, match=r"2\.1"):
        sc.encode_set(V201.value, 2, V2X)
    priority = dataclasses.replace(PROFILES[0], purpose=Purpose.PRIORITY)
    valid(V21, *sc.encode_set(V21.value, 0, priority))
    with pytest.raises(NotAddressable):
        sc.encode_set(V201.value, 0, priority)


@pytest.mark.parametrize("version", [V16, V201, V21])
@pytest.mark.parametrize(
    "criteria",
    [
        ClearCriteria(),
        ClearCriteria(profile_id=5),
        ClearCriteria(evse_id=1, purpose=Purpose.TX_DEFAULT, stack_level=2),
        ClearCriteria(evse_id=0, purpose=Purpose.STATION_MAX),
    ],
)
def test_clear_and_composite_requests_are_valid(
    version: OcppVersion, criteria: ClearCriteria
) -> None:
    action, payload = sc.encode_clear(version.value, criteria)
    valid(version, action, payload)
    if version is V16 and criteria.purpose is Purpose.STATION_MAX:
        assert payload["chargingProfilePurpose"] == "ChargePointMaxProfile"
    valid(version, *sc.encode_composite(version.value, 1, 900, RateUnit.WATTS))


def test_get_charging_profiles_asks_for_everything() -> None:
    for version in (V201, V21):
        action, payload = sc201.get_charging_profiles(77, None)
        valid(version, action, payload)
        assert payload == {"requestId": 77, "chargingProfile": {}}


def test_composite_answers_decode() -> None:
    a16 = {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": "2026-12-01T12:00:00Z",
        "chargingSchedule": {
            "duration": 900,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 16.0},
                {"startPeriod": 300, "limit": 8.0, "numberPhases": 1},
            ],
        },
    }
    valid(V16, "GetCompositeSchedule", a16, response=True)
    got = sc16.composite_of(a16, 1, 900, NOW + timedelta(hours=1))
    assert got == CompositeSchedule(
        1,
        NOW,
        900,
        RateUnit.AMPS,
        (CompositePeriod(0, 16.0), CompositePeriod(300, 8.0, number_phases=1)),
    )
    a2 = {
        "status": "Accepted",
        "schedule": {
            "evseId": 2,
            "duration": 600,
            "scheduleStart": "2026-12-01T12:00:00Z",
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}],
        },
    }
    valid(V201, "GetCompositeSchedule", a2, response=True)
    got2 = sc201.composite_of(a2, 2, 600, NOW)
    assert got2 is not None and got2.periods == (CompositePeriod(0, 11000.0),)
    assert sc201.composite_of({"status": "Rejected"}, 2, 600, NOW) is None


def test_compare_finds_where_station_and_ampyre_disagree() -> None:
    ours = CompositeSchedule(
        1, NOW, 900, RateUnit.AMPS, (CompositePeriod(0, 16.0), CompositePeriod(300, 8.0))
    )
    same = dataclasses.replace(ours, periods=(CompositePeriod(0, 16.04), CompositePeriod(300, 8.0)))
    assert compare(ours, same) == []
    # The station's schedule starts 100 s later: its periods are shifted.
    later = dataclasses.replace(
        ours, start=NOW + timedelta(seconds=100), periods=(CompositePeriod(0, 16.0),)
    )
    assert compare(ours, later) == [Difference(300, 8.0, 16.0)]
    # Where no profile limits the EVSE, the station's own capacity is no difference.
    unlimited = dataclasses.replace(ours, periods=(CompositePeriod(0, None),))
    assert compare(unlimited, same) == []


def test_needs_schedule_spreads_the_energy_until_departure() -> None:
    needs = EvChargingNeeds(
        "CP", 1, "AC_three_phase", NOW,
        departure_time=NOW + timedelta(hours=4),
        energy_amount_wh=22080.0,  # 8 A * 230 V * 3 phases * 4 h
        ev_min_current=6.0, ev_max_current=32.0, ev_max_voltage=400.0,
    )  # fmt: skip
    got = needs_schedule(needs, NOW)
    assert got is not None and got.rate_unit is RateUnit.AMPS
    assert got.periods == (SchedulePeriod(0, 8.0, number_phases=3),)
    assert got.duration == 4 * 3600 and got.start == NOW
    # Never below the car's minimum, never above the cap or the car's maximum.
    small = dataclasses.replace(needs, energy_amount_wh=1000.0)
    assert needs_schedule(small, NOW).periods[0].limit == 6.0  # type: ignore[union-attr]
    big = dataclasses.replace(needs, energy_amount_wh=200_000.0)
    assert needs_schedule(big, NOW, cap=20.0).periods[0].limit == 20.0  # type: ignore[union-attr]
    no_departure = dataclasses.replace(needs, departure_time=None)
    assert needs_schedule(no_departure, NOW).periods[0].limit == 32.0  # type: ignore[union-attr]
    dc = EvChargingNeeds("CP", 1, "DC", NOW, ev_max_current=200.0, ev_max_voltage=500.0)
    got_dc = needs_schedule(dc, NOW, cap=50_000.0)
    assert got_dc is not None and got_dc.rate_unit is RateUnit.WATTS
    assert got_dc.periods[0].limit == 50_000.0
    assert needs_schedule(EvChargingNeeds("CP", 1, "DC", NOW), NOW) is None


# ------------------------------------------------------------------ the handlers


class MemoryProfiles:
    """The ChargingProfileStore port in memory (the SQL one: the e2e tests)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, int], tuple[InstalledProfile, int | None]] = {}
        self.limit_rows: dict[tuple[str, int, str], ChargingLimit] = {}
        self.needs: dict[tuple[str, int], EvChargingNeeds] = {}
        self.schedules: dict[tuple[str, int], EvChargingSchedule] = {}
        self.transactions: list[RunningTransaction] = []

    async def save_installed(self, item: InstalledProfile, replaces: Sequence[int] = ()) -> None:
        for pid in {item.profile.id, *replaces}:
            self.items.pop((item.station_id, pid), None)
        self.items[(item.station_id, item.profile.id)] = (item, None)

    async def installed(
        self, station_id: str, evse_id: int | None = None
    ) -> list[InstalledProfile]:
        return [
            i
            for (sid, _), (i, _) in sorted(self.items.items())
            if sid == station_id and evse_id in (None, i.evse_id)
        ]

    async def list_installed(self, limit: int, offset: int, *args: Any) -> Page:
        items = [i for i, _ in self.items.values()]
        return Page(items[offset : offset + limit], len(items), limit, offset)

    async def remove_installed(self, station_id: str, c: ClearCriteria) -> int:
        gone = [
            k
            for k, (i, _) in self.items.items()
            if k[0] == station_id and c.profile_id in (None, i.profile.id)
        ]
        for k in gone:
            del self.items[k]
        return len(gone)

    async def reported(
        self,
        station_id: str,
        request_id: int,
        items: Sequence[InstalledProfile],
        final: bool,
        now: datetime,
    ) -> None:
        for item in items:
            self.items[(station_id, item.profile.id)] = (item, request_id)
        if final:
            for k, (_, rid) in list(self.items.items()):
                if k[0] == station_id and rid != request_id:
                    del self.items[k]

    async def save_limit(self, limit: ChargingLimit) -> None:
        self.limit_rows[(limit.station_id, limit.evse_id or 0, limit.source)] = limit

    async def clear_limit(
        self, station_id: str, source: str, evse_id: int | None, at: datetime
    ) -> None:
        for k, x in list(self.limit_rows.items()):
            if k[0] == station_id and k[2] == source:
                self.limit_rows[k] = dataclasses.replace(x, cleared_at=at)

    async def limits(self, station_id: str, active_only: bool = False) -> list[ChargingLimit]:
        return [
            x
            for k, x in self.limit_rows.items()
            if k[0] == station_id and not (active_only and x.cleared_at)
        ]

    async def save_needs(self, needs: EvChargingNeeds) -> None:
        self.needs[(needs.station_id, needs.evse_id)] = needs

    async def save_ev_schedule(self, schedule: EvChargingSchedule) -> None:
        self.schedules[(schedule.station_id, schedule.evse_id)] = schedule

    async def ev_needs(
        self, station_id: str
    ) -> list[tuple[EvChargingNeeds | None, EvChargingSchedule | None]]:
        keys = sorted({*self.needs, *self.schedules})
        return [(self.needs.get(k), self.schedules.get(k)) for k in keys if k[0] == station_id]

    async def running(self, station_id: str) -> list[RunningTransaction]:
        return list(self.transactions)


class Station:
    """ChargingProfileCommands for one station of `version` that accepts everything,
    checking each CALL against the official schema."""

    def __init__(self, version: OcppVersion) -> None:
        self.version = version
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def connected_version(self, station_id: str) -> str | None:
        return self.version.value

    async def set_profile(
        self, station_id: str, evse_id: int, profile: ChargingProfile, timeout: float | None
    ) -> Answer:
        request = sc.encode_set(self.version.value, evse_id, profile)
        valid(self.version, *request)
        self.sent.append(request)
        return Answer("accepted", "Accepted")

    async def clear_profiles(
        self, station_id: str, criteria: ClearCriteria, timeout: float | None
    ) -> Answer:
        self.sent.append(sc.encode_clear(self.version.value, criteria))
        return Answer("accepted", "Accepted")

    async def get_profiles(
        self, station_id: str, request_id: int, evse_id: int | None, timeout: float | None
    ) -> Answer:
        return Answer("noprofiles", "NoProfiles")

    async def get_composite(self, *args: Any) -> tuple[Answer, CompositeSchedule | None]:
        return Answer("rejected", "Rejected"), None

    def profile_payload(self, version: str, profile: ChargingProfile) -> dict[str, Any]:
        return sc.OcppChargingProfileCommands.profile_payload(None, version, profile)  # type: ignore[arg-type]


class Env:
    def __init__(self, version: OcppVersion) -> None:
        self.store = MemoryProfiles()
        self.station = Station(version)
        self.reports: list[StationReport] = []

        async def report(r: StationReport) -> None:
            self.reports.append(r)

        self.svc = ChargingProfileService(
            self.store, self.station, Settings(), report=report, clock=lambda: NOW
        )
        self.version = version
        self.handlers = sc.handlers(self.svc).get(version, {})

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        valid(self.version, action, payload)
        ctx = CallContext("CP", self.version, None)  # type: ignore[arg-type]
        answer = await self.handlers[action](ctx, payload)
        valid(self.version, action, answer, response=True)
        return answer


NEEDS = {
    "evseId": 1,
    "chargingNeeds": {
        "requestedEnergyTransfer": "AC_three_phase",
        "departureTime": "2026-12-01T16:00:00Z",
        "acChargingParameters": {
            "energyAmount": 22080,
            "evMinCurrent": 6,
            "evMaxCurrent": 32,
            "evMaxVoltage": 400,
        },
    },
}


@pytest.mark.parametrize("version", [V201, V21])
async def test_ev_needs_are_answered_with_a_tx_profile(version: OcppVersion) -> None:
    env = Env(version)
    env.store.transactions = [RunningTransaction("tx-1", 1, NOW - timedelta(minutes=5))]
    # A station-wide maximum of 6 A caps what the car gets.
    cap = ChargingProfile(1, 0, Purpose.STATION_MAX, Kind.ABSOLUTE, (schedule(6.0),))
    await env.store.save_installed(InstalledProfile("CP", 0, cap))
    assert await env.call("NotifyEVChargingNeeds", NEEDS) == {"status": "Accepted"}
    await _settled(env.svc)
    [(action, payload)] = env.station.sent
    assert action == "SetChargingProfile" and payload["evseId"] == 1
    profile = payload["chargingProfile"]
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["transactionId"] == "tx-1"
    assert profile["id"] == EV_NEEDS_PROFILE_BASE + 1
    assert profile["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == 6.0
    installed = await env.svc.installed("CP", 1)
    assert [i.source for i in installed] == [ProfileSource.EV_NEEDS]
    [(needs, _)] = await env.svc.ev_needs_of("CP")
    assert needs is not None and needs.status == "Accepted" and needs.transaction_id == "tx-1"
    assert needs.energy_amount_wh == 22080.0 and needs.phases == 3
    assert [r.action for r in env.reports] == ["NotifyEVChargingNeeds"]


async def test_ev_needs_without_transaction_are_rejected_and_the_balancer_may_take_them() -> None:
    env = Env(V201)
    answer = await env.call("NotifyEVChargingNeeds", NEEDS)
    assert answer["status"] == "Rejected" and answer["statusInfo"]["reasonCode"] == "NoTransaction"
    taken: list[EvChargingNeeds] = []

    async def balancer(needs: EvChargingNeeds) -> bool:
        taken.append(needs)
        return True

    env.svc.on_ev_needs = balancer
    env.store.transactions = [RunningTransaction("tx-2", 1, NOW)]
    assert await env.call("NotifyEVChargingNeeds", NEEDS) == {"status": "Accepted"}
    await _settled(env.svc)
    assert env.station.sent == [] and [n.transaction_id for n in taken] == ["tx-2"]


async def test_ev_schedule_is_kept_next_to_the_needs() -> None:
    env = Env(V201)
    payload = {
        "timeBase": "2026-12-01T12:00:00Z",
        "evseId": 1,
        "chargingSchedule": {
            "id": 1,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
        },
    }
    assert await env.call("NotifyEVChargingSchedule", payload) == {"status": "Accepted"}
    [(needs, ev)] = await env.svc.ev_needs_of("CP")
    assert needs is None and ev is not None and ev.time_base == NOW
    assert ev.schedule.periods == (SchedulePeriod(0, 16.0),)
    # Above the EVSE's limits (a station maximum of 10 A): Rejected (K15.FR.11 / K17).
    cap = ChargingProfile(1, 0, Purpose.STATION_MAX, Kind.ABSOLUTE, (schedule(10.0),))
    await env.store.save_installed(InstalledProfile("CP", 0, cap))
    assert await env.call("NotifyEVChargingSchedule", payload) == {"status": "Rejected"}
    payload["chargingSchedule"]["chargingSchedulePeriod"] = [{"startPeriod": 0, "limit": 10}]
    assert await env.call("NotifyEVChargingSchedule", payload) == {"status": "Accepted"}


@pytest.mark.parametrize("version", [V201, V21])
async def test_external_limits_count_in_the_composite_until_cleared(version: OcppVersion) -> None:
    env = Env(version)
    heard: list[tuple[str, int | None]] = []

    async def balancer(station_id: str, evse_id: int | None) -> None:
        heard.append((station_id, evse_id))

    env.svc.on_external_limit = balancer
    limit = {
        "evseId": 1,
        "chargingLimit": {"chargingLimitSource": "EMS", "isGridCritical": True},
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "A",
                "startSchedule": "2026-12-01T12:00:00Z",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}],
            }
        ],
    }
    assert await env.call("NotifyChargingLimit", limit) == {}
    view = await env.svc.composite("CP", 1, 600, RateUnit.AMPS, ask_station=False)
    assert [p.limit for p in view.computed.periods] == [10.0]
    assert view.status == "not_asked" and view.reported is None
    [stored] = await env.svc.limits("CP")
    assert stored.is_grid_critical and stored.source == "EMS" and stored.cleared_at is None
    assert await env.call("ClearedChargingLimit", {"chargingLimitSource": "EMS", "evseId": 1}) == {}
    view = await env.svc.composite("CP", 1, 600, RateUnit.AMPS, ask_station=False)
    assert [p.limit for p in view.computed.periods] in ([None], [])
    assert heard == [("CP", 1), ("CP", 1)]
    assert [r.action for r in env.reports] == ["NotifyChargingLimit", "ClearedChargingLimit"]


async def test_report_charging_profiles_replaces_the_stored_set() -> None:
    env = Env(V201)
    ours = ChargingProfile(50, 0, Purpose.TX_DEFAULT, Kind.ABSOLUTE, (schedule(20.0),))
    await env.store.save_installed(InstalledProfile("CP", 1, ours, ProfileSource.OPERATOR))
    gone = dataclasses.replace(ours, id=51, stack_level=1)
    await env.store.save_installed(InstalledProfile("CP", 1, gone, ProfileSource.OPERATOR))
    external = ChargingProfile(900, 0, Purpose.EXTERNAL, Kind.ABSOLUTE, (schedule(12.0),))
    parts = [
        {
            "requestId": 5,
            "chargingLimitSource": "CSO",
            "evseId": 1,
            "tbc": True,
            "chargingProfile": [sc201.profile_payload(ours, False)],
        },
        {
            "requestId": 5,
            "chargingLimitSource": "EMS",
            "evseId": 0,
            "chargingProfile": [sc201.profile_payload(external, False)],
        },
    ]
    for part in parts:
        assert await env.call("ReportChargingProfiles", part) == {}
    got = {i.profile.id: i for i in await env.svc.installed("CP")}
    assert set(got) == {50, 900}
    assert got[900].limit_source == "EMS" and got[900].profile == external
    assert got[50].confirmed_at == NOW


async def test_install_validates_with_the_profile_rules() -> None:
    env = Env(V201)
    tx = dataclasses.replace(PROFILES[2], transaction_id="not-running")
    with pytest.raises(ProfileInvalid) as caught:
        await env.svc.install("CP", 1, tx)
    assert any(v.path == "/transaction_id" for v in caught.value.violations)
    assert env.station.sent == []
    answer = await env.svc.install("CP", 0, PROFILES[0])
    assert answer.status == "accepted"
    assert [i.profile for i in await env.svc.installed("CP")] == [PROFILES[0]]
    answer = await env.svc.clear("CP", profile_id=1)
    assert answer.status == "accepted" and await env.svc.installed("CP") == []
    with pytest.raises(ProfileInvalid):
        await env.svc.clear("CP", purpose=Purpose.EXTERNAL)


async def test_remote_start_profile_is_encoded_per_version() -> None:
    start = ChargingProfile(8, 0, Purpose.TX, Kind.RELATIVE, (schedule(16.0, relative=True),))
    for version in (V16, V201, V21):
        env = Env(version)
        payload = await env.svc.remote_start_payload("CP", 1, start)
        assert payload is not None
        if version is V16:
            valid(version, "RemoteStartTransaction", {"idTag": "T", "chargingProfile": payload})
        else:
            request = {
                "idToken": {"idToken": "T", "type": "Central"},
                "remoteStartId": 1,
                "chargingProfile": payload,
            }
            valid(version, "RequestStartTransaction", request)
    env = Env(V201)
    with pytest.raises(ProfileInvalid):
        await env.svc.remote_start_payload("CP", 1, dataclasses.replace(start, transaction_id="x"))


async def _settled(svc: ChargingProfileService) -> None:
    """Wait for the profile sends the service started after an answer."""
    tasks = list(svc._tasks)
    for task in tasks:
        await task
