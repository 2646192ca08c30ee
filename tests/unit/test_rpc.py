"""OCPP-J framing: parsing and encoding every message type, per protocol version."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ampyre.domain.models import OcppVersion
from ampyre.protocol import rpc
from ampyre.protocol.errors import ErrorKind, OcppError, error_code

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
ALL = pytest.mark.parametrize("version", list(OcppVersion))


def _raw(msg: Any) -> bytes:
    return orjson.dumps(msg)


def _frame_error(raw: str | bytes, version: OcppVersion) -> rpc.FrameError:
    with pytest.raises(rpc.FrameError) as info:
        rpc.parse(raw, version)
    return info.value


# ------------------------------------------------------------------ valid frames


@ALL
def test_call(version: OcppVersion) -> None:
    frame = rpc.parse(_raw([2, "abc", "Heartbeat", {}]), version)
    assert frame == rpc.Call("abc", "Heartbeat", {})


@ALL
def test_call_accepts_text_and_bytes(version: OcppVersion) -> None:
    text = '[2, "1", "BootNotification", {"a": {"b": [1, 2.5, null, true]}}]'
    assert rpc.parse(text, version) == rpc.parse(text.encode(), version)
    frame = rpc.parse(text, version)
    assert isinstance(frame, rpc.Call)
    assert frame.payload == {"a": {"b": [1, 2.5, None, True]}}


@ALL
def test_call_result(version: OcppVersion) -> None:
    assert rpc.parse(_raw([3, "x", {"status": "Accepted"}]), version) == rpc.CallResult(
        "x", {"status": "Accepted"}
    )


@ALL
def test_call_error(version: OcppVersion) -> None:
    frame = rpc.parse(_raw([4, "x", "NotImplemented", "nope", {"k": 1}]), version)
    assert frame == rpc.CallError("x", "NotImplemented", "nope", {"k": 1}, result_error=False)


@ALL
def test_call_error_without_details_is_tolerated(version: OcppVersion) -> None:
    frame = rpc.parse(_raw([4, "x", "GenericError", ""]), version)
    assert frame == rpc.CallError("x", "GenericError", "", {})


@ALL
def test_call_error_with_non_object_details_gets_empty_details(version: OcppVersion) -> None:
    frame = rpc.parse(_raw([4, "x", "GenericError", "", [1]]), version)
    assert isinstance(frame, rpc.CallError)
    assert frame.details == {}


@pytest.mark.parametrize("version", [V201, V21])
def test_call_result_error_in_2x(version: OcppVersion) -> None:
    frame = rpc.parse(_raw([5, "x", "FormatViolation", "bad", {}]), version)
    assert frame == rpc.CallError("x", "FormatViolation", "bad", {}, result_error=True)


def test_call_result_error_is_not_a_16_message() -> None:
    err = _frame_error(_raw([5, "x", "FormatViolation", "bad", {}]), V16)
    assert err.kind is ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED
    assert err.reply is True
    assert err.unique_id == "x"
    assert error_code(err.kind, V16) == "GenericError"


def test_send_in_21() -> None:
    frame = rpc.parse(_raw([6, "s1", "NotifyPeriodicEventStream", {"id": 1}]), V21)
    assert frame == rpc.Send("s1", "NotifyPeriodicEventStream", {"id": 1})


@pytest.mark.parametrize("version", [V16, V201])
def test_send_is_not_supported_before_21(version: OcppVersion) -> None:
    err = _frame_error(_raw([6, "s1", "NotifyPeriodicEventStream", {}]), version)
    assert err.kind is ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED
    assert err.reply is True


def test_malformed_send_is_never_answered() -> None:
    err = _frame_error(_raw([6, "s1", "X"]), V21)
    assert err.reply is False
    err = _frame_error(_raw([6, "s1", "X", []]), V21)
    assert err.reply is False


def test_message_id_of_exactly_36_characters_is_accepted() -> None:
    uid = "u" * rpc.MAX_MESSAGE_ID_LEN
    assert rpc.parse(_raw([2, uid, "Heartbeat", {}]), V201) == rpc.Call(uid, "Heartbeat", {})


# ------------------------------------------------------------------ unknown type


def test_unknown_message_type_201_message_type_not_supported() -> None:
    err = _frame_error(_raw([7, "m", "Heartbeat", {}]), V201)
    assert (err.kind, err.unique_id, err.reply) == (ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, "m", True)
    assert error_code(err.kind, V201) == "MessageTypeNotSupported"


def test_unknown_message_type_16_generic_error() -> None:
    err = _frame_error(_raw([9, "m", "Heartbeat", {}]), V16)
    assert err.reply is True
    assert error_code(err.kind, V16) == "GenericError"


def test_unknown_message_type_21_is_ignored() -> None:
    err = _frame_error(_raw([7, "m", "Heartbeat", {}]), V21)
    assert err.reply is False


@ALL
@pytest.mark.parametrize("mtype", [0, 1, -2, 99, 2**40])
def test_unknown_integer_types(version: OcppVersion, mtype: int) -> None:
    err = _frame_error(_raw([mtype, "m", {}]), version)
    assert err.kind is ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED
    assert err.reply is (version is not V21)


# ------------------------------------------------------------------ malformed


@ALL
@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[2, 'single quotes']", b"[2,", b"\xff\xfe", b"{]"]
)
def test_invalid_json(version: OcppVersion, raw: bytes) -> None:
    err = _frame_error(raw, version)
    assert err.kind is ErrorKind.RPC_FRAMEWORK
    assert err.unique_id == rpc.UNKNOWN_MESSAGE_ID == "-1"
    assert err.reply is True


@ALL
@pytest.mark.parametrize(
    "msg",
    [{}, {"a": 1}, 2, "text", None, True, [], [2], [2, "id"]],
)
def test_not_an_array_of_three(version: OcppVersion, msg: Any) -> None:
    err = _frame_error(_raw(msg), version)
    assert err.kind is ErrorKind.RPC_FRAMEWORK
    assert err.reply is True


def test_short_array_keeps_readable_id() -> None:
    assert _frame_error(_raw([2, "keep"]), V201).unique_id == "keep"
    assert _frame_error(_raw([2, 5]), V201).unique_id == "-1"


@ALL
@pytest.mark.parametrize("uid", [1, None, "", 1.5, ["a"], {"a": 1}, "x" * 37, True])
def test_unreadable_message_id_answers_minus_one(version: OcppVersion, uid: Any) -> None:
    err = _frame_error(_raw([2, uid, "Heartbeat", {}]), version)
    assert err.unique_id == "-1"
    assert err.kind is ErrorKind.RPC_FRAMEWORK
    assert err.reply is True


@ALL
@pytest.mark.parametrize("mtype", ["2", 2.0, None, True, [2]])
def test_message_type_must_be_an_integer(version: OcppVersion, mtype: Any) -> None:
    err = _frame_error(_raw([mtype, "id", "Heartbeat", {}]), version)
    assert err.kind is ErrorKind.RPC_FRAMEWORK
    assert err.unique_id == "id"


@ALL
@pytest.mark.parametrize(
    ("msg", "kind"),
    [
        ([2, "id", "Heartbeat"], ErrorKind.RPC_FRAMEWORK),
        ([2, "id", "Heartbeat", {}, {}], ErrorKind.RPC_FRAMEWORK),
        ([2, "id", 5, {}], ErrorKind.RPC_FRAMEWORK),
        ([2, "id", None, {}], ErrorKind.RPC_FRAMEWORK),
        ([2, "id", "Heartbeat", []], ErrorKind.FORMAT),
        ([2, "id", "Heartbeat", "{}"], ErrorKind.FORMAT),
        ([2, "id", "Heartbeat", None], ErrorKind.FORMAT),
        ([3, "id", []], ErrorKind.RPC_FRAMEWORK),
        ([3, "id", {}, {}], ErrorKind.RPC_FRAMEWORK),
    ],
)
def test_wrong_shapes(version: OcppVersion, msg: list[Any], kind: ErrorKind) -> None:
    err = _frame_error(_raw(msg), version)
    assert (err.kind, err.unique_id, err.reply) == (kind, "id", True)


@ALL
@pytest.mark.parametrize(
    "msg",
    [
        [4, "id", 1, "d", {}],
        [4, "id", "code", None, {}],
        [4, "id", "code", "d", {}, "extra"],
    ],
)
def test_malformed_call_error_is_never_answered(version: OcppVersion, msg: list[Any]) -> None:
    # Answering a CALLERROR with a CALLERROR could loop forever between two peers.
    assert _frame_error(_raw(msg), version).reply is False


# ------------------------------------------------------------------ error codes


@pytest.mark.parametrize(
    ("kind", "v16", "v2"),
    [
        (ErrorKind.FORMAT, "FormationViolation", "FormatViolation"),
        (ErrorKind.OCCURRENCE, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
        (ErrorKind.RPC_FRAMEWORK, "FormationViolation", "RpcFrameworkError"),
        (ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, "GenericError", "MessageTypeNotSupported"),
        (ErrorKind.TYPE, "TypeConstraintViolation", "TypeConstraintViolation"),
        (ErrorKind.PROPERTY, "PropertyConstraintViolation", "PropertyConstraintViolation"),
        (ErrorKind.NOT_IMPLEMENTED, "NotImplemented", "NotImplemented"),
        (ErrorKind.NOT_SUPPORTED, "NotSupported", "NotSupported"),
        (ErrorKind.INTERNAL, "InternalError", "InternalError"),
        (ErrorKind.PROTOCOL, "ProtocolError", "ProtocolError"),
        (ErrorKind.SECURITY, "SecurityError", "SecurityError"),
        (ErrorKind.GENERIC, "GenericError", "GenericError"),
    ],
)
def test_error_code_spellings(kind: ErrorKind, v16: str, v2: str) -> None:
    assert error_code(kind, V16) == v16
    assert error_code(kind, V201) == v2
    assert error_code(kind, V21) == v2


def test_every_kind_has_a_code_in_every_version() -> None:
    for version in OcppVersion:
        for kind in ErrorKind:
            assert error_code(kind, version)


def test_ocpp_error_truncates_description() -> None:
    err = OcppError(ErrorKind.GENERIC, "x" * 1000)
    assert len(err.description) == 255
    assert err.details == {}
    assert str(OcppError(ErrorKind.INTERNAL)) == "internal"


# ------------------------------------------------------------------ encoding


def test_encode_call_round_trip() -> None:
    data = rpc.encode_call("7", "Reset", {"type": "Soft"})
    assert orjson.loads(data) == [2, "7", "Reset", {"type": "Soft"}]
    assert rpc.parse(data, V16) == rpc.Call("7", "Reset", {"type": "Soft"})


def test_encode_result_round_trip() -> None:
    data = rpc.encode_result("7", {"status": "Accepted"})
    assert orjson.loads(data) == [3, "7", {"status": "Accepted"}]


def test_encode_error_always_carries_details_and_bounded_description() -> None:
    data = rpc.encode_error("7", "InternalError", "d" * 400)
    msg = orjson.loads(data)
    assert msg[0] == 4
    assert msg[1:3] == ["7", "InternalError"]
    assert len(msg[3]) == 255
    assert msg[4] == {}


def test_encode_call_result_error() -> None:
    data = rpc.encode_error("7", "FormatViolation", "bad", {"path": "data"}, result_error=True)
    assert orjson.loads(data) == [5, "7", "FormatViolation", "bad", {"path": "data"}]
    frame = rpc.parse(data, V21)
    assert isinstance(frame, rpc.CallError)
    assert frame.result_error


def test_encoders_return_utf8_bytes() -> None:
    data = rpc.encode_result("é", {"s": "€"})
    assert isinstance(data, bytes)
    assert data.decode("utf-8") == '[3,"é",{"s":"€"}]'


# ------------------------------------------------------------------ frames never answered


@ALL
def test_call_error_with_unreadable_id_is_not_answered(version: OcppVersion) -> None:
    assert _frame_error(_raw([4, 17, "GenericError", "", {}]), version).reply is False


@pytest.mark.parametrize("msg", [[6, 17, "X", {}], [7, None, "X", {}]])
def test_21_unanswerable_frames_with_unreadable_id(msg: list[Any]) -> None:
    assert _frame_error(_raw(msg), V21).reply is False
