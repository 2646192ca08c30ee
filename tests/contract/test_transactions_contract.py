"""The TransactionStore contract for every store: ids, duplicates, the merge rules of
adapters/db/transactions.py (any arrival order gives the same transaction), reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ampyre.domain.models import Station
from ampyre.domain.transactions import (
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
async def stations(store: Any) -> Any:
    for sid in ("CP1", "CP2"):
        await store.create_station(Station(id=sid))
    return store


def _wh(at: datetime, wh: float, context: str = "Sample.Periodic") -> MeterReading:
    register = SampledValue(value=wh, raw_value=str(wh), context=context, si_value=wh, si_unit="Wh")
    phase = SampledValue(
        value=wh * 5, raw_value=str(wh * 5), phase="L1", context=context, si_value=wh * 5,
        si_unit="Wh",
    )  # fmt: skip
    return MeterReading(at, (register, phase))


def _ev(
    kind: EventKind, seq: int, seconds: int, wh: float | None = None, tid: str = "TX1", **extra: Any
) -> TransactionEvent:
    at = T0 + timedelta(seconds=seconds)
    values: dict[str, Any] = {
        "station_id": "CP1",
        "kind": kind,
        "timestamp": at,
        "received_at": T0 + timedelta(hours=1, seconds=seq),
        "transaction_id": tid,
        "event_key": f"seq:{seq}",
        "seq_no": seq,
        "evse_id": 1,
        "connector_id": 1,
        "meter_values": () if wh is None else (_wh(at, wh),),
        "payload": {"seqNo": seq},
        "ocpp_version": "ocpp2.0.1",
    }
    values.update(extra)
    return TransactionEvent(**values)


def _start16(tag: str, seconds: int, meter: float) -> TransactionEvent:
    at = T0 + timedelta(seconds=seconds)
    return TransactionEvent(
        station_id="CP1",
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
        meter_values=(_wh(at, meter, "Transaction.Begin"),),
        ocpp_version="ocpp1.6",
    )


async def test_16_ids_are_issued_once_and_a_resent_start_keeps_its_id(stations: Any) -> None:
    store = stations
    [first] = await store.record_transaction_events([_start16("TAG", 0, 100)])
    [again] = await store.record_transaction_events([_start16("TAG", 0, 100)])
    [second] = await store.record_transaction_events([_start16("TAG", 60, 500)])
    assert first.transaction_id == again.transaction_id and first.id == again.id
    assert int(second.transaction_id) == int(first.transaction_id) + 1
    # A 1.6 id a station reports moves the counter past it.
    stop = _ev(EventKind.ENDED, 0, 90, tid="41", ocpp_version="ocpp1.6", event_key="Ended")
    await store.record_transaction_events([stop])
    [after] = await store.record_transaction_events([_start16("TAG", 120, 900)])
    assert after.transaction_id == "42"
    assert first.transaction.meter_start_wh == 100 and first.transaction.id_token == "TAG"
    with pytest.raises(ValueError, match="transaction_id or a start_key"):
        await store.record_transaction_events([_ev(EventKind.UPDATED, 1, 1, tid=None)])  # type: ignore[arg-type]


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 2, 1, 0), (2, 0, 3, 1)])
async def test_merge_does_not_depend_on_arrival_order(
    stations: Any, order: tuple[int, ...]
) -> None:
    store = stations
    events = [
        _ev(EventKind.STARTED, 0, 0, 1000, id_token="TAG", id_token_type="ISO14443",
            auth_status="Accepted", charging_state="EVConnected"),
        _ev(EventKind.UPDATED, 1, 60, 1500, charging_state="Charging"),
        _ev(EventKind.ENDED, 2, 120, 2200, stop_reason="Local", charging_state="Idle"),
        # Arrives last in some orders: a late Updated must not reopen the transaction,
        # and its reading (meter time inside the session) changes neither meter.
        _ev(EventKind.UPDATED, 3, 30, 1200, offline=True),
    ]  # fmt: skip
    for i in order:
        await store.record_transaction_events([events[i]])
    tx = await store.find_transaction("CP1", "TX1")
    assert tx is not None
    assert tx.status is TransactionStatus.ENDED
    assert (tx.started_at, tx.ended_at) == (T0, T0 + timedelta(seconds=120))
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh) == (1000, 2200, 1200)
    assert (tx.id_token, tx.id_token_type, tx.auth_status) == ("TAG", "ISO14443", "Accepted")
    assert tx.start_seen is True and tx.offline is True and tx.stop_reason == "Local"
    assert tx.charging_state == "Idle"
    assert tx.last_message_at == T0 + timedelta(hours=1, seconds=3)
    assert tx.missing_seq_nos == []
    history = await store.list_transaction_events(tx.id)
    assert [e.seq_no for e in history] == [0, 1, 2, 3]
    assert history[2].kind == "Ended" and history[2].payload == {"seqNo": 2}


async def test_begin_and_end_readings_win_over_samples(stations: Any) -> None:
    store = stations
    await store.record_transaction_events([_ev(EventKind.UPDATED, 1, 10, 50)])
    begin = _ev(EventKind.STARTED, 0, 20, None)
    begin = TransactionEvent(**{
        **{f: getattr(begin, f) for f in begin.__dataclass_fields__},
        "meter_values": (_wh(T0 + timedelta(seconds=20), 70, "Transaction.Begin"),),
    })  # fmt: skip
    await store.record_transaction_events([begin])
    tx = await store.find_transaction("CP1", "TX1")
    assert (
        tx is not None and tx.meter_start_wh == 70 and tx.started_at == T0 + timedelta(seconds=20)
    )


async def test_duplicates_are_absorbed_and_gaps_reported(stations: Any) -> None:
    store = stations
    ev = _ev(EventKind.UPDATED, 3, 30, 300)
    await store.record_transaction_events([_ev(EventKind.STARTED, 0, 0, 100), ev])
    await store.record_transaction_events([ev])
    tx = await store.find_transaction("CP1", "TX1")
    assert tx is not None and tx.missing_seq_nos == [1, 2]
    assert [e.seq_no for e in await store.list_transaction_events(tx.id)] == [0, 3]
    values = await store.list_transaction_meter_values(tx.id, 10, 0)
    assert values.total == 4  # two readings of two samples each, the duplicate dropped
    assert [v.timestamp for v in values.items][:2] == [T0, T0]
    assert values.items[0].evse_id == 1


async def test_unknown_station_fails_the_write(stations: Any) -> None:
    store = stations
    with pytest.raises(StoreUnavailable):
        await store.record_transaction_events([_ev(EventKind.STARTED, 0, 0, station_id="NOPE")])
    with pytest.raises(StoreUnavailable):
        await store.record_meter_values([StationMeterValues("NOPE", 0, None, (_wh(T0, 1),), T0)])
    await store.record_meter_values([StationMeterValues("CP1", 0, None, (_wh(T0, 1),), T0)])


async def test_reads_filters_and_end(stations: Any) -> None:
    store = stations
    await store.record_transaction_events([
        _ev(EventKind.STARTED, 0, 0, 10, tid="A", id_token="TAG", remote_start_id=7),
        _ev(EventKind.STARTED, 0, 100, 10, tid="B", id_token="OTHER", evse_id=2),
        _ev(EventKind.STARTED, 0, 200, 10, tid="C", station_id="CP2", id_token="TAG"),
    ])  # fmt: skip
    everything = await store.list_transactions(TransactionFilter(), 2, 0)
    assert everything.total == 3 and [t.transaction_id for t in everything.items] == ["C", "B"]
    mine = await store.list_transactions(TransactionFilter(station_id="CP1"), 10, 0)
    assert [t.transaction_id for t in mine.items] == ["B", "A"]
    tagged = await store.list_transactions(TransactionFilter(id_token="TAG"), 10, 0)
    assert [t.transaction_id for t in tagged.items] == ["C", "A"]
    window = TransactionFilter(started_from=T0 + timedelta(seconds=50),
                               started_to=T0 + timedelta(seconds=200))  # fmt: skip
    assert [t.transaction_id for t in (await store.list_transactions(window, 10, 0)).items] == ["B"]
    remote = await store.list_transactions(TransactionFilter(remote_start_id=7), 10, 0)
    assert [t.transaction_id for t in remote.items] == ["A"]
    assert {t.transaction_id for t in await store.active_transactions("CP1")} == {"A", "B"}
    # The token is in use at CP2 (another station) for a transaction at CP1 ...
    assert await store.token_in_use("TAG", "CP1", "A", 1) is True
    # ... but not by another transaction on another EVSE of CP2 than "C" itself.
    assert await store.token_in_use("TAG", "CP2", "C", 1) is True  # "A" is at CP1
    assert await store.token_in_use("OTHER", "CP1", "B", 2) is False
    assert await store.token_in_use("OTHER", "CP1", None, 1) is True
    stale = await store.list_stale_transactions(T0 + timedelta(hours=2), 10)
    assert len(stale) == 3
    a = await store.find_transaction("CP1", "A")
    assert a is not None
    ended = await store.end_transaction(a.id, T0 + timedelta(hours=3), "AdminClose")
    assert ended is not None and ended.status is TransactionStatus.ENDED
    assert (ended.ended_at, ended.stop_reason) == (T0 + timedelta(hours=3), "AdminClose")
    again = await store.end_transaction(a.id, T0 + timedelta(hours=4), "Other")
    assert again is not None and again.ended_at == T0 + timedelta(hours=3)
    assert {t.transaction_id for t in await store.active_transactions("CP1")} == {"B"}
    assert await store.get_transaction(999_999) is None
    assert await store.next_id("remote_start") + 1 == await store.next_id("remote_start")
    with pytest.raises(KeyError):
        await store.next_id("no-such-counter")


async def test_meter_values_of_an_event_naming_no_evse_go_under_the_transactions(
    stations: Any,
) -> None:
    store = stations
    [started] = await store.record_transaction_events(
        [_ev(EventKind.STARTED, 0, 0, 100.0, evse_id=2, connector_id=3)]
    )
    await store.record_transaction_events(
        [_ev(EventKind.ENDED, 1, 60, 900.0, evse_id=None, connector_id=None)]
    )
    page = await store.list_transaction_meter_values(started.id, 50, 0)
    assert page.total == 4  # two readings of two samples
    assert {(v.evse_id, v.connector_id) for v in page.items} == {(2, 3)}
