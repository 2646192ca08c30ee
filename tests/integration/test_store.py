"""SqlStore against real SQLite and PostgreSQL databases (each test its own database)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from ampyre.adapters.db.engine import create_engine, is_sqlite
from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.models import (
    ApiToken,
    BootInfo,
    Direction,
    MessageLogEntry,
    RegistrationStatus,
    Role,
    Station,
    StationReport,
    StationUpdate,
    StatusReport,
)
from ampyre.services.ports import StoreUnavailable

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    s = SqlStore(Settings(database_url=store_url))
    await s.start()
    yield s
    await s.close()


async def _fresh(url: str) -> SqlStore:
    """A second store on the same database: sees only what was committed."""
    return SqlStore(Settings(database_url=url))


async def _sql(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


def _status(station: str, connector: int, status: str, at: datetime) -> StatusReport:
    return StatusReport(
        station_id=station,
        evse_id=connector,
        connector_id=connector,
        status=status,
        timestamp=at - timedelta(seconds=1),
        received_at=at,
    )


def _message(station: str, n: int, at: datetime) -> MessageLogEntry:
    return MessageLogEntry(
        station_id=station,
        direction=Direction.IN,
        message_type=2,
        unique_id=f"m{n}",
        action="Heartbeat",
        payload=f'[2,"m{n}","Heartbeat",{{}}]',
        created_at=at,
    )


# ---------------------------------------------------------------------- life cycle


async def test_check_schema_and_ping(store: SqlStore) -> None:
    await store.check_schema()
    await store.ping()


async def test_ping_unreachable_database() -> None:
    store = SqlStore(Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nothing"))
    with pytest.raises(StoreUnavailable):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.check_schema()
    await store.close()


async def test_one_statement_reads_run_outside_a_transaction(store: SqlStore) -> None:
    """Database.read (the OCPP path's reads): on PostgreSQL each statement is its own
    transaction (AUTOCOMMIT: no BEGIN/COMMIT round trips), so two statements see two
    clocks; `tx()` still gives one transaction (one clock) for statements that need it."""
    postgres = store.db.dialect_name == "postgresql"
    clock = sa.text("SELECT now()" if postgres else "SELECT julianday('now')")
    async with store.db.read() as conn:
        first = (await conn.execute(clock)).scalar_one()
        await asyncio.sleep(0.01)
        second = (await conn.execute(clock)).scalar_one()
    async with store.db.tx() as conn:
        third = (await conn.execute(clock)).scalar_one()
        await asyncio.sleep(0.01)
        fourth = (await conn.execute(clock)).scalar_one()
    if postgres:
        assert second > first and fourth == third
    assert await store.find_id_tokens("nobody") == []


async def test_closed_store_refuses_writes(store_url: str) -> None:
    store = SqlStore(Settings(database_url=store_url))
    await store.start()
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.record_status([_status("CS1", 1, "Available", T0)])


# ---------------------------------------------------------------------- stations


async def test_station_crud(store: SqlStore) -> None:
    created = await store.create_station(Station(id="CS1", description="lab"))
    assert created.registration_status is RegistrationStatus.ACCEPTED
    assert created.created_at is not None and created.created_at.tzinfo is not None
    assert created.connected is False

    with pytest.raises(KeyError):
        await store.create_station(Station(id="CS1"))

    got = await store.get_station("CS1")
    assert got == created
    assert await store.get_station("nope") is None

    updated = await store.update_station(
        "CS1",
        StationUpdate(
            registration_status=RegistrationStatus.PENDING,
            description="moved",
            password_hash="scrypt$x",
            extra={"vendor": "ACME"},
        ),
    )
    assert updated is not None
    assert updated.registration_status is RegistrationStatus.PENDING
    assert (updated.description, updated.password_hash, updated.vendor) == (
        "moved",
        "scrypt$x",
        "ACME",
    )
    cleared = await store.update_station("CS1", StationUpdate(clear_password=True))
    assert cleared is not None and cleared.password_hash is None
    assert cleared.description == "moved"  # None means "leave as is"
    with pytest.raises(ValueError, match="cannot be updated"):
        await store.update_station("CS1", StationUpdate(extra={"id": "X"}))
    assert await store.update_station("nope", StationUpdate(description="x")) is None

    assert await store.delete_station("CS1") is True
    assert await store.delete_station("CS1") is False
    assert await store.get_station("CS1") is None


async def test_list_stations_paged(store: SqlStore) -> None:
    for i in range(7):
        await store.create_station(Station(id=f"CS{i}"))
    page = await store.list_stations(limit=3, offset=3)
    assert page.total == 7
    assert [s.id for s in page.items] == ["CS3", "CS4", "CS5"]
    assert (page.limit, page.offset) == (3, 3)


async def test_datetimes_are_utc_aware(store: SqlStore) -> None:
    cet = timezone(timedelta(hours=1))
    await store.create_station(Station(id="CS1"))
    await store.record_boot("CS1", "ocpp2.0.1", BootInfo("ACME", "X1"), T0.astimezone(cet))
    station = await store.get_station("CS1")
    assert station is not None
    assert station.last_boot == T0
    assert station.last_boot.utcoffset() == timedelta(0)


async def test_delete_cascades_to_children(store: SqlStore) -> None:
    await store.create_station(Station(id="CS1"))
    await store.record_status([_status("CS1", 1, "Available", T0)])
    await store.record_reports([StationReport("CS1", "NotifyEvent", {"a": 1}, T0)])
    await store.delete_station("CS1")
    await store.create_station(Station(id="CS1"))
    assert await store.list_connectors("CS1") == []
    assert (await store.list_status_history("CS1", 10, 0)).total == 0
    assert (await store.list_reports("CS1", 10, 0)).total == 0


# ---------------------------------------------------------------------- OCPP path


async def test_record_connection_auto_register(store: SqlStore) -> None:
    await store.record_connection("CS9", True, T0, "ocpp1.6", "node-a", "10.0.0.9")
    assert await store.get_station("CS9") is None  # auto_register off: nothing created

    await store.record_connection(
        "CS9", True, T0, "ocpp1.6", "node-a", "10.0.0.9", auto_register=True
    )
    station = await store.get_station("CS9")
    assert station is not None
    assert station.registration_status is RegistrationStatus.ACCEPTED
    assert (station.connected, station.connected_node, station.remote_address) == (
        True,
        "node-a",
        "10.0.0.9",
    )
    assert (station.ocpp_version, station.last_seen) == ("ocpp1.6", T0)

    # the station moved to node-b; node-a's late disconnect must not mark it offline
    await store.record_connection("CS9", True, T0 + timedelta(seconds=2), None, "node-b", None)
    await store.record_connection("CS9", False, T0 + timedelta(seconds=1), None, "node-a", None)
    station = await store.get_station("CS9")
    assert station is not None
    assert (station.connected, station.connected_node) == (True, "node-b")
    assert station.ocpp_version == "ocpp1.6"  # None keeps what we knew

    await store.record_connection("CS9", False, T0 + timedelta(seconds=3), None, "node-b", None)
    station = await store.get_station("CS9")
    assert station is not None
    assert (station.connected, station.connected_node) == (False, None)
    assert station.last_seen == T0 + timedelta(seconds=3)
    assert station.remote_address == "10.0.0.9"


async def test_record_boot(store: SqlStore) -> None:
    await store.create_station(Station(id="CS1"))
    store.touch("CS1", T0 + timedelta(minutes=5))
    await store.flush()
    info = BootInfo(
        vendor="ACME",
        model="X1",
        serial_number="SN1",
        firmware_version="1.2.3",
        iccid="89",
        imsi="262",
        meter_type="M",
        meter_serial_number="MSN",
        reason="PowerUp",
    )
    await store.record_boot("CS1", "ocpp2.0.1", info, T0)
    station = await store.get_station("CS1")
    assert station is not None
    assert (station.vendor, station.model, station.serial_number) == ("ACME", "X1", "SN1")
    assert (station.firmware_version, station.iccid, station.imsi) == ("1.2.3", "89", "262")
    assert (station.meter_type, station.meter_serial_number) == ("M", "MSN")
    assert (station.boot_reason, station.ocpp_version) == ("PowerUp", "ocpp2.0.1")
    assert station.last_boot == T0
    assert station.last_seen == T0 + timedelta(minutes=5)  # never moves backwards


async def test_record_status_history_and_current(store: SqlStore) -> None:
    await store.create_station(Station(id="CS1"))
    await store.record_status(
        [_status("CS1", 1, "Available", T0), _status("CS1", 2, "Faulted", T0)]
    )
    await store.record_status([_status("CS1", 1, "Charging", T0 + timedelta(seconds=5))])

    connectors = await store.list_connectors("CS1")
    assert [(c.connector_id, c.status) for c in connectors] == [(1, "Charging"), (2, "Faulted")]
    assert connectors[0].updated_at == T0 + timedelta(seconds=5)
    assert connectors[0].status_timestamp == T0 + timedelta(seconds=4)

    page = await store.list_status_history("CS1", limit=2, offset=0)
    assert page.total == 3
    assert page.items[0].status == "Charging"  # newest first
    assert page.items[0] == _status("CS1", 1, "Charging", T0 + timedelta(seconds=5))


async def test_group_commit_many_concurrent_writers(store: SqlStore, store_url: str) -> None:
    stations = [f"CS{i}" for i in range(10)]
    for sid in stations:
        await store.create_station(Station(id=sid))

    async def one(i: int) -> None:
        sid = stations[i % 10]
        await store.record_status([_status(sid, i // 10, "Available", T0 + timedelta(i))])

    batches_before = store.committed_batches
    await asyncio.gather(*(one(i) for i in range(500)))
    assert store.committed_batches - batches_before < 100  # shared transactions

    # Everything acknowledged is committed: a separate engine sees all of it.
    other = await _fresh(store_url)
    try:
        totals = [(await other.list_status_history(sid, 1, 0)).total for sid in stations]
        assert totals == [50] * 10
        assert len(await other.list_connectors("CS3")) == 50
    finally:
        await other.close()


async def test_mixed_batch_in_order(store: SqlStore) -> None:
    """Connection (auto-register), boot and status for a new station in one batch."""
    await asyncio.gather(
        store.record_connection("CSX", True, T0, "ocpp2.1", "n1", None, auto_register=True),
        store.record_boot("CSX", "ocpp2.1", BootInfo("V", "M"), T0),
        store.record_status([_status("CSX", 1, "Available", T0)]),
        store.record_reports([StationReport("CSX", "NotifyReport", {"x": [1]}, T0, 7, 0)]),
    )
    station = await store.get_station("CSX")
    assert station is not None and station.vendor == "V" and station.connected
    assert len(await store.list_connectors("CSX")) == 1
    reports = await store.list_reports("CSX", 10, 0)
    assert reports.items == [StationReport("CSX", "NotifyReport", {"x": [1]}, T0, 7, 0)]


async def test_bad_op_fails_alone(store: SqlStore) -> None:
    """A status for a station that does not exist (foreign key) fails only its caller."""
    await store.create_station(Station(id="CS1"))
    results = await asyncio.gather(
        *(store.record_status([_status("CS1", i, "Available", T0)]) for i in range(20)),
        store.record_status([_status("GHOST", 1, "Available", T0)]),
        return_exceptions=True,
    )
    assert all(r is None for r in results[:20])
    assert isinstance(results[20], StoreUnavailable)
    assert (await store.list_status_history("CS1", 1, 0)).total == 20


async def test_unstorable_payload_fails_alone(store: SqlStore) -> None:
    await store.create_station(Station(id="CS1"))
    good = StationReport("CS1", "NotifyEvent", {"ok": True}, T0)
    bad = StationReport("CS1", "NotifyEvent", {"not json": object()}, T0)
    results = await asyncio.gather(
        *(store.record_reports([good]) for _ in range(10)),
        store.record_reports([bad]),
        *(store.record_reports([good]) for _ in range(10)),
        return_exceptions=True,
    )
    assert [r for r in results if r is not None] == [results[10]]
    assert isinstance(results[10], StoreUnavailable)
    assert (await store.list_reports("CS1", 1, 0)).total == 20


async def test_failed_transaction_fails_every_caller_then_recovers(
    store: SqlStore, store_url: str
) -> None:
    await store.create_station(Station(id="CS1"))
    await store.record_status([_status("CS1", 1, "Available", T0)])

    await _sql(store_url, "ALTER TABLE status_history RENAME TO status_history_away")
    results = await asyncio.gather(
        *(store.record_status([_status("CS1", i, "Faulted", T0)]) for i in range(50)),
        return_exceptions=True,
    )
    assert all(isinstance(r, StoreUnavailable) for r in results)
    await _sql(store_url, "ALTER TABLE status_history_away RENAME TO status_history")

    # The writer survived. (asyncpg may fail once more on a stale cached statement.)
    for _attempt in range(3):
        try:
            await store.record_status([_status("CS1", 2, "Charging", T0)])
            break
        except StoreUnavailable:
            continue
    else:
        pytest.fail("writes did not recover")
    history = await store.list_status_history("CS1", 10, 0)
    assert [r.status for r in history.items] == ["Charging", "Available"]  # none of the 50
    assert {c.status for c in await store.list_connectors("CS1")} == {"Available", "Charging"}


@pytest.mark.postgres
async def test_connections_killed_under_the_store(pg_url: str) -> None:
    store = SqlStore(Settings(database_url=pg_url))
    await store.start()
    try:
        await store.create_station(Station(id="CS1"))
        await store.record_status([_status("CS1", 1, "Available", T0)])
        database = pg_url.rsplit("/", 1)[1]
        await _sql(
            pg_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()",
        )
        await store.record_status([_status("CS1", 1, "Charging", T0)])  # pool recovers
        assert (await store.list_status_history("CS1", 10, 0)).total == 2
    finally:
        await store.close()


async def test_database_gone_then_back(sqlite_url: str) -> None:
    """The SQLite file's directory disappears: writes fail, then work again."""
    path = Path(sqlite_url.split("///", 1)[1])
    store = SqlStore(Settings(database_url=sqlite_url))
    await store.start()
    try:
        await store.create_station(Station(id="CS1"))
        await store._engine.dispose()  # drop pooled connections: next write reconnects
        moved = path.parent.with_name(path.parent.name + "-away")
        path.parent.rename(moved)
        with pytest.raises(StoreUnavailable):
            await store.record_status([_status("CS1", 1, "Available", T0)])
        moved.rename(path.parent)
        await store.record_status([_status("CS1", 1, "Available", T0)])
        assert len(await store.list_connectors("CS1")) == 1
    finally:
        await store.close()


# ---------------------------------------------------------------------- buffered writes


async def test_touch_is_buffered_and_flushed(store: SqlStore) -> None:
    await store.create_station(Station(id="CS1"))
    store.touch("CS1", T0 + timedelta(seconds=5))
    store.touch("CS1", T0)  # older: ignored
    store.touch("GHOST", T0)  # unknown: harmless
    station = None
    for _ in range(40):  # the background flush runs every 0.5 s
        await asyncio.sleep(0.05)
        station = await store.get_station("CS1")
        assert station is not None
        if station.last_seen is not None:
            break
    assert station is not None and station.last_seen == T0 + timedelta(seconds=5)


async def test_log_messages_flush_and_list(store: SqlStore) -> None:
    store.log_messages([_message("CS1", n, T0 + timedelta(seconds=n)) for n in range(5)])
    store.log_messages([_message("CS2", 9, T0)])
    await store.flush()

    page = await store.list_messages(None, 10, 0)
    assert page.total == 6
    page = await store.list_messages("CS1", 2, 0)
    assert page.total == 5
    assert [m.unique_id for m in page.items] == ["m4", "m3"]
    assert page.items[0] == _message("CS1", 4, T0 + timedelta(seconds=4))


async def test_log_messages_bounded(store_url: str) -> None:
    store = SqlStore(Settings(database_url=store_url))
    store.flusher.max_buffered_messages = 10
    store.log_messages([_message("CS1", n, T0) for n in range(8)])
    store.log_messages([_message("CS1", n, T0) for n in range(8, 16)])
    assert store.dropped_messages == 6
    await store.close()  # close flushes what is buffered

    other = await _fresh(store_url)
    try:
        assert (await other.list_messages("CS1", 100, 0)).total == 10
    finally:
        await other.close()


def _round_trip(station: str, n: int, at: datetime) -> list[MessageLogEntry]:
    reply = MessageLogEntry(
        station_id=station,
        direction=Direction.OUT,
        message_type=3,
        unique_id=f"m{n}",
        action="Heartbeat",  # a reply is listed with its request's action
        payload=f'[3,"m{n}",{{"currentTime":"{at.isoformat()}"}}]',
        created_at=at + timedelta(milliseconds=1),
    )
    return [_message(station, n, at), reply]


async def test_audit_rows_ride_along_with_the_stations_writes(store: SqlStore) -> None:
    """Issue 15: the audit log is written by the group commits the stations' own writes
    cause, not only by the flush task, whose one chunk at a time fell behind at closed-loop
    rates (the bounded buffer overflowed and dropped most frames)."""
    await store.create_station(Station(id="CS1"))
    await store.flusher.stop(grace=5)  # from here on, nothing but riding writes the log
    store.flusher.ride_max = 30  # frames per commit
    frames = [f for n in range(20) for f in _round_trip("CS1", n, T0 + timedelta(seconds=n))]
    store.log_messages(frames)
    await store.record_status([_status("CS1", 1, "Available", T0)])
    page = await store.list_messages("CS1", 100, 0)
    assert page.total == 30  # 15 round trips, one row each
    assert [m.unique_id for m in page.items[:2]] == ["m14", "m14"]
    await store.record_status([_status("CS1", 1, "Charging", T0)])
    page = await store.list_messages("CS1", 100, 0)
    assert page.total == 40 and store.dropped_messages == 0
    assert list(reversed(page.items)) == frames  # exactly as logged, in order


async def test_audit_rows_whose_commit_failed_go_back_to_the_buffer(store: SqlStore) -> None:
    """A rider op failing because the database is unavailable loses nothing: its frames go
    back to the buffer, and the next flush writes them."""
    await store.flusher.stop(grace=5)
    frames = [f for n in range(5) for f in _round_trip("CS1", n, T0 + timedelta(seconds=n))]
    store.log_messages(frames)
    op = store.flusher.ride()
    assert op is not None and len(op.payload.messages) == 5
    assert store.flusher.ride() is None  # nothing left to take
    op.future.set_exception(StoreUnavailable("write not stored: database down"))
    await asyncio.sleep(0)  # the done-callback
    await store.flush()
    page = await store.list_messages("CS1", 100, 0)
    assert list(reversed(page.items)) == frames and store.dropped_messages == 0


async def test_close_flushes_touches(store_url: str) -> None:
    store = SqlStore(Settings(database_url=store_url))
    await store.start()
    await store.create_station(Station(id="CS1"))
    store.touch("CS1", T0)
    await store.close()
    other = await _fresh(store_url)
    try:
        station = await other.get_station("CS1")
        assert station is not None and station.last_seen == T0
    finally:
        await other.close()


async def test_prune_messages(store: SqlStore) -> None:
    store.audit_log.prune_chunk = 3  # exercise the chunked delete
    store.log_messages([_message("CS1", n, T0 + timedelta(days=n)) for n in range(10)])
    await store.flush()
    assert await store.prune_messages(T0 + timedelta(days=7)) == 7
    remaining = await store.list_messages(None, 100, 0)
    assert [m.unique_id for m in remaining.items] == ["m9", "m8", "m7"]
    assert await store.prune_messages(T0) == 0


# ---------------------------------------------------------------------- API tokens


async def test_api_tokens(store: SqlStore) -> None:
    token = ApiToken(id=None, name="ci", role=Role.OPERATOR, token_hash="h1", created_at=T0)
    created = await store.create_api_token(token)
    assert created.id is not None
    assert (created.name, created.role, created.revoked) == ("ci", Role.OPERATOR, False)
    with pytest.raises(KeyError):
        await store.create_api_token(token)
    second = await store.create_api_token(
        ApiToken(id=None, name="admin", role=Role.ADMIN, token_hash="h2", created_at=T0)
    )

    assert await store.find_api_token("h1") == created
    assert await store.find_api_token("nope") is None
    assert [t.name for t in await store.list_api_tokens()] == ["ci", "admin"]

    assert second.id is not None
    assert await store.revoke_api_token(second.id) is True
    assert await store.revoke_api_token(second.id) is False
    assert await store.revoke_api_token(12345) is False
    found = await store.find_api_token("h2")
    assert found is not None and found.revoked is True


def test_is_sqlite() -> None:
    assert is_sqlite("sqlite+aiosqlite:///x.db")
    assert not is_sqlite("postgresql+asyncpg://u@h/db")
