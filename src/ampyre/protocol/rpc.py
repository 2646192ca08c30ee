"""OCPP-J framing: parse and encode CALL / CALLRESULT / CALLERROR, and for 2.1 also
CALLRESULTERROR and SEND (OCPP-J 1.6 section 4, OCPP 2.0.1/2.1 Part 4 section 4)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import orjson

from ampyre.domain.models import OcppVersion
from ampyre.protocol.errors import ErrorKind, OcppError

# OCPP 2.0.1 Part 4 4.1.4: message id is a string of at most 36 characters.
MAX_MESSAGE_ID_LEN = 36
# Id used in a CALLERROR when the offending message's id cannot be read.
UNKNOWN_MESSAGE_ID = "-1"


class MessageType(enum.IntEnum):
    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    CALLRESULTERROR = 5  # 2.1 only
    SEND = 6  # 2.1 only


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__,
# about twice the cost of a plain one, and one frame is built per message received.
@dataclass(slots=True)
class Call:
    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(slots=True, frozen=True)
class Send:
    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallResult:
    unique_id: str
    payload: dict[str, Any]


@dataclass(slots=True, frozen=True)
class CallError:
    unique_id: str
    code: str
    description: str
    details: dict[str, Any]
    result_error: bool = False  # True for a 2.1 CALLRESULTERROR


Frame = Call | Send | CallResult | CallError


class FrameError(OcppError):
    """A frame we cannot process. `unique_id` is what we answer to (may be UNKNOWN_MESSAGE_ID);
    `reply` False means the spec wants the frame ignored rather than answered."""

    def __init__(
        self, kind: ErrorKind, description: str, unique_id: str, reply: bool = True
    ) -> None:
        super().__init__(kind, description)
        self.unique_id = unique_id
        self.reply = reply


def _v2x(version: OcppVersion) -> bool:
    return version is not OcppVersion.V16


def parse(raw: str | bytes, version: OcppVersion) -> Frame:
    """Decode one WebSocket text frame. Raises FrameError for anything malformed."""
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise FrameError(
            ErrorKind.RPC_FRAMEWORK, "Message is not valid JSON", UNKNOWN_MESSAGE_ID
        ) from None
    if type(msg) is list and len(msg) == 4:
        # The common case, a well-formed CALL, decided in one step; anything else (and any
        # fault) takes the checks below. orjson builds exact list/dict/str/int types.
        mtype, uid, action, payload = msg
        if (
            type(mtype) is int
            and mtype == 2
            and type(uid) is str
            and 0 < len(uid) <= MAX_MESSAGE_ID_LEN
            and type(action) is str
            and type(payload) is dict
        ):
            return Call(uid, action, payload)
    if not isinstance(msg, list) or len(msg) < 3:
        raise FrameError(
            ErrorKind.RPC_FRAMEWORK,
            "Message is not an OCPP-J array [MessageTypeId, MessageId, ...]",
            _readable_id(msg),
            reply=_answerable(msg[0] if isinstance(msg, list) and msg else None, version),
        )
    mtype, uid = msg[0], msg[1]
    if type(mtype) is not int:
        raise FrameError(
            ErrorKind.RPC_FRAMEWORK, "MessageTypeId must be an integer", _readable_id(msg)
        )
    if not isinstance(uid, str) or not uid or len(uid) > MAX_MESSAGE_ID_LEN:
        raise FrameError(
            ErrorKind.RPC_FRAMEWORK,
            f"MessageId must be a non-empty string of at most {MAX_MESSAGE_ID_LEN} characters",
            UNKNOWN_MESSAGE_ID,
            reply=_answerable(mtype, version),
        )
    n = len(msg)
    if mtype == 2:
        if n != 4 or not isinstance(msg[2], str):
            raise FrameError(ErrorKind.RPC_FRAMEWORK, "CALL must be [2, id, action, {}]", uid)
        if not isinstance(msg[3], dict):
            raise FrameError(ErrorKind.FORMAT, "CALL payload must be a JSON object", uid)
        return Call(uid, msg[2], msg[3])
    if mtype == 3:
        if n != 3 or not isinstance(msg[2], dict):
            raise FrameError(ErrorKind.RPC_FRAMEWORK, "CALLRESULT must be [3, id, {}]", uid)
        return CallResult(uid, msg[2])
    if mtype == 4 or (mtype == 5 and _v2x(version)):
        # errorDetails is mandatory on the wire; accept its absence from sloppy peers.
        if n not in (4, 5) or not isinstance(msg[2], str) or not isinstance(msg[3], str):
            raise FrameError(
                ErrorKind.RPC_FRAMEWORK,
                "CALLERROR must be [4, id, errorCode, errorDescription, {}]",
                uid,
                reply=False,
            )
        details = msg[4] if n == 5 and isinstance(msg[4], dict) else {}
        return CallError(uid, msg[2], msg[3], details, result_error=mtype == 5)
    if mtype == 6 and version is OcppVersion.V21:
        if n != 4 or not isinstance(msg[2], str) or not isinstance(msg[3], dict):
            # SEND gets no answer of any kind (OCPP 2.1 Part 4 4.2.5).
            raise FrameError(
                ErrorKind.RPC_FRAMEWORK, "SEND must be [6, id, action, {}]", uid, reply=False
            )
        return Send(uid, msg[2], msg[3])
    # OCPP 2.1 errata: an unknown MessageTypeId is ignored. 2.0.1 answers
    # MessageTypeNotSupported; 1.6 has no such code and gets GenericError.
    raise FrameError(
        ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED,
        f"MessageTypeId {mtype} is not supported",
        uid,
        reply=version is not OcppVersion.V21,
    )


def _answerable(mtype: object, version: OcppVersion) -> bool:
    """Whether a malformed frame of this type may be answered with a CALLERROR: never a
    CALLERROR / CALLRESULTERROR (no error ping-pong), and in 2.1 never a SEND or an unknown
    MessageTypeId (OCPP 2.1 Part 4: those are ignored)."""
    if type(mtype) is not int:
        return True
    if mtype in (4, 5):
        return False
    if version is OcppVersion.V21:
        return mtype in (2, 3)
    return True


def _readable_id(msg: object) -> str:
    if isinstance(msg, list) and len(msg) >= 2:
        uid = msg[1]
        if isinstance(uid, str) and 0 < len(uid) <= MAX_MESSAGE_ID_LEN:
            return uid
    return UNKNOWN_MESSAGE_ID


# Encoders return UTF-8 bytes; the gateway sends them as text frames without re-encoding.


def encode_call(unique_id: str, action: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps([2, unique_id, action, payload])


def encode_result(unique_id: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps([3, unique_id, payload])


def encode_error(
    unique_id: str,
    code: str,
    description: str,
    details: dict[str, Any] | None = None,
    *,
    result_error: bool = False,
) -> bytes:
    mtype = 5 if result_error else 4
    return orjson.dumps([mtype, unique_id, code, description[:255], details or {}])
