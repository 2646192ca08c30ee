"""WebhookService against an in-memory outbox and httpx.MockTransport receivers."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ampyre.config import Settings
from ampyre.domain.events import (
    Delivery,
    DeliveryStatus,
    DomainEvent,
    EventType,
    OutboxEvent,
    Webhook,
    json_safe,
)
from ampyre.domain.models import Page
from ampyre.services import webhooks as wh
from ampyre.services.events import EventBus
from ampyre.services.ports import StoreUnavailable
from ampyre.services.webhook_rules import InvalidWebhookInput, verify_signature
from ampyre.services.webhooks import (
    DeliveryConflict,
    DeliveryNotFound,
    WebhookNotFound,
    WebhookService,
)

SECRET = "whsec_unit-test-secret-0123456789"
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class OutboxStore:
    """The WebhookStore port in memory (plus the knobs the tests need)."""

    def __init__(self) -> None:
        self.hooks: dict[int, Webhook] = {}
        self.deliveries: dict[int, Delivery] = {}
        self.outbox: list[OutboxEvent] = []
        self.cursors: dict[str, int] = {}
        self.fail_adds = 0  # the next N fan-outs raise StoreUnavailable
        self.fail_updates = 0  # the next N finish_delivery raise StoreUnavailable
        self._ids = 0

    def append(self, event: DomainEvent) -> None:
        """What the store does in the commit of the event's data."""
        self.outbox.append(
            OutboxEvent(
                len(self.outbox) + 1,
                str(event.type),
                event.at,
                event.station_id,
                json_safe(event.data),
                datetime.now(UTC),
            )
        )

    async def events_after(self, position: int, limit: int) -> list[OutboxEvent]:
        return [e for e in self.outbox if e.id > position][:limit]

    async def last_event_id(self) -> int:
        return self.outbox[-1].id if self.outbox else 0

    async def consumer_position(self, name: str) -> int:
        return self.cursors.setdefault(name, 0)

    async def advance_consumer(self, name: str, position: int, to: int) -> bool:
        if self.cursors.get(name, 0) != position:
            return False
        self.cursors[name] = to
        return True

    async def queue_event_deliveries(
        self, consumer: str, position: int, to: int, deliveries: Sequence[Delivery]
    ) -> bool:
        if self.fail_adds:
            self.fail_adds -= 1
            raise StoreUnavailable("database down")
        if not await self.advance_consumer(consumer, position, to):
            return False
        made = {(d.event_id, d.webhook_id) for d in self.deliveries.values()}
        await self.add_deliveries([d for d in deliveries if (d.event_id, d.webhook_id) not in made])
        return True

    async def webhook_page(self, limit: int, offset: int) -> Page:
        hooks = await self.list_webhooks()
        return Page(
            items=hooks[offset : offset + limit], total=len(hooks), limit=limit, offset=offset
        )

    def _next(self) -> int:
        self._ids += 1
        return self._ids

    async def create_webhook(self, hook: Webhook) -> Webhook:
        stored = dataclasses.replace(hook, id=self._next(), event_types=list(hook.event_types))
        self.hooks[stored.id or 0] = stored
        return dataclasses.replace(stored)

    async def get_webhook(self, hook_id: int) -> Webhook | None:
        hook = self.hooks.get(hook_id)
        return None if hook is None else dataclasses.replace(hook)

    async def list_webhooks(self) -> list[Webhook]:
        return [dataclasses.replace(h) for h in self.hooks.values()]

    async def update_webhook(self, hook: Webhook) -> Webhook | None:
        if hook.id not in self.hooks:
            return None
        self.hooks[hook.id] = dataclasses.replace(hook)
        return dataclasses.replace(hook)

    async def delete_webhook(self, hook_id: int) -> bool:
        if self.hooks.pop(hook_id, None) is None:
            return False
        for d in [d for d in self.deliveries.values() if d.webhook_id == hook_id]:
            del self.deliveries[d.id]
        return True

    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        for d in deliveries:
            if d.webhook_id in self.hooks:
                stored = dataclasses.replace(d, id=self._next())
                self.deliveries[stored.id] = stored

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        d = self.deliveries.get(delivery_id)
        return None if d is None else dataclasses.replace(d)

    async def claim_deliveries(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[Delivery]:
        due = [
            d
            for d in self.deliveries.values()
            if d.status is DeliveryStatus.PENDING
            and d.next_attempt_at is not None
            and d.next_attempt_at <= now
            and (d.claimed_until is None or d.claimed_until <= now)
        ]
        due.sort(key=lambda d: (d.next_attempt_at or now, d.id))
        for d in due[:limit]:
            d.claimed_by, d.claimed_until = owner, now + lease
        return [dataclasses.replace(d) for d in due[:limit]]

    async def finish_delivery(self, delivery: Delivery, owner: str) -> bool:
        if self.fail_updates:
            self.fail_updates -= 1
            raise StoreUnavailable("database down")
        current = self.deliveries.get(delivery.id)
        if current is None or current.claimed_by != owner:
            return False
        self.deliveries[delivery.id] = dataclasses.replace(
            delivery, claimed_by=None, claimed_until=None
        )
        return True

    async def release_deliveries(
        self, owner: str, delivery_ids: Sequence[int] | None = None
    ) -> None:
        for d in self.deliveries.values():
            if d.claimed_by == owner and (delivery_ids is None or d.id in delivery_ids):
                d.claimed_by, d.claimed_until = None, None

    async def update_delivery(self, delivery: Delivery) -> None:
        if delivery.id in self.deliveries:
            self.deliveries[delivery.id] = dataclasses.replace(
                delivery, claimed_by=None, claimed_until=None
            )

    async def list_deliveries(
        self, hook_id: int, status: str | None, limit: int, offset: int
    ) -> Page:
        items = [
            d
            for d in self.deliveries.values()
            if d.webhook_id == hook_id and (status is None or d.status == status)
        ]
        items.sort(key=lambda d: d.id, reverse=True)
        return Page(
            items=items[offset : offset + limit], total=len(items), limit=limit, offset=offset
        )


class Receiver:
    """Records requests; answers with what `answers` says (default 200)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: list[int | Exception] = []
        self.block: asyncio.Event | None = None  # if set, wait for it before answering
        self.active = 0
        self.max_active = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.block is not None:
                await self.block.wait()
            answer = self.answers.pop(0) if self.answers else 200
        finally:
            self.active -= 1
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, text="ok")

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polling state owned by other tasks
            await asyncio.sleep(0.01)


@dataclasses.dataclass
class Rig:
    store: OutboxStore
    bus: EventBus
    receiver: Receiver
    service: WebhookService

    def deliveries(self) -> list[Delivery]:
        return sorted(self.store.deliveries.values(), key=lambda d: d.id)

    def publish(
        self, type_: EventType = EventType.STATION_CONNECTED, station: str = "CP-1"
    ) -> None:
        """An event committed to the outbox, and the signal the store gives then."""
        self.store.append(DomainEvent(type_, datetime.now(UTC), station, {"ocpp_version": "1.6"}))
        self.bus.notify()


def _settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "webhook_max_attempts": 3,
        "webhook_retry_base": 0.05,
        "webhook_timeout": 1.0,
        "shutdown_grace": 1.0,
    }
    values.update(changes)
    return Settings(**values)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    store, bus, receiver = OutboxStore(), EventBus(), Receiver()
    service = WebhookService(store, bus, _settings(), transport=httpx.MockTransport(receiver))
    await service.start()
    yield Rig(store, bus, receiver, service)
    if receiver.block is not None:
        receiver.block.set()
    await service.close()


# delivering -------------------------------------------------------------------------------
async def test_an_event_is_delivered_signed_to_each_matching_hook(rig: Rig) -> None:
    secret, all_types = await rig.service.create("http://all.test/hook")
    assert secret is not None
    _, only_tx = await rig.service.create(
        "http://tx.test/hook", ["transaction.started"], secret=SECRET
    )
    rig.publish()
    await wait_until(lambda: len(rig.receiver.requests) == 1)
    await wait_until(lambda: rig.deliveries()[0].status is DeliveryStatus.DELIVERED)
    request = rig.receiver.requests[0]
    assert request.url == "http://all.test/hook"
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-ampyre-event"] == "station.connected"
    [delivery] = rig.deliveries()
    assert request.headers["x-ampyre-delivery"] == str(delivery.id)
    assert verify_signature(
        secret,
        request.headers["x-ampyre-timestamp"],
        request.content,
        request.headers["x-ampyre-signature"],
    )
    body = json.loads(request.content)
    assert body["id"] == delivery.id
    assert body["type"] == "station.connected"
    assert body["station_id"] == "CP-1"
    assert body["data"] == {"ocpp_version": "1.6"}
    assert delivery.attempts == 1
    assert delivery.last_status_code == 200
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None
    assert only_tx.id is not None and all_types.id == delivery.webhook_id


async def test_a_batch_of_events_fans_out_to_every_hook(rig: Rig) -> None:
    await rig.service.create("http://a.test/")
    await rig.service.create("http://b.test/", ["station.status_changed"])
    for n in range(5):
        rig.publish(station=f"CP-{n}")
    rig.publish(EventType.STATION_STATUS_CHANGED)
    await wait_until(lambda: len(rig.receiver.requests) == 7)
    await wait_until(lambda: all(d.status is DeliveryStatus.DELIVERED for d in rig.deliveries()))
    hosts = sorted(r.url.host for r in rig.receiver.requests)
    assert hosts == ["a.test"] * 6 + ["b.test"]


async def test_failures_are_retried_with_backoff_then_delivered(rig: Rig) -> None:
    await rig.service.create("http://flaky.test/", secret=SECRET)
    rig.receiver.answers = [500, httpx.ConnectError("refused")]
    rig.publish()
    await wait_until(lambda: rig.deliveries() and rig.deliveries()[0].status != "pending")
    [delivery] = rig.deliveries()
    assert delivery.status is DeliveryStatus.DELIVERED
    assert delivery.attempts == 3
    assert delivery.last_status_code == 200
    assert delivery.last_error is None
    assert len(rig.receiver.requests) == 3
    # Same delivery id and body every time; a fresh timestamp and signature per attempt.
    assert len({r.content for r in rig.receiver.requests}) == 1
    assert {r.headers["x-ampyre-delivery"] for r in rig.receiver.requests} == {str(delivery.id)}


async def test_the_retry_schedule_is_recorded(rig: Rig) -> None:
    await rig.service.create("http://down.test/", secret=SECRET)
    rig.receiver.answers = [503, 503, 503]
    rig.receiver.block = asyncio.Event()
    rig.publish()
    await wait_until(lambda: len(rig.receiver.requests) == 1)
    before = datetime.now(UTC)
    rig.receiver.block.set()
    await wait_until(lambda: rig.deliveries()[0].attempts == 1)
    first = rig.deliveries()[0]
    assert first.status is DeliveryStatus.PENDING
    assert first.last_status_code == 503
    assert first.last_error == "HTTP 503"
    assert first.next_attempt_at is not None
    wait = (first.next_attempt_at - before).total_seconds()
    assert 0.04 - 0.01 <= wait <= 0.06 + 0.5  # base 0.05 +-20 %, plus scheduling slack
    await wait_until(lambda: rig.deliveries()[0].status is DeliveryStatus.FAILED)
    failed = rig.deliveries()[0]
    assert failed.attempts == 3
    assert failed.next_attempt_at is None
    assert failed.delivered_at is None
    assert len(rig.receiver.requests) == 3


async def test_unreachable_receivers_fail_after_max_attempts(rig: Rig) -> None:
    await rig.service.create("http://gone.test/", secret=SECRET)
    rig.receiver.answers = [httpx.ConnectError("Connection refused")] * 3
    rig.publish()
    await wait_until(lambda: bool(rig.deliveries()) and rig.deliveries()[0].status == "failed")
    [delivery] = rig.deliveries()
    assert delivery.attempts == 3
    assert delivery.last_status_code is None
    assert delivery.last_error is not None and "Connection refused" in delivery.last_error


async def test_redirects_are_not_followed(rig: Rig) -> None:
    await rig.service.create("http://moved.test/", secret=SECRET)
    rig.receiver.answers = [302, 302, 302]
    rig.publish()
    await wait_until(lambda: bool(rig.deliveries()) and rig.deliveries()[0].status == "failed")
    assert rig.deliveries()[0].last_status_code == 302
    assert all(r.url.host == "moved.test" for r in rig.receiver.requests)


async def test_a_slow_receiver_times_out() -> None:
    store, bus = OutboxStore(), EventBus()

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        return httpx.Response(200)

    settings = _settings(webhook_timeout=0.1, webhook_max_attempts=1)
    service = WebhookService(store, bus, settings, transport=httpx.MockTransport(slow))
    await service.start()
    try:
        await service.create("http://slow.test/", secret=SECRET)
        store.append(DomainEvent(EventType.STATION_CONNECTED, datetime.now(UTC), "CP-1"))
        bus.notify()
        await wait_until(lambda: any(d.status == "failed" for d in store.deliveries.values()))
        [delivery] = store.deliveries.values()
        assert delivery.last_error == "no answer within 0.1 s"
    finally:
        await service.close()


async def test_in_flight_attempts_are_bounded(rig: Rig) -> None:
    await rig.service.create("http://busy.test/", secret=SECRET)
    rig.receiver.block = asyncio.Event()
    for n in range(20):
        rig.publish(station=f"CP-{n}")
    await wait_until(lambda: len(rig.receiver.requests) == wh.MAX_IN_FLIGHT)
    await asyncio.sleep(0.1)
    assert len(rig.receiver.requests) == wh.MAX_IN_FLIGHT
    rig.receiver.block.set()
    await wait_until(
        lambda: (
            len(rig.deliveries()) == 20
            and all(d.status is DeliveryStatus.DELIVERED for d in rig.deliveries())
        )
    )
    assert rig.receiver.max_active == wh.MAX_IN_FLIGHT
    assert len(rig.receiver.requests) == 20  # none sent twice


# hooks changing under the loop ---------------------------------------------------------------
async def test_disabled_and_deleted_hooks_get_nothing_new(rig: Rig) -> None:
    _, hook = await rig.service.create("http://off.test/", secret=SECRET)
    assert hook.id is not None
    await rig.service.update(hook.id, enabled=False)
    rig.publish()
    await asyncio.sleep(0.1)
    assert rig.store.deliveries == {}
    await rig.service.update(hook.id, enabled=True)
    assert await rig.service.delete(hook.id)
    rig.publish()
    await asyncio.sleep(0.1)
    assert rig.store.deliveries == {}
    assert rig.receiver.requests == []
    assert not await rig.service.delete(hook.id)


async def test_pending_deliveries_of_a_disabled_hook_fail_without_a_request(rig: Rig) -> None:
    _, hook = await rig.service.create("http://x.test/", secret=SECRET)
    assert hook.id is not None
    rig.receiver.answers = [500]
    rig.publish()
    await wait_until(lambda: bool(rig.deliveries()) and rig.deliveries()[0].attempts == 1)
    await rig.service.update(hook.id, enabled=False)
    await wait_until(lambda: rig.deliveries()[0].status is DeliveryStatus.FAILED)
    assert rig.deliveries()[0].last_error == "webhook disabled"
    assert len(rig.receiver.requests) == 1
    with pytest.raises(DeliveryConflict):
        await rig.service.retry(hook.id, rig.deliveries()[0].id)


async def test_a_failed_delivery_can_be_retried(rig: Rig) -> None:
    _, hook = await rig.service.create("http://x.test/", secret=SECRET)
    _, other = await rig.service.create("http://y.test/", ["transaction.ended"], secret=SECRET)
    assert hook.id is not None and other.id is not None
    rig.receiver.answers = [500, 500, 500]
    rig.publish()
    await wait_until(lambda: bool(rig.deliveries()) and rig.deliveries()[0].status == "failed")
    [failed] = rig.deliveries()
    with pytest.raises(DeliveryNotFound):
        await rig.service.retry(other.id, failed.id)
    with pytest.raises(DeliveryNotFound):
        await rig.service.retry(hook.id, failed.id + 100)
    with pytest.raises(WebhookNotFound):
        await rig.service.retry(999, failed.id)
    queued = await rig.service.retry(hook.id, failed.id)
    assert queued.status is DeliveryStatus.PENDING and queued.attempts == 0
    await wait_until(lambda: rig.deliveries()[0].status is DeliveryStatus.DELIVERED)
    assert rig.deliveries()[0].attempts == 1
    with pytest.raises(DeliveryConflict):
        await rig.service.retry(hook.id, failed.id)  # delivered: nothing to retry


async def test_ping_reaches_a_hook_whatever_its_event_types(rig: Rig) -> None:
    _, hook = await rig.service.create("http://p.test/", ["transaction.ended"], secret=SECRET)
    assert hook.id is not None
    await rig.service.ping(hook.id)
    await wait_until(lambda: len(rig.receiver.requests) == 1)
    request = rig.receiver.requests[0]
    assert request.headers["x-ampyre-event"] == "webhook.ping"
    body = json.loads(request.content)
    assert body["type"] == "webhook.ping"
    assert body["station_id"] is None
    assert body["data"] == {"webhook_id": hook.id}
    with pytest.raises(WebhookNotFound):
        await rig.service.ping(999)
    await rig.service.update(hook.id, enabled=False)
    with pytest.raises(DeliveryConflict):
        await rig.service.ping(hook.id)


async def test_api_side_validation(rig: Rig) -> None:
    with pytest.raises(InvalidWebhookInput):
        await rig.service.create("ftp://x.test/")
    with pytest.raises(InvalidWebhookInput):
        await rig.service.create("http://x.test/", ["nope"])
    with pytest.raises(InvalidWebhookInput):
        await rig.service.create("http://x.test/", secret="short")
    _, hook = await rig.service.create("http://x.test/", secret=SECRET, description="d")
    assert hook.id is not None
    with pytest.raises(InvalidWebhookInput):
        await rig.service.update(hook.id, url="mailto:x@y")
    with pytest.raises(WebhookNotFound):
        await rig.service.update(999, enabled=False)
    updated = await rig.service.update(hook.id, description=None, event_types=[])
    assert updated.description is None and updated.url == "http://x.test/"
    assert updated.secret == SECRET
    assert rig.store.deliveries == {}
    with pytest.raises(WebhookNotFound):
        await rig.service.deliveries(999, None, 10, 0)


# outages, restarts, shutdown ---------------------------------------------------------------
async def test_a_store_hiccup_while_queueing_loses_nothing(rig: Rig) -> None:
    await rig.service.create("http://x.test/", secret=SECRET)
    rig.store.fail_adds = 1
    rig.publish()
    await wait_until(lambda: len(rig.receiver.requests) == 1, timeout=5)
    [delivery] = rig.deliveries()
    assert delivery.event_id == 1
    assert rig.store.cursors == {"webhooks": 1}


async def test_an_outcome_that_cannot_be_stored_is_stored_later_not_resent(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.service.create("http://x.test/", secret=SECRET)
    rig.store.fail_updates = 1
    rig.publish()
    await wait_until(lambda: len(rig.receiver.requests) == 1)
    await wait_until(lambda: rig.deliveries()[0].status is DeliveryStatus.DELIVERED)
    await asyncio.sleep(0.2)
    assert len(rig.receiver.requests) == 1  # one POST, one counted attempt
    assert rig.deliveries()[0].attempts == 1
    assert rig.deliveries()[0].claimed_by is None
    assert "outcome not stored yet" in caplog.text


async def test_failed_attempts_and_giving_up_are_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    _, hook = await rig.service.create("http://down.test/", secret=SECRET)
    rig.receiver.answers = [503, httpx.ConnectError("refused"), 500]
    with caplog.at_level("WARNING", logger="ampyre.services.webhooks"):
        rig.publish()
        await wait_until(lambda: bool(rig.deliveries()) and rig.deliveries()[0].status == "failed")
    [delivery] = rig.deliveries()
    lines = [r.getMessage() for r in caplog.records if r.name == "ampyre.services.webhooks"]
    assert len(lines) == 3
    prefix = f"webhook {hook.id} delivery {delivery.id} (station.connected)"
    assert lines[0].startswith(f"{prefix} attempt 1 failed: HTTP 503; next attempt at 20")
    assert lines[1].startswith(f"{prefix} attempt 2 failed: ConnectError: refused; next")
    assert lines[2] == f"{prefix} failed: HTTP 500; gave up after 3 attempts"


async def test_two_services_on_one_outbox_never_send_a_delivery_twice() -> None:
    store, bus, receiver = OutboxStore(), EventBus(), Receiver()
    services = [
        WebhookService(store, bus, _settings(), transport=httpx.MockTransport(receiver))
        for _ in range(2)
    ]
    assert services[0].owner != services[1].owner
    for service in services:
        await service.start()
    try:
        _, hook = await services[0].create("http://two.test/", secret=SECRET)
        assert hook.id is not None
        for _ in range(100):
            await services[1].ping(hook.id)
        await wait_until(
            lambda: (
                len(store.deliveries) == 100
                and all(d.status is DeliveryStatus.DELIVERED for d in store.deliveries.values())
            )
        )
        await asyncio.sleep(0.2)
        sent = [r.headers["x-ampyre-delivery"] for r in receiver.requests]
        assert len(sent) == len(set(sent)) == 100
    finally:
        for service in services:
            await service.close()


async def test_pending_deliveries_are_sent_after_a_restart() -> None:
    store, receiver = OutboxStore(), Receiver()
    hook = await store.create_webhook(
        Webhook(url="http://later.test/", secret=SECRET, event_types=[])
    )
    assert hook.id is not None
    now = datetime.now(UTC)
    await store.add_deliveries(
        [
            Delivery(
                id=0,
                webhook_id=hook.id,
                event_type="station.connected",
                payload={"type": "station.connected", "station_id": "CP-9", "data": {}},
                status=DeliveryStatus.PENDING,
                attempts=2,
                next_attempt_at=now - timedelta(seconds=5),
                created_at=now - timedelta(minutes=1),
            )
        ]
    )
    bus = EventBus()
    service = WebhookService(store, bus, _settings(), transport=httpx.MockTransport(receiver))
    await service.start()
    try:
        await wait_until(lambda: len(receiver.requests) == 1)
        await wait_until(
            lambda: next(iter(store.deliveries.values())).status is DeliveryStatus.DELIVERED
        )
        assert next(iter(store.deliveries.values())).attempts == 3
    finally:
        await service.close()


async def test_close_interrupts_in_flight_attempts_without_counting_them() -> None:
    store, bus, receiver = OutboxStore(), EventBus(), Receiver()
    receiver.block = asyncio.Event()  # never set: the receiver hangs
    service = WebhookService(
        store, bus, _settings(webhook_timeout=30.0), transport=httpx.MockTransport(receiver)
    )
    await service.start()
    await service.create("http://hang.test/", secret=SECRET)
    store.append(DomainEvent(EventType.STATION_CONNECTED, datetime.now(UTC), "CP-1"))
    bus.notify()
    await wait_until(lambda: len(receiver.requests) == 1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await service.close()
    assert loop.time() - started < 2.0
    [delivery] = store.deliveries.values()
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.attempts == 0
    assert receiver.active == 0


# the outbox consumer ---------------------------------------------------------------------
async def test_a_webhook_gets_no_events_from_before_it_existed(rig: Rig) -> None:
    await rig.service.close()  # events pile up in the outbox meanwhile
    rig.publish(station="CP-OLD")
    await asyncio.sleep(0.01)
    await rig.service.create("http://new.test/", secret=SECRET)
    rig.publish(station="CP-NEW")
    await rig.service.start()
    await wait_until(lambda: len(rig.receiver.requests) == 1)
    await asyncio.sleep(0.1)
    assert [b["station_id"] for b in rig.receiver.bodies()] == ["CP-NEW"]
    assert rig.store.cursors == {"webhooks": 2}


async def test_without_an_enabled_webhook_the_cursor_skips_events_unread(rig: Rig) -> None:
    read: list[int] = []
    events_after = rig.store.events_after

    async def counting(position: int, limit: int) -> list[OutboxEvent]:
        read.append(position)
        return await events_after(position, limit)

    rig.store.events_after = counting  # type: ignore[method-assign]
    for n in range(5):
        rig.publish(station=f"CP-{n}")
    await wait_until(lambda: rig.store.cursors.get("webhooks") == 5)
    assert read == []  # moved past them without reading one
    assert rig.store.deliveries == {}
    await rig.service.create("http://late.test/", secret=SECRET)
    rig.publish(station="CP-LATE")
    await wait_until(lambda: len(rig.receiver.requests) == 1)
    assert [b["station_id"] for b in rig.receiver.bodies()] == ["CP-LATE"]
    assert read == [5]  # with a webhook, the events are read again


async def test_the_cursor_survives_a_restart_and_nothing_is_fanned_out_twice() -> None:
    store, receiver = OutboxStore(), Receiver()
    bus = EventBus()
    first = WebhookService(store, bus, _settings(), transport=httpx.MockTransport(receiver))
    await first.start()
    await first.create("http://r.test/", secret=SECRET)
    for n in range(3):
        store.append(DomainEvent(EventType.STATION_CONNECTED, datetime.now(UTC), f"CP-{n}"))
    bus.notify()
    await wait_until(lambda: len(receiver.requests) == 3)
    await first.close()
    store.append(DomainEvent(EventType.STATION_CONNECTED, datetime.now(UTC), "CP-3"))
    second = WebhookService(store, bus, _settings(), transport=httpx.MockTransport(receiver))
    await second.start()
    try:
        await wait_until(lambda: len(receiver.requests) == 4)
        await asyncio.sleep(0.1)
        assert len(store.deliveries) == 4
        assert sorted(b["station_id"] for b in receiver.bodies()) == [f"CP-{n}" for n in range(4)]
    finally:
        await second.close()


async def test_two_services_fan_out_each_event_once() -> None:
    store, bus, receiver = OutboxStore(), EventBus(), Receiver()
    services = [
        WebhookService(store, bus, _settings(), transport=httpx.MockTransport(receiver))
        for _ in range(2)
    ]
    for service in services:
        await service.start()
    try:
        await services[0].create("http://a.test/", secret=SECRET)
        await services[1].create("http://b.test/", secret=SECRET)
        for n in range(120):
            store.append(DomainEvent(EventType.STATION_CONNECTED, datetime.now(UTC), f"CP-{n}"))
            if n % 7 == 0:
                bus.notify()
                await asyncio.sleep(0)
        bus.notify()
        await wait_until(lambda: len(receiver.requests) == 240)
        await asyncio.sleep(0.2)
        pairs = [(d.event_id, d.webhook_id) for d in store.deliveries.values()]
        assert len(pairs) == len(set(pairs)) == 240
        assert len(receiver.requests) == 240
    finally:
        for service in services:
            await service.close()
