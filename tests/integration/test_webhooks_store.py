"""WebhookSql (the WebhookStore port) against real SQLite and PostgreSQL databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.events import Delivery, DeliveryStatus, Webhook

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "whsec_store-test-0123456789"


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    s = SqlStore(Settings(database_url=store_url))
    await s.start()
    yield s
    await s.close()


def _hook(url: str = "http://127.0.0.1:1/hook", types: list[str] | None = None) -> Webhook:
    return Webhook(url=url, secret=SECRET, event_types=types or [], description="d")


def _delivery(hook_id: int, at: datetime, event_type: str = "station.connected") -> Delivery:
    return Delivery(
        id=0,
        webhook_id=hook_id,
        event_type=event_type,
        payload={"type": event_type, "station_id": "CP-1", "data": {"n": 1, "ok": True}},
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=at,
        created_at=at,
    )


async def test_webhook_round_trip(store: SqlStore) -> None:
    created = await store.create_webhook(_hook(types=["station.connected", "transaction.ended"]))
    assert created.id is not None
    assert created.created_at is not None and created.updated_at == created.created_at
    got = await store.get_webhook(created.id)
    assert got == created
    assert got is not None
    assert got.event_types == ["station.connected", "transaction.ended"]
    assert got.enabled is True and got.secret == SECRET and got.description == "d"
    second = await store.create_webhook(_hook("https://example.com/"))
    assert [h.id for h in await store.list_webhooks()] == [created.id, second.id]

    got.enabled = False
    got.event_types = []
    got.description = None
    got.url = "https://example.org/x"
    got.updated_at = T0
    updated = await store.update_webhook(got)
    assert updated is not None
    assert (updated.enabled, updated.event_types, updated.description, updated.url) == (
        False,
        [],
        None,
        "https://example.org/x",
    )
    assert updated.updated_at == T0
    assert await store.get_webhook(created.id) == updated

    missing = _hook()
    missing.id = 9999
    assert await store.update_webhook(missing) is None
    assert await store.get_webhook(9999) is None
    assert await store.delete_webhook(second.id or 0)
    assert not await store.delete_webhook(second.id or 0)
    assert [h.id for h in await store.list_webhooks()] == [created.id]


async def test_the_outbox(store: SqlStore) -> None:
    hook = await store.create_webhook(_hook())
    other = await store.create_webhook(_hook())
    assert hook.id is not None and other.id is not None
    await store.add_deliveries([])
    await store.add_deliveries(
        [
            _delivery(hook.id, T0 + timedelta(seconds=2)),
            _delivery(hook.id, T0),
            _delivery(other.id, T0 + timedelta(seconds=1), "transaction.started"),
            _delivery(hook.id, T0 + timedelta(seconds=60)),
        ]
    )
    due = await store.due_deliveries(T0 + timedelta(seconds=5), 10)
    assert [(d.webhook_id, d.next_attempt_at) for d in due] == [
        (hook.id, T0),
        (other.id, T0 + timedelta(seconds=1)),
        (hook.id, T0 + timedelta(seconds=2)),
    ]
    assert len(await store.due_deliveries(T0 + timedelta(seconds=5), 2)) == 2
    assert await store.due_deliveries(T0 - timedelta(seconds=1), 10) == []
    first = due[0]
    assert first.payload == {
        "type": "station.connected",
        "station_id": "CP-1",
        "data": {"n": 1, "ok": True},
    }
    assert first.status is DeliveryStatus.PENDING and first.attempts == 0

    # One failed attempt, rescheduled; then delivered.
    first.attempts = 1
    first.last_status_code = 500
    first.last_error = "HTTP 500"
    first.next_attempt_at = T0 + timedelta(seconds=30)
    await store.update_delivery(first)
    assert [d.id for d in await store.due_deliveries(T0 + timedelta(seconds=5), 10)] == [
        due[1].id,
        due[2].id,
    ]
    again = await store.get_delivery(first.id)
    assert again is not None
    assert (again.attempts, again.last_status_code, again.last_error) == (1, 500, "HTTP 500")
    again.status = DeliveryStatus.DELIVERED
    again.attempts = 2
    again.last_status_code = 204
    again.last_error = None
    again.next_attempt_at = None
    again.delivered_at = T0 + timedelta(seconds=31)
    await store.update_delivery(again)
    assert await store.get_delivery(first.id) == again
    assert await store.get_delivery(123456) is None
    # Failed and delivered ones are never due.
    due[2].status = DeliveryStatus.FAILED
    due[2].next_attempt_at = None
    await store.update_delivery(due[2])
    assert [d.id for d in await store.due_deliveries(T0 + timedelta(days=1), 10)] == [
        due[1].id,
        (await store.list_deliveries(hook.id, "pending", 10, 0)).items[0].id,
    ]

    page = await store.list_deliveries(hook.id, None, 2, 0)
    assert page.total == 3 and len(page.items) == 2
    created = [d.created_at for d in page.items]
    assert created == sorted(created, reverse=True)  # newest first
    assert (await store.list_deliveries(hook.id, None, 2, 2)).items[0].id == first.id
    assert [d.id for d in (await store.list_deliveries(hook.id, "delivered", 10, 0)).items] == [
        first.id
    ]
    assert (await store.list_deliveries(hook.id, "failed", 10, 0)).total == 1
    assert (await store.list_deliveries(other.id, None, 10, 0)).total == 1
    assert (await store.list_deliveries(9999, None, 10, 0)).total == 0


async def test_deleting_a_webhook_deletes_its_deliveries(store: SqlStore) -> None:
    hook = await store.create_webhook(_hook())
    keep = await store.create_webhook(_hook())
    assert hook.id is not None and keep.id is not None
    await store.add_deliveries([_delivery(hook.id, T0), _delivery(keep.id, T0)])
    assert await store.delete_webhook(hook.id)
    assert (await store.list_deliveries(hook.id, None, 10, 0)).total == 0
    assert [d.webhook_id for d in await store.due_deliveries(T0, 10)] == [keep.id]


async def test_deliveries_for_a_webhook_deleted_meanwhile_do_not_sink_the_batch(
    store: SqlStore,
) -> None:
    hook = await store.create_webhook(_hook())
    gone = await store.create_webhook(_hook())
    assert hook.id is not None and gone.id is not None
    await store.delete_webhook(gone.id)
    await store.add_deliveries([_delivery(gone.id, T0), _delivery(hook.id, T0)])
    assert [d.webhook_id for d in await store.due_deliveries(T0, 10)] == [hook.id]
    await store.add_deliveries([_delivery(gone.id, T0)])
    assert len(await store.due_deliveries(T0, 10)) == 1
