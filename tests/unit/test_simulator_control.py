"""Simulator realism: ChangeAvailability (Scheduled while charging, Unavailable after),
Reset ending the transaction as a real station does (1.6 Soft/Hard, 2.0.1 OnIdle /
Immediate) and booting again, and remote-started sessions under --no-sessions sending
meter values, UnlockConnector (1.6 ends the transaction first, 2.x refuses while one
runs) and TriggerMessage (the message follows the answer, for one connector/EVSE when
asked; NotImplemented for what the simulator cannot send). Against the schema-checking
fake CSMS of test_simulator_charging."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from test_simulator_charging import PROTOCOLS, TxCsms, check
from websockets.asyncio.server import serve

from ampyre.protocol.schemas import Schemas
from ampyre.simulator import control, run_simulation
from ampyre.simulator import messages as m
from ampyre.simulator.runner import add_cli_arguments, session_config_from_args
from ampyre.simulator.session import SessionConfig

SID = "C00001"
REMOTE_ONLY = SessionConfig(meter_interval=0.2, session_duration=60, local_sessions=False)


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    return Schemas()


class Harness:
    def __init__(self, fake: TxCsms, schemas: Schemas) -> None:
        self.fake, self.schemas, self.n = fake, schemas, 0

    def actions(self, action: str) -> list[dict[str, Any]]:
        return [p for _, a, p, _ in self.fake.received[SID] if a == action]

    def index(self, action: str, pick: Callable[[dict[str, Any]], bool] = lambda p: True) -> int:
        for i, (_, a, p, _) in enumerate(self.fake.received[SID]):
            if a == action and pick(p):
                return i
        return -1

    async def until(self, what: str, check_: Callable[[], bool], timeout: float = 8.0) -> None:
        for _ in range(int(timeout / 0.02)):
            if check_():
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}: {self.fake.received[SID][-5:]}")

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        protocol = self.fake.protocol
        check(self.schemas, protocol, action, payload)
        self.n += 1
        uid = f"t{self.n}"
        await self.fake.connections[SID].send(orjson.dumps([2, uid, action, payload]).decode())
        for _ in range(300):
            for reply in self.fake.replies[SID]:
                if reply[1] == uid:
                    check(self.schemas, protocol, action, reply[2], response=True)
                    return dict(reply[2])
            await asyncio.sleep(0.01)
        raise AssertionError(f"no answer to {action}")

    def statuses(self, connector: int) -> list[str]:
        key = "connectorId" if m.is_v16(self.fake.protocol) else "evseId"
        field = "status" if m.is_v16(self.fake.protocol) else "connectorStatus"
        return [p[field] for p in self.actions("StatusNotification") if p[key] == connector]

    async def remote_start(self, connector: int, token: str = "GOOD1") -> dict[str, Any]:
        if m.is_v16(self.fake.protocol):
            return await self.call(
                "RemoteStartTransaction", {"connectorId": connector, "idTag": token}
            )
        return await self.call(
            "RequestStartTransaction",
            {
                "evseId": connector,
                "remoteStartId": 100 + self.n,
                "idToken": {"idToken": token, "type": "Central"},
            },
        )


@pytest.fixture
async def harness(
    schemas: Schemas, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Harness, asyncio.Task[Any]]]:
    protocol, sessions = request.param
    fake = TxCsms(schemas, protocol, {"GOOD1", "GOOD2"})
    async with serve(fake.handler, "127.0.0.1", 0, subprotocols=PROTOCOLS) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        task = asyncio.create_task(
            run_simulation(
                f"ws://127.0.0.1:{port}/ocpp",
                1,
                protocol,
                prefix="C",
                duration=20.0,
                sessions=sessions,
                seed=3,
                status_change_interval=0,
            )
        )
        h = Harness(fake, schemas)
        # The boot is over once both EVSEs (connectors) told their status: a test that
        # counts statuses must not start while the boot's own are still arriving.
        await h.until("the boot", lambda: bool(h.statuses(1)) and bool(h.statuses(2)))
        try:
            yield h, task
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert not fake.violations, fake.violations


def _tx_events(h: Harness, kind: str) -> list[dict[str, Any]]:
    return [p for p in h.actions("TransactionEvent") if p["eventType"] == kind]


@pytest.mark.parametrize("harness", [("ocpp1.6", REMOTE_ONLY)], indirect=True)
async def test_16_change_availability(harness: tuple[Harness, Any]) -> None:
    h, _ = harness
    assert await h.remote_start(2) == {"status": "Accepted"}
    await h.until("the start", lambda: bool(h.actions("StartTransaction")))
    # Charging on 2: Scheduled; idle 1: at once.
    inop = {"type": "Inoperative"}
    assert await h.call("ChangeAvailability", {"connectorId": 2, **inop}) == {"status": "Scheduled"}
    assert await h.call("ChangeAvailability", {"connectorId": 1, **inop}) == {"status": "Accepted"}
    await h.until("connector 1 Unavailable", lambda: h.statuses(1)[-1:] == ["Unavailable"])
    assert h.statuses(2)[-1] == "Charging"
    assert await h.call("ChangeAvailability", {"connectorId": 7, **inop}) == {"status": "Rejected"}
    # An unavailable connector takes no remote start.
    assert await h.remote_start(1) == {"status": "Rejected"}
    tid = h.fake.answers[f"{SID}/{h.fake.received[SID][h.index('StartTransaction')][0]}"][
        "transactionId"
    ]
    assert await h.call("RemoteStopTransaction", {"transactionId": tid}) == {"status": "Accepted"}
    await h.until("connector 2 Unavailable", lambda: h.statuses(2)[-1:] == ["Unavailable"])
    assert h.statuses(2)[-2:] == ["Finishing", "Unavailable"]
    assert h.index("StopTransaction") < len(h.fake.received[SID]) - 1
    # Operative for the whole station: both connectors Available again.
    assert await h.call("ChangeAvailability", {"connectorId": 0, "type": "Operative"}) == {
        "status": "Accepted"
    }
    await h.until(
        "Available again",
        lambda: h.statuses(1)[-1:] == ["Available"] and h.statuses(2)[-1:] == ["Available"],
    )
    assert await h.remote_start(1) == {"status": "Accepted"}


@pytest.mark.parametrize("harness", [("ocpp2.0.1", REMOTE_ONLY)], indirect=True)
async def test_201_change_availability_of_the_station(harness: tuple[Harness, Any]) -> None:
    h, _ = harness
    assert await h.remote_start(1) == {"status": "Accepted"}
    await h.until("the start", lambda: bool(_tx_events(h, "Started")))
    got = await h.call("ChangeAvailability", {"operationalStatus": "Inoperative"})
    assert got == {"status": "Scheduled"}
    await h.until("EVSE 2 Unavailable", lambda: h.statuses(2)[-1:] == ["Unavailable"])
    assert h.statuses(1)[-1] == "Occupied"
    tid = _tx_events(h, "Started")[0]["transactionInfo"]["transactionId"]
    assert await h.call("RequestStopTransaction", {"transactionId": tid}) == {"status": "Accepted"}
    await h.until("EVSE 1 Unavailable", lambda: h.statuses(1)[-1:] == ["Unavailable"])
    assert await h.remote_start(2) == {"status": "Rejected"}
    got = await h.call("ChangeAvailability", {"operationalStatus": "Inoperative"})
    assert got == {"status": "Accepted"}  # already so


@pytest.mark.parametrize("harness", [("ocpp1.6", REMOTE_ONLY)], indirect=True)
@pytest.mark.parametrize("kind", ["Soft", "Hard"])
async def test_16_reset_stops_the_transaction_and_boots_again(
    harness: tuple[Harness, Any], kind: str
) -> None:
    h, _ = harness
    assert await h.remote_start(1) == {"status": "Accepted"}
    await h.until("the start", lambda: bool(h.actions("StartTransaction")))
    assert await h.call("Reset", {"type": kind}) == {"status": "Accepted"}
    await h.until("the second boot", lambda: len(h.actions("BootNotification")) == 2)
    await h.until("the stop", lambda: bool(h.actions("StopTransaction")))
    [stop] = h.actions("StopTransaction")
    assert stop["reason"] == f"{kind}Reset"
    boots = [i for i, (_, a, _, _) in enumerate(h.fake.received[SID]) if a == "BootNotification"]
    second_boot = boots[1]
    if kind == "Soft":  # 1.6 5.14: stopped gracefully before the restart
        assert h.index("StopTransaction") < second_boot
    else:  # Hard: the stop follows the boot
        assert h.index("StopTransaction") > second_boot
    # Back in service after the reboot.
    await h.until("status after boot", lambda: h.index("StatusNotification") >= 0)
    await asyncio.sleep(0.2)
    assert await h.remote_start(1) == {"status": "Accepted"}


@pytest.mark.parametrize("harness", [("ocpp2.0.1", REMOTE_ONLY)], indirect=True)
async def test_201_reset_on_idle_waits_immediate_ends(harness: tuple[Harness, Any]) -> None:
    h, _ = harness
    assert await h.remote_start(1) == {"status": "Accepted"}
    await h.until("the start", lambda: bool(_tx_events(h, "Started")))
    assert await h.call("Reset", {"type": "OnIdle"}) == {"status": "Scheduled"}
    assert await h.remote_start(2) == {"status": "Rejected"}  # a reset is coming
    await asyncio.sleep(0.6)
    assert len(h.actions("BootNotification")) == 1 and not _tx_events(h, "Ended")
    tid = _tx_events(h, "Started")[0]["transactionInfo"]["transactionId"]
    assert await h.call("RequestStopTransaction", {"transactionId": tid}) == {"status": "Accepted"}
    await h.until("the reboot", lambda: len(h.actions("BootNotification")) == 2)
    [ended] = _tx_events(h, "Ended")
    assert ended["transactionInfo"]["stoppedReason"] == "Remote"
    await h.until("status after boot", lambda: len(h.statuses(1)) >= 3)
    await asyncio.sleep(0.2)

    assert await h.remote_start(1) == {"status": "Accepted"}
    await h.until("a second start", lambda: len(_tx_events(h, "Started")) == 2)
    assert await h.call("Reset", {"type": "Immediate"}) == {"status": "Accepted"}
    await h.until("the second reboot", lambda: len(h.actions("BootNotification")) == 3)
    last = _tx_events(h, "Ended")[-1]
    assert last["triggerReason"] == "ResetCommand"
    assert last["transactionInfo"]["stoppedReason"] == control.IMMEDIATE_RESET
    boots = [i for i, (_, a, _, _) in enumerate(h.fake.received[SID]) if a == "BootNotification"]
    ended_at = max(
        i
        for i, (_, a, p, _) in enumerate(h.fake.received[SID])
        if a == "TransactionEvent" and p["eventType"] == "Ended"
    )
    assert ended_at < boots[2]  # sent before going down


def _no_sessions_config() -> SessionConfig:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    args = parser.parse_args(["--no-sessions", "--meter-interval", "0.2"])
    cfg = session_config_from_args(args)
    assert not cfg.local_sessions and cfg.meter_interval == 0.2
    return cfg


@pytest.mark.parametrize(
    "harness",
    [("ocpp1.6", _no_sessions_config()), ("ocpp2.0.1", _no_sessions_config())],
    indirect=True,
)
async def test_no_sessions_remote_start_still_sends_meter_values(
    harness: tuple[Harness, Any],
) -> None:
    h, _ = harness
    assert await h.remote_start(1) == {"status": "Accepted"}
    if m.is_v16(h.fake.protocol):

        def periodic() -> list[dict[str, Any]]:
            return [p for p in h.actions("MeterValues") if "transactionId" in p]
    else:

        def periodic() -> list[dict[str, Any]]:
            return [p for p in _tx_events(h, "Updated") if "meterValue" in p]

    await h.until("periodic meter values", lambda: len(periodic()) >= 3, timeout=5)
    # No EV arrived by itself at the other connector.
    assert len(h.actions("StartTransaction") + _tx_events(h, "Started")) == 1


@pytest.mark.parametrize("harness", [("ocpp1.6", REMOTE_ONLY)], indirect=True)
async def test_16_unavailable_persists_a_reboot(harness: tuple[Harness, Any]) -> None:
    h, _ = harness
    got = await h.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert got == {"status": "Accepted"}
    await h.until("connector 1 Unavailable", lambda: h.statuses(1)[-1:] == ["Unavailable"])
    assert await h.call("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    await h.until("the second boot", lambda: len(h.actions("BootNotification")) == 2)
    boots = [i for i, (_, a, _, _) in enumerate(h.fake.received[SID]) if a == "BootNotification"]

    def after_boot(connector: int) -> list[str]:
        return [
            p["status"]
            for i, (_, a, p, _) in enumerate(h.fake.received[SID])
            if i > boots[1] and a == "StatusNotification" and p["connectorId"] == connector
        ]

    await h.until("statuses after the boot", lambda: bool(after_boot(1) and after_boot(2)))
    assert after_boot(1) == ["Unavailable"] and after_boot(2) == ["Available"]


# ---- UnlockConnector and TriggerMessage ------------------------------------------------
V16 = [("ocpp1.6", REMOTE_ONLY)]
V2X = [("ocpp2.0.1", REMOTE_ONLY), ("ocpp2.1", REMOTE_ONLY)]


def _count(h: Harness, action: str) -> int:
    return len(h.actions(action))


@pytest.mark.parametrize("harness", V16, indirect=True)
async def test_16_unlock_ends_the_transaction_first(harness: tuple[Harness, Any]) -> None:
    h, _ = harness
    assert await h.call("UnlockConnector", {"connectorId": 2}) == {"status": "Unlocked"}
    assert await h.call("UnlockConnector", {"connectorId": 7}) == {"status": "UnlockFailed"}
    assert await h.call("UnlockConnector", {"connectorId": 0}) == {"status": "UnlockFailed"}
    assert await h.remote_start(1) == {"status": "Accepted"}
    await h.until("the start", lambda: bool(h.actions("StartTransaction")))
    assert await h.call("UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
    await h.until("the stop", lambda: bool(h.actions("StopTransaction")))
    assert h.actions("StopTransaction")[0]["reason"] == "UnlockCommand"
    await h.until("Available again", lambda: h.statuses(1)[-1:] == ["Available"])


@pytest.mark.parametrize("harness", V2X, indirect=True)
async def test_2x_unlock_refused_while_charging(harness: tuple[Harness, Any]) -> None:
    h, _ = harness
    unlock = {"evseId": 1, "connectorId": 1}
    assert await h.call("UnlockConnector", unlock) == {"status": "Unlocked"}
    assert await h.call("UnlockConnector", {"evseId": 1, "connectorId": 2}) == {
        "status": "UnknownConnector"
    }
    assert await h.call("UnlockConnector", {"evseId": 9, "connectorId": 1}) == {
        "status": "UnknownConnector"
    }
    assert await h.remote_start(1) == {"status": "Accepted"}
    await h.until("the start", lambda: bool(h.actions("TransactionEvent")))
    assert await h.call("UnlockConnector", unlock) == {"status": "OngoingAuthorizedTransaction"}
    assert not [p for p in h.actions("TransactionEvent") if p["eventType"] == "Ended"]


@pytest.mark.parametrize("harness", V16, indirect=True)
async def test_16_triggers(harness: tuple[Harness, Any]) -> None:
    h, _ = harness
    before = h.statuses(1), h.statuses(2)
    got = await h.call(
        "TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 2}
    )
    assert got == {"status": "Accepted"}
    await h.until("connector 2's status", lambda: len(h.statuses(2)) == len(before[1]) + 1)
    assert h.statuses(1) == before[0]  # only the connector asked for
    for message in ("FirmwareStatusNotification", "DiagnosticsStatusNotification"):
        assert await h.call("TriggerMessage", {"requestedMessage": message}) == {
            "status": "Accepted"
        }
        await h.until(message, lambda m=message: _count(h, m) == 1)
        assert h.actions(message) == [{"status": "Idle"}]
    boots = _count(h, "BootNotification")
    assert await h.call("TriggerMessage", {"requestedMessage": "BootNotification"}) == {
        "status": "Accepted"
    }
    await h.until("a boot", lambda: _count(h, "BootNotification") == boots + 1)
    got = await h.call(
        "TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 9}
    )
    assert got == {"status": "Rejected"}


@pytest.mark.parametrize("harness", V2X, indirect=True)
async def test_2x_triggers(harness: tuple[Harness, Any]) -> None:
    h, _ = harness
    boots = _count(h, "BootNotification")
    # Accepted already: no BootNotification on request (F06.FR.17).
    assert await h.call("TriggerMessage", {"requestedMessage": "BootNotification"}) == {
        "status": "Rejected"
    }
    before = h.statuses(1), h.statuses(2)
    got = await h.call(
        "TriggerMessage",
        {"requestedMessage": "StatusNotification", "evse": {"id": 2, "connectorId": 1}},
    )
    assert got == {"status": "Accepted"}
    await h.until("EVSE 2's status", lambda: len(h.statuses(2)) == len(before[1]) + 1)
    assert h.statuses(1) == before[0]
    assert await h.call("TriggerMessage", {"requestedMessage": "LogStatusNotification"}) == {
        "status": "Accepted"
    }
    await h.until("the log status", lambda: _count(h, "LogStatusNotification") == 1)
    assert h.actions("LogStatusNotification") == [{"status": "Idle"}]
    # (SignChargingStationCertificate is answered: tests/unit/test_certificate_codecs.py.)
    assert await h.call(
        "TriggerMessage", {"requestedMessage": "PublishFirmwareStatusNotification"}
    ) == {"status": "NotImplemented"}
    # No transaction runs: nothing to report as a TransactionEvent.
    assert await h.call("TriggerMessage", {"requestedMessage": "TransactionEvent"}) == {
        "status": "Rejected"
    }
    got = await h.call("TriggerMessage", {"requestedMessage": "Heartbeat", "evse": {"id": 5}})
    assert got == {"status": "Rejected"}
    assert _count(h, "BootNotification") == boots
