"""OcppSession with a fake transport, observer and handler table (no sockets, no database)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from ampyre.domain.models import Direction, MessageLogEntry, OcppVersion, RegistrationStatus
from ampyre.protocol.errors import ErrorKind, OcppError
from ampyre.protocol.schemas import Schemas
from ampyre.protocol.session import CallContext, HandlerTable, OcppSession
from ampyre.services.commands import (
    CallOutcome,
    CommandTimeout,
    InvalidPayload,
    StationNotConnected,
    UnknownAction,
)
from ampyre.services.ports import StoreUnavailable

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
ALL = pytest.mark.parametrize("version", list(OcppVersion))
TS = "2025-01-01T12:00:00Z"

_SCHEMAS = Schemas()


class FakeTransport:
    def __init__(self) -> None:
        self.sent: list[list[Any]] = []
        self.raw: list[bytes] = []
        self._changed = asyncio.Event()
        self.fail: BaseException | None = None

    async def send(self, data: bytes) -> None:
        if self.fail is not None:
            raise self.fail
        assert isinstance(data, bytes)
        self.raw.append(data)
        self.sent.append(orjson.loads(data))
        self._changed.set()

    async def wait_for(self, count: int, timeout: float = 2.0) -> list[Any]:
        async with asyncio.timeout(timeout):
            while len(self.sent) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.sent[count - 1]


class FakeObserver:
    def __init__(self) -> None:
        self.messages: list[tuple[OcppVersion, Direction, int, str | None]] = []
        self.errors: list[str] = []
        self.handled_actions: list[str] = []
        self.entries: list[MessageLogEntry] = []

    def message(
        self, version: OcppVersion, direction: Direction, mtype: int, action: str | None
    ) -> None:
        self.messages.append((version, direction, mtype, action))

    def error(self, version: OcppVersion, code: str) -> None:
        self.errors.append(code)

    def handled(self, action: str, seconds: float) -> None:
        assert seconds >= 0
        self.handled_actions.append(action)

    def audit(self, entry: MessageLogEntry) -> None:
        self.entries.append(entry)


Behaviour = Callable[[CallContext, dict[str, Any]], Awaitable[dict[str, Any]]]


class Env:
    """A session plus knobs: `boot_status` answered to BootNotification, `status_behaviour`
    run for StatusNotification, `sends` collecting 2.1 SEND payloads."""

    def __init__(self, version: OcppVersion, audit: bool = True) -> None:
        self.version = version
        self.transport = FakeTransport()
        self.observer = FakeObserver()
        self.boot_status = RegistrationStatus.ACCEPTED
        self.contexts: list[CallContext] = []
        self.status_behaviour: Behaviour | None = None
        self.heartbeat_response: Any = {"currentTime": TS}
        self.sends: list[dict[str, Any]] = []
        self.send_error: Exception | None = None

        async def boot(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
            self.contexts.append(ctx)
            ctx.session.boot_status = self.boot_status
            return {"status": self.boot_status.value, "currentTime": TS, "interval": 60}

        async def heartbeat(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
            self.contexts.append(ctx)
            response: dict[str, Any] = self.heartbeat_response
            return response

        async def status(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
            self.contexts.append(ctx)
            if self.status_behaviour is not None:
                return await self.status_behaviour(ctx, p)
            return {}

        async def on_send(ctx: CallContext, p: dict[str, Any]) -> None:
            if self.send_error is not None:
                raise self.send_error
            self.sends.append(p)

        self.table = HandlerTable(
            version,
            {"BootNotification": boot, "Heartbeat": heartbeat, "StatusNotification": status},
            {"NotifyPeriodicEventStream": on_send},
        )
        self.session = OcppSession(
            "CP-1",
            version,
            self.transport,
            self.table,
            _SCHEMAS[version],
            self.observer,
            call_timeout=2.0,
            audit=audit,
        )

    async def frame(self, msg: Any) -> list[Any] | None:
        """Feed one frame; return the reply sent for it, if any."""
        before = len(self.transport.sent)
        raw = msg if isinstance(msg, str | bytes) else orjson.dumps(msg)
        await self.session.on_frame(raw)
        sent = self.transport.sent[before:]
        assert len(sent) <= 1
        return sent[0] if sent else None

    def boot_payload(self) -> dict[str, Any]:
        if self.version is V16:
            return {"chargePointVendor": "ACME", "chargePointModel": "One"}
        return {"chargingStation": {"vendorName": "ACME", "model": "One"}, "reason": "PowerUp"}

    def status_payload(self) -> dict[str, Any]:
        if self.version is V16:
            return {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        return {"timestamp": TS, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}

    def reset_payload(self) -> dict[str, Any]:
        return {"type": "Soft" if self.version is V16 else "Immediate"}

    def reset_response(self, status: str = "Accepted") -> dict[str, Any]:
        return {"status": status}


def _code(version: OcppVersion, v16: str, v2: str) -> str:
    return v16 if version is V16 else v2


# ------------------------------------------------------------------ incoming CALLs


@ALL
async def test_call_dispatch(version: OcppVersion) -> None:
    env = Env(version)
    reply = await env.frame([2, "u1", "Heartbeat", {}])
    assert reply == [3, "u1", {"currentTime": TS}]
    ctx = env.contexts[0]
    assert (ctx.station_id, ctx.version, ctx.session, ctx.unique_id) == (
        "CP-1",
        version,
        env.session,
        "u1",
    )
    assert env.observer.handled_actions == ["Heartbeat"]
    assert [(d, t, a) for _, d, t, a in env.observer.messages] == [
        (Direction.IN, 2, "Heartbeat"),
        (Direction.OUT, 3, "Heartbeat"),
    ]


@ALL
async def test_boot_then_status(version: OcppVersion) -> None:
    env = Env(version)
    reply = await env.frame([2, "b", "BootNotification", env.boot_payload()])
    assert reply is not None
    assert reply[:2] == [3, "b"]
    assert reply[2]["status"] == "Accepted"
    assert env.session.boot_status is RegistrationStatus.ACCEPTED
    assert await env.frame([2, "s", "StatusNotification", env.status_payload()]) == [3, "s", {}]


@ALL
@pytest.mark.parametrize("action", ["NoSuchAction", "heartbeat", "StartTransactionX"])
async def test_unknown_action_is_not_implemented(version: OcppVersion, action: str) -> None:
    # OCPP-J 1.6 4.2.3 / 2.0.1 Part 4 4.3: NotImplemented "Requested Action is not known".
    env = Env(version)
    reply = await env.frame([2, "u", action, {}])
    assert reply is not None
    assert reply[:3] == [4, "u", "NotImplemented"]
    assert reply[4] == {}
    assert env.contexts == []
    assert env.observer.errors == ["NotImplemented"]


@ALL
@pytest.mark.parametrize("action", ["Authorize", "Reset"])
async def test_known_action_without_handler_is_not_supported(
    version: OcppVersion, action: str
) -> None:
    # An action the version defines that this table does not handle (Authorize), or one a
    # CSMS never receives (Reset): NotSupported "recognized but not supported".
    env = Env(version)
    reply = await env.frame([2, "u", action, {}])
    assert reply is not None
    assert reply[:3] == [4, "u", "NotSupported"]
    assert env.contexts == []
    assert env.observer.errors == ["NotSupported"]


@ALL
async def test_callerror_is_logged_with_the_action_it_answers(version: OcppVersion) -> None:
    env = Env(version)
    call = asyncio.create_task(env.session.call("Reset", env.reset_payload()))
    sent = await env.transport.wait_for(1)
    await env.frame([4, sent[1], "NotSupported", "no", {}])
    outcome = await call
    assert not outcome.ok and outcome.error_code == "NotSupported"
    errors = [e for e in env.observer.entries if e.message_type == 4]
    assert [e.action for e in errors] == ["Reset"]
    # An error for an id we are not waiting for keeps no action.
    await env.frame([4, "stray", "GenericError", "", {}])
    assert env.observer.entries[-1].action is None


async def test_callresulterror_is_logged_with_the_call_it_refuses() -> None:
    env = Env(V21)
    assert await env.frame([2, "h1", "Heartbeat", {}]) is not None
    await env.frame([5, "h1", "FormatViolation", "bad result", {}])
    assert env.observer.entries[-1].message_type == 5
    assert env.observer.entries[-1].action == "Heartbeat"


@ALL
async def test_not_implemented_description_is_bounded(version: OcppVersion) -> None:
    env = Env(version)
    reply = await env.frame([2, "u", "A" * 5000, {}])
    assert reply is not None
    assert reply[2] == "NotImplemented"
    assert len(reply[3]) <= 255


@ALL
async def test_handler_exception_is_internal_error_without_leaking(
    version: OcppVersion, caplog: pytest.LogCaptureFixture
) -> None:
    env = Env(version)

    async def boom(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("password=hunter2 at db.internal:5432")

    env.status_behaviour = boom
    with caplog.at_level(logging.ERROR):
        reply = await env.frame([2, "u", "StatusNotification", env.status_payload()])
    assert reply is not None
    assert reply[:3] == [4, "u", "InternalError"]
    assert "hunter2" not in orjson.dumps(reply).decode()
    assert "db.internal" not in orjson.dumps(reply).decode()
    assert "hunter2" in caplog.text  # but it is logged for the operator


@ALL
async def test_store_unavailable_is_internal_error(version: OcppVersion) -> None:
    env = Env(version)

    async def outage(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        raise StoreUnavailable("connection refused to secret-host")

    env.status_behaviour = outage
    reply = await env.frame([2, "u", "StatusNotification", env.status_payload()])
    assert reply is not None
    assert reply[:3] == [4, "u", "InternalError"]
    assert "secret-host" not in reply[3]
    # the session keeps working once the store is back
    env.status_behaviour = None
    assert await env.frame([2, "v", "StatusNotification", env.status_payload()]) == [3, "v", {}]


@ALL
async def test_handler_ocpp_error_passes_through(version: OcppVersion) -> None:
    env = Env(version)

    async def refuse(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        raise OcppError(ErrorKind.OCCURRENCE, "connector 1 does not exist", {"connectorId": 1})

    env.status_behaviour = refuse
    reply = await env.frame([2, "u", "StatusNotification", env.status_payload()])
    expected = _code(version, "OccurenceConstraintViolation", "OccurrenceConstraintViolation")
    assert reply == [4, "u", expected, "connector 1 does not exist", {"connectorId": 1}]


@ALL
@pytest.mark.parametrize(
    "bad_response", [{"currentTime": "not a time"}, {}, {"currentTime": TS, "x": 1}, None, []]
)
async def test_invalid_response_from_our_handler_is_never_sent(
    version: OcppVersion, bad_response: Any
) -> None:
    env = Env(version)
    env.heartbeat_response = bad_response
    reply = await env.frame([2, "u", "Heartbeat", {}])
    assert reply is not None
    assert reply[:3] == [4, "u", "InternalError"]
    assert all(frame[0] != 3 for frame in env.transport.sent)


@ALL
@pytest.mark.parametrize(
    ("payload", "v16", "v2"),
    [
        ({"connectorId": "one"}, "TypeConstraintViolation", "TypeConstraintViolation"),
        ({}, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
    ],
)
async def test_request_schema_violation(
    version: OcppVersion, payload: dict[str, Any], v16: str, v2: str
) -> None:
    env = Env(version)
    body = {**env.status_payload(), **payload} if payload else {}
    reply = await env.frame([2, "u", "StatusNotification", body])
    assert reply is not None
    assert reply[:3] == [4, "u", _code(version, v16, v2)]
    assert "path" in reply[4]
    assert env.contexts == []  # the handler never ran


@ALL
async def test_additional_property_is_format_violation(version: OcppVersion) -> None:
    env = Env(version)
    reply = await env.frame([2, "u", "Heartbeat", {"extra": True}])
    assert reply is not None
    assert reply[2] == _code(version, "FormationViolation", "FormatViolation")


# ------------------------------------------------------------------ boot status rules


@ALL
async def test_rejected_boot_refuses_later_calls(version: OcppVersion) -> None:
    env = Env(version)
    env.boot_status = RegistrationStatus.REJECTED
    reply = await env.frame([2, "b", "BootNotification", env.boot_payload()])
    assert reply is not None
    assert reply[2]["status"] == "Rejected"
    for uid, action, payload in [
        ("h", "Heartbeat", {}),
        ("s", "StatusNotification", env.status_payload()),
    ]:
        refused = await env.frame([2, uid, action, payload])
        assert refused is not None
        assert refused[:3] == [4, uid, "SecurityError"]
    # a new BootNotification is always allowed, and can turn the tide
    env.boot_status = RegistrationStatus.ACCEPTED
    reply = await env.frame([2, "b2", "BootNotification", env.boot_payload()])
    assert reply is not None
    assert reply[2]["status"] == "Accepted"
    assert await env.frame([2, "h2", "Heartbeat", {}]) == [3, "h2", {"currentTime": TS}]


@ALL
async def test_pending_rule_per_version(version: OcppVersion) -> None:
    env = Env(version)
    env.boot_status = RegistrationStatus.PENDING
    await env.frame([2, "b", "BootNotification", env.boot_payload()])
    reply = await env.frame([2, "h", "Heartbeat", {}])
    assert reply is not None
    if version is V16:
        # 1.6 has no Pending rule: stations report while pending
        assert reply[0] == 3
    else:
        # OCPP 2.0.1 B02.FR.09: not triggered by the CSMS -> SecurityError
        assert reply[:3] == [4, "h", "SecurityError"]


@pytest.mark.parametrize("version", [V201, V21])
async def test_pending_allows_calls_after_trigger_message(version: OcppVersion) -> None:
    env = Env(version)
    env.boot_status = RegistrationStatus.PENDING
    await env.frame([2, "b", "BootNotification", env.boot_payload()])
    task = asyncio.create_task(
        env.session.call("TriggerMessage", {"requestedMessage": "StatusNotification"})
    )
    sent = await env.transport.wait_for(2)
    assert sent[:3] == [2, sent[1], "TriggerMessage"]
    await env.frame([3, sent[1], {"status": "Accepted"}])
    assert (await task).ok
    # Something else than what was triggered is still refused (B02.FR.09) ...
    reply = await env.frame([2, "h", "Heartbeat", {}])
    assert reply is not None and reply[:3] == [4, "h", "SecurityError"]
    reply = await env.frame([2, "s", "StatusNotification", env.status_payload()])
    assert reply == [3, "s", {}]
    # ... and the trigger allows one message, not the rest of the connection.
    reply = await env.frame([2, "s2", "StatusNotification", env.status_payload()])
    assert reply is not None and reply[:3] == [4, "s2", "SecurityError"]


@ALL
async def test_no_boot_yet_is_not_refused(version: OcppVersion) -> None:
    # Stations reconnecting after a CSMS restart may not boot again.
    env = Env(version)
    assert await env.frame([2, "h", "Heartbeat", {}]) == [3, "h", {"currentTime": TS}]


# ------------------------------------------------------------------ bad frames


@ALL
async def test_bad_frames_get_one_error_reply(version: OcppVersion) -> None:
    env = Env(version)
    reply = await env.frame(b"not json")
    assert reply is not None
    assert reply[:3] == [4, "-1", _code(version, "FormationViolation", "RpcFrameworkError")]
    reply = await env.frame([2, "x" * 37, "Heartbeat", {}])
    assert reply is not None
    assert reply[1] == "-1"
    reply = await env.frame([2, "p", "Heartbeat", []])
    assert reply is not None
    assert reply[:3] == [4, "p", _code(version, "FormationViolation", "FormatViolation")]


@ALL
async def test_unknown_message_type(version: OcppVersion) -> None:
    env = Env(version)
    reply = await env.frame([8, "m", "Heartbeat", {}])
    if version is V21:
        assert reply is None
        assert env.observer.errors == ["MessageTypeNotSupported"]
    else:
        assert reply is not None
        assert reply[:3] == [4, "m", _code(version, "GenericError", "MessageTypeNotSupported")]


@ALL
async def test_stray_results_and_errors_are_ignored(version: OcppVersion) -> None:
    env = Env(version)
    assert await env.frame([3, "nobody-asked", {}]) is None
    assert await env.frame([4, "nobody-asked", "GenericError", "", {}]) is None
    assert await env.frame([4, "bad", 1, 2, 3]) is None
    assert env.transport.sent == []


async def test_unsupported_send_is_never_answered() -> None:
    env = Env(V21)
    env.table.sends.pop("NotifyPeriodicEventStream")  # type: ignore[attr-defined]
    payload = {"id": 1, "pending": 0, "basetime": TS, "data": [{"t": 1.0, "v": "1"}]}
    assert await env.frame([6, "s1", "NotifyPeriodicEventStream", payload]) is None
    assert await env.frame([6, "s3", "NoSuchSend", {}]) is None
    assert env.transport.sent == []


async def test_send_is_handled_and_never_answered() -> None:
    env = Env(V21)
    payload = {"id": 1, "pending": 0, "basetime": TS, "data": [{"t": 1.0, "v": "1"}]}
    assert await env.frame([6, "s1", "NotifyPeriodicEventStream", payload]) is None
    assert env.sends == [payload]
    # invalid payload, unknown action and failing handler: still silent
    assert await env.frame([6, "s2", "NotifyPeriodicEventStream", {"x": 1}]) is None
    assert await env.frame([6, "s3", "NoSuchSend", {}]) is None
    env.send_error = RuntimeError("boom")
    assert await env.frame([6, "s4", "NotifyPeriodicEventStream", payload]) is None
    assert env.transport.sent == []
    assert len(env.sends) == 1


# ------------------------------------------------------------------ audit


@ALL
async def test_audit_entries(version: OcppVersion) -> None:
    env = Env(version)
    await env.frame([2, "u", "Heartbeat", {}])
    entries = env.observer.entries
    assert [(e.direction, e.message_type, e.unique_id, e.action) for e in entries] == [
        (Direction.IN, 2, "u", "Heartbeat"),
        (Direction.OUT, 3, "u", "Heartbeat"),
    ]
    assert all(e.station_id == "CP-1" for e in entries)
    assert orjson.loads(entries[1].payload) == env.transport.sent[0]


async def test_audit_can_be_disabled() -> None:
    env = Env(V201, audit=False)
    await env.frame([2, "u", "Heartbeat", {}])
    assert env.observer.entries == []
    assert len(env.observer.messages) == 2  # metrics still counted


# ------------------------------------------------------------------ outgoing CALLs


@ALL
async def test_outgoing_call_result(version: OcppVersion) -> None:
    env = Env(version)
    task = asyncio.create_task(env.session.call("Reset", env.reset_payload()))
    sent = await env.transport.wait_for(1)
    assert sent[0] == 2
    assert sent[2:] == ["Reset", env.reset_payload()]
    assert isinstance(sent[1], str)
    assert 0 < len(sent[1]) <= 36
    await env.frame([3, sent[1], env.reset_response()])
    outcome = await task
    assert outcome == CallOutcome(ok=True, payload={"status": "Accepted"})
    assert outcome.status == "accepted"


@ALL
async def test_outgoing_calls_are_queued_one_at_a_time(version: OcppVersion) -> None:
    env = Env(version)
    first = asyncio.create_task(env.session.call("Reset", env.reset_payload()))
    sent1 = await env.transport.wait_for(1)
    second = asyncio.create_task(env.session.call("Reset", env.reset_payload()))
    await asyncio.sleep(0.05)
    assert len(env.transport.sent) == 1  # the second waits for the first's answer
    assert not second.done()
    # an answer to some other id does not release the queue
    await env.frame([3, "someone-else", env.reset_response()])
    await asyncio.sleep(0.01)
    assert len(env.transport.sent) == 1
    await env.frame([3, sent1[1], env.reset_response("Rejected")])
    sent2 = await env.transport.wait_for(2)
    assert sent2[1] != sent1[1]
    await env.frame([3, sent2[1], env.reset_response()])
    assert (await first).status == "rejected"
    assert (await second).status == "accepted"


@ALL
async def test_outgoing_call_timeout(version: OcppVersion) -> None:
    env = Env(version)
    with pytest.raises(CommandTimeout):
        await env.session.call("Reset", env.reset_payload(), timeout=0.05)
    late_id = env.transport.sent[0][1]
    # a late answer is ignored, and the next call is not blocked
    assert await env.frame([3, late_id, env.reset_response()]) is None
    task = asyncio.create_task(env.session.call("Reset", env.reset_payload()))
    sent = await env.transport.wait_for(2)
    await env.frame([3, sent[1], env.reset_response()])
    assert (await task).ok


async def test_timeout_covers_the_wait_in_the_queue() -> None:
    env = Env(V201)
    first = asyncio.create_task(env.session.call("Reset", {"type": "Immediate"}, timeout=5))
    await env.transport.wait_for(1)
    with pytest.raises(CommandTimeout):
        await env.session.call("Reset", {"type": "Immediate"}, timeout=0.05)
    assert len(env.transport.sent) == 1
    first.cancel()


@ALL
async def test_outgoing_call_error_reply(version: OcppVersion) -> None:
    env = Env(version)
    task = asyncio.create_task(env.session.call("Reset", env.reset_payload()))
    sent = await env.transport.wait_for(1)
    await env.frame([4, sent[1], "NotSupported", "no resets here", {"why": "test"}])
    outcome = await task
    assert outcome == CallOutcome(
        ok=False,
        error_code="NotSupported",
        error_description="no resets here",
        error_details={"why": "test"},
    )
    assert outcome.status == "error"


@ALL
async def test_invalid_station_response(version: OcppVersion) -> None:
    env = Env(version)
    task = asyncio.create_task(env.session.call("Reset", env.reset_payload()))
    sent = await env.transport.wait_for(1)
    reply = await env.frame([3, sent[1], {"status": "Whatever"}])
    outcome = await task
    assert not outcome.ok
    assert outcome.error_code == "PropertyConstraintViolation"
    assert outcome.payload == {"status": "Whatever"}
    if version is V21:
        # OCPP 2.1: the station is told with a CALLRESULTERROR
        assert reply is not None
        assert reply[:3] == [5, sent[1], "PropertyConstraintViolation"]
    else:
        assert reply is None


@ALL
async def test_close_fails_pending_and_queued_calls(version: OcppVersion) -> None:
    env = Env(version)
    pending = asyncio.create_task(env.session.call("Reset", env.reset_payload()))
    await env.transport.wait_for(1)
    queued = asyncio.create_task(env.session.call("Reset", env.reset_payload()))
    await asyncio.sleep(0.01)
    env.session.close()
    with pytest.raises(StationNotConnected):
        await pending
    with pytest.raises(StationNotConnected):
        await queued
    with pytest.raises(StationNotConnected):
        await env.session.call("Reset", env.reset_payload())
    assert len(env.transport.sent) == 1


@ALL
async def test_unknown_action_refused_before_sending(version: OcppVersion) -> None:
    env = Env(version)
    with pytest.raises(UnknownAction):
        await env.session.call("NoSuchAction", {})
    other = "GetVariables" if version is V16 else "GetConfiguration"
    with pytest.raises(UnknownAction):
        await env.session.call(other, {})
    assert env.transport.sent == []


@ALL
async def test_invalid_payload_refused_before_sending(version: OcppVersion) -> None:
    env = Env(version)
    with pytest.raises(InvalidPayload) as info:
        await env.session.call("Reset", {"type": "Sideways"})
    assert info.value.error_code == "PropertyConstraintViolation"
    assert info.value.path
    with pytest.raises(InvalidPayload) as info:
        await env.session.call("Reset", {})
    assert info.value.error_code == _code(
        version, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"
    )
    assert env.transport.sent == []


@ALL
async def test_call_and_incoming_call_interleave(version: OcppVersion) -> None:
    # While our CALL is outstanding the station may still send its own CALLs.
    env = Env(version)
    task = asyncio.create_task(env.session.call("Reset", env.reset_payload()))
    sent = await env.transport.wait_for(1)
    assert await env.frame([2, "h", "Heartbeat", {}]) == [3, "h", {"currentTime": TS}]
    await env.frame([3, sent[1], env.reset_response()])
    assert (await task).ok


async def test_transport_failure_while_calling_is_not_connected() -> None:
    env = Env(V201)
    env.transport.fail = ConnectionResetError("socket gone")
    with pytest.raises(StationNotConnected):
        await env.session.call("Reset", {"type": "Immediate"})
