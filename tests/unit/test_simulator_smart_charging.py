"""A simulated station honours charging profiles (simulator/smart_charging.py): its
answers (checked against the official schemas), its EVs' power under the composite
limit, and a whole station against a fake CSMS lowering its metered power."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from ampyre.domain.charging_profiles import RateUnit
from ampyre.domain.models import OcppVersion
from ampyre.protocol.schemas import Schemas
from ampyre.simulator import messages as m
from ampyre.simulator import run_simulation
from ampyre.simulator import txmessages as tx
from ampyre.simulator.power import Charge, EvModel, power_at
from ampyre.simulator.runner import parse_currents
from ampyre.simulator.session import SessionConfig, new_ev
from ampyre.simulator.smart_charging import SmartCharging, ev_charging_needs
from ampyre.simulator.station import SimulatedStation

V2X = ["ocpp2.0.1", "ocpp2.1"]


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    return Schemas()


def _check(schemas: Schemas, protocol: str, action: str, payload: Any, response: bool) -> None:
    violation = schemas[OcppVersion(protocol)].validate(action, payload, response=response)
    assert violation is None, f"{protocol} {action}: {violation} in {payload}"


@dataclass
class _Session:
    transaction_id: int | str | None
    charge: Charge
    ended: bool = False


class _Harness:
    """SmartCharging with sessions in a dict; every request and answer schema-checked."""

    def __init__(self, schemas: Schemas, protocol: str, max_current_a: float | None = 32.0):
        self.schemas = schemas
        self.protocol = protocol
        self.sessions: dict[int, _Session] = {}
        self.changed: list[int] = []
        self.reports: list[tuple[str, dict[str, Any]]] = []
        self.tx_start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        self.smart = SmartCharging(
            "CP",
            protocol,
            evse_ids=[1, 2],
            sessions=self.sessions,
            started_at=lambda _evse: self.tx_start,
            on_change=self.changed.append,
            report=self.reports.extend,
            max_current_a=max_current_a,
            max_power_w=22_000.0,
        )
        self.handlers = self.smart.handlers()

    def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        _check(self.schemas, self.protocol, action, payload, False)
        answer = self.handlers[action](payload)
        _check(self.schemas, self.protocol, action, answer, True)
        return answer

    def charging(self, evse: int, tid: int | str | None, phases: int = 3) -> Charge:
        charge = Charge(EvModel(ev_max_w=22_000.0, phases=phases), register_wh=1000.0)
        self.sessions[evse] = _Session(tid, charge)
        return charge


def _profile(protocol: str, pid: int, purpose: str, limit: float, **kw: Any) -> dict[str, Any]:
    period = {"startPeriod": 0, "limit": limit}
    schedule: dict[str, Any] = {"chargingRateUnit": kw.pop("unit", "A")}
    schedule["chargingSchedulePeriod"] = [period, *kw.pop("more", [])]
    kind = kw.pop("kind", "Absolute")
    if kind == "Absolute":
        schedule["startSchedule"] = "2025-01-01T00:00:00Z"
    if m.is_v16(protocol):
        if purpose == "ChargingStationMaxProfile":
            purpose = "ChargePointMaxProfile"
        return {
            "chargingProfileId": pid,
            "stackLevel": kw.pop("level", 0),
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind,
            "chargingSchedule": schedule,
            **kw,
        }
    schedule["id"] = 1
    return {
        "id": pid,
        "stackLevel": kw.pop("level", 0),
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": [schedule],
        **kw,
    }


def _set(h: _Harness, evse: int, profile: dict[str, Any]) -> str:
    if m.is_v16(h.protocol):
        payload = {"connectorId": evse, "csChargingProfiles": profile}
    else:
        payload = {"evseId": evse, "chargingProfile": profile}
    return str(h.call("SetChargingProfile", payload)["status"])


def _composite(h: _Harness, evse: int, duration: int = 600, unit: str = "A") -> dict[str, Any]:
    key = "connectorId" if m.is_v16(h.protocol) else "evseId"
    answer = h.call(
        "GetCompositeSchedule", {key: evse, "duration": duration, "chargingRateUnit": unit}
    )
    assert answer["status"] == "Accepted"
    return dict(answer["chargingSchedule" if m.is_v16(h.protocol) else "schedule"])


@pytest.mark.parametrize("protocol", m.PROTOCOLS)
def test_profiles_set_clear_and_composite(schemas: Schemas, protocol: str) -> None:
    h = _Harness(schemas, protocol)
    v16 = m.is_v16(protocol)
    tid: int | str = 7 if v16 else "tx-7"
    charge = h.charging(1, tid)
    # Nothing installed: the composite is the station's own maximum.
    assert _composite(h, 1)["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 32.0}]
    # A station maximum and a TxProfile for the running transaction.
    assert _set(h, 0, _profile(protocol, 1, "ChargingStationMaxProfile", 20.0)) == "Accepted"
    assert h.changed == [0]
    tx_profile = _profile(protocol, 2, "TxProfile", 10.0, transactionId=tid, kind="Relative")
    assert _set(h, 1, tx_profile) == "Accepted"
    periods = _composite(h, 1)["chargingSchedulePeriod"]
    assert periods == [{"startPeriod": 0, "limit": 10.0}]
    watts = _composite(h, 1, unit="W")
    assert watts["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 6900.0}]
    cap = h.smart.cap(1, charge)
    assert cap.watts == pytest.approx(10 * 230 * 3)
    # EVSE 2 has no transaction: the station maximum applies.
    assert _composite(h, 2)["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 20.0}]
    # A TxProfile for no running transaction is Rejected (1.6 5.16, 2.0.1 K01.FR.09).
    other = _profile(protocol, 3, "TxProfile", 6.0, transactionId=8 if v16 else "tx-8")
    assert _set(h, 2, other) == "Rejected"
    assert _set(h, 1, other) == "Rejected"
    # A station maximum on an EVSE: Rejected.
    assert _set(h, 1, _profile(protocol, 4, "ChargingStationMaxProfile", 6.0)) == "Rejected"
    # Clear the TxProfile by id: back to the station maximum; again: Unknown.
    clear = {"id": 2} if v16 else {"chargingProfileId": 2}
    assert h.call("ClearChargingProfile", clear)["status"] == "Accepted"
    assert h.call("ClearChargingProfile", clear)["status"] == "Unknown"
    assert _composite(h, 1)["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 20.0}]
    # Clear by purpose.
    by_purpose = (
        {"chargingProfilePurpose": "ChargePointMaxProfile"}
        if v16
        else {"chargingProfileCriteria": {"chargingProfilePurpose": "ChargingStationMaxProfile"}}
    )
    assert h.call("ClearChargingProfile", by_purpose)["status"] == "Accepted"
    assert h.smart.installed == []
    assert h.smart.cap(1, charge).watts is None


def test_16_same_stack_level_and_purpose_replaces(schemas: Schemas) -> None:
    h = _Harness(schemas, "ocpp1.6")
    assert _set(h, 1, _profile("ocpp1.6", 1, "TxDefaultProfile", 16.0, level=2)) == "Accepted"
    assert _set(h, 1, _profile("ocpp1.6", 2, "TxDefaultProfile", 8.0, level=2)) == "Accepted"
    assert [ip.profile.id for ip in h.smart.installed] == [2]


@pytest.mark.parametrize("protocol", V2X)
def test_2x_stack_clash_is_rejected_and_profiles_are_reported(
    schemas: Schemas, protocol: str
) -> None:
    h = _Harness(schemas, protocol)
    assert _set(h, 1, _profile(protocol, 1, "TxDefaultProfile", 16.0, level=2)) == "Accepted"
    assert _set(h, 1, _profile(protocol, 2, "TxDefaultProfile", 8.0, level=2)) == "Rejected"
    assert _set(h, 0, _profile(protocol, 3, "TxDefaultProfile", 12.0, level=1)) == "Accepted"
    assert _set(h, 1, _profile(protocol, 1, "TxDefaultProfile", 6.0, level=2)) == "Accepted"
    assert h.call("GetChargingProfiles", {"requestId": 5, "chargingProfile": {}}) == {
        "status": "Accepted"
    }
    assert [a for a, _ in h.reports] == ["ReportChargingProfiles", "ReportChargingProfiles"]
    for action, payload in h.reports:
        _check(schemas, protocol, action, payload, False)
    first, last = h.reports[0][1], h.reports[1][1]
    assert (first["evseId"], first["tbc"], last["evseId"], "tbc" in last) == (0, True, 1, False)
    assert last["chargingProfile"][0]["chargingSchedule"][0]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 6.0}
    ]
    none = h.call("GetChargingProfiles", {"requestId": 6, "chargingProfile": {"stackLevel": 9}})
    assert none == {"status": "NoProfiles"}


@pytest.mark.parametrize("protocol", m.PROTOCOLS)
def test_remote_start_profile_and_transaction_end(schemas: Schemas, protocol: str) -> None:
    h = _Harness(schemas, protocol)
    profile = _profile(protocol, 9, "TxProfile", 8.0, kind="Relative")
    assert h.smart.remote_start_profile(1, profile)
    charge = h.charging(1, None if m.is_v16(protocol) else "tx-1")
    assert h.smart.cap(1, charge).watts == pytest.approx(8 * 230 * 3)
    h.smart.transaction_ended(1)
    assert h.smart.installed == []
    assert not h.smart.remote_start_profile(1, _profile(protocol, 9, "TxDefaultProfile", 8.0))
    assert not h.smart.remote_start_profile(1, {"nonsense": True})


def test_cap_single_phase_below_minimum_and_schedule_changes(schemas: Schemas) -> None:
    h = _Harness(schemas, "ocpp2.0.1")
    charge = h.charging(1, "tx-1", phases=1)
    later = [{"startPeriod": 60, "limit": 4.0}]
    assert (
        _set(
            h,
            1,
            _profile(
                "ocpp2.0.1", 1, "TxProfile", 16.0, transactionId="tx-1", kind="Relative", more=later
            ),
        )
        == "Accepted"
    )
    at = h.tx_start
    first = h.smart.cap(1, charge, at=at)
    assert first.watts == pytest.approx(16 * 230) and first.seconds == 60
    # 4 A is below what an AC car can charge with: it pauses.
    assert h.smart.cap(1, charge, at=at + timedelta(seconds=61)).watts == 0.0
    composite = h.smart.composite(1, 120, RateUnit.AMPS, phases=1, at=at)
    assert [(p.start, p.limit) for p in composite.periods] == [(0, 16.0), (60, 4.0)]


def test_power_follows_the_cap_and_single_phase_reports_l1(schemas: Schemas) -> None:
    ev = EvModel(station_max_w=22_000, ev_max_w=11_000, ramp_seconds=0)
    assert power_at(ev, 50, 60) == 11_000
    ev.cap_w = 2_300.0
    assert power_at(ev, 50, 60) == 2_300
    one = Charge(EvModel(ev_max_w=7_400, phases=1, ramp_seconds=0), register_wh=10.0)
    one.advance(10)
    sample = one.sample()
    values = tx.sampled_values("ocpp2.0.1", sample, tx.PERIODIC)
    currents = [v for v in values if v["measurand"] == "Current.Import"]
    assert [c.get("phase") for c in currents] == ["L1"]
    assert currents[0]["value"] == pytest.approx(7_400 / 230, abs=0.1)


def test_session_options() -> None:
    cfg = SessionConfig(single_phase_share=1.0, max_currents_a=(10.0,))
    ev = new_ev(cfg, Random(1), max_current_a=10.0)
    assert ev.phases == 1 and ev.station_max_w == pytest.approx(2_300)
    three = new_ev(SessionConfig(), Random(1), max_current_a=16.0)
    assert three.phases == 3 and three.station_max_w == pytest.approx(16 * 230 * 3)
    with pytest.raises(ValueError):
        SessionConfig(single_phase_share=1.5)
    with pytest.raises(ValueError):
        SessionConfig(max_currents_a=(0.0,))
    assert parse_currents("16,32") == (16.0, 32.0)


@pytest.mark.parametrize("protocol", V2X)
def test_ev_charging_needs_match_the_schema(schemas: Schemas, protocol: str) -> None:
    charge = Charge(EvModel(ev_max_w=11_000, phases=3, start_soc=40), register_wh=1.0)
    payload = ev_charging_needs(2, charge, datetime(2026, 1, 1, tzinfo=UTC), 16.0)
    _check(schemas, protocol, "NotifyEVChargingNeeds", payload, False)
    ac = payload["chargingNeeds"]["acChargingParameters"]
    assert ac["energyAmount"] == 36_000 and ac["evMaxCurrent"] == 15
    dc = Charge(EvModel(station_max_w=50_000, ev_max_w=50_000, phases=0), register_wh=1.0)
    _check(
        schemas,
        protocol,
        "NotifyEVChargingNeeds",
        ev_charging_needs(1, dc, datetime.now(UTC), None),
        False,
    )


# ---- a whole station against a fake CSMS ------------------------------------------------


class _Csms:
    """Answers the station validly (1.6 transaction ids), keeps what arrived."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.replies: dict[str, Any] = {}
        self.ws: ServerConnection | None = None
        self.next_tx = 500

    def answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        now = m.now_iso()
        if action == "BootNotification":
            return {"currentTime": now, "interval": 60, "status": "Accepted"}
        if action == "Heartbeat":
            return {"currentTime": now}
        if action == "StartTransaction":
            self.next_tx += 1
            return {"transactionId": self.next_tx, "idTagInfo": {"status": "Accepted"}}
        if action == "Authorize":
            return {"idTagInfo": {"status": "Accepted"}}
        return {}

    async def handler(self, ws: ServerConnection) -> None:
        self.ws = ws
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg[0] != m.CALL:
                self.replies[str(msg[1])] = msg[2] if msg[0] == m.CALLRESULT else msg
                continue
            self.received.append((msg[2], msg[3]))
            await ws.send(orjson.dumps([3, msg[1], self.answer(msg[2], msg[3])]).decode())

    async def call(self, uid: str, action: str, payload: dict[str, Any]) -> Any:
        assert self.ws is not None
        await self.ws.send(orjson.dumps([2, uid, action, payload]).decode())
        for _ in range(300):
            if uid in self.replies:
                return self.replies[uid]
            await asyncio.sleep(0.01)
        raise AssertionError(f"no answer to {action}")

    def powers(self) -> list[float]:
        """Power.Active.Import of every periodic meter value so far, in order."""
        out = []
        for action, payload in self.received:
            if action not in ("MeterValues", "TransactionEvent"):
                continue
            for mv in payload.get("meterValue", []):
                for v in mv["sampledValue"]:
                    if v.get("measurand") == "Power.Active.Import" and v.get("context") in (
                        tx.PERIODIC,
                    ):
                        out.append(float(v["value"]))
        return out


@pytest.fixture
async def csms() -> AsyncIterator[tuple[_Csms, str]]:
    fake = _Csms()
    protocols = [Subprotocol(p) for p in m.PROTOCOLS]
    async with serve(fake.handler, "127.0.0.1", 0, subprotocols=protocols) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield fake, f"ws://127.0.0.1:{port}/ocpp"


async def _until(predicate: Any, what: str) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_station_lowers_its_metered_power_under_a_profile(
    csms: tuple[_Csms, str], protocol: str
) -> None:
    fake, url = csms
    cfg = SessionConfig(
        meter_interval=0.1, session_duration=120, local_sessions=False, max_currents_a=(32.0,)
    )
    stations: list[SimulatedStation] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_simulation(
            url, 1, protocol, prefix="SC", sessions=cfg, seed=3, stations_out=stations, stop=stop
        )
    )
    try:
        await _until(lambda: any(a == "StatusNotification" for a, _ in fake.received), "boot")
        sim = stations[0]
        if m.is_v16(protocol):
            start = {"connectorId": 1, "idTag": "TAG1"}
            assert (await fake.call("r1", "RemoteStartTransaction", start))["status"] == "Accepted"
        else:
            start = {
                "idToken": {"idToken": "TAG1", "type": "Central"},
                "remoteStartId": 1,
                "evseId": 1,
            }
            assert (await fake.call("r1", "RequestStartTransaction", start))["status"] == "Accepted"
        await _until(lambda: 1 in sim.active and sim.active[1].transaction_id is not None, "start")
        session = sim.active[1]
        model = session.charge.model
        model.ramp_seconds = 0.0
        unlimited = model.plateau_w
        await _until(lambda: len(fake.powers()) >= 3 and fake.powers()[-1] > 0, "meter values")
        assert fake.powers()[-1] == pytest.approx(unlimited, rel=0.05)
        # The CSMS limits the transaction to 8 A per phase.
        tid = session.transaction_id
        profile = _profile(protocol, 1, "TxProfile", 8.0, transactionId=tid, kind="Relative")
        key, body = (
            ("connectorId", "csChargingProfiles")
            if m.is_v16(protocol)
            else ("evseId", "chargingProfile")
        )
        answer = await fake.call("p1", "SetChargingProfile", {key: 1, body: profile})
        assert answer["status"] == "Accepted"
        limited = 8 * 230 * model.phases
        seen = len(fake.powers())
        await _until(lambda: len(fake.powers()) >= seen + 3, "limited meter values")
        assert fake.powers()[-1] == pytest.approx(limited, rel=0.02)
        assert session.charge.power_w <= limited + 1
        # GetCompositeSchedule reports the limit.
        key_c = "connectorId" if m.is_v16(protocol) else "evseId"
        comp = await fake.call("c1", "GetCompositeSchedule", {key_c: 1, "duration": 60})
        sched = comp["chargingSchedule" if m.is_v16(protocol) else "schedule"]
        assert sched["chargingSchedulePeriod"][0]["limit"] == 8.0
    finally:
        stop.set()
        await task


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_remote_start_with_a_profile_charges_within_it(
    csms: tuple[_Csms, str], protocol: str
) -> None:
    fake, url = csms
    v16 = m.is_v16(protocol)
    cfg = SessionConfig(
        meter_interval=0.1, session_duration=120, local_sessions=False, ev_charging_needs=True
    )
    stations: list[SimulatedStation] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_simulation(
            url, 1, protocol, prefix="RS", sessions=cfg, seed=5, stations_out=stations, stop=stop
        )
    )
    try:
        await _until(lambda: any(a == "StatusNotification" for a, _ in fake.received), "boot")
        sim = stations[0]
        profile = _profile(protocol, 4, "TxProfile", 10.0, kind="Relative")
        bad = _profile(protocol, 5, "TxDefaultProfile", 10.0, kind="Relative")
        if v16:
            start: dict[str, Any] = {"connectorId": 2, "idTag": "TAG1"}
            action = "RemoteStartTransaction"
        else:
            start = {"idToken": {"idToken": "TAG1", "type": "Central"}, "remoteStartId": 3}
            start["evseId"] = 2
            action = "RequestStartTransaction"
        refused = await fake.call("r0", action, {**start, "chargingProfile": bad})
        assert refused["status"] == "Rejected"
        answer = await fake.call("r1", action, {**start, "chargingProfile": profile})
        assert answer["status"] == "Accepted"
        await _until(lambda: len(fake.powers()) >= 4, "meter values")
        session = sim.active[2]
        limit = 10 * 230 * session.charge.model.phases
        assert 0 < max(fake.powers()) <= limit + 1
        needs = [p for a, p in fake.received if a == "NotifyEVChargingNeeds"]
        if v16:
            assert needs == []
        else:
            assert needs and needs[0]["evseId"] == 2
            assert "departureTime" in needs[0]["chargingNeeds"]
        # The transaction's profile goes with it.
        tid = session.transaction_id
        stop_action = "RemoteStopTransaction" if v16 else "RequestStopTransaction"
        await fake.call("s1", stop_action, {"transactionId": tid})
        await _until(lambda: 2 not in sim.active, "stop")
        assert sim.smart.installed == []
    finally:
        stop.set()
        await task


def test_16_tx_profile_before_the_station_knows_its_transaction_id(schemas: Schemas) -> None:
    # The CSMS may send it right after answering StartTransaction, before the station
    # has read the id: accepted, and it applies once the id is known.
    h = _Harness(schemas, "ocpp1.6")
    charge = h.charging(1, None)
    profile = _profile("ocpp1.6", 1, "TxProfile", 10.0, transactionId=77, kind="Relative")
    assert _set(h, 1, profile) == "Accepted"
    assert h.smart.cap(1, charge).watts is None
    h.sessions[1].transaction_id = 77
    assert h.smart.cap(1, charge).watts == pytest.approx(10 * 230 * 3)
