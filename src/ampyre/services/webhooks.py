"""Webhooks: domain events delivered to operators' URLs, signed, retried, recorded.

Flow (nothing here ever runs on the OCPP path):

1. Domain events are rows of the outbox, committed by the store with the data they
   describe (adapters/db/outbox.py). The fan-out loop reads them after this service's
   cursor ("webhooks") and, in one transaction, inserts one *pending* delivery per
   (event, enabled webhook whose event types match) and moves the cursor. It runs when
   the EventBus signals a commit, and at least every POLL_EVERY seconds.
2. The delivery loop claims due deliveries (a lease in the database, so that several
   processes share the work and none is sent twice) and POSTs them, at most
   MAX_IN_FLIGHT at a time. A 2xx answer marks a delivery delivered; anything else (other
   status, redirect, timeout, refused connection) counts an attempt and schedules the next
   one after an exponential backoff with jitter; after `webhook_max_attempts` attempts it
   is failed (an operator may re-queue it). Since the outbox is in the database, a crash
   or restart loses nothing: pending deliveries are sent after the next start (those a
   killed process had claimed, once their lease runs out). Delivery is *at least once*:
   an attempt interrupted by a shutdown or crash is made again later, so a receiver
   should ignore a delivery id it has already processed.

What a receiver gets and how it verifies a request: services/webhook_rules.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from ampyre import __version__
from ampyre.config import Settings
from ampyre.domain.events import (
    Delivery,
    DeliveryStatus,
    OutboxEvent,
    Webhook,
)
from ampyre.domain.models import Page
from ampyre.services.clock import to_rfc3339, utcnow
from ampyre.services.events import EventBus
from ampyre.services.ports import WebhookStore
from ampyre.services.webhook_rules import (
    backoff_delay,
    clip,
    encode_body,
    matches,
    new_secret,
    outbox_payload,
    sign,
    validate_description,
    validate_event_types,
    validate_secret,
    validate_url,
)

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 8  # concurrent HTTP attempts
REFRESH_EVERY = 30.0  # seconds between reloads of the webhook list (changes on other nodes)
# Seconds between looks at the outbox when nothing woke the loop: finds deliveries that
# fell due without a timer of this process (left by a previous run or another node). One
# indexed query per second is cheap.
POLL_EVERY = 1.0
LEASE_MARGIN = 30.0  # seconds a claim outlasts the longest attempt
PING = "webhook.ping"  # the test event of POST /webhooks/{id}/ping
CONSUMER = "webhooks"  # this service's name (and cursor) in the outbox
FAN_OUT_BATCH = 500  # outbox events per fan-out transaction
# Seconds from the start of one look at the outbox to the next, however often commits
# signal: under load the store commits events a few hundred times a second, and a look per
# commit (three queries on the event loop, contending with the group commit on SQLite)
# cost 2-12 % of the server's CPU. A quiet outbox is still read at once when events come.
FAN_OUT_PAUSE = 0.1


class WebhookNotFound(LookupError):
    pass


class DeliveryNotFound(LookupError):
    pass


class DeliveryConflict(Exception):
    """The delivery (or its webhook) is not in a state that allows the operation."""


class _Keep(enum.Enum):
    KEEP = 0


KEEP = _Keep.KEEP


# ---------------------------------------------------------------------- the service


class WebhookService:
    def __init__(
        self,
        store: WebhookStore,
        events: EventBus,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,  # tests: httpx.MockTransport
    ) -> None:
        self._store = store
        self._events = events
        self._settings = settings
        self._transport = transport
        # Called after webhooks were created, changed or deleted here (other nodes reload).
        self.on_change: Callable[[], None] | None = None
        self._hooks: dict[int, Webhook] = {}
        self._client: httpx.AsyncClient | None = None
        self._wake = asyncio.Event()
        self._timers: list[float] = []  # loop times at which a scheduled retry is due
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        # Attempts made whose outcome is not stored yet (the database refused it).
        self._outcomes: dict[int, Delivery] = {}
        # Who claims deliveries (unique per running service, so two on one node differ)
        # and for how long: longer than any attempt (bounded by webhook_timeout) plus the
        # time to store its outcome. A process that dies leaves its claims to expire.
        self.owner = f"{settings.node_id or 'node'}/{secrets.token_hex(4)}"[-64:]
        self._lease = timedelta(seconds=2 * settings.webhook_timeout + LEASE_MARGIN)
        self._tasks: list[asyncio.Task[None]] = []
        self._events_wake = asyncio.Event()
        self._position: int | None = None  # this consumer's outbox cursor, once read

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        if self._tasks:
            return
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=httpx.Timeout(self._settings.webhook_timeout),
            follow_redirects=False,
            # Deliveries go where the operator said, not through an environment proxy.
            trust_env=False,
            headers={"User-Agent": f"Ampyre-Webhooks/{__version__}"},
        )
        try:
            await self.reload()
        except Exception:
            log.warning("could not load webhooks; will retry", exc_info=True)
        self._events.subscribe(self.owner, self.wake)
        self._wake.set()  # look at the outbox at once: deliveries left by the last run
        self._events_wake.set()
        self._tasks = [
            asyncio.create_task(self._fan_out_forever(), name="webhooks-fan-out"),
            asyncio.create_task(self._deliver_forever(), name="webhooks-deliver"),
            asyncio.create_task(self._refresh_forever(), name="webhooks-refresh"),
        ]

    async def close(self) -> None:
        """Stop taking deliveries; give in-flight attempts a moment, then cancel them (an
        interrupted attempt is not counted and is made again after the next start)."""
        self._events.unsubscribe(self.owner)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        flying = list(self._in_flight.values())
        if flying:
            await asyncio.wait(flying, timeout=min(1.0, self._settings.shutdown_grace))
            for task in flying:
                task.cancel()
            await asyncio.gather(*flying, return_exceptions=True)
        # Interrupted attempts are not counted; their deliveries (and any claimed by a
        # read the cancellation cut short) are released, to be sent soon after the next
        # start, here or elsewhere, rather than when their lease runs out.
        try:
            async with asyncio.timeout(2.0):
                await self._store_outcomes()
                await self._store.release_deliveries(self.owner)
        except Exception:
            log.warning("could not release this process's webhook deliveries", exc_info=True)
        self._in_flight.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ------------------------------------------------------------------ API side

    async def reload(self) -> None:
        hooks = await self._store.list_webhooks()
        self._hooks = {h.id: h for h in hooks if h.id is not None}

    async def _reload_quietly(self) -> None:
        try:
            await self.reload()
        except Exception:
            log.warning("could not reload webhooks; the periodic reload will", exc_info=True)

    async def reload_quietly(self) -> None:
        """Another node changed the webhooks: reload them now (not at the next refresh)."""
        await self._reload_quietly()

    async def _changed(self) -> None:
        await self._reload_quietly()
        if self.on_change is not None:
            self.on_change()

    async def create(
        self,
        url: str,
        event_types: Sequence[str] = (),
        *,
        secret: str | None = None,
        enabled: bool = True,
        description: str | None = None,
    ) -> tuple[str | None, Webhook]:
        """Create a webhook. Without a secret one is generated and returned (once)."""
        generated = new_secret() if secret is None else None
        now = utcnow()
        hook = await self._store.create_webhook(
            Webhook(
                url=validate_url(url),
                secret=validate_secret(secret) if secret is not None else str(generated),
                event_types=validate_event_types(event_types),
                enabled=enabled,
                description=validate_description(description),
                created_at=now,
                updated_at=now,
            )
        )
        await self._changed()
        return generated, hook

    async def all(self) -> list[Webhook]:
        return await self._store.list_webhooks()

    async def page(self, limit: int, offset: int) -> Page:
        return await self._store.webhook_page(limit, offset)

    async def get(self, hook_id: int) -> Webhook:
        hook = await self._store.get_webhook(hook_id)
        if hook is None:
            raise WebhookNotFound(f"no webhook with id {hook_id}")
        return hook

    async def update(
        self,
        hook_id: int,
        *,
        url: str | _Keep = KEEP,
        secret: str | _Keep = KEEP,
        event_types: Sequence[str] | _Keep = KEEP,
        enabled: bool | _Keep = KEEP,
        description: str | _Keep | None = KEEP,
    ) -> Webhook:
        hook = await self.get(hook_id)
        if not isinstance(url, _Keep):
            hook.url = validate_url(url)
        if not isinstance(secret, _Keep):
            hook.secret = validate_secret(secret)
        if not isinstance(event_types, _Keep):
            hook.event_types = validate_event_types(event_types)
        if not isinstance(enabled, _Keep):
            hook.enabled = enabled
        if not isinstance(description, _Keep):
            hook.description = validate_description(description)
        hook.updated_at = utcnow()
        updated = await self._store.update_webhook(hook)
        if updated is None:
            raise WebhookNotFound(f"no webhook with id {hook_id}")
        await self._changed()
        return updated

    async def delete(self, hook_id: int) -> bool:
        """Delete a webhook and its deliveries (queued ones are not sent)."""
        deleted = await self._store.delete_webhook(hook_id)
        await self._changed()
        return deleted

    async def deliveries(
        self, hook_id: int, status: DeliveryStatus | None, limit: int, offset: int
    ) -> Page:
        await self.get(hook_id)
        return await self._store.list_deliveries(
            hook_id, None if status is None else status.value, limit, offset
        )

    async def retry(self, hook_id: int, delivery_id: int) -> Delivery:
        """Re-queue a failed delivery with a fresh set of attempts."""
        hook = await self.get(hook_id)
        delivery = await self._store.get_delivery(delivery_id)
        if delivery is None or delivery.webhook_id != hook_id:
            raise DeliveryNotFound(f"webhook {hook_id} has no delivery {delivery_id}")
        if delivery.status is not DeliveryStatus.FAILED:
            raise DeliveryConflict(
                f"delivery {delivery_id} is {delivery.status.value}; only failed ones are retried"
            )
        if not hook.enabled:
            raise DeliveryConflict(f"webhook {hook_id} is disabled; enable it first")
        delivery.status = DeliveryStatus.PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = utcnow()
        await self._store.update_delivery(delivery)
        self._wake.set()
        return delivery

    async def ping(self, hook_id: int) -> None:
        """Queue a `webhook.ping` delivery to this webhook, whatever its event types."""
        hook = await self.get(hook_id)
        if not hook.enabled:
            raise DeliveryConflict(f"webhook {hook_id} is disabled; enable it first")
        now = utcnow()
        payload = {
            "type": PING,
            "created_at": to_rfc3339(now),
            "station_id": None,
            "data": {"webhook_id": hook_id},
        }
        await self._store.add_deliveries(
            [_pending(hook_id, PING, payload, now)],
        )
        self._wake.set()

    # ------------------------------------------------------------------ event side

    def wake(self) -> None:
        """Events were committed to the outbox (the EventBus signal)."""
        self._events_wake.set()

    async def _fan_out_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_EVERY):
                    await self._events_wake.wait()
            started = loop.time()
            self._events_wake.clear()
            try:
                while await self.fan_out():
                    pass
            except Exception:
                log.warning("could not read the outbox; will retry", exc_info=True)
            # Signals that come meanwhile are served together by the next look.
            rest = FAN_OUT_PAUSE - (loop.time() - started)
            if rest > 0:
                await asyncio.sleep(rest)

    async def fan_out(self) -> bool:
        """Turn the next outbox events into one pending delivery per matching webhook, and
        move this consumer's cursor past them, in one transaction. True if it did (more
        may be waiting). With several processes, each stretch of events is fanned out by
        one of them: the others find the cursor moved and read on from there."""
        if self._position is None:
            self._position = await self._store.consumer_position(CONSUMER)
        position = self._position
        # The newest id first, then the webhooks: a webhook missing from that list is
        # younger than every event up to this id.
        last = await self._store.last_event_id()
        if last <= position:
            return False
        if not await self._wanted():
            return await self._skip(position, last)
        events = await self._store.events_after(position, FAN_OUT_BATCH)
        if not events:
            return False
        # Read fresh, not from the cache: a webhook created on another node a moment ago
        # must get the events that follow its creation.
        hooks = [h for h in await self._store.list_webhooks() if h.enabled and h.id]
        now = utcnow()
        deliveries = [
            _pending(h.id, e.type, outbox_payload(e), now, event_id=e.id)
            for e in events
            for h in hooks
            if h.id is not None and matches(h, e.type) and _existed(h, e)
        ]
        upto = events[-1].id
        if await self._store.queue_event_deliveries(CONSUMER, self._position, upto, deliveries):
            self._position = upto
            if deliveries:
                self._wake.set()
        else:
            self._position = None  # another process moved the cursor: read it again
        return True

    async def _wanted(self) -> bool:
        """Whether any webhook is enabled, read fresh (one created on another node a moment
        ago counts). Without one, nobody is owed the events."""
        return any(h.enabled and h.id for h in await self._store.list_webhooks())

    async def _skip(self, position: int, upto: int) -> bool:
        """No webhook is enabled: move the cursor from `position` past the events up to
        `upto` without reading them (reading them cost about 2.5 ms a look plus 20 us an
        event: under load several % of the server's CPU). A webhook created after the list
        was read is younger than these events and would get none of them (_existed); one
        enabled meanwhile gets the events from where the cursor then is, as when it was
        enabled between two looks."""
        if await self._store.queue_event_deliveries(CONSUMER, position, upto, []):
            self._position = upto
        else:
            self._position = None  # another process moved the cursor: read it again
        return True

    # ------------------------------------------------------------------ delivery side

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_EVERY)
            await self._reload_quietly()

    async def _deliver_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            timeout = POLL_EVERY
            if self._timers:
                timeout = max(0.0, min(timeout, self._timers[0] - loop.time()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            self._wake.clear()
            now = loop.time()
            while self._timers and self._timers[0] <= now:
                heapq.heappop(self._timers)
            try:
                await self._store_outcomes()
                await self._start_due()
            except Exception:
                log.warning("could not read the webhook outbox; will retry", exc_info=True)

    async def _start_due(self) -> None:
        free = MAX_IN_FLIGHT - len(self._in_flight)
        if free <= 0:
            return  # a finishing attempt wakes the loop
        # Claimed, not just read: a delivery is taken by one attempt of one process at a
        # time (defect 2.4: a read that raced a finishing attempt sent it again).
        due = await self._store.claim_deliveries(self.owner, utcnow(), self._lease, free)
        for delivery in due:
            if delivery.id in self._in_flight:  # cannot happen while our claim holds
                continue
            self._in_flight[delivery.id] = asyncio.create_task(
                self._attempt(delivery), name=f"webhook-delivery-{delivery.id}"
            )

    async def _attempt(self, delivery: Delivery) -> None:
        try:
            hook = self._hooks.get(delivery.webhook_id)
            if hook is None:
                try:
                    hook = await self._store.get_webhook(delivery.webhook_id)
                except Exception:
                    log.warning("webhook %d: not readable; will retry", delivery.webhook_id)
                    with contextlib.suppress(Exception):
                        await self._store.release_deliveries(self.owner, [delivery.id])
                    return
            if hook is None:
                return  # deleted meanwhile; its deliveries went with it
            if not hook.enabled:
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = None
                delivery.last_error = "webhook disabled"
                log.warning(
                    "webhook %d delivery %d (%s) not sent: the webhook is disabled",
                    delivery.webhook_id,
                    delivery.id,
                    delivery.event_type,
                )
            else:
                code, error = await self._post(hook, delivery)
                self._record(delivery, code, error, utcnow())
            self._outcomes[delivery.id] = delivery
            await self._store_outcome(delivery)
        finally:
            self._in_flight.pop(delivery.id, None)
            self._wake.set()

    async def _store_outcomes(self) -> None:
        """Outcomes that could not be stored right after their attempt: stored now (the
        attempt is not made again, so the receiver gets one POST per counted attempt)."""
        for delivery in list(self._outcomes.values()):
            if delivery.id not in self._in_flight:
                await self._store_outcome(delivery)

    async def _store_outcome(self, delivery: Delivery) -> None:
        try:
            kept = await self._store.finish_delivery(delivery, self.owner)
        except Exception:
            # Kept in memory and stored by the next turn of the loop; our claim keeps
            # others from sending it meanwhile (until its lease runs out).
            log.warning(
                "webhook %d delivery %d: outcome not stored yet; will retry",
                delivery.webhook_id,
                delivery.id,
                exc_info=True,
            )
            pause = max(1.0, self._settings.webhook_retry_base)
            heapq.heappush(self._timers, asyncio.get_running_loop().time() + pause)
            return
        self._outcomes.pop(delivery.id, None)
        if not kept:
            log.warning(
                "webhook %d delivery %d: its claim ran out during the attempt; the outcome "
                "of the process that took it over counts",
                delivery.webhook_id,
                delivery.id,
            )

    def _record(
        self, delivery: Delivery, code: int | None, error: str | None, at: datetime
    ) -> None:
        delivery.attempts += 1
        delivery.last_status_code = code
        delivery.last_error = error
        if error is None:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = at
            delivery.next_attempt_at = None
        elif delivery.attempts >= self._settings.webhook_max_attempts:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            log.warning(
                "webhook %d delivery %d (%s) failed: %s; gave up after %d attempts",
                delivery.webhook_id,
                delivery.id,
                delivery.event_type,
                error,
                delivery.attempts,
            )
        else:
            delay = backoff_delay(delivery.attempts, self._settings.webhook_retry_base)
            delivery.next_attempt_at = at + timedelta(seconds=delay)
            log.warning(
                "webhook %d delivery %d (%s) attempt %d failed: %s; next attempt at %s",
                delivery.webhook_id,
                delivery.id,
                delivery.event_type,
                delivery.attempts,
                error,
                to_rfc3339(delivery.next_attempt_at),
            )
            # Wake a little after it is due so the outbox query surely sees it due.
            heapq.heappush(self._timers, asyncio.get_running_loop().time() + delay + 0.005)

    async def _post(self, hook: Webhook, delivery: Delivery) -> tuple[int | None, str | None]:
        """One attempt: (status code, None) on 2xx, else (status code or None, error)."""
        assert self._client is not None
        body = encode_body(delivery)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Ampyre-Event": delivery.event_type,
            "X-Ampyre-Delivery": str(delivery.id),
            "X-Ampyre-Timestamp": timestamp,
            "X-Ampyre-Signature": sign(hook.secret, timestamp, body),
        }
        limit = self._settings.webhook_timeout
        try:
            # httpx's timeout is per read/write; this one bounds the whole attempt.
            async with asyncio.timeout(limit):
                async with self._client.stream(
                    "POST", hook.url, content=body, headers=headers
                ) as response:
                    code = response.status_code
        except (TimeoutError, httpx.TimeoutException):
            return None, f"no answer within {limit:g} s"
        except httpx.HTTPError as exc:
            return None, clip(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        except Exception as exc:  # invalid URL at send time and the like
            return None, clip(f"{type(exc).__name__}: {exc}")
        if 200 <= code < 300:
            return code, None
        return code, f"HTTP {code}"


def _existed(hook: Webhook, event: OutboxEvent) -> bool:
    """The webhook existed when the event was stored (it gets no events from before)."""
    return hook.created_at is None or hook.created_at <= event.created_at


def _pending(
    hook_id: int,
    event_type: str,
    payload: dict[str, Any],
    now: datetime,
    event_id: int | None = None,
) -> Delivery:
    return Delivery(
        id=0,  # assigned by the database
        webhook_id=hook_id,
        event_type=event_type,
        payload=payload,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        event_id=event_id,
    )
