"""The StationCommands port over OCPP: each version's codec encodes the domain command,
the dispatcher picks the codec from the connected version and decodes the answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fakes import FakeRouter

from ampyre.domain.authz import AuthDecision, AuthStatus, IdTokenType, Reservation
from ampyre.protocol.commands import OcppStationCommands
from ampyre.protocol.schemas import Schemas
from ampyre.services.commands import CallOutcome, CommandTimeout, StationNotConnected
from ampyre.services.station_port import ListEntry, NotAddressable, Trigger

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
SCHEMAS = Schemas()


def _port(
    version: str, answer: dict[str, Any] | Exception | None = None
) -> tuple[OcppStationCommands, FakeRouter]:
    outcome: CallOutcome | Exception
    outcome = answer if isinstance(answer, Exception) else CallOutcome(True, answer or {})
    router = FakeRouter({"CP": version}, outcome)
    return OcppStationCommands(router), router


def _valid(version: str, action: str, payload: dict[str, Any]) -> None:
    """Every encoded request passes the official schema of its version."""
    assert SCHEMAS[version].validate(action, payload, response=False) is None  # type: ignore[index]


async def test_start_charging_per_version() -> None:
    port, router = _port("ocpp1.6", {"status": "Accepted"})
    answer = await port.start_charging("CP", 2, "TAG", "ISO14443", 41, {"id": 1})
    assert answer.accepted and answer.transaction_id is None
    ((_, action, payload, _),) = router.calls
    assert (action, payload) == (
        "RemoteStartTransaction",
        {"idTag": "TAG", "connectorId": 2, "chargingProfile": {"id": 1}},
    )
    for version in ("ocpp2.0.1", "ocpp2.1"):
        port, router = _port(version, {"status": "Accepted", "transactionId": "T-9"})
        answer = await port.start_charging("CP", None, "TAG", "eMAID", 41)
        assert answer.accepted and answer.transaction_id == "T-9"
        ((_, action, payload, _),) = router.calls
        assert action == "RequestStartTransaction"
        assert payload == {"idToken": {"idToken": "TAG", "type": "eMAID"}, "remoteStartId": 41}
        _valid(version, action, payload)


async def test_start_and_stop_raise_without_an_answer() -> None:
    port, _ = _port("ocpp2.0.1", StationNotConnected("CP"))
    with pytest.raises(StationNotConnected):
        await port.start_charging("CP", 1, "TAG", "Central", 1)
    port, _ = _port("ocpp2.0.1", CommandTimeout("slow"))
    with pytest.raises(CommandTimeout):
        await port.stop_charging("CP", "T-1")
    port = OcppStationCommands(FakeRouter())  # nobody connected: nothing is sent
    with pytest.raises(StationNotConnected):
        await port.stop_charging("CP", "T-1")


async def test_stop_charging_per_version() -> None:
    port, router = _port("ocpp1.6", {"status": "Accepted"})
    outcome = await port.stop_charging("CP", "17")
    assert outcome.status == "accepted"
    assert router.calls[0][1:3] == ("RemoteStopTransaction", {"transactionId": 17})
    with pytest.raises(NotAddressable):
        await port.stop_charging("CP", "abc-1")  # 1.6 transactionId is an integer
    assert len(router.calls) == 1
    port, router = _port("ocpp2.1", {"status": "Rejected"})
    assert (await port.stop_charging("CP", "abc-1")).status == "rejected"
    assert router.calls[0][1:3] == ("RequestStopTransaction", {"transactionId": "abc-1"})


async def test_answers_fold_failures() -> None:
    port = OcppStationCommands(FakeRouter())
    for answer in (
        await port.clear_cache("CP"),
        await port.get_local_list_version("CP"),
        await port.cancel_reservation("CP", 3),
        await port.trigger_message("CP", Trigger.HEARTBEAT),
        await port.transaction_status("CP", "T"),
    ):
        assert answer.status == "not_connected" and not answer.answered
    port, _ = _port("ocpp2.0.1", CommandTimeout("slow"))
    answer = await port.clear_cache("CP", timeout=0.5)
    assert (answer.status, answer.answered, answer.response) == ("timeout", False, {})
    router = FakeRouter({"CP": "ocpp1.6"}, CallOutcome(False, error_code="NotSupported"))
    answer = await OcppStationCommands(router).cancel_reservation("CP", 3)
    assert (answer.status, answer.station_answer) == ("error", "NotSupported")


async def test_local_list_version_is_decoded() -> None:
    port, _ = _port("ocpp1.6", {"listVersion": 4})
    answer = await port.get_local_list_version("CP")
    assert (answer.status, answer.version, answer.response) == ("ok", 4, {"listVersion": 4})
    port, _ = _port("ocpp2.0.1", {"versionNumber": -1})
    assert (await port.get_local_list_version("CP")).version == -1


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
async def test_send_local_list_and_reserve_are_valid(version: str) -> None:
    port, router = _port(version, {"status": "Accepted"})
    entries = [
        ListEntry("A", "ISO14443", AuthDecision(AuthStatus.ACCEPTED, NOW, "G")),
        ListEntry("B", "Central", None),
    ]
    answer = await port.send_local_list("CP", 3, False, entries)
    assert (answer.status, answer.station_answer) == ("accepted", "Accepted")
    r = Reservation(5, "CP", "TAG", IdTokenType.ISO14443, NOW, evse_id=1, group_id="G")
    await port.reserve("CP", r)
    await port.cancel_reservation("CP", 5)
    for _, action, payload, _ in router.calls:
        _valid(version, action, payload)
    assert [c[1] for c in router.calls] == ["SendLocalList", "ReserveNow", "CancelReservation"]


async def test_transaction_status() -> None:
    port, router = _port("ocpp1.6")
    answer = await port.transaction_status("CP", "5")
    assert answer.status == "not_supported" and router.calls == []
    port, router = _port("ocpp2.0.1", {"ongoingIndicator": False, "messagesInQueue": True})
    answer = await port.transaction_status("CP", "T-1")
    assert (answer.status, answer.ongoing, answer.messages_in_queue) == ("ok", False, True)
    assert router.calls[0][1:3] == ("GetTransactionStatus", {"transactionId": "T-1"})


async def test_trigger_message_per_version() -> None:
    port, router = _port("ocpp1.6", {"status": "Accepted"})
    answer = await port.trigger_message("CP", Trigger.STATUS_NOTIFICATION, connector_id=2)
    assert answer.status == "accepted"
    await port.trigger_message("CP", Trigger.DIAGNOSTICS_STATUS)
    assert [c[2] for c in router.calls] == [
        {"requestedMessage": "StatusNotification", "connectorId": 2},
        {"requestedMessage": "DiagnosticsStatusNotification"},
    ]
    answer = await port.trigger_message("CP", Trigger.TRANSACTION_EVENT, evse_id=1)
    assert answer.status == "not_supported" and len(router.calls) == 2
    port, router = _port("ocpp2.0.1", {"status": "Accepted"})
    await port.trigger_message("CP", Trigger.TRANSACTION_EVENT, evse_id=1)
    await port.trigger_message("CP", Trigger.LOG_STATUS)
    assert [c[2] for c in router.calls] == [
        {"requestedMessage": "TransactionEvent", "evse": {"id": 1}},
        {"requestedMessage": "LogStatusNotification"},
    ]
    for _, action, payload, _ in router.calls:
        _valid("ocpp2.0.1", action, payload)


def test_entry_signature_per_version() -> None:
    port = OcppStationCommands(FakeRouter())
    d = AuthDecision(AuthStatus.NOT_AT_THIS_LOCATION, NOW, "G")
    assert port.entry_signature("ocpp1.6", d) == "Invalid|2025-06-01T12:00:00.000Z|G"
    assert port.entry_signature("ocpp2.1", d) == "NotAtThisLocation|2025-06-01T12:00:00.000Z|G"
