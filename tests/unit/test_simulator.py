"""Simulator and load generator against tiny in-test servers (each test < 10 s)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.typing import Subprotocol

from ampyre.simulator import messages as m
from ampyre.simulator import run_simulation
from ampyre.simulator.loadgen import LoadConfig, run_load

PROTOCOLS = [Subprotocol(p) for p in m.PROTOCOLS]


class FakeCsms:
    """Answers Boot/Heartbeat/Status validly and records what each station sent."""

    def __init__(self) -> None:
        self.received: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        self.answers: dict[str, list[Any]] = defaultdict(list)
        self.connections: dict[str, ServerConnection] = {}

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        sid = ws.request.path.rsplit("/", 1)[-1]
        self.connections[sid] = ws
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg[0] != m.CALL:
                self.answers[sid].append(msg)
                continue
            _, uid, action, payload = msg
            self.received[sid].append((action, payload))
            now = m.now_iso()
            if action == "BootNotification":
                result: dict[str, Any] = {"currentTime": now, "interval": 1, "status": "Accepted"}
            elif action == "Heartbeat":
                result = {"currentTime": now}
            elif action == "StatusNotification":
                result = {}
            else:
                await ws.send(orjson.dumps([4, uid, "NotImplemented", "", {}]).decode())
                continue
            await ws.send(orjson.dumps([3, uid, result]).decode())

    def actions(self, sid: str) -> list[str]:
        return [a for a, _ in self.received[sid]]


@pytest.fixture
async def csms() -> AsyncIterator[tuple[FakeCsms, str]]:
    fake = FakeCsms()
    server: Server
    async with serve(fake.handler, "127.0.0.1", 0, subprotocols=PROTOCOLS) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield fake, f"ws://127.0.0.1:{port}/ocpp"


@pytest.mark.parametrize("protocol", m.PROTOCOLS)
async def test_stations_boot_and_report_status(csms: tuple[FakeCsms, str], protocol: str) -> None:
    fake, url = csms
    report = await run_simulation(
        url,
        3,
        protocol,
        prefix="T",
        duration=2.5,
        status_change_interval=0.5,
        connect_rate=100,
        seed=1,
    )
    assert report.booted == 3
    assert report.boots_accepted == 3
    assert report.connected_at_end == 3
    assert report.call_errors == 0 and report.call_timeouts == 0
    assert sorted(fake.received) == ["T00001", "T00002", "T00003"]
    for sid in fake.received:
        actions = fake.actions(sid)
        assert actions[0] == "BootNotification"
        boot = fake.received[sid][0][1]
        statuses = [p for a, p in fake.received[sid] if a == "StatusNotification"]
        if protocol == "ocpp1.6":
            assert boot["chargePointVendor"] and boot["chargePointModel"]
            assert [s["connectorId"] for s in statuses[:3]] == [0, 1, 2]
            assert all(s["errorCode"] == "NoError" for s in statuses)
            assert {s["status"] for s in statuses} <= set(m.STATUS_CYCLE_16)
        else:
            assert boot["reason"] == "PowerUp"
            assert boot["chargingStation"]["vendorName"]
            assert [s["evseId"] for s in statuses[:2]] == [1, 2]
            assert {s["connectorStatus"] for s in statuses} <= set(m.STATUS_CYCLE_2X)
            assert all(s["timestamp"].endswith("Z") for s in statuses)
        # Interval 1 s from the boot answer and status changes every ~0.5 s.
        assert "Heartbeat" in actions
        assert len(statuses) > len(m.connectors(protocol))
    assert report.heartbeats >= 3


async def test_station_answers_csms_calls(csms: tuple[FakeCsms, str]) -> None:
    fake, url = csms
    task = asyncio.create_task(run_simulation(url, 1, "ocpp2.0.1", prefix="Q", duration=3.0))
    for _ in range(100):
        if "Q00001" in fake.received:
            break
        await asyncio.sleep(0.02)
    ws = fake.connections["Q00001"]
    await ws.send(
        orjson.dumps(
            [
                2,
                "c1",
                "GetVariables",
                {
                    "getVariableData": [
                        {
                            "component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "HeartbeatInterval"},
                        },
                        {"component": {"name": "Nope"}, "variable": {"name": "X"}},
                    ]
                },
            ]
        ).decode()
    )
    await ws.send(orjson.dumps([2, "c2", "UnpublishFirmware", {"checksum": "x"}]).decode())
    await ws.send(
        orjson.dumps([2, "c3", "TriggerMessage", {"requestedMessage": "Heartbeat"}]).decode()
    )
    report = await task
    answers = {a[1]: a for a in fake.answers["Q00001"]}
    results = answers["c1"][2]["getVariableResult"]
    assert results[0]["attributeStatus"] == "Accepted"
    assert results[1]["attributeStatus"] == "UnknownComponent"
    assert answers["c2"][0] == m.CALLERROR and answers["c2"][2] == "NotImplemented"
    assert answers["c3"][2] == {"status": "Accepted"}
    assert report.csms_calls == 3 and report.csms_not_implemented == 1


def test_answers_16_configuration() -> None:
    state = m.StationState(protocol="ocpp1.6", station_id="X")
    assert m.answer_call(state, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "7"})
    assert state.heartbeat_interval == 7
    got = m.answer_call(state, "GetConfiguration", {"key": ["HeartbeatInterval", "Foo"]})
    assert got["configurationKey"] == [
        {"key": "HeartbeatInterval", "readonly": False, "value": "7"}
    ]
    assert got["unknownKey"] == ["Foo"]
    assert m.answer_call(state, "Reset", {"type": "Soft"}) == {"status": "Accepted"}
    assert state.reset_requested
    with pytest.raises(m.NotImplementedAction):
        m.answer_call(state, "SendLocalList", {})


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def test_load_generator_against_echo() -> None:
    async with serve(echo, "127.0.0.1", 0, subprotocols=PROTOCOLS, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        result = await run_load(
            LoadConfig(
                url=f"ws://127.0.0.1:{port}/ocpp",
                protocol="ocpp2.0.1",
                stations=10,
                warmup=0.2,
                duration=1.0,
            )
        )
    summary = result.summary()
    assert result.connected == 10
    assert result.boot_accepted == 10
    assert result.errors == 0
    assert result.msgs > 100
    assert summary["p50_ms"] is not None and summary["p99_ms"] >= summary["p50_ms"]
