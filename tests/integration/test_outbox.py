"""The transactional outbox on SQLite and PostgreSQL: an event exists iff its data
committed; webhook services (several on one database) fan out and send each event once;
a restart loses nothing."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from webhook_receiver import CountingReceiver

from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.events import DeliveryStatus, OutboxEvent, Webhook
from ampyre.domain.models import Station, StatusReport
from ampyre.domain.transactions import EventKind, TransactionEvent
from ampyre.services.events import EventBus
from ampyre.services.ports import StoreUnavailable
from ampyre.services.webhooks import WebhookService

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "whsec_outbox-test-0123456789"


def _settings(url: str) -> Settings:
    return Settings(
        database_url=url,
        webhook_retry_base=0.05,
        webhook_max_attempts=3,
        webhook_timeout=2.0,
        shutdown_grace=2.0,
        node_id="outbox-test",
    )


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    s = SqlStore(_settings(store_url))
    await s.start()
    await s.create_station(Station(id="CP1"))
    yield s
    await s.close()


@pytest.fixture
async def receiver() -> AsyncIterator[CountingReceiver]:
    r = CountingReceiver()
    await r.start()
    yield r
    await r.close()


def _status(station: str, n: int) -> StatusReport:
    return StatusReport(
        station_id=station,
        evse_id=1,
        connector_id=1,
        status="Charging" if n % 2 else "Available",
        timestamp=T0 + timedelta(seconds=n),
        received_at=T0 + timedelta(seconds=n),
    )


def _start(station: str, tid: str) -> TransactionEvent:
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
        id_token="TAG1",
        ocpp_version="ocpp2.0.1",
    )


async def everything(store: SqlStore) -> list[OutboxEvent]:
    return await store.events_after(0, 100_000)


async def wait_until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polling state owned by other tasks
            await asyncio.sleep(0.05)


# an event iff its data ---------------------------------------------------------------------
async def test_writes_on_the_ocpp_path_bring_their_events(store: SqlStore) -> None:
    woken: list[int] = []
    store.on_events(lambda: woken.append(1))
    await store.record_connection("CP1", True, T0, "ocpp2.0.1", "n1", "127.0.0.1")
    await store.record_status([_status("CP1", 1)])
    [stored] = await store.record_transaction_events([_start("CP1", "TX-1")])
    closed = await store.end_transaction(stored.id, T0 + timedelta(hours=1), "Stale")
    assert closed is not None
    assert await store.end_transaction(stored.id, T0 + timedelta(hours=2), "Again") is not None
    await store.record_connection("CP1", False, T0 + timedelta(hours=3), "ocpp2.0.1", "n1", None)

    events = await everything(store)
    assert [e.type for e in events] == [
        "station.connected",
        "station.status_changed",
        "transaction.started",
        "transaction.ended",  # once: the second end found it ended already
        "station.disconnected",
    ]
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert {e.station_id for e in events} == {"CP1"}
    assert events[0].data == {"ocpp_version": "ocpp2.0.1"}
    assert events[0].at == T0
    assert events[1].data["status"] == "Charging"
    assert events[2].data["transaction_id"] == "TX-1"
    assert events[2].data["id"] == stored.id
    assert events[2].data["status"] == "active"
    assert events[3].data["stop_reason"] == "Stale"
    assert events[3].data["status"] == "ended"
    assert len(woken) == 5  # one wake-up per commit with events
    assert [e.id for e in await store.events_after(events[2].id, 10)] == [
        events[3].id,
        events[4].id,
    ]
    assert len(await store.events_after(0, 2)) == 2


async def test_the_events_of_one_batch_keep_their_order(store: SqlStore) -> None:
    """One status write of many reports is one group commit: its events are appended
    together (on PostgreSQL one statement with the rows as arrays) in report order."""
    await store.record_status(
        [dataclasses.replace(_status("CP1", n), connector_id=n + 1) for n in range(7)]
    )
    events = [e for e in await everything(store) if e.type == "station.status_changed"]
    assert [e.data["connector_id"] for e in events] == list(range(1, 8))
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert all(e.station_id == "CP1" and e.created_at is not None for e in events)
    assert events[3].at == T0 + timedelta(seconds=3)
    assert events[3].data["timestamp"] == (T0 + timedelta(seconds=3)).isoformat()


async def test_a_failed_write_leaves_no_event(store: SqlStore) -> None:
    """Status rows of an unknown station break a foreign key: that op fails, alone, and
    its events with it; the ops committed beside it keep theirs."""
    results = await asyncio.gather(
        *(store.record_status([_status("CP1", n)]) for n in range(5)),
        store.record_status([_status("NO-SUCH-STATION", 99)]),
        *(store.record_status([_status("CP1", n)]) for n in range(5, 10)),
        return_exceptions=True,
    )
    assert [isinstance(r, StoreUnavailable) for r in results] == [False] * 5 + [True] + [False] * 5
    events = await everything(store)
    assert len(events) == 10
    assert {e.station_id for e in events} == {"CP1"}
    history = await store.list_status_history("CP1", 100, 0)
    assert history.total == 10


async def test_cursors_and_retention(store: SqlStore) -> None:
    for n in range(5):
        await store.record_status([_status("CP1", n)])
    assert await store.consumer_position("a") == 0
    assert await store.consumer_position("b") == 0
    events = await everything(store)
    assert await store.advance_consumer("a", 0, events[3].id)
    assert not await store.advance_consumer("a", 0, events[4].id)  # moved already
    assert await store.consumer_position("a") == events[3].id
    future = datetime.now(UTC) + timedelta(days=1)
    assert await store.prune_events(future) == 0  # "b" has read nothing
    assert await store.advance_consumer("b", 0, events[1].id)
    assert await store.prune_events(future) == 2  # what both have read
    assert await store.prune_events(datetime.now(UTC) - timedelta(days=1)) == 0
    assert [e.id for e in await everything(store)] == [e.id for e in events[2:]]


# webhooks from the outbox ------------------------------------------------------------------
async def _services(url: str, count: int) -> tuple[list[SqlStore], list[WebhookService]]:
    stores, services = [], []
    for _ in range(count):
        s = SqlStore(_settings(url))
        await s.start()
        bus = EventBus()
        service = WebhookService(s, bus, _settings(url))
        s.on_events(bus.notify)
        stores.append(s)
        services.append(service)
    return stores, services


async def _stop(stores: list[SqlStore], services: list[WebhookService]) -> None:
    for service in services:
        await service.close()
    for s in stores:
        await s.close()


async def test_two_webhook_services_on_one_database_send_each_event_once(
    store: SqlStore, store_url: str, receiver: CountingReceiver
) -> None:
    await store.create_webhook(Webhook(url=receiver.url, secret=SECRET, event_types=[]))
    await store.create_webhook(
        Webhook(url=receiver.url, secret=SECRET, event_types=["transaction.started"])
    )
    stores, services = await _services(store_url, 2)
    try:
        for service in services:
            await service.start()
        # Events committed through each process's writer and through the fixture's.
        writers = [store, *stores]
        await asyncio.gather(
            *(writers[n % 3].record_status([_status("CP1", n)]) for n in range(300)),
            *(
                writers[n % 3].record_transaction_events([_start("CP1", f"TX-{n}")])
                for n in range(20)
            ),
        )
        expected = 300 + 20 * 2
        await wait_until(lambda: sum(receiver.posts.values()) >= expected)
        await asyncio.sleep(0.5)  # a duplicate would arrive about now
        assert len(receiver.posts) == expected
        assert set(receiver.posts.values()) == {1}
        deliveries: list[Any] = []
        for hook in await store.list_webhooks():
            page = await store.list_deliveries(hook.id or 0, None, 1000, 0)
            deliveries.extend(page.items)
        assert len(deliveries) == expected
        assert {d.status for d in deliveries} == {DeliveryStatus.DELIVERED}
        assert {d.attempts for d in deliveries} == {1}
        assert len({(d.event_id, d.webhook_id) for d in deliveries}) == expected
    finally:
        await _stop(stores, services)


async def test_a_restart_loses_nothing(
    store: SqlStore, store_url: str, receiver: CountingReceiver
) -> None:
    await store.create_webhook(Webhook(url=receiver.url, secret=SECRET, event_types=[]))
    stores, services = await _services(store_url, 1)
    try:
        await services[0].start()
        for n in range(10):
            await store.record_status([_status("CP1", n)])
        await wait_until(lambda: len(receiver.posts) == 10)
    finally:
        await _stop(stores, services)
    # Committed while no webhook service runs: delivered after the next start.
    for n in range(10, 25):
        await store.record_status([_status("CP1", n)])
    stores, services = await _services(store_url, 1)
    try:
        await services[0].start()
        await wait_until(lambda: len(receiver.posts) == 25)
        await asyncio.sleep(0.3)
        assert set(receiver.posts.values()) == {1}  # the first ten were not sent again
    finally:
        await _stop(stores, services)
