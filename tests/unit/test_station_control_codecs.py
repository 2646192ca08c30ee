"""Reset, ChangeAvailability, UnlockConnector and TriggerMessage as each version's codec
encodes them (every payload checked against the official schema), what a version cannot
express, and the StationControl service's own refusals."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import FakeRouter

from ampyre.config import Settings
from ampyre.domain.models import OcppVersion
from ampyre.protocol.commands import OcppStationCommands, default_codecs
from ampyre.protocol.schemas import Schemas
from ampyre.services.commands import CallOutcome, CommandTimeout
from ampyre.services.station_control import InvalidCommand, StationControl, TriggerNotSupported
from ampyre.services.station_port import NotAddressable, ResetKind, ResetWhen, Trigger

SCHEMAS = Schemas()
CODECS = default_codecs()
V2X = ("ocpp2.0.1", "ocpp2.1")
SOFT, HARD = ResetKind.SOFT, ResetKind.HARD
NOW, IDLE = ResetWhen.IMMEDIATE, ResetWhen.ON_IDLE


def _valid(version: str, request: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    action, payload = request
    violation = SCHEMAS[OcppVersion(version)].validate(action, payload, response=False)
    assert violation is None, (version, action, payload, violation)
    return payload


# ---- 1.6 ------------------------------------------------------------------------------


def test_16_reset_maps_kind_and_refuses_what_16_lacks() -> None:
    c = CODECS["ocpp1.6"]
    assert _valid("ocpp1.6", c.reset(SOFT, NOW, None)) == {"type": "Soft"}
    assert _valid("ocpp1.6", c.reset(HARD, NOW, None)) == {"type": "Hard"}
    with pytest.raises(NotAddressable, match="idle"):
        c.reset(SOFT, IDLE, None)
    with pytest.raises(NotAddressable, match="EVSE"):
        c.reset(SOFT, NOW, 1)


def test_16_availability_connector_zero_is_the_station() -> None:
    c = CODECS["ocpp1.6"]
    assert _valid("ocpp1.6", c.change_availability(False, None, None)) == {
        "connectorId": 0,
        "type": "Inoperative",
    }
    assert _valid("ocpp1.6", c.change_availability(True, 2, None)) == {
        "connectorId": 2,
        "type": "Operative",
    }
    assert c.change_availability(True, 2, 2)[1]["connectorId"] == 2
    with pytest.raises(NotAddressable, match="no EVSEs"):
        c.change_availability(True, 2, 1)


def test_16_unlock_and_trigger_address_the_connector() -> None:
    c = CODECS["ocpp1.6"]
    assert _valid("ocpp1.6", c.unlock(2, 2)) == {"connectorId": 2}
    with pytest.raises(NotAddressable):
        c.unlock(1, 2)
    request = c.trigger(Trigger.STATUS_NOTIFICATION, 2, None)
    assert request is not None
    assert _valid("ocpp1.6", request) == {
        "requestedMessage": "StatusNotification",
        "connectorId": 2,
    }
    request = c.trigger(Trigger.DIAGNOSTICS_STATUS, None, None)
    assert request is not None and _valid("ocpp1.6", request) == {
        "requestedMessage": "DiagnosticsStatusNotification"
    }
    for missing in (Trigger.TRANSACTION_EVENT, Trigger.LOG_STATUS, Trigger.SIGN_V2G_CERTIFICATE):
        assert c.trigger(missing, None, None) is None
    assert c.triggers() == (
        Trigger.BOOT_NOTIFICATION,
        Trigger.HEARTBEAT,
        Trigger.METER_VALUES,
        Trigger.STATUS_NOTIFICATION,
        Trigger.FIRMWARE_STATUS,
        Trigger.DIAGNOSTICS_STATUS,
    )


def test_16_every_trigger_it_lists_passes_the_schema() -> None:
    c = CODECS["ocpp1.6"]
    for t in c.triggers():
        request = c.trigger(t, 1, None)
        assert request is not None
        assert _valid("ocpp1.6", request)["requestedMessage"] == t.value


# ---- 2.0.1 and 2.1 ----------------------------------------------------------------------


@pytest.mark.parametrize("version", V2X)
def test_2x_reset_immediate_on_idle_and_one_evse(version: str) -> None:
    c = CODECS[version]
    assert _valid(version, c.reset(SOFT, NOW, None)) == {"type": "Immediate"}
    assert _valid(version, c.reset(HARD, NOW, None)) == {"type": "Immediate"}
    assert _valid(version, c.reset(SOFT, IDLE, 2)) == {"type": "OnIdle", "evseId": 2}
    with pytest.raises(NotAddressable, match="hard"):
        c.reset(HARD, IDLE, None)


@pytest.mark.parametrize("version", V2X)
def test_2x_availability_station_evse_connector(version: str) -> None:
    c = CODECS[version]
    assert _valid(version, c.change_availability(False, None, None)) == {
        "operationalStatus": "Inoperative"
    }
    assert _valid(version, c.change_availability(True, 0, None)) == {
        "operationalStatus": "Operative"
    }
    assert _valid(version, c.change_availability(False, 1, None)) == {
        "operationalStatus": "Inoperative",
        "evse": {"id": 1},
    }
    assert _valid(version, c.change_availability(False, 1, 2)) == {
        "operationalStatus": "Inoperative",
        "evse": {"id": 1, "connectorId": 2},
    }
    with pytest.raises(NotAddressable):
        c.change_availability(False, None, 2)


@pytest.mark.parametrize("version", V2X)
def test_2x_unlock_and_trigger(version: str) -> None:
    c = CODECS[version]
    assert _valid(version, c.unlock(1, 2)) == {"evseId": 1, "connectorId": 2}
    request = c.trigger(Trigger.STATUS_NOTIFICATION, 1, 1)
    assert request is not None and _valid(version, request) == {
        "requestedMessage": "StatusNotification",
        "evse": {"id": 1, "connectorId": 1},
    }
    assert c.trigger(Trigger.DIAGNOSTICS_STATUS, None, None) is None
    for t in c.triggers():
        request = c.trigger(t, None, None)
        assert request is not None and _valid(version, request) == {"requestedMessage": t.value}
    v21_only = Trigger.SIGN_V2G20_CERTIFICATE
    assert (v21_only in c.triggers()) == (version == "ocpp2.1")
    if version == "ocpp2.0.1":
        assert c.trigger(v21_only, None, None) is None


def test_has_response_tells_calls_from_sends() -> None:
    registry = Schemas()[OcppVersion.V21]
    assert registry.has_response("Reset") and registry.has_response("DataTransfer")
    assert not registry.has_response("NotifyPeriodicEventStream")  # SEND only
    assert not registry.has_response("NoSuchAction")
    assert registry.validator("Reset", response=True) is not None  # what it stands for
    assert Schemas()[OcppVersion.V16].has_response("GetConfiguration")


# ---- through the port and the service ----------------------------------------------------


def _control(version: str, answer: dict[str, Any] | Exception) -> tuple[StationControl, FakeRouter]:
    outcome = answer if isinstance(answer, Exception) else CallOutcome(True, answer)
    router = FakeRouter({"CP": version}, outcome)
    return StationControl(OcppStationCommands(router), Settings(call_timeout=7.0)), router


async def test_service_sends_and_normalizes_the_answer() -> None:
    svc, router = _control("ocpp2.0.1", {"status": "Scheduled"})
    answer = await svc.reset("CP", SOFT, IDLE)
    assert answer.status == "scheduled" and answer.response == {"status": "Scheduled"}
    assert router.calls == [("CP", "Reset", {"type": "OnIdle"}, 7.0)]
    svc, router = _control("ocpp1.6", {"status": "Unlocked"})
    answer = await svc.unlock("CP", 1, 1, timeout=2.0)
    assert answer.status == "unlocked"
    assert router.calls == [("CP", "UnlockConnector", {"connectorId": 1}, 2.0)]


async def test_service_refusals_send_nothing() -> None:
    svc, router = _control("ocpp2.1", {"status": "Accepted"})
    with pytest.raises(InvalidCommand) as invalid:
        await svc.reset("CP", HARD, IDLE)
    assert invalid.value.field == "when"
    with pytest.raises(InvalidCommand):
        await svc.change_availability("CP", True, None, 1)
    with pytest.raises(InvalidCommand):
        await svc.trigger("CP", Trigger.STATUS_NOTIFICATION, 0, 1)
    svc16, router16 = _control("ocpp1.6", {"status": "Accepted"})
    with pytest.raises(TriggerNotSupported) as unsupported:
        await svc16.trigger("CP", Trigger.TRANSACTION_EVENT)
    assert Trigger.DIAGNOSTICS_STATUS in unsupported.value.supported
    assert "1.6" in str(unsupported.value)
    with pytest.raises(NotAddressable):
        await svc16.reset("CP", SOFT, NOW, evse_id=1)
    assert router.calls == [] and router16.calls == []


async def test_service_reports_no_answer_in_the_status() -> None:
    svc, _ = _control("ocpp2.0.1", CommandTimeout("slow"))
    assert (await svc.change_availability("CP", False)).status == "timeout"
    svc, router = _control("ocpp2.0.1", {"status": "Accepted"})
    router.versions.clear()
    assert (await svc.trigger("CP", Trigger.HEARTBEAT)).status == "not_connected"
    assert router.calls == []
