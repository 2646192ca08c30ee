"""The compact audit log on SQLite and PostgreSQL: pairing, paging by frame, pruning,
the 0003 migration of existing rows, and its size."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.engine import create_engine, sqlite_path
from ampyre.adapters.db.migrate import downgrade, migrate
from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.models import Direction, MessageLogEntry, Station, StationReport, StatusReport

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    s = SqlStore(Settings(database_url=store_url))
    await s.start()
    yield s
    await s.close()


def _call(station: str, uid: str, action: str, at: datetime, out: bool = False) -> MessageLogEntry:
    frame = orjson.dumps([2, uid, action, {"n": uid}]).decode()
    return MessageLogEntry(station, "out" if out else "in", 2, uid, action, frame, at)


def _answer(call: MessageLogEntry, ms: int = 3, error: bool = False) -> MessageLogEntry:
    if error:
        frame = orjson.dumps([4, call.unique_id, "InternalError", "", {}]).decode()
    else:
        frame = orjson.dumps([3, call.unique_id, {"currentTime": "2026-11-01T12:00:00Z"}]).decode()
    return MessageLogEntry(
        call.station_id,
        "in" if call.direction == "out" else "out",
        4 if error else 3,
        call.unique_id,
        None if error else call.action,
        frame,
        call.created_at + timedelta(milliseconds=ms),
    )


def _expected(entries: list[MessageLogEntry]) -> list[MessageLogEntry]:
    """What the API lists: newest round trip first, each answer above its CALL, the
    action of a CALLERROR filled in from its CALL."""
    calls = {(e.station_id, e.unique_id): e for e in entries if e.message_type == 2}
    trips: list[list[MessageLogEntry]] = []
    by_call: dict[tuple[str, str], list[MessageLogEntry]] = {}
    for e in entries:
        key = (e.station_id, e.unique_id)
        if e.message_type == 2:
            by_call[key] = [e]
            trips.append(by_call[key])
        else:
            call = calls.get(key)
            by_call[key].insert(0, e._replace(action=call.action if call else e.action))
    trips.sort(key=lambda trip: trip[-1].created_at)
    return [e._replace(direction=Direction(e.direction)) for trip in reversed(trips) for e in trip]


async def test_round_trips_share_a_row_and_list_as_frames(store: SqlStore) -> None:
    entries: list[MessageLogEntry] = []
    for n in range(6):
        call = _call("CS1" if n % 3 else "CS2", f"u{n}", "Heartbeat", T0 + timedelta(seconds=n))
        entries += [call, _answer(call, error=n == 4)]
    reset = _call("CS1", "r1", "Reset", T0 + timedelta(seconds=10), out=True)
    entries += [reset, _answer(reset, ms=900)]
    store.log_messages(entries)
    await store.flush()

    engine = create_engine(store.database_url)
    try:
        async with engine.connect() as conn:
            count = sa.select(sa.func.count()).select_from(t.message_log)
            rows = (await conn.execute(count)).scalar()
    finally:
        await engine.dispose()
    assert rows == 7  # one row per round trip

    expected = _expected(entries)
    page = await store.list_messages(None, 100, 0)
    assert page.total == 14
    assert page.items == expected
    assert page.items[0].direction is Direction.IN and page.items[0].message_type == 3
    error = next(m for m in page.items if m.message_type == 4)
    assert error.action == "Heartbeat"  # the action of the CALL it answers
    # Every window of the frame list, whatever the offset (rows hold one or two frames).
    for limit in (1, 2, 3, 5):
        for offset in range(0, 16):
            got = await store.list_messages(None, limit, offset)
            assert (got.total, got.limit, got.offset) == (14, limit, offset)
            assert got.items == expected[offset : offset + limit], (limit, offset)
    cs1 = await store.list_messages("CS1", 3, 1)
    assert cs1.total == 10
    assert cs1.items == [e for e in expected if e.station_id == "CS1"][1:4]
    assert (await store.list_messages("CS1", 0, 0)).total == 10


async def test_unanswered_and_lone_frames(store: SqlStore) -> None:
    call = _call("CS1", "1", "Heartbeat", T0)
    lone = _answer(_call("CS1", "0", "Authorize", T0 - timedelta(seconds=5)))
    store.log_messages([lone, call])
    await store.flush()
    page = await store.list_messages(None, 10, 0)
    assert page.items == [*_expected([call]), lone._replace(direction=Direction.OUT)]


async def test_values_the_columns_cannot_hold_lose_no_frame(store: SqlStore) -> None:
    uid = "tx\x00" + "9" * 300
    frame = orjson.dumps([2, uid, "A" * 80, {"transactionId": "a\x00b"}]).decode()
    store.log_messages([MessageLogEntry("CS1", "in", 2, uid, "A" * 80, frame, T0)])
    await store.flush()
    (item,) = (await store.list_messages("CS1", 10, 0)).items
    assert item.payload == frame
    assert item.action == "A" * 64 and item.unique_id.startswith("tx\\u0000")


async def test_prune_by_age_action_and_table(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.audit_log.prune_chunk = 3  # several batches
    store.audit_log.prune_pause = 0
    monkeypatch.setattr("ampyre.adapters.db.stations.PRUNE_CHUNK", 2)
    entries = []
    for day in range(10):
        for action in ("Heartbeat", "StatusNotification"):
            call = _call("CS1", f"{action}{day}", action, T0 + timedelta(days=day))
            entries += [call, _answer(call)]
    store.log_messages(entries)
    await store.flush()

    assert await store.prune_messages(T0 + timedelta(days=2)) == 4
    assert await store.prune_messages(T0 + timedelta(days=8), action="Heartbeat") == 6
    assert await store.prune_messages(T0 + timedelta(days=8), action="Heartbeat") == 0
    left = (await store.list_messages(None, 100, 0)).items
    assert {(m.action, m.created_at.date().day) for m in left if m.message_type == 2} == {
        *(("StatusNotification", d) for d in range(3, 11)),
        ("Heartbeat", 9),
        ("Heartbeat", 10),
    }
    # Newer heartbeats are pruned by a later run (the scan continues where it stopped).
    assert await store.prune_messages(T0 + timedelta(days=9), action="Heartbeat") == 1

    await store.create_station(Station(id="CS1"))
    await store.record_status(
        [StatusReport("CS1", 1, 1, "Available", None, T0 + timedelta(days=d)) for d in range(5)]
    )
    await store.record_reports(
        [StationReport("CS1", "NotifyReport", {"n": d}, T0 + timedelta(days=d)) for d in range(4)]
    )
    assert await store.prune_status_history(T0 + timedelta(days=3)) == 3
    assert (await store.list_status_history("CS1", 10, 0)).total == 2
    assert await store.prune_reports(T0 + timedelta(days=1)) == 1
    assert (await store.list_reports("CS1", 10, 0)).total == 3


async def test_migration_converts_the_old_log_both_ways(empty_db_url: str) -> None:
    await migrate(empty_db_url, "0002")
    old = sa.table(
        "message_log",
        *(sa.column(c) for c in ("station_id", "direction", "message_type", "unique_id")),
        *(sa.column(c) for c in ("action", "payload")),
        sa.column("created_at", t.UtcDateTime()),
    )
    frames = []
    for n in range(7):
        call = _call("CS1", f"m{n}", "Heartbeat", T0 + timedelta(seconds=n))
        frames += [call, _answer(call)]
    frames.append(MessageLogEntry("CS9", "in", 0, "", None, "[2, oops", T0 + timedelta(hours=1)))
    engine = create_engine(empty_db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(old), [f._asdict() for f in frames])
    finally:
        await engine.dispose()

    await migrate(empty_db_url)
    store = SqlStore(Settings(database_url=empty_db_url))
    try:
        page = await store.list_messages(None, 100, 0)
        listed = {(m.unique_id, m.message_type): m for m in page.items}
        assert page.total == len(frames)
        for f in frames:
            assert listed[(f.unique_id, f.message_type)] == f
        store.log_messages([_call("CS1", "new", "Heartbeat", T0 + timedelta(days=1))])
        await store.flush()  # ids continue after the converted rows
        assert (await store.list_messages(None, 1, 0)).items[0].unique_id == "new"
    finally:
        await store.close()

    await downgrade(empty_db_url, "0002")
    engine = create_engine(empty_db_url)
    try:
        async with engine.connect() as conn:
            back = (await conn.execute(sa.select(old).order_by(old.c.created_at))).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in back][: len(frames)] == [tuple(f) for f in frames]
    await migrate(empty_db_url)


async def test_a_heartbeat_round_trip_is_small(sqlite_url: str) -> None:
    """Regression guard for issue 13 §2.15: the per-frame layout took ~212 bytes per
    frame of this traffic (bench/audit_size.py); the compact one must stay under a third."""
    store = SqlStore(Settings(database_url=sqlite_url))
    await store.start()
    try:
        entries = []
        for n in range(3000):
            call = MessageLogEntry(
                f"BENCH{n % 100:05d}",
                "in",
                2,
                str(100_000 + n),
                "Heartbeat",
                f'[2,"{100_000 + n}","Heartbeat",{{}}]',
                T0 + timedelta(milliseconds=n),
            )
            entries += [call, _answer(call)]
        store.log_messages(entries)
        await store.flush()
    finally:
        await store.close()
    path = sqlite_path(sqlite_url)
    assert path is not None
    with sqlite3.connect(path) as conn:
        size = conn.execute(
            "SELECT sum(pgsize) FROM dbstat WHERE name IN "
            "(SELECT name FROM sqlite_master WHERE tbl_name = 'message_log')"
        ).fetchone()[0]
    assert size / len(entries) < 212 / 3


async def test_prune_transaction_data_keeps_transactions(store: SqlStore) -> None:
    await store.create_station(Station(id="CS1"))
    day = timedelta(days=1)
    transactions = [
        ("old", "ended", T0 - 10 * day),
        ("recent", "ended", T0 - day),
        ("running", "active", None),
    ]
    engine = create_engine(store.database_url)
    try:
        async with engine.begin() as conn:
            pks = {}
            for tid, status, ended in transactions:
                result = await conn.execute(
                    sa.insert(t.transactions).values(
                        station_id="CS1",
                        transaction_id=tid,
                        status=status,
                        ended_at=ended,
                        meter_start_wh=0.0,
                        meter_stop_wh=1000.0 if ended else None,
                        created_at=T0 - 20 * day,
                        updated_at=T0 - 20 * day,
                    )
                )
                pks[tid] = result.inserted_primary_key[0]

            def value(pk: int | None, n: int, received: datetime) -> dict[str, object]:
                return {
                    "transaction_pk": pk,
                    "station_id": "CS1",
                    "evse_id": 1,
                    "connector_id": 1,
                    "timestamp": received - timedelta(seconds=n),
                    "measurand": "Energy.Active.Import.Register",
                    "phase": "",
                    "location": "Outlet",
                    "context": "Sample.Periodic",
                    "unit": "Wh",
                    "multiplier": 0,
                    "format": "",
                    "raw_value": str(n),
                    "received_at": received,
                }

            values = [value(pks[tid], n, T0 - 15 * day) for tid in pks for n in range(3)]
            values += [value(None, 1, T0 - 15 * day), value(None, 2, T0 - day)]
            await conn.execute(sa.insert(t.meter_values), values)
            await conn.execute(
                sa.insert(t.transaction_events),
                [
                    {
                        "transaction_pk": pk,
                        "event_key": "Started",
                        "kind": "Started",
                        "timestamp": T0 - 15 * day,
                        "payload": {},
                        "received_at": T0 - 15 * day,
                    }
                    for pk in pks.values()
                ],
            )
    finally:
        await engine.dispose()

    # 3 values and 1 event of "old", 1 loose value received 15 days ago.
    assert await store.prune_transaction_data(T0 - 5 * day) == 5
    assert await store.prune_transaction_data(T0 - 5 * day) == 0
    for tid, pk in pks.items():
        assert (await store.get_transaction(pk)) is not None
        left = await store.list_transaction_meter_values(pk, 100, 0)
        assert left.total == (0 if tid == "old" else 3)
