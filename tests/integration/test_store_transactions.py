"""TransactionSql against real SQLite and PostgreSQL: ids, duplicates, out-of-order
merging, gaps, durable-before-ack on failure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.models import Station
from ampyre.domain.transactions import (
    ENERGY_REGISTER,
    EventKind,
    MeterReading,
    SampledValue,
    StationMeterValues,
    TransactionEvent,
    TransactionFilter,
    TransactionStatus,
)
from ampyre.services.ports import StoreUnavailable

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    s = SqlStore(Settings(database_url=store_url))
    await s.start()
    for sid in ("CP1", "CP2"):
        await s.create_station(Station(id=sid))
    yield s
    await s.close()


def _register(at: datetime, wh: float, context: str = "Sample.Periodic") -> MeterReading:
    return MeterReading(
        at,
        (
            SampledValue(
                value=wh,
                raw_value=str(wh),
                measurand=ENERGY_REGISTER,
                context=context,
                si_value=wh,
                si_unit="Wh",
            ),
            SampledValue(
                value=7.2,
                raw_value="7.2",
                measurand="Power.Active.Import",
                unit="kW",
                context=context,
                si_value=7200.0,
                si_unit="W",
            ),
        ),
    )


def _start16(station: str, at: datetime, meter: float, tag: str = "TAG1") -> TransactionEvent:
    return TransactionEvent(
        station_id=station,
        kind=EventKind.STARTED,
        timestamp=at,
        received_at=at,
        transaction_id=None,
        start_key=f"1|{tag}|{at.isoformat()}|{meter}",
        event_key="Started",
        evse_id=1,
        connector_id=1,
        id_token=tag,
        auth_status="Accepted",
        meter_values=(_register(at, meter, "Transaction.Begin"),),
        ocpp_version="ocpp1.6",
    )


def _event(
    station: str,
    tid: str,
    kind: EventKind,
    seq: int,
    at: datetime,
    wh: float | None = None,
    **extra: object,
) -> TransactionEvent:
    return TransactionEvent(
        station_id=station,
        kind=kind,
        timestamp=at,
        received_at=T0 + timedelta(hours=5),
        transaction_id=tid,
        event_key=f"seq:{seq}",
        seq_no=seq,
        evse_id=1,
        connector_id=1,
        meter_values=() if wh is None else (_register(at, wh),),
        payload={"seqNo": seq},
        ocpp_version="ocpp2.0.1",
        **extra,  # type: ignore[arg-type]
    )


async def test_16_ids_are_issued_unique_and_kept_for_a_resent_start(store: SqlStore) -> None:
    a, b = await asyncio.gather(
        store.record_transaction_events([_start16("CP1", T0, 1000)]),
        store.record_transaction_events([_start16("CP2", T0, 5000)]),
    )
    assert a[0].transaction_id != b[0].transaction_id
    assert int(a[0].transaction_id) > 0
    again = await store.record_transaction_events([_start16("CP1", T0, 1000)])
    assert again == a  # same id, same Ampyre transaction
    page = await store.list_transaction_meter_values(a[0].id, 100, 0)
    assert page.total == 2  # energy + power, stored once
    tx = await store.get_transaction(a[0].id)
    assert tx is not None and tx.start_seen and tx.meter_start_wh == 1000
    assert tx.status is TransactionStatus.ACTIVE and tx.id_token == "TAG1"


async def test_16_session_energy_from_register_readings(store: SqlStore) -> None:
    [started] = await store.record_transaction_events([_start16("CP1", T0, 1000)])
    tid = started.transaction_id
    for minute, wh in ((1, 1100), (2, 1250)):
        at = T0 + timedelta(minutes=minute)
        await store.record_transaction_events(
            [
                TransactionEvent(
                    station_id="CP1",
                    kind=EventKind.UPDATED,
                    timestamp=at,
                    received_at=at,
                    transaction_id=tid,
                    meter_values=(_register(at, wh),),
                )
            ]
        )
    stop_at = T0 + timedelta(minutes=3)
    stop = TransactionEvent(
        station_id="CP1",
        kind=EventKind.ENDED,
        timestamp=stop_at,
        received_at=stop_at,
        transaction_id=tid,
        event_key="Ended",
        stop_reason="Local",
        meter_values=(_register(stop_at, 1300, "Transaction.End"),),
    )
    assert await store.record_transaction_events([stop]) == [started]
    assert await store.record_transaction_events([stop]) == [started]  # resent stop
    tx = await store.get_transaction(started.id)
    assert tx is not None
    assert tx.status is TransactionStatus.ENDED and tx.stop_reason == "Local"
    assert tx.energy_wh == 300 and tx.ended_at == stop_at
    assert (await store.list_transaction_meter_values(started.id, 100, 0)).total == 8
    assert [e.kind for e in await store.list_transaction_events(started.id)] == [
        "Started",
        "Ended",
    ]


async def test_out_of_order_events_reconstruct_the_same_transaction(store: SqlStore) -> None:
    t = [T0 + timedelta(minutes=i) for i in range(5)]
    events = [
        _event(
            "CP1", "tx-a", EventKind.STARTED, 0, t[0], 500, id_token="TOK", auth_status="Accepted"
        ),
        _event("CP1", "tx-a", EventKind.UPDATED, 1, t[1], 600, charging_state="Charging"),
        _event("CP1", "tx-a", EventKind.UPDATED, 2, t[2], 700, charging_state="SuspendedEV"),
        _event("CP1", "tx-a", EventKind.ENDED, 4, t[4], 900, stop_reason="EVDisconnected"),
    ]
    # Arrival order: Ended, Updated 2, Started, Updated 1 (seqNo 3 never arrives).
    for index in (3, 2, 0, 1):
        await store.record_transaction_events([events[index]])
    tx = await store.find_transaction("CP1", "tx-a")
    assert tx is not None
    assert tx.status is TransactionStatus.ENDED  # Updated after Ended did not reopen it
    assert tx.start_seen and tx.started_at == t[0] and tx.ended_at == t[4]
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh) == (500, 900, 400)
    assert tx.charging_state == "SuspendedEV"  # the latest by event time, not arrival
    assert tx.id_token == "TOK" and tx.stop_reason == "EVDisconnected"
    assert tx.missing_seq_nos == [3]
    history = await store.list_transaction_events(tx.id)
    assert [e.seq_no for e in history] == [0, 1, 2, 4]
    # The same in one batch, for a second transaction, in any order.
    copy = [
        _event("CP2", "tx-b", ev.kind, int(ev.seq_no or 0), ev.timestamp, None) for ev in events
    ]
    await store.record_transaction_events(list(reversed(copy)))
    other = await store.find_transaction("CP2", "tx-b")
    assert other is not None and other.status is TransactionStatus.ENDED
    assert other.missing_seq_nos == [3] and other.started_at == t[0]


async def test_stop_for_a_transaction_never_seen_started(store: SqlStore) -> None:
    at = T0 + timedelta(hours=1)
    stop = TransactionEvent(
        station_id="CP1",
        kind=EventKind.ENDED,
        timestamp=at,
        received_at=at,
        transaction_id="987",
        event_key="Ended",
        stop_reason="PowerLoss",
        meter_values=(_register(at, 4200, "Transaction.End"),),
        ocpp_version="ocpp1.6",
    )
    [stored] = await store.record_transaction_events([stop])
    tx = await store.get_transaction(stored.id)
    assert tx is not None
    assert tx.status is TransactionStatus.ENDED and not tx.start_seen
    assert tx.meter_stop_wh == 4200 and tx.energy_wh == 0  # one reading: no energy known
    # Ids a station reports are never issued again (e.g. after a database restore).
    [fresh] = await store.record_transaction_events([_start16("CP1", at, 4200)])
    assert int(fresh.transaction_id) > 987


async def test_meter_values_outside_transactions_are_deduplicated(store: SqlStore) -> None:
    mv = StationMeterValues("CP1", 0, None, (_register(T0, 123456),), T0)
    await store.record_meter_values([mv])
    await store.record_meter_values([mv])
    await store.record_meter_values([StationMeterValues("CP1", 1, 1, (_register(T0, 5),), T0)])
    m = t.meter_values
    query = (
        sa.select(m.c.evse_id, m.c.connector_id, m.c.measurand, m.c.value)
        .where(m.c.transaction_pk.is_(None))
        .order_by(m.c.evse_id, m.c.measurand)
    )
    async with store._tx() as conn:
        rows = [tuple(r) for r in (await conn.execute(query)).all()]
    # Two samples per reading; the resent one is stored once, the other connector's kept.
    assert rows == [
        (0, 0, "Energy.Active.Import.Register", 123456),
        (0, 0, "Power.Active.Import", 7.2),
        (1, 1, "Energy.Active.Import.Register", 5),
        (1, 1, "Power.Active.Import", 7.2),
    ]


async def test_list_filters_and_stale(store: SqlStore) -> None:
    await store.record_transaction_events([_event("CP1", "x1", EventKind.STARTED, 0, T0, 1)])
    await store.record_transaction_events(
        [_event("CP2", "x2", EventKind.STARTED, 0, T0 + timedelta(hours=1), 1, id_token="T2")]
    )
    everything = await store.list_transactions(TransactionFilter(), 10, 0)
    assert everything.total == 2
    mine = await store.list_transactions(TransactionFilter(station_id="CP2"), 10, 0)
    assert [x.transaction_id for x in mine.items] == ["x2"]
    by_token = await store.list_transactions(TransactionFilter(id_token="T2"), 10, 0)
    assert by_token.total == 1
    late = await store.list_transactions(
        TransactionFilter(started_from=T0 + timedelta(minutes=30)), 10, 0
    )
    assert [x.transaction_id for x in late.items] == ["x2"]
    stale = await store.list_stale_transactions(T0 + timedelta(hours=6), 10)
    assert {x.transaction_id for x in stale} == {"x1", "x2"}
    closed = await store.end_transaction(stale[0].id, T0 + timedelta(hours=7), "Stale")
    assert closed is not None and closed.status is TransactionStatus.ENDED
    assert closed.stop_reason == "Stale"
    assert len(await store.list_stale_transactions(T0 + timedelta(hours=6), 10)) == 1


async def test_counter(store: SqlStore) -> None:
    first = await store.next_id("remote_start")
    assert await store.next_id("remote_start") == first + 1
    with pytest.raises(KeyError):
        await store.next_id("nope")


async def test_failed_write_is_not_acknowledged(store_url: str) -> None:
    store = SqlStore(Settings(database_url=store_url))
    await store.start()
    try:
        # The station does not exist: the foreign key fails the write; nothing is stored.
        with pytest.raises(StoreUnavailable):
            await store.record_transaction_events(
                [_event("GHOST", "g1", EventKind.STARTED, 0, T0, 1)]
            )
        assert await store.find_transaction("GHOST", "g1") is None
    finally:
        await store.close()


async def test_token_in_use(store: SqlStore) -> None:
    [a] = await store.record_transaction_events([_start16("CP1", T0, 1, tag="TOK")])
    # The same transaction, or the same EVSE at the same station: not "elsewhere".
    assert not await store.token_in_use("TOK", "CP1", a.transaction_id, 1)
    assert not await store.token_in_use("TOK", "CP1", None, 1)
    # Another EVSE here, or another station: in use.
    assert await store.token_in_use("TOK", "CP1", None, 2)
    assert await store.token_in_use("TOK", "CP2", None, 1)
    assert not await store.token_in_use("OTHER", "CP2", None, 1)
    await store.end_transaction(a.id, T0, "Local")
    assert not await store.token_in_use("TOK", "CP2", None, 1)


def test_driver_rows_name_every_meter_column() -> None:
    from ampyre.adapters.db import tables
    from ampyre.adapters.db.transactions import _METER_COLUMNS

    assert len(set(_METER_COLUMNS)) == len(_METER_COLUMNS)
    assert set(_METER_COLUMNS) == {c.name for c in tables.meter_values.columns} - {"id"}
