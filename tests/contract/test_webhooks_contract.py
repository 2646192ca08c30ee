"""The WebhookStore contract for every store: webhooks and their deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ampyre.domain.events import Delivery, DeliveryStatus, Webhook
from ampyre.domain.models import Station, StatusReport
from ampyre.services.ports import StoreUnavailable

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


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
    due = await store.claim_deliveries("A", T0 + timedelta(minutes=1), LEASE, 10)
    assert [d.payload["n"] for d in due] == [2, 1]  # longest waiting first
    assert {d.claimed_by for d in due} == {"A"}
    # Claimed: due for nobody else until the lease runs out.
    assert await store.claim_deliveries("B", T0 + timedelta(minutes=2), LEASE, 10) == []
    first = due[0]
    first.status, first.attempts, first.last_status_code = DeliveryStatus.DELIVERED, 1, 200
    first.delivered_at, first.next_attempt_at = T0 + timedelta(seconds=1), None
    assert await store.finish_delivery(first, "B") is False  # not B's claim
    assert await store.finish_delivery(first, "A") is True
    got = await store.get_delivery(first.id)
    assert got is not None
    assert (got.status, got.attempts, got.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)
    assert (got.claimed_by, got.claimed_until) == (None, None)
    await store.release_deliveries("A")
    later = await store.claim_deliveries("C", T0 + timedelta(hours=2), LEASE, 10)
    assert [d.payload["n"] for d in later] == [1, 4]
    page = await store.list_deliveries(hook.id, None, 10, 0)
    assert page.total == 3 and [d.payload["n"] for d in page.items] == [4, 2, 1]  # newest first
    delivered = await store.list_deliveries(hook.id, "delivered", 10, 0)
    assert [d.id for d in delivered.items] == [first.id]
    assert await store.delete_webhook(hook.id) is True
    assert await store.get_delivery(first.id) is None


async def test_writes_append_their_events_and_consumers_read_them(store: Any) -> None:
    await store.create_station(Station(id="CP1"))
    await store.record_connection("CP1", True, T0, "ocpp1.6", "n1", None)
    report = StatusReport("CP1", 1, 1, "Available", T0, T0)
    await store.record_status([report])
    events = await store.events_after(0, 10)
    assert [(e.type, e.station_id) for e in events] == [
        ("station.connected", "CP1"),
        ("station.status_changed", "CP1"),
    ]
    assert events[0].data == {"ocpp_version": "ocpp1.6"} and events[0].at == T0
    assert events[0].id < events[1].id
    assert [e.id for e in await store.events_after(events[0].id, 10)] == [events[1].id]
    # A write that fails (unknown station) leaves no event.
    with pytest.raises(StoreUnavailable):
        await store.record_status([StatusReport("NOPE", 1, 1, "Available", T0, T0)])
    assert len(await store.events_after(0, 10)) == 2


async def test_fan_out_moves_the_cursor_once_and_makes_each_delivery_once(store: Any) -> None:
    hook = await store.create_webhook(Webhook("https://a.example/h", "s1", []))
    await store.create_station(Station(id="CP1"))
    await store.record_status([StatusReport("CP1", 1, 1, "Available", T0, T0)])
    [event] = await store.events_after(0, 10)
    assert await store.consumer_position("webhooks") == 0
    made = _delivery(hook.id, 1, T0)
    made.event_id = event.id
    assert await store.queue_event_deliveries("webhooks", 0, event.id, [made]) is True
    assert await store.queue_event_deliveries("webhooks", 0, event.id, [made]) is False
    assert await store.consumer_position("webhooks") == event.id
    assert await store.advance_consumer("webhooks", event.id, event.id) is True
    # A cursor exists once read; the same (event, webhook) is never made twice, even by a
    # consumer that starts over.
    assert await store.advance_consumer("other", 0, event.id) is False
    assert await store.consumer_position("other") == 0
    assert await store.queue_event_deliveries("other", 0, event.id, [made]) is True
    page = await store.list_deliveries(hook.id, None, 10, 0)
    assert page.total == 1 and page.items[0].event_id == event.id
