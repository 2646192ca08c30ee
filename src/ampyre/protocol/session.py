"""One station's OCPP-J conversation: dispatch of incoming CALLs through a handler table,
our outgoing CALLs (one outstanding at a time, queued behind a lock), and the audit trail.

Transport-agnostic: the gateway feeds raw frames in and gives a `send` coroutine.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from ampyre.domain.models import Direction, MessageLogEntry, OcppVersion, RegistrationStatus
from ampyre.protocol import limits, rpc
from ampyre.protocol.errors import ErrorKind, OcppError, error_code
from ampyre.protocol.redact import HOT_ACTIONS as _UNREDACTED
from ampyre.protocol.redact import redact_frame
from ampyre.protocol.schemas import (
    JsonSchemaValueException,
    SchemaRegistry,
    Validator,
    violation_of,
)
from ampyre.services.commands import (
    CallOutcome,
    CommandTimeout,
    InvalidPayload,
    StationNotConnected,
    UnknownAction,
)
from ampyre.services.ports import StoreUnavailable

log = logging.getLogger(__name__)

_ids = itertools.count(1)
# Module-level names for what every frame reads (an enum member or a class attribute is
# an attribute lookup, and hashing an enum member runs Python code).
_IN = Direction.IN
_OUT = Direction.OUT
_REJECTED = RegistrationStatus.REJECTED
_PENDING = RegistrationStatus.PENDING
_perf_counter = time.perf_counter
_now = datetime.now
# An audit entry is built as a plain tuple of its fields (a NamedTuple's own constructor
# is a Python function); strings, not enum members, so that it is not GC-tracked.
_new_tuple = tuple.__new__


@dataclass(slots=True)
class CallContext:
    """What a handler knows about the call besides its payload."""

    station_id: str
    version: OcppVersion
    session: OcppSession
    unique_id: str = ""


Handler = Callable[[CallContext, dict[str, Any]], Awaitable[dict[str, Any]]]
# An action a station may CALL: its handler and its request and response validators,
# resolved once per session and action.
_Route = tuple[Handler, Validator | None, Validator | None]
SendHandler = Callable[[CallContext, dict[str, Any]], Awaitable[None]]


@dataclass(slots=True, frozen=True)
class HandlerTable:
    """Explicit action -> handler mapping for one OCPP version."""

    version: OcppVersion
    calls: Mapping[str, Handler]
    sends: Mapping[str, SendHandler] = field(default_factory=dict)  # 2.1 SEND


class SessionObserver(Protocol):
    """Metrics and audit hooks; kept tiny because they run for every frame."""

    def message(
        self, version: OcppVersion, direction: Direction, mtype: int, action: str | None
    ) -> None: ...
    def error(self, version: OcppVersion, code: str) -> None: ...
    def handled(self, action: str, seconds: float) -> None: ...
    def audit(self, entry: MessageLogEntry) -> None: ...


class Transport(Protocol):
    async def send(self, data: bytes) -> None: ...


_ANSWERED_KEPT = 8
# TriggerMessage.requestedMessage -> the action the station then sends (2.0.1 F06).
_TRIGGER_ACTIONS = frozenset({"TriggerMessage", "ExtendedTriggerMessage"})
_TRIGGERED_ACTION = {
    "SignChargingStationCertificate": "SignCertificate",
    "SignV2GCertificate": "SignCertificate",
    "SignCombinedCertificate": "SignCertificate",
}


class OcppSession:
    def __init__(
        self,
        station_id: str,
        version: OcppVersion,
        transport: Transport,
        table: HandlerTable,
        schemas: SchemaRegistry,
        observer: SessionObserver,
        call_timeout: float = 30.0,
        audit: bool = True,
    ) -> None:
        self.station_id = station_id
        self.version = version
        self._transport = transport
        self._table = table
        self._schemas = schemas
        self._observer = observer
        self._audit = audit
        self._v21 = version is OcppVersion.V21
        self._routes: dict[str, _Route] = {}
        self.call_timeout = call_timeout
        self.boot_status: RegistrationStatus | None = None
        # Actions a TriggerMessage asked for: allowed once each while Pending (B02.FR.09).
        self._triggered: set[str] = set()
        self.closed = False
        self._call_lock = asyncio.Lock()
        self._pending_id: str | None = None
        self._pending_action: str | None = None
        self._pending: asyncio.Future[CallOutcome] | None = None
        # 2.1: the last CALLs we answered (id -> action), to log a CALLRESULTERROR's action.
        self._answered: dict[str, str] = {}

    # ---------------------------------------------------------------- incoming

    async def on_frame(self, raw: bytes | str) -> None:
        """Process one received text frame. Never raises (except cancellation)."""
        try:
            frame = rpc.parse(raw, self.version)
        except rpc.FrameError as exc:
            self._trace(Direction.IN, 0, exc.unique_id, None, raw)
            log.info("%s: bad frame: %s", self.station_id, exc.description)
            if exc.reply:
                await self._send_error(exc.unique_id, exc.kind, exc.description)
            else:
                self._observer.error(self.version, error_code(exc.kind, self.version))
            return
        if type(frame) is rpc.Call:
            self._trace(_IN, 2, frame.unique_id, frame.action, raw)
            await self._on_call(frame, raw)
        elif type(frame) is rpc.CallResult:
            self._trace(Direction.IN, 3, frame.unique_id, self._pending_action, raw)
            await self._on_result(frame)
        elif type(frame) is rpc.CallError:
            # Logged under the action it answers: our CALL's (CALLERROR) or, for a 2.1
            # CALLRESULTERROR, the station's CALL whose CALLRESULT it refuses.
            if frame.result_error:
                action = self._answered.get(frame.unique_id)
            else:
                action = self._pending_action if frame.unique_id == self._pending_id else None
            self._trace(Direction.IN, 5 if frame.result_error else 4, frame.unique_id, action, raw)
            self._on_error(frame)
        elif type(frame) is rpc.Send:
            self._trace(Direction.IN, 6, frame.unique_id, frame.action, raw)
            await self._on_send(frame)

    async def _on_call(self, call: rpc.Call, raw: bytes | str) -> None:
        started = _perf_counter()
        action = call.action
        try:
            response, check_response = await self._dispatch(call, raw)
        except OcppError as exc:
            await self._send_error(call.unique_id, exc.kind, exc.description, exc.details)
            return
        finally:
            self._observer.handled(action, _perf_counter() - started)
        if check_response is None:
            raise KeyError(action)  # as SchemaRegistry.validate: no response schema
        try:
            check_response(response)
        except JsonSchemaValueException as exc:
            # Our own bug: never send an invalid message (architecture house rule).
            log.error(
                "%s: our %s response violates the schema (%s): %r",
                self.station_id,
                action,
                violation_of(exc).message,
                response,
            )
            await self._send_error(call.unique_id, ErrorKind.INTERNAL, "Internal error")
            return
        data = rpc.encode_result(call.unique_id, response)
        self._trace(_OUT, 3, call.unique_id, action, data)
        if self._v21:
            self._answered[call.unique_id] = action
            if len(self._answered) > _ANSWERED_KEPT:
                del self._answered[next(iter(self._answered))]
        await self._transport.send(data)

    def _resolve(self, action: str) -> _Route:
        if action not in self._schemas.actions:
            # OCPP-J 1.6 4.2.3 / 2.0.1 Part 4 4.3: "Requested Action is not known by receiver".
            raise OcppError(ErrorKind.NOT_IMPLEMENTED, f"Action {action[:64]!r} is not implemented")
        handler = self._table.calls.get(action)
        if handler is None:
            # An action of this version Ampyre does not handle (or one a CSMS never gets):
            # "Requested Action is recognized but not supported by the receiver".
            raise OcppError(ErrorKind.NOT_SUPPORTED, f"Action {action!r} is not supported")
        # Only actions of the handler table are remembered: a bounded dict.
        route = self._routes[action] = (
            handler,
            self._schemas.validator(action, response=False),
            self._schemas.validator(action, response=True),
        )
        return route

    async def _dispatch(
        self, call: rpc.Call, raw: bytes | str
    ) -> tuple[dict[str, Any], Validator | None]:
        """The handler's response and the validator it must pass."""
        action = call.action
        route = self._routes.get(action)
        if route is None:
            route = self._resolve(action)
        handler, check_request, check_response = route
        payload = call.payload
        if check_request is None:
            raise KeyError(action)  # as SchemaRegistry.validate: no request schema
        try:
            check_request(payload)
        except JsonSchemaValueException as exc:
            violation = violation_of(exc)
            raise OcppError(violation.kind, violation.message, {"path": violation.path}) from None
        # Before any write (limits.py); read off the frame as received.
        unstorable = limits.frame_violation(payload, raw)
        if unstorable is not None:
            log.warning("%s: refused %s: %s", self.station_id, action, unstorable)
            raise OcppError(ErrorKind.PROPERTY, unstorable)
        status = self.boot_status
        if (
            (status is _REJECTED or status is _PENDING)
            and action != "BootNotification"
            and self._refused_before_accept(action)
        ):
            raise OcppError(ErrorKind.SECURITY, "Station is not accepted by the CSMS")
        ctx = CallContext(self.station_id, self.version, self, call.unique_id)
        try:
            return await handler(ctx, payload), check_response
        except OcppError:
            raise
        except StoreUnavailable:
            # Durable before ack: nothing stored, so no CALLRESULT; the station retries.
            log.warning("%s: store unavailable while handling %s", self.station_id, action)
            raise OcppError(
                ErrorKind.INTERNAL, "Temporarily unable to store; retry later"
            ) from None
        except Exception:
            log.exception("%s: handler for %s failed", self.station_id, action)
            raise OcppError(ErrorKind.INTERNAL, "Internal error") from None

    def _refused_before_accept(self, action: str) -> bool:
        # OCPP 2.0.1 B03.FR.07 (Rejected) and B02.FR.09 (Pending, unless the message was
        # triggered by the CSMS): answer SecurityError. 1.6 has no such rule for Pending and
        # many 1.6 stations report status while pending, so 1.6 is refused only when Rejected.
        status = self.boot_status
        if status is RegistrationStatus.REJECTED:
            return True
        if status is not RegistrationStatus.PENDING or self.version is OcppVersion.V16:
            return False
        if action in self._triggered:
            self._triggered.discard(action)
            return False
        return True

    async def _on_send(self, send: rpc.Send) -> None:
        # SEND frames are never answered, not even with an error (OCPP 2.1 Part 4 4.2.5).
        handler = self._table.sends.get(send.action)
        if handler is None:
            log.info("%s: ignoring unsupported SEND %s", self.station_id, send.action[:64])
            return
        try:
            violation = self._schemas.validate(send.action, send.payload, response=False)
        except KeyError:
            log.info("%s: ignoring SEND of unknown action %s", self.station_id, send.action[:64])
            return
        if violation is not None:
            log.info("%s: invalid SEND %s: %s", self.station_id, send.action, violation.message)
            return
        try:
            await handler(CallContext(self.station_id, self.version, self), send.payload)
        except Exception:
            log.exception("%s: SEND handler for %s failed", self.station_id, send.action)

    async def _on_result(self, result: rpc.CallResult) -> None:
        fut, action = self._pending, self._pending_action
        if fut is None or result.unique_id != self._pending_id or action is None:
            log.info("%s: CALLRESULT for unknown id %r", self.station_id, result.unique_id)
            return
        violation = self._schemas.validate(action, result.payload, response=True)
        if violation is not None:
            code = error_code(violation.kind, self.version)
            if self.version is OcppVersion.V21:
                # OCPP 2.1 Part 4 4.2.4: tell the station its CALLRESULT was invalid.
                data = rpc.encode_error(
                    result.unique_id,
                    code,
                    violation.message,
                    {"path": violation.path},
                    result_error=True,
                )
                self._trace(Direction.OUT, 5, result.unique_id, action, data)
                await self._transport.send(data)
            outcome = CallOutcome(
                ok=False,
                payload=result.payload,
                error_code=code,
                error_description=f"Station's response is invalid: {violation.message}",
                error_details={"path": violation.path},
            )
        else:
            outcome = CallOutcome(ok=True, payload=result.payload)
        if not fut.done():
            fut.set_result(outcome)

    def _on_error(self, err: rpc.CallError) -> None:
        fut = self._pending
        if err.result_error or fut is None or err.unique_id != self._pending_id:
            log.info(
                "%s: %s %s for id %r: %s",
                self.station_id,
                "CALLRESULTERROR" if err.result_error else "CALLERROR",
                err.code,
                err.unique_id,
                err.description,
            )
            return
        if not fut.done():
            fut.set_result(
                CallOutcome(
                    ok=False,
                    error_code=err.code,
                    error_description=err.description,
                    error_details=err.details,
                )
            )

    async def _send_error(
        self,
        unique_id: str,
        kind: ErrorKind,
        description: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        code = error_code(kind, self.version)
        self._observer.error(self.version, code)
        data = rpc.encode_error(unique_id, code, description, details)
        self._trace(Direction.OUT, 4, unique_id, None, data)
        await self._transport.send(data)

    # ---------------------------------------------------------------- outgoing

    async def call(
        self, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> CallOutcome:
        """Send a CALL and wait for the answer. One CALL is outstanding at a time
        (OCPP-J 1.6 4.1.1, OCPP 2.0.1 Part 4 4.1.1); later ones queue on the lock, and the
        timeout covers the wait in the queue too."""
        if (
            action not in self._schemas.actions
            or self._schemas.validator(action, response=True) is None
        ):
            # Unknown, or a SEND-only message that cannot be a CALL.
            raise UnknownAction(f"{action} is not an action of {self.version.value}")
        violation = self._schemas.validate(action, payload, response=False)
        if violation is not None:
            raise InvalidPayload(
                violation.message, error_code(violation.kind, self.version), violation.path
            )
        if self.closed:
            raise StationNotConnected(self.station_id)
        limit = self.call_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                async with self._call_lock:
                    if self.closed:
                        raise StationNotConnected(self.station_id)
                    unique_id = f"{next(_ids):x}-{time.time_ns() % 10**12:x}"
                    fut: asyncio.Future[CallOutcome] = asyncio.get_running_loop().create_future()
                    self._pending, self._pending_id, self._pending_action = (
                        fut,
                        unique_id,
                        action,
                    )
                    if action in _TRIGGER_ACTIONS:
                        requested = str(payload.get("requestedMessage", ""))
                        self._triggered.add(_TRIGGERED_ACTION.get(requested, requested))
                    try:
                        data = rpc.encode_call(unique_id, action, payload)
                        self._trace(Direction.OUT, 2, unique_id, action, data)
                        try:
                            await self._transport.send(data)
                        except Exception as exc:
                            # The socket died before the gateway noticed.
                            self.close()
                            raise StationNotConnected(self.station_id) from exc
                        return await fut
                    finally:
                        self._pending = self._pending_id = self._pending_action = None
        except TimeoutError:
            raise CommandTimeout(
                f"{self.station_id} did not answer {action} within {limit:g} s"
            ) from None

    def close(self) -> None:
        """The connection is gone: fail the outstanding CALL, refuse new ones."""
        self.closed = True
        fut = self._pending
        if fut is not None and not fut.done():
            fut.set_exception(StationNotConnected(self.station_id))

    # ---------------------------------------------------------------- audit

    def _trace(
        self,
        direction: Direction,
        mtype: int,
        unique_id: str,
        action: str | None,
        raw: bytes | str,
    ) -> None:
        self._observer.message(self.version, direction, mtype, action)
        if self._audit:
            text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
            if action not in _UNREDACTED:
                text = redact_frame(text, action)  # no passwords or keys in the log (redact.py)
            entry: MessageLogEntry = _new_tuple(
                MessageLogEntry,
                (
                    self.station_id,
                    "in" if direction is _IN else "out",
                    mtype,
                    unique_id,
                    action,
                    text,
                    _now(UTC),
                ),
            )
            self._observer.audit(entry)
