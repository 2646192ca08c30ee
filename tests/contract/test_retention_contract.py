"""Retention for every store: what `prune_*` deletes and what it keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ampyre.domain.models import Station, StationReport, StatusReport
from ampyre.domain.transactions import (
    EventKind,
    MeterReading,
    SampledValue,
    StationMeterValues,
    TransactionEvent,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _reading(at: datetime) -> MeterReading:
    values = tuple(
        SampledValue(value=wh, raw_value=str(wh), phase=phase, si_value=wh, si_unit="Wh")
        for wh, phase in ((10.0, None), (3.0, "L1"))
    )
    return MeterReading(at, values)


def _started(tid: str) -> TransactionEvent:
    return TransactionEvent(
        station_id="CP1",
        kind=EventKind.STARTED,
        timestamp=T0,
        received_at=T0,
        transaction_id=tid,
        event_key="seq:0",
        seq_no=0,
        evse_id=1,
        connector_id=1,
        meter_values=(_reading(T0),),
        payload={"seqNo": 0},
        ocpp_version="ocpp2.0.1",
    )


async def test_transaction_data_of_ended_transactions_only(store: Any) -> None:
    await store.create_station(Station(id="CP1"))
    await store.record_transaction_events([_started("A"), _started("B")])
    await store.record_meter_values(
        [StationMeterValues("CP1", 0, None, (_reading(T0),), T0)]  # outside transactions
    )
    a = await store.find_transaction("CP1", "A")
    b = await store.find_transaction("CP1", "B")
    await store.end_transaction(a.id, T0 + timedelta(hours=1), "AdminClose")

    assert await store.prune_transaction_data(T0) == 0  # nothing older than T0
    # A: two values and its event; two values outside transactions. B is still running.
    assert await store.prune_transaction_data(T0 + timedelta(hours=2)) == 5
    assert await store.prune_transaction_data(T0 + timedelta(hours=2)) == 0
    assert (await store.list_transaction_meter_values(a.id, 10, 0)).total == 0
    assert await store.list_transaction_events(a.id) == []
    assert (await store.list_transaction_meter_values(b.id, 10, 0)).total == 2
    kept = await store.get_transaction(a.id)
    assert kept is not None and kept.meter_start_wh == 10.0  # the transaction stays


async def test_history_and_reports_by_age(store: Any) -> None:
    await store.create_station(Station(id="CP1"))
    await store.record_status(
        [StatusReport("CP1", 1, 1, "Available", None, T0 + timedelta(days=d)) for d in range(3)]
    )
    await store.record_reports(
        [StationReport("CP1", "NotifyReport", {}, T0 + timedelta(days=d)) for d in range(3)]
    )
    assert await store.prune_status_history(T0 + timedelta(days=2)) == 2
    assert await store.prune_reports(T0 + timedelta(days=1)) == 1
    assert (await store.list_status_history("CP1", 10, 0)).total == 1
    assert (await store.list_reports("CP1", 10, 0)).total == 2
