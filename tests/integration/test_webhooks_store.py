"""WebhookSql (the WebhookStore port) against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import asyncio
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


LEASE = timedelta(seconds=30)


async def claim(store: SqlStore, at: datetime, limit: int = 10, owner: str = "A") -> list[Delivery]:
    return await store.claim_deliveries(owner, at, LEASE, limit)


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
    assert await claim(store, T0 - timedelta(seconds=1)) == []
    two = await claim(store, T0 + timedelta(seconds=5), 2)
    assert [(d.webhook_id, d.next_attempt_at) for d in two] == [
        (hook.id, T0),
        (other.id, T0 + timedelta(seconds=1)),
    ]
    assert {d.claimed_by for d in two} == {"A"}
    assert {d.claimed_until for d in two} == {T0 + timedelta(seconds=5) + LEASE}
    # Claimed ones are not due for anyone else while the lease holds.
    [third] = await claim(store, T0 + timedelta(seconds=5), owner="B")
    assert (third.webhook_id, third.next_attempt_at) == (hook.id, T0 + timedelta(seconds=2))
    assert await claim(store, T0 + timedelta(seconds=6), owner="C") == []
    first = two[0]
    assert first.payload == {
        "type": "station.connected",
        "station_id": "CP-1",
        "data": {"n": 1, "ok": True},
    }
    assert first.status is DeliveryStatus.PENDING and first.attempts == 0

    # One failed attempt, rescheduled (the claim ends); then delivered.
    first.attempts = 1
    first.last_status_code = 500
    first.last_error = "HTTP 500"
    first.next_attempt_at = T0 + timedelta(seconds=30)
    assert not await store.finish_delivery(first, "B")  # not B's claim: nothing written
    assert (await store.get_delivery(first.id) or first).attempts == 0
    assert await store.finish_delivery(first, "A")
    again = await store.get_delivery(first.id)
    assert again is not None
    assert (again.attempts, again.last_status_code, again.last_error) == (1, 500, "HTTP 500")
    assert (again.claimed_by, again.claimed_until) == (None, None)
    assert await claim(store, T0 + timedelta(seconds=29)) == []
    [retaken] = await claim(store, T0 + timedelta(seconds=31), owner="B")
    assert retaken.id == first.id and retaken.attempts == 1
    retaken.status = DeliveryStatus.DELIVERED
    retaken.attempts = 2
    retaken.last_status_code = 204
    retaken.last_error = None
    retaken.next_attempt_at = None
    retaken.delivered_at = T0 + timedelta(seconds=31)
    assert await store.finish_delivery(retaken, "B")
    done = await store.get_delivery(first.id)
    assert done is not None and done.status is DeliveryStatus.DELIVERED and done.attempts == 2
    assert await store.get_delivery(123456) is None
    # Failed and delivered ones are never due; an expired lease frees a delivery.
    third.status = DeliveryStatus.FAILED
    third.next_attempt_at = None
    assert await store.finish_delivery(third, "B")
    later = T0 + timedelta(days=1)
    assert [d.id for d in await claim(store, later, owner="D")] == [
        two[1].id,  # A's lease ran out
        (await store.list_deliveries(hook.id, "pending", 10, 0)).items[0].id,
    ]
    # Released claims are due again at once.
    await store.release_deliveries("D", [two[1].id])
    assert [d.id for d in await claim(store, later, owner="E")] == [two[1].id]

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


async def test_concurrent_claimers_never_share_a_delivery(store_url: str) -> None:
    """Several stores (processes) on one database claim at once: every delivery is
    claimed exactly once."""
    stores = [SqlStore(Settings(database_url=store_url)) for _ in range(3)]
    for s in stores:
        await s.start()
    try:
        hook = await stores[0].create_webhook(_hook())
        assert hook.id is not None
        await stores[0].add_deliveries([_delivery(hook.id, T0) for _ in range(300)])

        async def worker(s: SqlStore, name: str) -> list[int]:
            taken: list[int] = []
            while batch := await s.claim_deliveries(name, T0, LEASE, 7):
                taken.extend(d.id for d in batch)
            return taken

        results = await asyncio.gather(
            *(worker(s, f"w{n}-{k}") for n, s in enumerate(stores) for k in range(2))
        )
        every = [i for r in results for i in r]
        assert len(every) == 300
        assert len(set(every)) == 300
    finally:
        for s in stores:
            await s.close()


async def test_deleting_a_webhook_deletes_its_deliveries(store: SqlStore) -> None:
    hook = await store.create_webhook(_hook())
    keep = await store.create_webhook(_hook())
    assert hook.id is not None and keep.id is not None
    await store.add_deliveries([_delivery(hook.id, T0), _delivery(keep.id, T0)])
    assert await store.delete_webhook(hook.id)
    assert (await store.list_deliveries(hook.id, None, 10, 0)).total == 0
    assert [d.webhook_id for d in await claim(store, T0)] == [keep.id]


async def test_deliveries_for_a_webhook_deleted_meanwhile_do_not_sink_the_batch(
    store: SqlStore,
) -> None:
    hook = await store.create_webhook(_hook())
    gone = await store.create_webhook(_hook())
    assert hook.id is not None and gone.id is not None
    await store.delete_webhook(gone.id)
    await store.add_deliveries([_delivery(gone.id, T0), _delivery(hook.id, T0)])
    await store.add_deliveries([_delivery(gone.id, T0)])
    assert [d.webhook_id for d in await claim(store, T0)] == [hook.id]
