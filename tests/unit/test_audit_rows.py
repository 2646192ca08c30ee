"""The audit log's compact rows: exact round trips of frames, pairing of CALL and answer."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from ampyre.adapters.db import audit_codec
from ampyre.adapters.db.audit_rows import Exchange, Pairing, column_text, decode, encode
from ampyre.domain.models import MessageLogEntry

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MV = orjson.dumps(
    [
        2,
        "77",
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": 4,
            "meterValue": [
                {
                    "timestamp": "2026-11-30T12:00:00.500Z",
                    "sampledValue": [
                        {
                            "value": "1234.5",
                            "context": "Sample.Periodic",
                            "measurand": "Energy.Active.Import.Register",
                            "unit": "Wh",
                        }
                    ]
                    + [
                        {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": p}
                        for p in ("L1", "L2", "L3")
                    ],
                }
            ],
        },
    ]
).decode()


def _entry(
    mtype: int,
    uid: str,
    action: str | None,
    payload: str,
    at: datetime = T0,
    direction: str = "in",
    station: str = "CS1",
) -> MessageLogEntry:
    return MessageLogEntry(station, direction, mtype, uid, action, payload, at)


# ---------------------------------------------------------------------- codec


@pytest.mark.parametrize(
    ("frame", "mtype", "uid", "action", "flags"),
    [
        ('[2,"1","Heartbeat",{}]', 2, "1", "Heartbeat", audit_codec.STRIPPED),
        (
            '[3,"1",{"currentTime":"2026-11-30T12:00:00.000Z"}]',
            3,
            "1",
            None,
            audit_codec.STRIPPED | audit_codec.ZSTD,
        ),
        ('[4,"9","NotImplemented","",{}]', 4, "9", None, audit_codec.STRIPPED),
        (MV, 2, "77", "MeterValues", audit_codec.STRIPPED | audit_codec.ZSTD),
        # Not in the canonical form: kept whole, still exact.
        ('[2, "1", "Heartbeat", {}]', 2, "1", "Heartbeat", audit_codec.PLAIN),
        ('[2,"1","Heartbeat",{}]', 2, "2", "Heartbeat", audit_codec.PLAIN),
        ("not json at all", 0, "", None, audit_codec.PLAIN),
    ],
)
def test_codec_round_trip(frame: str, mtype: int, uid: str, action: str | None, flags: int) -> None:
    stored = audit_codec.encode(frame, mtype, uid, action)
    assert stored[0] == flags
    assert audit_codec.decode(stored, mtype, uid, action) == frame


def test_codec_compresses_meter_values_to_a_fraction() -> None:
    stored = audit_codec.encode(MV, 2, "77", "MeterValues")
    assert len(stored) * 3 < len(MV.encode())


def _deflated(body: bytes) -> bytes:
    """A frame body as rows written before issue 15 hold it (raw deflate, 4 KiB window,
    primed with the dictionary), built here from the documented format."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -12, 1, zdict=audit_codec.DICTIONARY)
    return packer.compress(body) + packer.flush()


def test_codec_reads_rows_written_with_deflate() -> None:
    body = MV[len('[2,"77","MeterValues",') : -1].encode()
    stored = bytes((audit_codec.STRIPPED | audit_codec.DEFLATED,)) + _deflated(body)
    assert audit_codec.decode(stored, 2, "77", "MeterValues") == MV
    whole = '[2, "1", "Heartbeat", {"x": "a longer body than forty bytes, compressed"}]'
    stored = bytes((audit_codec.DEFLATED,)) + _deflated(whole.encode())
    assert audit_codec.decode(stored, 2, "1", "Heartbeat") == whole


def test_codec_refuses_what_it_did_not_write() -> None:
    with pytest.raises(ValueError, match="not an audit-log frame"):
        audit_codec.decode(b"\x80abc", 2, "1", "Heartbeat")
    with pytest.raises(ValueError, match="not an audit-log frame"):
        audit_codec.decode(b"", 2, "1", "Heartbeat")
    with pytest.raises(ValueError, match=r"corrupt|truncated"):
        audit_codec.decode(b"\x02\xff\xff\xff", 2, "1", "Heartbeat")
    with pytest.raises(ValueError, match=r"corrupt"):
        audit_codec.decode(b"\x04\xff\xff\xff", 2, "1", "Heartbeat")
    stored = audit_codec.encode(MV, 2, "77", "MeterValues")
    with pytest.raises(ValueError, match=r"corrupt"):
        audit_codec.decode(stored[:-3], 2, "77", "MeterValues")
    # A frame declaring an absurd size is refused before a buffer of that size is taken.
    huge = zstandard.ZstdCompressor(
        compression_params=zstandard.ZstdCompressionParameters.from_level(
            1, format=zstandard.FORMAT_ZSTD1_MAGICLESS, write_content_size=1
        )
    ).compress(b"x" * (65 * 1024 * 1024))
    with pytest.raises(ValueError, match="declares"):
        audit_codec.decode(bytes((audit_codec.ZSTD,)) + huge, 2, "1", "Heartbeat")
    with pytest.raises(ValueError, match="not an audit-log frame"):  # both codecs: neither
        audit_codec.decode(bytes((stored[0] | audit_codec.DEFLATED,)) + stored[1:], 2, "77", "x")


@settings(max_examples=150, deadline=None)
@given(
    frame=st.text(),
    mtype=st.sampled_from([0, 2, 3, 4, 5, 6]),
    uid=st.text(max_size=40),
    action=st.none() | st.text(max_size=30),
)
def test_codec_round_trips_any_text(frame: str, mtype: int, uid: str, action: str | None) -> None:
    assert audit_codec.decode(
        audit_codec.encode(frame, mtype, uid, action), mtype, uid, action
    ) == (frame)


@settings(max_examples=80, deadline=None)
@given(payload=st.recursive(st.none() | st.integers(-(2**63), 2**63 - 1) | st.text(), st.lists))
def test_codec_round_trips_canonical_frames(payload: object) -> None:
    uid, action = "4a1-1f", "DataTransfer"
    frame = orjson.dumps([2, uid, action, {"data": payload}]).decode()
    stored = audit_codec.encode(frame, 2, uid, action)
    assert stored[0] & audit_codec.STRIPPED
    assert audit_codec.decode(stored, 2, uid, action) == frame


# ---------------------------------------------------------------------- rows


def test_a_round_trip_is_one_row_and_lists_as_two_frames() -> None:
    call = _entry(2, "1", "Heartbeat", '[2,"1","Heartbeat",{}]')
    answer = _entry(
        3,
        "1",
        "Heartbeat",
        '[3,"1",{"currentTime":"2026-11-30T12:00:00.000Z"}]',
        T0 + timedelta(milliseconds=3),
        "out",
    )
    row = encode(Exchange(call, answer))
    assert (row.direction, row.call_type, row.reply_type, row.reply_after_us) == ("in", 2, 3, 3000)
    assert decode(row) == [answer, call]  # newest first


def test_an_outgoing_call_answered_by_callerror_gets_the_action_of_the_call() -> None:
    call = _entry(2, "c1", "Reset", '[2,"c1","Reset",{"type":"Hard"}]', direction="out")
    error = _entry(4, "c1", None, '[4,"c1","NotSupported","",{}]', T0 + timedelta(seconds=1))
    row = encode(Exchange(call, error))
    reply, request = decode(row)
    assert request == call
    assert reply == error._replace(action="Reset")


def test_rows_of_one_frame() -> None:
    lonely_answer = _entry(3, "5", "Authorize", '[3,"5",{}]', direction="out")
    row = encode(Exchange(None, lonely_answer))
    assert (row.direction, row.call_type, row.reply_type) == ("in", None, 3)
    assert decode(row) == [lonely_answer]
    send = _entry(6, "7", "NotifyPeriodicEventStream", '[6,"7","NotifyPeriodicEventStream",{}]')
    assert decode(encode(Exchange(send, None))) == [send]
    garbage = _entry(0, "", None, "[2,")
    assert decode(encode(Exchange(garbage, None))) == [garbage]


def test_values_the_columns_cannot_hold_are_cleaned_and_the_frame_kept() -> None:
    uid = "a\x00b" + "x" * 300
    frame = orjson.dumps([2, uid, "Heartbeat", {}]).decode()
    row = encode(Exchange(_entry(2, uid, "Heartbeat", frame), None))
    assert "\x00" not in row.unique_id and len(row.unique_id) == 255
    assert decode(row)[0].payload == frame
    assert column_text("A" * 70, 64) == "A" * 64
    assert column_text(None, 5) is None


def test_unreadable_frame_is_shown_not_raised() -> None:
    row = encode(Exchange(_entry(2, "1", "Heartbeat", '[2,"1","Heartbeat",{}]'), None))
    (frame,) = decode(row._replace(call_frame=b"\x99"))
    assert frame.payload.startswith("<audit log: frame not readable")


# ---------------------------------------------------------------------- pairing


def test_pairing_joins_answers_and_keeps_everything() -> None:
    p = Pairing(timedelta(seconds=2))
    a = _entry(2, "1", "Heartbeat", '[2,"1","Heartbeat",{}]')
    b = _entry(2, "1", "Heartbeat", '[2,"1","Heartbeat",{}]', station="CS2")
    c = _entry(2, "9", "Reset", '[2,"9","Reset",{}]', direction="out")
    a_ok = _entry(3, "1", "Heartbeat", '[3,"1",{}]', T0 + timedelta(milliseconds=1), "out")
    assert p.add([a, b, c]) == []
    assert len(p) == 3
    assert p.add([a_ok]) == [Exchange(a, a_ok)]
    # An answer in the wrong direction is no answer to `c` (same id, other side).
    wrong = _entry(3, "9", None, '[3,"9",{}]', T0 + timedelta(milliseconds=2), "out")
    assert p.add([wrong]) == [Exchange(None, wrong)]
    assert p.due(T0 + timedelta(seconds=1)) == []
    assert p.due(T0 + timedelta(seconds=2)) == [Exchange(b, None), Exchange(c, None)]
    late = _entry(3, "9", None, '[3,"9",{}]', T0 + timedelta(seconds=3))
    assert p.add([late]) == [Exchange(None, late)]
    assert len(p) == 0


def test_pairing_a_repeated_id_closes_the_first_call() -> None:
    p = Pairing(timedelta(seconds=2))
    first = _entry(2, "1", "Heartbeat", '[2,"1","Heartbeat",{}]')
    again = first._replace(created_at=T0 + timedelta(seconds=1))
    assert p.add([first, again]) == [Exchange(first, None)]
    assert p.drain() == [Exchange(again, None)]


def test_pairing_bounded_and_disabled() -> None:
    p = Pairing(timedelta(seconds=2), max_open=2)
    calls = [_entry(2, str(n), "Heartbeat", "[]") for n in range(3)]
    assert p.add(calls) == [Exchange(calls[0], None)]
    off = Pairing(timedelta(0))
    assert off.add(calls) == [Exchange(c, None) for c in calls]


def test_restore_gives_frames_back_in_logging_order() -> None:
    a = _entry(2, "1", "Heartbeat", "[]")
    a_ok = _entry(3, "1", "Heartbeat", "[]", T0 + timedelta(milliseconds=5), "out")
    b = _entry(2, "2", "Heartbeat", "[]", T0 + timedelta(milliseconds=1))
    frames = list(Pairing(timedelta(1)).restore([Exchange(a, a_ok), Exchange(b, None)]))
    assert frames == [a, b, a_ok]
