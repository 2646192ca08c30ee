"""Issue 13, defect 2.1: one bad value must not fail everyone's group commit.

On the store: a batch that fails on one op's data is split so that only that op fails
(PostgreSQL's data exceptions included, which SQLAlchemy's asyncpg dialect does not
raise as DataError); the audit log stores what it can and never retries a refused chunk
forever. End to end: a station sending unstorable values gets a CALLERROR before any
write, while 50 others keep working and the audit log keeps flowing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.models import Direction, MessageLogEntry, Station
from ampyre.domain.transactions import EventKind, StoredEvent, TransactionEvent
from ampyre.services.ports import StoreUnavailable

if TYPE_CHECKING:
    from conftest import StartServer

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
STATIONS = 52


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    s = SqlStore(Settings(database_url=store_url))
    await s.start()
    yield s
    await s.close()


def _event(station: str, tid: str) -> TransactionEvent:
    return TransactionEvent(
        station_id=station,
        kind=EventKind.STARTED,
        timestamp=T0,
        received_at=T0,
        transaction_id=tid,
        event_key="seq:0",
        seq_no=0,
        evse_id=1,
        connector_id=1,
        payload={"seqNo": 0},
        ocpp_version="ocpp2.0.1",
    )


def _entry(n: int, **fields: Any) -> MessageLogEntry:
    values: dict[str, Any] = {
        "station_id": "CS1",
        "direction": Direction.IN,
        "message_type": 2,
        "unique_id": f"m{n}",
        "action": "Heartbeat",
        "payload": f'[2,"m{n}","Heartbeat",{{}}]',
        "created_at": T0 + timedelta(seconds=n),
    }
    values.update(fields)
    return MessageLogEntry(**values)


async def test_a_batch_failing_on_one_ops_data_fails_only_that_op(
    store: SqlStore, store_url: str
) -> None:
    for n in range(STATIONS):
        await store.create_station(Station(id=f"CS{n}"))
    batches: list[tuple[int, int, float]] = []
    store.writer.on_batch = lambda ops, failed, seconds: batches.append((ops, failed, seconds))
    # The culprits: a station that does not exist (foreign key, both databases) and, on
    # PostgreSQL, values its text columns refuse (U+0000, longer than the column).
    postgres = store.db.dialect_name == "postgresql"
    bad = [_event("GONE", "t-gone")]
    if postgres:
        bad += [_event("CS0", "t-nul\x00"), _event("CS1", "t" * 65)]
    good = [_event(f"CS{n}", f"t{n}") for n in range(2, STATIONS)]
    ops = [*good[:20], *bad, *good[20:]]
    results = await asyncio.gather(
        *(store.record_transaction_events([ev]) for ev in ops), return_exceptions=True
    )
    failed = [ev for ev, r in zip(ops, results, strict=True) if isinstance(r, BaseException)]
    assert failed == bad
    assert all(isinstance(r, StoreUnavailable) for r in results if isinstance(r, BaseException))
    for ev, result in zip(ops, results, strict=True):
        if ev not in bad:
            assert isinstance(result, list) and isinstance(result[0], StoredEvent)
            assert result[0].transaction_id == ev.transaction_id
    assert store.failed_ops == len(bad)
    # The metrics' view (GroupWriter.on_batch): every op once, the culprits as failed.
    assert sum(b[0] for b in batches) >= len(ops) and sum(b[1] for b in batches) == len(bad)
    assert all(b[2] > 0 for b in batches)


async def test_the_audit_log_stores_what_the_columns_cannot_hold(store: SqlStore) -> None:
    long_action = "A" * 200
    entries = [_entry(n) for n in range(50)]
    entries[10] = _entry(10, payload='[2,"m10","Boot\x00",{"x":"\x00"}]')
    entries[20] = _entry(20, action=long_action)
    entries[30] = _entry(30, unique_id="m30\x00" + "u" * 300, action="Nul\x00")
    entries[40] = _entry(40, payload='[2,"m40","X",{"s":"\ud800"}]')
    store.log_messages(entries)
    await store.flush()
    page = await store.list_messages("CS1", 100, 0)
    assert page.total == 50 and store.dropped_messages == 0
    stored = {m.created_at: m for m in page.items}
    # Frames are stored as bytes: exactly as logged, U+0000 and lone surrogates included.
    assert stored[T0 + timedelta(seconds=10)].payload == entries[10].payload
    assert stored[T0 + timedelta(seconds=20)].action == long_action[:64]
    m30 = stored[T0 + timedelta(seconds=30)]
    assert m30.unique_id.startswith("m30\\u0000uu") and len(m30.unique_id) == 255
    assert m30.action == "Nul\\u0000"
    assert stored[T0 + timedelta(seconds=40)].payload == entries[40].payload
    # And the log keeps flowing.
    store.log_messages([_entry(n) for n in range(50, 60)])
    await store.flush()
    assert (await store.list_messages("CS1", 100, 0)).total == 60


async def test_a_refused_audit_chunk_is_never_put_back(store: SqlStore) -> None:
    """Whatever the database refuses in a chunk (here a message type beyond the column's
    integer), the rest of the chunk is stored and the refused entry dropped and counted,
    instead of going back to the head of the buffer to fail forever."""
    entries = [_entry(n) for n in range(40)]
    entries[25] = _entry(25, message_type=2**70)
    store.log_messages(entries)
    await store.flush()
    assert store.dropped_messages == 1
    page = await store.list_messages("CS1", 100, 0)
    assert page.total == 39 and "m25" not in {m.unique_id for m in page.items}
    store.log_messages([_entry(n) for n in range(40, 45)])
    await store.flush()
    assert (await store.list_messages("CS1", 100, 0)).total == 44


async def test_a_refused_audit_row_riding_along_fails_neither_the_write_nor_the_log(
    store: SqlStore,
) -> None:
    """Audit-log rows ride along with the stations' group commits (flusher.py): a row the
    database refuses is bisected out of the commit like any op, so the station's write
    still commits, the refused entry alone is dropped and counted, the rest is stored."""
    await store.create_station(Station(id="CS1"))
    await store.flusher.stop(grace=5)  # only riding writes the log
    entries = [_entry(n, message_type=6) for n in range(30)]  # SENDs: one row each
    entries[12] = _entry(12, message_type=2**70)
    store.log_messages(entries)
    await store.record_transaction_events([_event("CS1", "T1")])
    await store.flush()  # waits for the salvage of the refused rider
    assert store.dropped_messages == 1
    page = await store.list_messages("CS1", 100, 0)
    assert page.total == 29 and "m12" not in {m.unique_id for m in page.items}
    assert await store.find_transaction("CS1", "T1") is not None


# ---------------------------------------------------------------------- end to end


async def _call(ws: Any, uid: str, action: str, payload: dict[str, Any]) -> list[Any]:
    await ws.send(json.dumps([2, uid, action, payload]))
    while True:
        reply: list[Any] = json.loads(await asyncio.wait_for(ws.recv(), 15))
        if reply[0] in (3, 4) and reply[1] == uid:
            return reply


def _tx_event(tid: str, seq: int, kind: str = "Started") -> dict[str, Any]:
    return {
        "eventType": kind,
        "timestamp": (T0 + timedelta(seconds=seq)).isoformat(),
        "triggerReason": "Authorized",
        "seqNo": seq,
        "transactionInfo": {"transactionId": tid},
        "evse": {"id": 1, "connectorId": 1},
    }


async def test_one_poisoning_station_does_not_fail_the_others(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    ids = [f"P{n:02d}" for n in range(STATIONS)]
    for sid in ids:
        await server.create_station(sid)
    errors: list[list[Any]] = []
    poison_replies: list[list[Any]] = []

    async def worker(sid: str) -> None:
        async with connect(
            server.station_url(sid), subprotocols=[Subprotocol("ocpp2.0.1")], open_timeout=10
        ) as ws:
            for seq in range(4):
                reply = await _call(ws, f"{sid}-{seq}", "TransactionEvent", _tx_event(sid, seq))
                if reply[0] != 3:
                    errors.append(reply)

    async def poisoner() -> None:
        async with connect(
            server.station_url("POISON"), subprotocols=[Subprotocol("ocpp2.0.1")]
        ) as ws:
            for n in range(8):
                poison_replies.append(
                    await _call(ws, f"x{n}", "TransactionEvent", _tx_event("bad\x00id", n))
                )
                poison_replies.append(await _call(ws, f"y{n}", "A" * 100, {}))

    await server.create_station("POISON")
    await asyncio.gather(poisoner(), *(worker(sid) for sid in ids))
    assert errors == []
    codes = {(r[0], r[2]) for r in poison_replies}
    assert codes == {(4, "PropertyConstraintViolation"), (4, "NotImplemented")}
    store = server.app.store
    # Nothing of the poisoned transaction was written; every other one was.
    for sid in ids:
        assert await store.find_transaction(sid, sid) is not None
    await store.flush()
    logged = await store.list_messages("POISON", 100, 0)
    assert logged.total == 32  # 16 CALLs and their 16 CALLERRORs, none refused
    assert {m.action for m in logged.items if m.message_type == 2} == {
        "TransactionEvent",
        "A" * 64,
    }
    assert store.dropped_messages == 0
    assert (await store.list_messages("P00", 100, 0)).total == 8
