"""The balancer service (services/balancer.py) over fakes: it hears sessions, meter
values and connections from the outbox, sends profiles decreases first, never lets
the confirmed limits exceed the site's, counts unconfirmed EVSEs at their maximum,
retries, rate-limits increases, records decisions and raises site.at_limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from site_fakes import FakeInstaller, FakeOutbox, FakeSites

from ampyre.config import ConfigError, Settings, load_settings
from ampyre.domain.charging_profiles import Kind, ProfileSource, Purpose
from ampyre.domain.ev_needs import EvChargingNeeds
from ampyre.domain.events import EventType
from ampyre.domain.sites import BaseLoad, BaseLoadMode, GridLimit, GridUnit, Member, Site
from ampyre.services.balancer import Balancer
from ampyre.services.balancer_parts import PROFILE_ID_BASE
from ampyre.services.events import EventBus
from ampyre.services.sites_port import ActiveSession

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make(
    limit: float = 32.0, stations: int = 2, **settings: float
) -> tuple[Balancer, FakeSites, FakeOutbox, FakeInstaller, Clock]:
    store, outbox, installer, clock = FakeSites(), FakeOutbox(), FakeInstaller(), Clock()
    members = tuple(Member(f"CS{i}", 1, max_a=32.0) for i in range(1, stations + 1))
    store.sites[1] = Site(1, "home", GridLimit(GridUnit.AMPS, limit), members=members)
    store.connected = {m.station_id for m in members}
    values = {
        "balancer_tick": 60.0,
        "balancer_min_interval": 0.0,
        "balancer_settle": 0.0,
        "balancer_retry": 30.0,
    }
    values.update(settings)
    b = Balancer(store, outbox, EventBus(), installer, Settings(**values), clock=clock)
    return b, store, outbox, installer, clock


async def settle(b: Balancer, rounds: int = 6) -> None:
    for _ in range(rounds):
        await b.step(wait=True)


def start(outbox: FakeOutbox, sid: str, tx: str) -> None:
    outbox.add(EventType.TRANSACTION_STARTED, sid, transaction_id=tx, evse_id=1, id_token="TAG")


def never_above(installer: FakeInstaller, limit: float) -> None:
    for state in installer.history:
        assert sum(state.values()) <= limit + 1e-9, state


async def test_a_new_car_gets_room_made_for_it_decreases_first() -> None:
    b, store, outbox, installer, _ = make()
    await b.step(wait=True)  # builds the picture at the outbox head
    start(outbox, "CS1", "T1")
    await settle(b)
    assert installer.limits == {("CS1", 1): 32.0}
    first = installer.sent[0]
    assert first.source is ProfileSource.BALANCER
    assert first.profile.purpose is Purpose.TX and first.profile.transaction_id == "T1"
    assert first.profile.kind is Kind.RELATIVE and first.profile.id == PROFILE_ID_BASE + 1

    start(outbox, "CS2", "T2")
    await settle(b)
    assert installer.limits == {("CS1", 1): 16.0, ("CS2", 1): 16.0}
    never_above(installer, 32.0)  # CS2 waited at 0 A until CS1 came down
    status = b.status(1)
    assert status is not None
    assert [e.allocated_a for e in status.evses] == [16.0, 16.0]
    assert store.records and store.records[-1].evses[0]["reason"].startswith("16.0 A: fair share")
    assert [e.type for e in store.events] == [EventType.SITE_AT_LIMIT]

    outbox.add(EventType.TRANSACTION_ENDED, "CS2", transaction_id="T2", evse_id=1)
    await settle(b)
    assert installer.limits[("CS1", 1)] == 32.0
    assert [e.type for e in store.events] == [EventType.SITE_AT_LIMIT, EventType.SITE_BELOW_LIMIT]


async def test_unused_capacity_goes_to_the_other_car() -> None:
    b, _, outbox, installer, _ = make(limit=40.0)
    await b.step(wait=True)
    start(outbox, "CS1", "T1")
    start(outbox, "CS2", "T2")
    await settle(b)
    assert installer.limits == {("CS1", 1): 20.0, ("CS2", 1): 20.0}
    # CS1's car takes 5 A only (2.x meter values per phase): CS2 gets the rest.
    outbox.add(
        EventType.TRANSACTION_UPDATED,
        "CS1",
        transaction_id="T1",
        current_a={"L1": 5.0, "L2": 5.0, "L3": 5.1},
    )
    await settle(b)
    assert installer.limits == {("CS1", 1): 7.1, ("CS2", 1): 32.0}
    never_above(installer, 40.0)


async def test_disconnected_station_counts_at_its_maximum() -> None:
    b, _, outbox, installer, _ = make(limit=40.0)
    await b.step(wait=True)
    start(outbox, "CS1", "T1")
    start(outbox, "CS2", "T2")
    await settle(b)
    outbox.add(EventType.STATION_DISCONNECTED, "CS2")
    await settle(b)
    # CS2 is counted at 32 A: CS1 may only have 8 A.
    assert installer.limits[("CS1", 1)] == 8.0
    status = b.status(1)
    assert status is not None
    lost = next(e for e in status.evses if e.station_id == "CS2")
    assert lost.state.value == "failsafe" and "disconnected" in lost.reason
    # Back: its profile is sent again; once confirmed both share.
    outbox.add(EventType.STATION_CONNECTED, "CS2")
    await settle(b)
    assert installer.limits == {("CS1", 1): 20.0, ("CS2", 1): 20.0}


async def test_a_refused_profile_counts_at_maximum_and_is_retried() -> None:
    b, _, outbox, installer, clock = make(limit=40.0, balancer_retry=30.0)
    installer.answers["CS2"] = "rejected"
    await b.step(wait=True)
    start(outbox, "CS1", "T1")
    start(outbox, "CS2", "T2")
    await settle(b)
    assert installer.limits == {("CS1", 1): 8.0}
    status = b.status(1)
    assert status is not None
    refused = next(e for e in status.evses if e.station_id == "CS2")
    assert refused.state.value == "failsafe" and "not accepted (rejected)" in refused.reason
    tries = sum(1 for s in installer.sent if s.station_id == "CS2")
    await settle(b)
    assert sum(1 for s in installer.sent if s.station_id == "CS2") == tries  # not flooded
    installer.answers["CS2"] = "accepted"
    clock.advance(31)
    b.rebalance(1)  # the loop's timer would; this clock is not the loop's
    await settle(b)
    assert installer.limits == {("CS1", 1): 20.0, ("CS2", 1): 20.0}
    never_above(installer, 40.0)


async def test_increases_are_rate_limited_and_unchanged_limits_not_resent() -> None:
    b, _, outbox, installer, clock = make(limit=40.0, balancer_min_interval=10.0)
    await b.step(wait=True)
    start(outbox, "CS1", "T1")
    await settle(b)
    start(outbox, "CS2", "T2")  # its first profile: 8 A beside CS1's 32 A, then raised
    await settle(b)
    assert installer.limits == {("CS1", 1): 20.0, ("CS2", 1): 20.0}
    sent = len(installer.sent)
    await settle(b)
    assert len(installer.sent) == sent  # nothing changed, nothing sent
    outbox.add(EventType.TRANSACTION_ENDED, "CS1", transaction_id="T1", evse_id=1)
    await settle(b)
    assert installer.limits[("CS2", 1)] == 20.0  # raised less than 10 s ago
    clock.advance(11)
    b.rebalance(1)
    await settle(b)
    assert installer.limits[("CS2", 1)] == 32.0


async def test_sessions_running_when_it_starts_are_picked_up() -> None:
    b, store, _, installer, _ = make()
    store.sessions = [
        ActiveSession("CS1", 1, "T1", "TAG", T0),
        ActiveSession("CS2", 1, "T2", None, T0),
    ]
    await settle(b)
    assert installer.limits == {("CS1", 1): 16.0, ("CS2", 1): 16.0}
    never_above(installer, 32.0)


async def test_base_load_pushed_and_fixed() -> None:
    b, store, outbox, installer, clock = make(limit=40.0)
    site = store.sites[1]
    site.base_load = BaseLoad(BaseLoadMode.MEASURED, fixed_a=4.0)
    await b.step(wait=True)
    start(outbox, "CS1", "T1")
    start(outbox, "CS2", "T2")
    await settle(b)
    assert installer.limits == {("CS1", 1): 18.0, ("CS2", 1): 18.0}  # fixed fallback
    b.base_load_pushed(1, (10.0, 10.0, 20.0))
    await settle(b)
    assert installer.limits == {("CS1", 1): 10.0, ("CS2", 1): 10.0}
    clock.advance(400)  # the push is stale: back to the fixed value
    await settle(b)
    assert installer.limits == {("CS1", 1): 18.0, ("CS2", 1): 18.0}


async def test_ev_needs_are_taken_by_the_balancer() -> None:
    b, _, outbox, installer, clock = make(limit=40.0)
    await b.step(wait=True)
    start(outbox, "CS1", "T1")
    start(outbox, "CS2", "T2")
    await settle(b)
    needs = EvChargingNeeds(
        "CS2",
        1,
        "AC_three_phase",
        clock.now,
        departure_time=clock.now + timedelta(hours=1),
        energy_amount_wh=20_700.0,  # 30 A on 3 phases for an hour
        ev_max_current=32.0,
    )
    assert await b.ev_needs(needs) is True
    assert await b.ev_needs(EvChargingNeeds("OTHER", 1, "DC", clock.now)) is False
    await settle(b)
    assert installer.limits == {("CS1", 1): 10.0, ("CS2", 1): 30.0}
    status = b.status(1)
    assert status is not None and "needs 30.0 A" in status.evses[1].reason


async def test_not_leading_forgets_and_rebuilds() -> None:
    b, store, _, installer, _ = make()
    leading = [True]
    b._leads = lambda: leading[0]
    store.sessions = [ActiveSession("CS1", 1, "T1", None, T0)]
    await settle(b)
    assert installer.limits == {("CS1", 1): 32.0}
    b._forget()
    assert b.position is None and b.status(1) is None
    await settle(b)
    assert installer.limits == {("CS1", 1): 32.0}  # sent again: what it has is unknown


@pytest.mark.parametrize("rotation", ["L1L2L3", "L2L3L1"])
async def test_single_phase_car_seen_from_meter_values(rotation: str) -> None:
    b, store, outbox, installer, _ = make(limit=32.0)
    site = store.sites[1]
    site.members = tuple(
        Member(m.station_id, 1, phase_rotation=rotation, max_a=32.0) for m in site.members
    )
    await b.step(wait=True)
    start(outbox, "CS1", "T1")
    start(outbox, "CS2", "T2")
    await settle(b)
    outbox.add(EventType.TRANSACTION_UPDATED, "CS1", transaction_id="T1", current_a={"L1": 15.9})
    await settle(b)
    status = b.status(1)
    assert status is not None
    assert status.evses[0].phases == (rotation[:2],)
    # Both still share the first phase: 16 A each.
    assert installer.limits == {("CS1", 1): 16.0, ("CS2", 1): 16.0}


async def test_a_refused_change_keeps_the_limit_it_had() -> None:
    """A station that refuses a new limit keeps its previous profile (a rejected
    SetChargingProfile changes nothing): it counts at that limit, not at its maximum."""
    b, _, outbox, installer, _ = make(limit=40.0)
    await b.step(wait=True)
    start(outbox, "CS1", "T1")
    await settle(b)
    assert installer.limits == {("CS1", 1): 32.0}
    installer.answers["CS1"] = "rejected"
    start(outbox, "CS2", "T2")
    await settle(b)
    # CS1 refused 20 A: it keeps 32 A, so CS2 gets the 8 A beside it.
    assert installer.limits == {("CS1", 1): 32.0, ("CS2", 1): 8.0}
    status = b.status(1)
    assert status is not None
    kept = next(e for e in status.evses if e.station_id == "CS1")
    assert kept.state.value == "failsafe" and "counted at the 32.0 A it keeps" in kept.reason
    never_above(installer, 40.0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AMPYRE_BALANCER_TICK", "0"),
        ("AMPYRE_BALANCER_MIN_INTERVAL", "-1"),
        ("AMPYRE_BALANCER_STACK_LEVEL", "-1"),
        ("AMPYRE_SITE_HISTORY_DAYS", "0"),
    ],
)
def test_balancer_settings_are_checked(name: str, value: str) -> None:
    assert load_settings(environ={"AMPYRE_BALANCER_TICK": "2"}).balancer_tick == 2.0
    with pytest.raises(ConfigError, match=name):
        load_settings(environ={name: value})
