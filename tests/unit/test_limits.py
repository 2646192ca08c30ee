"""protocol/limits.py: values the store cannot hold are refused before any write with the
version's PropertyConstraintViolation (issue 13, defect 2.1)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ampyre.adapters.db import tables as t
from ampyre.domain.models import Direction, MessageLogEntry, OcppVersion
from ampyre.protocol import limits
from ampyre.protocol.schemas import Schemas
from ampyre.protocol.session import CallContext, HandlerTable, OcppSession

# Payload field -> the column it is stored in.
_COLUMNS = {
    "transactionId": t.transactions.c.transaction_id,
    "idTag": t.id_tokens.c.id_token,
    "parentIdTag": t.id_tokens.c.group_id,
    "idToken": t.transactions.c.id_token,
    "vendorId": t.connectors.c.vendor_id,
    "vendorErrorCode": t.connectors.c.vendor_error_code,
    "errorCode": t.connectors.c.error_code,
    "measurand": t.meter_values.c.measurand,
    "unit": t.meter_values.c.unit,
    "chargePointVendor": t.stations.c.vendor,
    "chargePointModel": t.stations.c.model,
    "chargePointSerialNumber": t.stations.c.serial_number,
    "chargeBoxSerialNumber": t.stations.c.serial_number,
    "firmwareVersion": t.stations.c.firmware_version,
    "iccid": t.stations.c.iccid,
    "imsi": t.stations.c.imsi,
    "meterType": t.stations.c.meter_type,
    "meterSerialNumber": t.stations.c.meter_serial_number,
    "vendorName": t.stations.c.vendor,
    "model": t.stations.c.model,
    "serialNumber": t.stations.c.serial_number,
}


def test_limits_match_the_columns() -> None:
    assert set(limits.FIELD_LIMITS) == set(_COLUMNS)
    for field, column in _COLUMNS.items():
        assert limits.FIELD_LIMITS[field] <= column.type.length, field  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"transactionInfo": {"transactionId": "abc"}, "seqNo": 1}, None),
        ({"transactionInfo": {"transactionId": "a\x00b"}}, "transactionInfo.transactionId"),
        ({"idTag": "x" * 256}, "idTag is longer than 255"),
        ({"idToken": {"idToken": "y" * 256, "type": "Local"}}, "idToken.idToken is longer"),
        ({"transactionId": "t" * 64}, None),
        ({"transactionId": "t" * 65}, "longer than 64"),
        ({"meterValue": [{"sampledValue": [{"value": "1\x00"}]}]}, "U+0000"),
        ({"data": ["ok", "\ud83d"]}, "unpaired surrogate"),
        ({"ke\x00y": 1}, "property name"),
        ({"info": "é ü 電"}, None),
    ],
)
def test_violation(payload: dict[str, Any], expected: str | None) -> None:
    problem = limits.violation(payload)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem


class _Transport:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, data: bytes) -> None:
        self.sent.append(orjson.loads(data))


class _Observer:
    def message(self, *args: Any) -> None: ...
    def error(self, version: OcppVersion, code: str) -> None: ...
    def handled(self, action: str, seconds: float) -> None: ...
    def audit(self, entry: MessageLogEntry) -> None:
        assert entry.direction in (Direction.IN, Direction.OUT, "in", "out")


@pytest.mark.parametrize("version", list(OcppVersion))
async def test_a_nul_is_refused_before_the_handler(version: OcppVersion) -> None:
    called: list[dict[str, Any]] = []

    async def authorize(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
        called.append(payload)
        return {"idTagInfo": {"status": "Accepted"}}

    transport = _Transport()
    table = HandlerTable(version, {"Authorize": authorize})
    session = OcppSession("CP", version, transport, table, Schemas()[version], _Observer())
    payload = (
        {"idTag": "AB\x00C"}
        if version is OcppVersion.V16
        else {"idToken": {"idToken": "AB\x00C", "type": "ISO14443"}}
    )
    await session.on_frame(orjson.dumps([2, "u1", "Authorize", payload]))
    assert called == []
    # Both spellings agree here: OCPP-J 1.6 4.2.3 and OCPP 2.x Part 4 4.3.
    assert transport.sent[0][:3] == [4, "u1", "PropertyConstraintViolation"]
    assert "U+0000" in transport.sent[0][3]


_KEYS = st.sampled_from([*limits.FIELD_LIMITS, "info", "data", "ke\x00y"])
_TEXT = st.one_of(
    st.text(max_size=8),
    st.text(alphabet='ab"\\:\x00\ud800é', max_size=40),
    st.integers(0, 300).map(lambda n: "x" * n),
    st.integers(0, 300).map(lambda n: 'a"' * n),
)
_JSON = st.recursive(
    st.one_of(_TEXT, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=12,
)


@given(_JSON)
@settings(max_examples=300, deadline=None)
def test_the_fast_scan_agrees_with_the_exact_walk(payload: Any) -> None:
    assert (limits.violation(payload) is None) == (limits._walk(payload, "", 0) is None)


def _frames(payload: Any) -> list[str | bytes]:
    """The frame of a CALL with `payload` as stations may write it."""
    call = [2, "u1", "DataTransfer", payload]
    frames: list[str | bytes] = []
    with contextlib.suppress(TypeError):  # a surrogate: not UTF-8
        frames += [orjson.dumps(call), orjson.dumps(call).decode()]
    for ascii_only in (True, False):
        for spaced in ((", ", ": "), (",", " :  "), (",\n", ":\t")):
            with contextlib.suppress(UnicodeEncodeError, ValueError):
                frames.append(json.dumps(call, ensure_ascii=ascii_only, separators=spaced))
    frames.append(json.dumps(call, indent=2))
    return frames


@pytest.mark.parametrize(
    "payload",
    [
        {"transactionId": "t" * 65},
        {"transactionId": "t" * 64, "info": "x:" + "y" * 40},
        {"info": "ab:", "data": [1] * 40, "idTag": "z" * 300},
        {"idToken": {"idToken": "y" * 256, "type": "Local"}},
        {"evse": {"id": 1}, "idTag": "é" * 200},
        {"vendorId": "v" * 256},
        {"data": "a\x00b"},
    ],
)
def test_the_frame_scan_finds_what_the_walk_finds(payload: dict[str, Any]) -> None:
    expected = limits._walk(payload, "", 0)
    for frame in _frames(payload):
        assert limits.frame_violation(payload, frame) == expected, frame


@given(_JSON)
@settings(max_examples=300, deadline=None)
def test_the_frame_scan_agrees_with_the_exact_walk(payload: Any) -> None:
    expected = limits._walk(payload, "", 0) is None
    for frame in _frames(payload):
        assert (limits.frame_violation(payload, frame) is None) == expected, frame
