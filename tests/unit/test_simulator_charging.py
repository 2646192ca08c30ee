"""Simulator charging sessions: power curve, message shapes (official schemas), the
offline outbox, and whole sessions against a schema-checking fake CSMS."""

from __future__ import annotations

import argparse
import asyncio
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.typing import Subprotocol

from ampyre.domain.models import OcppVersion
from ampyre.protocol.schemas import Schemas
from ampyre.simulator import messages as m
from ampyre.simulator import run_simulation
from ampyre.simulator import txmessages as tx
from ampyre.simulator.loadgen import (
    BENCH_ID_TOKEN,
    LoadConfig,
    LoadGenerator,
    bench_id_token,
    run_load,
)
from ampyre.simulator.power import Charge, EvModel, power_at
from ampyre.simulator.runner import parse_id_tokens, parse_offline_window
from ampyre.simulator.session import Outbox, Queued, Session, SessionConfig, new_ev
from ampyre.simulator.station import SimulatedStation

PROTOCOLS = [Subprotocol(p) for p in m.PROTOCOLS]
TS = "2025-03-01T10:00:00.000Z"


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    return Schemas()


def check(
    schemas: Schemas, protocol: str, action: str, payload: Any, response: bool = False
) -> None:
    violation = schemas[OcppVersion(protocol)].validate(action, payload, response=response)
    assert violation is None, f"{protocol} {action}: {violation} in {payload}"


# ---- power curve ------------------------------------------------------------------------


def test_power_curve_ramp_plateau_taper() -> None:
    ev = EvModel(station_max_w=22_000, ev_max_w=11_000, ramp_seconds=10, taper_soc=80)
    assert power_at(ev, 50, 0) == 0
    assert power_at(ev, 50, 5) == pytest.approx(5_500)
    assert power_at(ev, 50, 60) == 11_000  # plateau: the smaller limit
    assert power_at(ev, 80, 60) == 11_000
    tapered = [power_at(ev, soc, 600) for soc in (85, 90, 95, 99)]
    assert tapered == sorted(tapered, reverse=True)
    assert tapered[0] < 11_000 and tapered[-1] >= 0.1 * 11_000 * 0.99
    assert power_at(ev, 100, 600) == 0
    station_limited = EvModel(station_max_w=7_400, ev_max_w=11_000)
    assert power_at(station_limited, 30, 600) == 7_400


def test_charge_integrates_energy_and_soc() -> None:
    ev = EvModel(station_max_w=11_000, ev_max_w=11_000, capacity_wh=50_000, start_soc=20)
    charge = Charge(ev, register_wh=1_234_567.0)
    readings = []
    for _ in range(120):  # one hour in 30 s steps
        charge.advance(30)
        readings.append(charge.sample())
    registers = [r.register_wh for r in readings]
    assert registers == sorted(registers) and registers[0] >= 1_234_567
    # ~11 kW for an hour minus the 10 s ramp, tapering only above 80 %.
    assert 10_500 < charge.energy_wh < 11_000
    assert charge.soc == pytest.approx(20 + charge.energy_wh / 50_000 * 100)
    sample = readings[-1]
    assert len(sample.currents_a) == 3 and len(sample.voltages_v) == 3
    assert sample.currents_a[0] == pytest.approx(sample.power_w / 3 / 230, abs=0.1)


def test_charge_stops_at_full_battery_and_dc_sample() -> None:
    ev = EvModel(
        station_max_w=150_000, ev_max_w=150_000, capacity_wh=40_000, start_soc=95, phases=0
    )
    charge = Charge(ev, register_wh=0.0)
    charge.advance(3_600)
    assert charge.soc == 100
    assert charge.energy_wh == pytest.approx(2_000, rel=0.01)
    sample = charge.sample()
    assert sample.power_w == 0 and len(sample.currents_a) == 1 and sample.voltages_v[0] > 400


@pytest.mark.parametrize(
    "kwargs",
    [
        {"station_max_w": 0},
        {"capacity_wh": -1},
        {"start_soc": 101},
        {"phases": 2},
        {"taper_soc": 0},
    ],
)
def test_bad_ev_model(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        EvModel(**kwargs)


def test_bad_session_config() -> None:
    with pytest.raises(ValueError, match="20 characters"):
        SessionConfig(id_tokens=("X" * 21,))
    with pytest.raises(ValueError):
        SessionConfig(meter_interval=0)
    with pytest.raises(ValueError):
        SessionConfig(duplicate_rate=1.5)
    with pytest.raises(ValueError):
        SessionConfig(id_tokens=())


def test_cli_parsers() -> None:
    assert parse_offline_window("30:20") == (30.0, 20.0)
    for bad in ("30", "a:b", "-1:5", "5:0"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_offline_window(bad)
    assert parse_id_tokens("a, b,,c") == ("a", "b", "c")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_id_tokens("ok," + "x" * 21)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_id_tokens(",")


# ---- messages against the official schemas ------------------------------------------------


def _session(protocol: str, phases: int = 3) -> Session:
    ev = EvModel(station_max_w=22_000 if phases else 50_000, phases=phases)
    session = Session(protocol, 1, "TAG1", Charge(ev, register_wh=5_000_000.0))
    if not m.is_v16(protocol):
        session.transaction_id = "tx-1"
    return session


@pytest.mark.parametrize("protocol", m.PROTOCOLS)
@pytest.mark.parametrize("phases", [3, 0])
def test_session_messages_match_schemas(schemas: Schemas, protocol: str, phases: int) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    s = _session(protocol, phases)
    sent.append(("Authorize", tx.authorize(protocol, "TAG1")))
    sent.append(s.start(TS, "CablePluggedIn", offline=False, authorized=False))
    if not m.is_v16(protocol):
        sent.append(s.authorized(TS, offline=True))
    else:
        s.transaction_id = 17
    s.charge.advance(60)
    sent.append(s.periodic(TS, offline=False))
    sent.append(s.periodic(TS, offline=True, full=False, trigger="Trigger"))
    if not m.is_v16(protocol):
        sent.append(s.suspended(TS, offline=False))
        sent.append(
            (
                "MeterValues",
                tx.meter_values_2x(1, tx.meter_value(protocol, TS, s.charge.sample(), tx.TRIGGER)),
            )
        )
    for reason in ("Local", "Remote", "DeAuthorized", "EVDisconnected"):
        sent.append(s.stop(TS, reason, offline=False, now=30.0))
    if not m.is_v16(protocol):
        sent.append(s.stop(TS, "SOCLimitReached", offline=True, now=30.0))
        remote = Session(protocol, 2, "R" * 36, s.charge, token_type="Central", remote_start_id=7)
        remote.transaction_id = "tx-2"
        sent.append(remote.start(TS, "RemoteStart", offline=False, authorized=True))
    for action, payload in sent:
        check(schemas, protocol, action, payload)
    if m.is_v16(protocol):
        start = sent[1][1]
        assert start["meterStart"] == 5_000_000
        stop = sent[-1][1]
        assert stop["transactionId"] == 17 and stop["meterStop"] >= start["meterStart"]
        contexts = [mv["sampledValue"][0]["context"] for mv in stop["transactionData"]]
        assert contexts == ["Transaction.Begin", "Transaction.End"]
    else:
        events = [
            p
            for a, p in sent
            if a == "TransactionEvent" and p["transactionInfo"]["transactionId"] == "tx-1"
        ]
        assert [e["seqNo"] for e in events] == list(range(len(events)))
        assert (
            events[0]["eventType"] == "Started" and events[0]["triggerReason"] == "CablePluggedIn"
        )
        assert events[1]["offline"] is True and events[1]["idToken"]["idToken"] == "TAG1"
        periodic = events[2]["meterValue"][0]["sampledValue"]
        measurands = {(v["measurand"], v.get("phase")) for v in periodic}
        assert ("Energy.Active.Import.Register", None) in measurands
        assert ("SoC", None) in measurands
        if phases:
            assert ("Current.Import", "L3") in measurands and ("Voltage", "L1-N") in measurands
        ended = [e for e in events if e["eventType"] == "Ended"]
        assert {e["transactionInfo"]["stoppedReason"] for e in ended} >= {"Local", "Remote"}


# ---- the outbox ----------------------------------------------------------------------------


def test_outbox_rewrites_transaction_id_after_offline_start() -> None:
    s = _session("ocpp1.6")
    other = _session("ocpp1.6")
    other.transaction_id = 99
    box = Outbox(limit=100)
    box.put(Queued(*s.start(TS, "", offline=True, authorized=True), session=s))
    box.put(Queued(*s.periodic(TS, offline=True), session=s))
    box.put(Queued(*other.periodic(TS, offline=True), session=other))
    box.put(Queued(*s.stop(TS, "Local", offline=True, now=10), session=s))
    assert "transactionId" not in box.items[1].payload
    assert box.items[3].payload["transactionId"] == -1
    box.pop()  # the StartTransaction was answered with transactionId 42
    assert box.assign_transaction_id(s, 42) == 2
    assert [q.payload["transactionId"] for q in box] == [42, 99, 42]
    assert s.transaction_id == 42
    assert box.pending_for(42) and box.pending_for(99) and not box.pending_for(7)


def test_outbox_bounded_keeps_starts_and_stops() -> None:
    s = _session("ocpp2.0.1")
    box = Outbox(limit=10)
    box.put(Queued(*s.start(TS, "Authorized", offline=True, authorized=True), session=s))
    for _ in range(9):
        box.put(Queued("MeterValues", {"n": 1}, session=s))
    box.put(Queued(*s.stop(TS, "Local", offline=True, now=1), session=s))
    assert len(box) == 10 and box.dropped == 1
    assert (
        box.items[0].action == "TransactionEvent" and box.items[-1].payload["eventType"] == "Ended"
    )
    box.put(Queued("StatusNotification", {}, transactional=False))
    assert box.drop_volatile() == 1 and all(q.transactional for q in box)


# ---- whole sessions against a fake CSMS -----------------------------------------------------


class TxCsms:
    """Answers every station message validly, issues 1.6 transaction ids, validates each
    payload against the official schemas and keeps what arrived in order."""

    def __init__(self, schemas: Schemas, protocol: str, accepted: set[str]) -> None:
        self.schemas = schemas
        self.protocol = protocol
        self.accepted = accepted
        self.received: dict[str, list[tuple[str, str, dict[str, Any], datetime]]] = defaultdict(
            list
        )
        self.answers: dict[str, dict[str, Any]] = {}
        self.replies: dict[str, list[Any]] = defaultdict(list)
        self.connections: dict[str, ServerConnection] = {}
        self.violations: list[str] = []
        self.next_tx = 1000

    def _status(self, token: str) -> dict[str, Any]:
        return {"status": "Accepted" if token in self.accepted else "Invalid"}

    def answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        now = m.now_iso()
        if action == "BootNotification":
            return {"currentTime": now, "interval": 60, "status": "Accepted"}
        if action == "Heartbeat":
            return {"currentTime": now}
        if action == "Authorize":
            if "idTag" in payload:
                return {"idTagInfo": self._status(payload["idTag"])}
            return {"idTokenInfo": self._status(payload["idToken"]["idToken"])}
        if action == "StartTransaction":
            self.next_tx += 1
            return {"transactionId": self.next_tx, "idTagInfo": self._status(payload["idTag"])}
        if action == "TransactionEvent" and "idToken" in payload:
            return {"idTokenInfo": self._status(payload["idToken"]["idToken"])}
        return {}

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        sid = ws.request.path.rsplit("/", 1)[-1]
        self.connections[sid] = ws
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg[0] != m.CALL:
                self.replies[sid].append(msg)
                continue
            _, uid, action, payload = msg
            violation = self.schemas[OcppVersion(self.protocol)].validate(action, payload, False)
            if violation is not None:
                self.violations.append(f"{action}: {violation}")
            self.received[sid].append((uid, action, payload, datetime.now(UTC)))
            key = f"{sid}/{uid}"
            if key not in self.answers:  # a resent unique id gets the same answer
                self.answers[key] = self.answer(action, payload)
            await ws.send(orjson.dumps([3, uid, self.answers[key]]).decode())

    def tx_messages(self, sid: str) -> list[tuple[str, dict[str, Any]]]:
        wanted = {"StartTransaction", "StopTransaction", "MeterValues", "TransactionEvent"}
        return [(a, p) for _, a, p, _ in self.received[sid] if a in wanted]


@pytest.fixture
async def tx_csms(
    schemas: Schemas, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[TxCsms, str]]:
    fake = TxCsms(schemas, request.param, {"GOOD1", "GOOD2"})
    server: Server
    async with serve(fake.handler, "127.0.0.1", 0, subprotocols=PROTOCOLS) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield fake, f"ws://127.0.0.1:{port}/ocpp"


def _when(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _register(payload: dict[str, Any]) -> list[float]:
    out = []
    for mv in payload.get("meterValue", []) + payload.get("transactionData", []):
        for v in mv["sampledValue"]:
            if v.get("measurand") == "Energy.Active.Import.Register":
                out.append(float(v["value"]))
    return out


FAST = SessionConfig(
    id_tokens=("GOOD1", "GOOD2"),
    meter_interval=0.2,
    session_duration=1.2,
    idle_time=0.1,
    max_power_kw=50,
)


@pytest.mark.parametrize("tx_csms", ["ocpp1.6"], indirect=True)
async def test_16_sessions_with_offline_replay(tx_csms: tuple[TxCsms, str]) -> None:
    fake, url = tx_csms
    stations: list[SimulatedStation] = []
    report = await run_simulation(
        url, 2, "ocpp1.6", prefix="S", duration=3.0, sessions=FAST,
        offline_windows=((0.8, 1.0),), seed=3, stations_out=stations,
    )  # fmt: skip
    assert not fake.violations, fake.violations
    assert report.offline_windows == 2 and report.replayed > 0
    assert report.sessions_completed >= 2 and report.tx_messages_discarded == 0
    for sid in ("S00001", "S00002"):
        msgs = fake.tx_messages(sid)
        starts: dict[int, tuple[int, int]] = {}  # transactionId -> connector, meterStart
        stopped: set[int] = set()
        for action, payload in msgs:
            if action == "StartTransaction":
                continue
            assert payload.get("transactionId", 0) > 0, (action, payload)
        # Every transaction id the CSMS issued is used by the messages that follow it,
        # including those queued before the station knew the id.
        issued = iter(range(1001, 10_000))
        tids: list[int] = []
        for uid, action, payload, _ in fake.received[sid]:
            if action == "StartTransaction":
                tid = fake.answers[f"{sid}/{uid}"]["transactionId"]
                starts[tid] = (payload["connectorId"], payload["meterStart"])
                tids.append(tid)
            elif action in ("MeterValues", "StopTransaction"):
                tid = payload["transactionId"]
                assert tid in starts, f"{action} for transaction {tid} before its start"
                if action == "StopTransaction":
                    assert tid not in stopped
                    stopped.add(tid)
                    assert payload["meterStop"] >= starts[tid][1]
                else:
                    assert payload["connectorId"] == starts[tid][0]
        assert stopped and next(issued) <= min(tids)
    # Messages created in the offline window keep their real, earlier timestamps.
    late = [
        (payload, arrived)
        for sid in fake.received
        for _, action, payload, arrived in fake.received[sid]
        if action == "MeterValues"
        and (arrived - _when(payload["meterValue"][0]["timestamp"])).total_seconds() > 0.5
    ]
    assert late, "no meter value was replayed after the offline window"
    # Registers only grow at each connector, across sessions.
    for st in stations:
        by_connector: dict[int, list[float]] = defaultdict(list)
        for action, payload in fake.tx_messages(st.station_id):
            if action == "StartTransaction":
                by_connector[payload["connectorId"]].append(payload["meterStart"])
        for values in by_connector.values():
            assert values == sorted(values)


@pytest.mark.parametrize("tx_csms", ["ocpp2.0.1", "ocpp2.1"], indirect=True)
async def test_2x_sessions_with_offline_replay(tx_csms: tuple[TxCsms, str]) -> None:
    fake, url = tx_csms
    protocol = fake.protocol
    report = await run_simulation(
        url, 2, protocol, prefix="T", duration=3.0, sessions=FAST,
        offline_windows=((0.8, 1.0),), seed=5,
    )  # fmt: skip
    assert not fake.violations, fake.violations
    assert report.replayed > 0 and report.sessions_completed >= 2
    offline_seen = False
    for sid in fake.received:
        by_tx: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for action, payload in fake.tx_messages(sid):
            assert action == "TransactionEvent"
            by_tx[payload["transactionInfo"]["transactionId"]].append(payload)
            offline_seen |= payload.get("offline", False)
        ended = 0
        for events in by_tx.values():
            assert [e["seqNo"] for e in events] == list(range(len(events)))
            assert events[0]["eventType"] == "Started"
            assert events[0]["triggerReason"] == "CablePluggedIn"
            registers = [r for e in events for r in _register(e)]
            assert registers == sorted(registers)
            if events[-1]["eventType"] == "Ended":
                ended += 1
                assert events[-1]["transactionInfo"]["stoppedReason"] == "Local"
        assert ended >= 1
    assert offline_seen


@pytest.mark.parametrize("tx_csms", ["ocpp1.6", "ocpp2.0.1"], indirect=True)
async def test_remote_start_and_stop(tx_csms: tuple[TxCsms, str], schemas: Schemas) -> None:
    fake, url = tx_csms
    protocol = fake.protocol
    cfg = SessionConfig(meter_interval=0.2, session_duration=60, local_sessions=False)
    task = asyncio.create_task(
        run_simulation(url, 1, protocol, prefix="R", duration=3.0, sessions=cfg, seed=1)
    )
    for _ in range(200):
        if any(a == "StatusNotification" for _, a, _, _ in fake.received["R00001"]):
            break
        await asyncio.sleep(0.02)
    ws = fake.connections["R00001"]

    async def call(uid: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        check(schemas, protocol, action, payload)
        await ws.send(orjson.dumps([2, uid, action, payload]).decode())
        for _ in range(200):
            for reply in fake.replies["R00001"]:
                if reply[1] == uid:
                    check(schemas, protocol, action, reply[2], response=True)
                    return dict(reply[2])
            await asyncio.sleep(0.01)
        raise AssertionError(f"no answer to {action}")

    if m.is_v16(protocol):
        assert await call("s1", "RemoteStartTransaction", {"connectorId": 2, "idTag": "GOOD1"}) == {
            "status": "Accepted"
        }
        assert (await call("s2", "RemoteStartTransaction", {"connectorId": 2, "idTag": "GOOD1"}))[
            "status"
        ] == "Rejected"
        await asyncio.sleep(0.8)
        start = next(
            (uid, p) for uid, a, p, _ in fake.received["R00001"] if a == "StartTransaction"
        )
        tid = fake.answers[f"R00001/{start[0]}"]["transactionId"]
        assert start[1]["connectorId"] == 2 and start[1]["idTag"] == "GOOD1"
        assert (await call("s3", "RemoteStopTransaction", {"transactionId": tid + 50}))[
            "status"
        ] == "Rejected"
        assert (await call("s4", "RemoteStopTransaction", {"transactionId": tid}))[
            "status"
        ] == "Accepted"
        trig = await call(
            "s5", "TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 1}
        )
        assert trig["status"] == "Accepted"
    else:
        token = {"idToken": "GOOD2", "type": "Central"}
        got = await call(
            "s1", "RequestStartTransaction", {"evseId": 1, "remoteStartId": 42, "idToken": token}
        )
        assert got == {"status": "Accepted"}
        await asyncio.sleep(0.8)
        events = [p for _, a, p, _ in fake.received["R00001"] if a == "TransactionEvent"]
        started = events[0]
        assert started["triggerReason"] == "RemoteStart"
        assert started["transactionInfo"]["remoteStartId"] == 42
        assert started["idToken"] == token and started["evse"]["id"] == 1
        tid = started["transactionInfo"]["transactionId"]
        status = await call("s2", "GetTransactionStatus", {"transactionId": tid})
        assert status["ongoingIndicator"] is True
        trig = await call(
            "s3", "TriggerMessage", {"requestedMessage": "TransactionEvent", "evse": {"id": 1}}
        )
        assert trig["status"] == "Accepted"
        assert (await call("s4", "RequestStopTransaction", {"transactionId": "nope"}))[
            "status"
        ] == "Rejected"
        assert (await call("s5", "RequestStopTransaction", {"transactionId": tid}))[
            "status"
        ] == "Accepted"
    await asyncio.sleep(0.5)
    report = await task
    assert not fake.violations, fake.violations
    assert report.remote_starts == 1 and report.remote_stops == 1
    assert report.sessions_completed == 1
    msgs = fake.tx_messages("R00001")
    if m.is_v16(protocol):
        stop = next(p for a, p in msgs if a == "StopTransaction")
        assert stop["reason"] == "Remote" and stop["transactionId"] == tid
        triggered = [
            p
            for a, p in msgs
            if a == "MeterValues" and p["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
        ]
        # Connector 1 is idle: its triggered reading goes out without a transaction.
        assert triggered and "transactionId" not in triggered[0]
    else:
        ended = [p for a, p in msgs if p["eventType"] == "Ended"]
        assert len(ended) == 1 and ended[0]["triggerReason"] == "RemoteStop"
        assert ended[0]["transactionInfo"]["stoppedReason"] == "Remote"
        assert any(p["triggerReason"] == "Trigger" for _, p in msgs)


@pytest.mark.parametrize("tx_csms", ["ocpp1.6"], indirect=True)
async def test_rejected_token_and_duplicates(tx_csms: tuple[TxCsms, str]) -> None:
    fake, url = tx_csms
    cfg = SessionConfig(
        id_tokens=("GOOD1", "BADTAG"), meter_interval=0.2, session_duration=0.6,
        idle_time=0.1, duplicate_rate=1.0,
    )  # fmt: skip
    report = await run_simulation(
        url, 3, "ocpp1.6", prefix="D", duration=2.5, sessions=cfg, seed=11
    )
    assert not fake.violations
    assert report.sessions_rejected > 0  # BADTAG: Authorize answered Invalid, no transaction
    assert report.duplicates_sent > 0 and report.duplicate_mismatches == 0
    for received in fake.received.values():
        uids = [uid for uid, a, _, _ in received if a in ("StartTransaction", "MeterValues")]
        assert len(uids) > len(set(uids))  # the same unique ids came twice
        starts = [p for _, a, p, _ in received if a == "StartTransaction"]
        assert all(p["idTag"] == "GOOD1" for p in starts)


def test_new_ev_is_plausible() -> None:
    rng = random.Random(1)
    for kw, dc in ((11, False), (150, True)):
        ev = new_ev(SessionConfig(max_power_kw=kw), rng)
        assert ev.dc is dc and 10 <= ev.start_soc <= 60 and ev.plateau_w <= kw * 1000


@pytest.mark.parametrize("tx_csms", ["ocpp1.6", "ocpp2.0.1"], indirect=True)
async def test_load_generator_transactions(tx_csms: tuple[TxCsms, str]) -> None:
    fake, url = tx_csms
    # Every station charges with its own token (PREFIX00001, ...).
    fake.accepted.update(bench_id_token(BENCH_ID_TOKEN, i) for i in range(1, 6))
    result = await run_load(
        LoadConfig(
            url=url, protocol=fake.protocol, stations=5, mode="transactions", rate=40,
            session_samples=3, warmup=0.2, duration=1.5,
        )
    )  # fmt: skip
    assert not fake.violations, fake.violations
    assert result.errors == 0 and result.auth_rejected == 0
    assert result.meter_msgs >= 30 and result.sessions_ended >= 5
    assert result.sampled_values == 9 * result.meter_msgs  # 3-phase AC: 9 values each
    assert len(result.meter_latencies) == result.meter_msgs
    assert result.msgs == result.meter_msgs + result.tx_other
    with pytest.raises(ValueError, match="rate"):
        LoadGenerator(LoadConfig(url=url, protocol="ocpp1.6", stations=1, mode="transactions"))
