"""The WebhookStore contract for every store: webhooks and their deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ampyre.domain.events import Delivery, DeliveryStatus, Webhook

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _delivery(hook_id: int, n: int, due: datetime | None) -> Delivery:
    return Delivery(
        id=0,
        webhook_id=hook_id,
        event_type="station.connected",
        payload={"n": n},
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=due,
        created_at=T0 + timedelta(seconds=n),
    )


async def test_webhooks_crud(store: Any) -> None:
    hook = await store.create_webhook(Webhook("https://a.example/h", "s1", ["station.connected"]))
    assert hook.id is not None and hook.enabled is True and hook.created_at is not None
    other = await store.create_webhook(Webhook("https://b.example/h", "s2", []))
    assert [h.id for h in await store.list_webhooks()] == [hook.id, other.id]
    hook.enabled, hook.event_types = False, ["transaction.ended"]
    updated = await store.update_webhook(hook)
    assert updated is not None and (updated.enabled, updated.event_types) == (
        False,
        ["transaction.ended"],
    )
    got = await store.get_webhook(hook.id)
    assert got is not None and got.event_types == ["transaction.ended"]
    assert await store.update_webhook(Webhook("https://x", "s", [], id=999_999)) is None
    assert await store.delete_webhook(other.id) is True
    assert await store.delete_webhook(other.id) is False
    assert await store.get_webhook(other.id) is None


async def test_deliveries_due_update_list_and_cascade(store: Any) -> None:
    hook = await store.create_webhook(Webhook("https://a.example/h", "s1", []))
    gone = await store.create_webhook(Webhook("https://b.example/h", "s2", []))
    await store.delete_webhook(gone.id)
    await store.add_deliveries(
        [
            _delivery(hook.id, 1, T0 + timedelta(seconds=30)),
            _delivery(hook.id, 2, T0),
            _delivery(gone.id, 3, T0),  # its webhook is gone: skipped, the rest kept
            _delivery(hook.id, 4, T0 + timedelta(hours=1)),
        ]
    )
    due = await store.due_deliveries(T0 + timedelta(minutes=1), 10)
    assert [d.payload["n"] for d in due] == [2, 1]  # longest waiting first
    assert [d.payload["n"] for d in await store.due_deliveries(T0 + timedelta(hours=2), 1)] == [2]
    first = due[0]
    first.status, first.attempts, first.last_status_code = DeliveryStatus.DELIVERED, 1, 200
    first.delivered_at, first.next_attempt_at = T0 + timedelta(seconds=1), None
    await store.update_delivery(first)
    got = await store.get_delivery(first.id)
    assert got is not None
    assert (got.status, got.attempts, got.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)
    assert [d.payload["n"] for d in await store.due_deliveries(T0 + timedelta(hours=2), 10)] == [
        1,
        4,
    ]
    page = await store.list_deliveries(hook.id, None, 10, 0)
    assert page.total == 3 and [d.payload["n"] for d in page.items] == [4, 2, 1]  # newest first
    delivered = await store.list_deliveries(hook.id, "delivered", 10, 0)
    assert [d.id for d in delivered.items] == [first.id]
    assert await store.delete_webhook(hook.id) is True
    assert await store.get_delivery(first.id) is None
