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

What a receiver gets: `POST <url>` with the JSON body
`{"id": <delivery id>, "type": "station.connected", "created_at": "<RFC 3339>",
"station_id": "CP-1", "data": {...}}` and the headers

    Content-Type: application/json
    X-Ampyre-Event: station.connected
    X-Ampyre-Delivery: 42
    X-Ampyre-Timestamp: 1735732800            (unix seconds of this attempt)
    X-Ampyre-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

How a receiver verifies a request (see `verify_signature`):

1. Read the raw body bytes (before any JSON parsing: re-encoding changes them).
2. Compute HMAC-SHA256 with the webhook's secret as key over the bytes of
   `X-Ampyre-Timestamp`, a ".", then the raw body; hex-encode it; compare it with the
   part of X-Ampyre-Signature after "sha256=" in constant time (hmac.compare_digest).
3. Reject the request if the timestamp is further than a tolerance (5 minutes is a
   good default) from the receiver's clock: a captured request cannot be replayed later.
   Within the tolerance, remember the X-Ampyre-Delivery ids already processed.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import heapq
import hmac
import json
import logging
import random
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from ampyre import __version__
from ampyre.config import Settings
from ampyre.domain.events import (
    Delivery,
    DeliveryStatus,
    EventType,
    OutboxEvent,
    Webhook,
)
from ampyre.domain.models import Page
from ampyre.services.clock import to_ocpp, utcnow
from ampyre.services.events import EventBus
from ampyre.services.ports import WebhookStore

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 8  # concurrent HTTP attempts
REFRESH_EVERY = 30.0  # seconds between reloads of the webhook list (changes on other nodes)
# Seconds between looks at the outbox when nothing woke the loop: finds deliveries that
# fell due without a timer of this process (left by a previous run or another node). One
# indexed query per second is cheap.
POLL_EVERY = 1.0
LEASE_MARGIN = 30.0  # seconds a claim outlasts the longest attempt
BACKOFF_CAP = 3600.0  # longest wait between two attempts, seconds
JITTER = 0.2  # +-20 % on every backoff, so failing receivers are not hit in lockstep
SIGNATURE_TOLERANCE = 300  # seconds; what receivers should accept (documentation/helper)
PING = "webhook.ping"  # the test event of POST /webhooks/{id}/ping
URL_MAX = 2048
SECRET_MIN, SECRET_MAX = 16, 255
DESCRIPTION_MAX = 500
ERROR_MAX = 500
EVENT_TYPES: frozenset[str] = frozenset(e.value for e in EventType)
CONSUMER = "webhooks"  # this service's name (and cursor) in the outbox
FAN_OUT_BATCH = 500  # outbox events per fan-out transaction


class InvalidWebhookInput(ValueError):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class WebhookNotFound(LookupError):
    pass


class DeliveryNotFound(LookupError):
    pass


class DeliveryConflict(Exception):
    """The delivery (or its webhook) is not in a state that allows the operation."""


class _Keep(enum.Enum):
    KEEP = 0


KEEP = _Keep.KEEP


# ---------------------------------------------------------------------- pure helpers


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The X-Ampyre-Signature value of one attempt."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance: float = SIGNATURE_TOLERANCE,
    now: float | None = None,
) -> bool:
    """What a receiver does: a valid signature over a recent timestamp."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def backoff_delay(
    attempts: int,
    base: float,
    cap: float = BACKOFF_CAP,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: base * 2**(attempts-1),
    +-JITTER, at most `cap`."""
    exponent = min(max(attempts, 1) - 1, 62)  # 2**62 * base exceeds any cap
    delay = base * 2.0**exponent * (1.0 + JITTER * (2.0 * rand() - 1.0))
    return max(0.0, min(cap, delay))


def matches(hook: Webhook, event_type: str) -> bool:
    return hook.enabled and (not hook.event_types or event_type in hook.event_types)


def outbox_payload(event: OutboxEvent) -> dict[str, Any]:
    """What a delivery made from an outbox event stores."""
    return {
        "type": event.type,
        "created_at": to_ocpp(event.at),
        "station_id": event.station_id,
        "data": event.data,
    }


def delivery_body(delivery: Delivery) -> dict[str, Any]:
    p = delivery.payload
    return {
        "id": delivery.id,
        "type": delivery.event_type,
        "created_at": p.get("created_at"),
        "station_id": p.get("station_id"),
        "data": p.get("data") or {},
    }


def encode_body(delivery: Delivery) -> bytes:
    return json.dumps(delivery_body(delivery), separators=(",", ":"), ensure_ascii=False).encode()


def validate_url(url: str) -> str:
    url = url.strip()
    if not url or len(url) > URL_MAX:
        raise InvalidWebhookInput(f"url must be 1..{URL_MAX} characters", "url")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when not a number in 0..65535
    except ValueError as exc:
        raise InvalidWebhookInput(f"url is not valid: {exc}", "url") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidWebhookInput("url must be http:// or https://", "url")
    if not parts.hostname:
        raise InvalidWebhookInput("url must name a host", "url")
    if port == 0:
        raise InvalidWebhookInput("url has port 0", "url")
    if any(c.isspace() for c in url):
        raise InvalidWebhookInput("url must not contain whitespace", "url")
    return url


def validate_event_types(types: Sequence[str]) -> list[str]:
    out: list[str] = []
    for value in types:
        text = str(value)
        if text not in EVENT_TYPES:
            allowed = ", ".join(sorted(EVENT_TYPES))
            raise InvalidWebhookInput(
                f"unknown event type {text!r}; known: {allowed}", "event_types"
            )
        if text not in out:
            out.append(text)
    return out


def validate_secret(secret: str) -> str:
    if not SECRET_MIN <= len(secret) <= SECRET_MAX:
        raise InvalidWebhookInput(f"secret must be {SECRET_MIN}..{SECRET_MAX} characters", "secret")
    if not secret.isprintable() or any(c.isspace() for c in secret):
        raise InvalidWebhookInput("secret must be printable, without whitespace", "secret")
    return secret


def validate_description(description: str | None) -> str | None:
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise InvalidWebhookInput(
            f"description must be at most {DESCRIPTION_MAX} characters", "description"
        )
    return description


def _clip(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 3] + "..."


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
        self._events.subscribe(CONSUMER, self.wake)
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
        self._events.unsubscribe(CONSUMER)
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
        await self._reload_quietly()
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
        await self._reload_quietly()
        return updated

    async def delete(self, hook_id: int) -> bool:
        """Delete a webhook and its deliveries (queued ones are not sent)."""
        deleted = await self._store.delete_webhook(hook_id)
        await self._reload_quietly()
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
            "created_at": to_ocpp(now),
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
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_EVERY):
                    await self._events_wake.wait()
            self._events_wake.clear()
            try:
                while await self.fan_out():
                    pass
            except Exception:
                log.warning("could not read the outbox; will retry", exc_info=True)

    async def fan_out(self) -> bool:
        """Turn the next outbox events into one pending delivery per matching webhook, and
        move this consumer's cursor past them, in one transaction. True if it did (more
        may be waiting). With several processes, each stretch of events is fanned out by
        one of them: the others find the cursor moved and read on from there."""
        if self._position is None:
            self._position = await self._store.consumer_position(CONSUMER)
        events = await self._store.events_after(self._position, FAN_OUT_BATCH)
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
                to_ocpp(delivery.next_attempt_at),
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
            return None, _clip(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        except Exception as exc:  # invalid URL at send time and the like
            return None, _clip(f"{type(exc).__name__}: {exc}")
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
