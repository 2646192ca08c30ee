"""The SQL store's upsert against the domain's pure merge (domain.transactions): random
transactions, their events sent in random orders, resent, and concurrently (so several
share a group-commit batch), on SQLite and PostgreSQL; every stored transaction must be
what `merge_events` makes of the same events. SQL and domain cannot drift apart."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ampyre.domain.transactions import (
    BEGIN_CONTEXT,
    END_CONTEXT,
    EventKind,
    MeterReading,
    SampledValue,
    Transaction,
    TransactionEvent,
    close,
    merge_events,
)

if TYPE_CHECKING:
    from conftest import StartServer

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
# Set by the store, not by the merge (or read-side only).
_NOT_MERGED = {"id", "created_at", "updated_at", "missing_seq_nos", "station_connected"}
_CONTEXTS = ("Sample.Periodic", "Sample.Clock", BEGIN_CONTEXT, END_CONTEXT)


def _sample(rng: random.Random) -> SampledValue:
    wh = float(rng.randrange(0, 100_000))
    return SampledValue(
        wh,
        str(wh),
        context=rng.choice(_CONTEXTS),
        phase=rng.choice([None, None, "L2"]),
        location=rng.choice(["Outlet", "Outlet", "Inlet"]),
        si_value=wh,
        si_unit="Wh",
    )


def _events(rng: random.Random, station_id: str, tx_id: str) -> list[TransactionEvent]:
    kinds = [EventKind.UPDATED] * rng.randrange(0, 6)
    if rng.random() < 0.7:
        kinds.insert(0, EventKind.STARTED)
    if rng.random() < 0.6 or not kinds:
        kinds.append(EventKind.ENDED)
    minutes = sorted(rng.sample(range(0, 500), len(kinds)))
    evse, token = rng.choice([1, 2, 3]), rng.choice(["TAG-A", "TAG-B"])
    events = []
    for seq, (kind, minute) in enumerate(zip(kinds, minutes, strict=True)):
        at = T0 + timedelta(minutes=minute)
        named = kind is EventKind.STARTED or rng.random() < 0.5
        samples = tuple(_sample(rng) for _ in range(rng.randrange(0, 3)))
        events.append(
            TransactionEvent(
                station_id=station_id,
                kind=kind,
                timestamp=at,
                received_at=T0 + timedelta(days=1, seconds=rng.randrange(0, 10_000)),
                transaction_id=tx_id,
                event_key=f"seq:{seq}",
                seq_no=seq,
                evse_id=evse if named else None,
                connector_id=1 if named else None,
                id_token=token if named and rng.random() < 0.5 else None,
                id_token_type="ISO14443",
                auth_status="Accepted",
                trigger_reason="MeterValuePeriodic",
                charging_state=rng.choice([None, "Charging", "SuspendedEVSE"]),
                stop_reason="EVDisconnected" if kind is EventKind.ENDED else None,
                remote_start_id=42 if rng.random() < 0.3 else None,
                offline=rng.random() < 0.3,
                meter_values=(MeterReading(at, samples),) if samples else (),
                payload={"seqNo": seq},
                ocpp_version="ocpp2.0.1",
            )
        )
    return events


def _merged_fields(tx: Transaction) -> dict[str, Any]:
    values = dataclasses.asdict(tx)
    return {k: v for k, v in values.items() if k not in _NOT_MERGED}


async def test_sql_store_merges_like_the_domain_in_any_order(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    store = server.app.store
    await server.create_station("MERGE")
    rng = random.Random(20261130)
    expected: dict[str, list[TransactionEvent]] = {}
    arrivals: list[TransactionEvent] = []
    for n in range(30):
        tx_id = f"TX-{n}"
        events = _events(rng, "MERGE", tx_id)
        expected[tx_id] = events
        arrivals.extend(events + rng.sample(events, rng.randrange(0, len(events) + 1)))
    rng.shuffle(arrivals)
    # Sent in concurrent waves: events of one transaction share batches and rounds.
    while arrivals:
        wave, arrivals = arrivals[:25], arrivals[25:]
        await asyncio.gather(*(store.record_transaction_events([ev]) for ev in wave))
    for tx_id, events in expected.items():
        stored = await store.find_transaction("MERGE", tx_id)
        assert stored is not None
        want = merge_events(events, stored.id, tx_id, T0)
        assert want is not None
        assert _merged_fields(stored) == _merged_fields(want), tx_id


async def test_sql_close_is_the_domain_close_and_a_later_stop_wins(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    store = server.app.store
    await server.create_station("CLOSE")
    rng = random.Random(7)
    events = [e for e in _events(rng, "CLOSE", "TX-C") if e.kind is not EventKind.ENDED]
    ended = dataclasses.replace(
        _events(random.Random(3), "CLOSE", "TX-C")[-1],
        kind=EventKind.ENDED,
        event_key="seq:99",
        seq_no=99,
        stop_reason="Local",
    )
    for event in events:
        await store.record_transaction_events([event])
    stored = await store.find_transaction("CLOSE", "TX-C")
    assert stored is not None
    at = T0 + timedelta(days=2)
    closed = await store.end_transaction(stored.id, at, "ClosedByOperator", "ops", "gone")
    assert closed is not None
    want = close(stored, at, "ClosedByOperator", "ops", "gone")
    assert _merged_fields(closed) == _merged_fields(want)
    # Closing again changes nothing; the station's own stop arriving later wins.
    again = await store.end_transaction(stored.id, at + timedelta(hours=1), "Other", "x", "y")
    assert again is not None and _merged_fields(again) == _merged_fields(want)
    [after] = await store.record_transaction_events([ended])
    assert after.transaction.ended_at == ended.timestamp
    assert after.transaction.stop_reason == "Local"
    assert after.transaction.closed_by == "ops"
    everything = merge_events([*events, ended], stored.id, "TX-C", T0)
    assert everything is not None
    assert after.transaction.meter_stop_wh == everything.meter_stop_wh
