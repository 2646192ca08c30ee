"""Property-based fuzzing of the OCPP-J framing and of a whole session (hypothesis).

Whatever a station sends: `rpc.parse` raises nothing but FrameError, and a session never
raises and answers with nothing or exactly one well-formed CALLRESULT / CALLERROR.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fakes import FakeRouter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tx_fakes import FakeAuth, FakeTxStore

from ampyre.adapters.memory import MemoryStore
from ampyre.config import Settings
from ampyre.domain.models import Direction, MessageLogEntry, OcppVersion, Station
from ampyre.protocol import rpc
from ampyre.protocol.commands import OcppStationCommands
from ampyre.protocol.schemas import Schemas
from ampyre.protocol.session import OcppSession
from ampyre.protocol.tables import build_tables
from ampyre.services.provisioning import ProvisioningService
from ampyre.services.transactions import TransactionService

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SESSION_FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
VERSIONS = pytest.mark.parametrize("version", list(OcppVersion))

V2_CODES = {
    "FormatViolation",
    "GenericError",
    "InternalError",
    "MessageTypeNotSupported",
    "NotImplemented",
    "NotSupported",
    "OccurrenceConstraintViolation",
    "PropertyConstraintViolation",
    "ProtocolError",
    "RpcFrameworkError",
    "SecurityError",
    "TypeConstraintViolation",
}
V16_CODES = {
    "NotImplemented",
    "NotSupported",
    "InternalError",
    "ProtocolError",
    "SecurityError",
    "FormationViolation",
    "PropertyConstraintViolation",
    "OccurenceConstraintViolation",
    "TypeConstraintViolation",
    "GenericError",
}

_SCHEMAS = Schemas()

# ------------------------------------------------------------------ strategies

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=12,
)
ACTIONS = sorted(
    {"BootNotification", "Heartbeat", "StatusNotification", "NotifyEvent", "NotifyReport"}
    | {"Authorize", "MeterValues", "Reset", "DataTransfer", "TransactionEvent"}
    | {"StartTransaction", "StopTransaction"}
)
message_ids = (
    st.text(max_size=40)
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.none()
    | st.sampled_from(["1", "-1", "x" * 36])
)
message_types = st.sampled_from([2, 3, 4, 5, 6, 7, 0, -1, "2", 2.0, True, None])
actions = st.sampled_from(ACTIONS) | st.text(max_size=20)
payloads = st.dictionaries(st.text(max_size=20), json_values, max_size=6) | json_values


def _near_valid_payloads() -> st.SearchStrategy[dict[str, Any]]:
    """Valid-looking payloads with some fields replaced by arbitrary values."""
    bases: list[dict[str, Any]] = [
        {"chargePointVendor": "ACME", "chargePointModel": "One"},
        {"chargingStation": {"vendorName": "ACME", "model": "One"}, "reason": "PowerUp"},
        {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
        {
            "timestamp": "2025-01-01T00:00:00Z",
            "connectorStatus": "Available",
            "evseId": 1,
            "connectorId": 1,
        },
        {"connectorId": 1, "idTag": "TAG", "meterStart": 10, "timestamp": "2025-01-01T00:00:00Z"},
        {"transactionId": 1, "meterStop": 20, "timestamp": "2025-01-01T01:00:00Z"},
        {
            "connectorId": 1,
            "transactionId": 1,
            "meterValue": [
                {"timestamp": "2025-01-01T00:30:00Z", "sampledValue": [{"value": "15"}]}
            ],
        },
        {
            "eventType": "Started",
            "timestamp": "2025-01-01T00:00:00Z",
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "T1"},
            "evse": {"id": 1, "connectorId": 1},
            "idToken": {"idToken": "TAG", "type": "ISO14443"},
            "meterValue": [{"timestamp": "2025-01-01T00:00:00Z", "sampledValue": [{"value": 1}]}],
        },
        {},
    ]

    @st.composite
    def mutate(draw: st.DrawFn) -> dict[str, Any]:
        base = dict(draw(st.sampled_from(bases)))
        for key in draw(st.lists(st.sampled_from([*base, "extra", "timestamp"]), max_size=2)):
            if draw(st.booleans()):
                base[key] = draw(json_values)
            else:
                base.pop(key, None)
        return base

    return mutate()


ocpp_arrays = st.one_of(
    st.tuples(message_types, message_ids, actions, payloads | _near_valid_payloads()).map(list),
    st.tuples(message_types, message_ids, payloads).map(list),
    st.tuples(message_types, message_ids, st.text(max_size=20), st.text(max_size=20), payloads).map(
        list
    ),
    st.lists(json_values, max_size=6),
)


def _encoded(value: Any) -> bytes:
    return orjson.dumps(value)


raw_frames = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    json_values.map(_encoded),
    ocpp_arrays.map(_encoded),
    ocpp_arrays.map(lambda v: _encoded(v).decode()),
)


# ------------------------------------------------------------------ rpc.parse


@FUZZ
@given(raw=raw_frames)
def test_parse_raises_only_frame_errors(raw: bytes | str) -> None:
    for version in OcppVersion:
        _check_parse(version, raw)


def _check_parse(version: OcppVersion, raw: bytes | str) -> None:
    try:
        frame = rpc.parse(raw, version)
    except rpc.FrameError as exc:
        assert isinstance(exc.unique_id, str)
        assert 0 < len(exc.unique_id) <= rpc.MAX_MESSAGE_ID_LEN
        return
    assert isinstance(frame, rpc.Call | rpc.CallResult | rpc.CallError | rpc.Send)
    assert 0 < len(frame.unique_id) <= rpc.MAX_MESSAGE_ID_LEN
    if isinstance(frame, rpc.Send):
        assert version is OcppVersion.V21


@FUZZ
@given(value=ocpp_arrays)
def test_parse_round_trips_what_it_accepts(value: list[Any]) -> None:
    for version in OcppVersion:
        _check_round_trip(version, value)


def _check_round_trip(version: OcppVersion, value: list[Any]) -> None:
    try:
        frame = rpc.parse(_encoded(value), version)
    except rpc.FrameError:
        return
    if isinstance(frame, rpc.Call):
        assert (
            rpc.parse(rpc.encode_call(frame.unique_id, frame.action, frame.payload), version)
            == frame
        )
    elif isinstance(frame, rpc.CallResult):
        assert rpc.parse(rpc.encode_result(frame.unique_id, frame.payload), version) == frame


# ------------------------------------------------------------------ whole session


class _Transport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.sent.append(data)


class _Observer:
    def message(
        self, version: OcppVersion, direction: Direction, mtype: int, action: str | None
    ) -> None:
        pass

    def error(self, version: OcppVersion, code: str) -> None:
        pass

    def handled(self, action: str, seconds: float) -> None:
        pass

    def audit(self, entry: MessageLogEntry) -> None:
        pass


async def _feed(version: OcppVersion, raw: bytes | str) -> list[bytes]:
    store = MemoryStore()
    await store.create_station(Station(id="FUZZ-1", created_at=datetime.now(UTC)))
    settings = Settings()
    auth = FakeAuth()
    transactions = TransactionService(
        FakeTxStore(),
        auth,  # type: ignore[arg-type]
        OcppStationCommands(FakeRouter()),
        settings,
    )
    tables = build_tables(ProvisioningService(store, settings), auth, transactions)  # type: ignore[arg-type]
    transport = _Transport()
    session = OcppSession(
        "FUZZ-1", version, transport, tables[version], _SCHEMAS[version], _Observer()
    )
    await session.on_frame(raw)
    return transport.sent


def _readable_id(raw: bytes | str) -> str | None:
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if (
        isinstance(msg, list)
        and len(msg) >= 2
        and isinstance(msg[1], str)
        and 0 < len(msg[1]) <= rpc.MAX_MESSAGE_ID_LEN
    ):
        return msg[1]
    return None


def _check_reply(version: OcppVersion, raw: bytes | str, sent: list[bytes]) -> None:
    assert len(sent) <= 1
    if not sent:
        return
    reply = orjson.loads(sent[0])
    assert isinstance(reply, list)
    assert reply[0] in (3, 4, 5)
    assert reply[1] == (_readable_id(raw) or rpc.UNKNOWN_MESSAGE_ID)
    if reply[0] == 3:
        assert len(reply) == 3
        assert isinstance(reply[2], dict)
        incoming = orjson.loads(raw)
        violation = _SCHEMAS[version].validate(incoming[2], reply[2], response=True)
        assert violation is None, violation
    else:
        assert len(reply) == 5
        _, _, code, description, details = reply
        assert code in (V16_CODES if version is OcppVersion.V16 else V2_CODES)
        assert isinstance(description, str)
        assert len(description) <= 255
        assert isinstance(details, dict)


@VERSIONS
@SESSION_FUZZ
@given(raw=raw_frames)
def test_session_answers_at_most_once_and_validly(version: OcppVersion, raw: bytes | str) -> None:
    sent = asyncio.run(_feed(version, raw))
    _check_reply(version, raw, sent)


@VERSIONS
@SESSION_FUZZ
@given(
    uid=st.text(min_size=1, max_size=36),
    action=st.sampled_from(ACTIONS),
    payload=_near_valid_payloads(),
)
def test_session_calls_get_result_or_error(
    version: OcppVersion, uid: str, action: str, payload: dict[str, Any]
) -> None:
    raw = _encoded([2, uid, action, payload])
    sent = asyncio.run(_feed(version, raw))
    assert len(sent) == 1  # a readable CALL is always answered
    _check_reply(version, raw, sent)
    assert orjson.loads(sent[0])[0] in (3, 4)
