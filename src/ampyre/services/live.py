"""Live updates for dashboards: one reader of the outbox per process, fanned out to every
open event stream (`GET /api/v1/stream`).

The hub is an outbox consumer like the webhook service, with two differences: its
position is in memory only (it starts at the outbox's head when the process starts and
never holds back pruning; other consumers' durable cursors are not touched), and it
delivers to in-memory queues, one per connected browser. However many browsers are
open, the outbox is read once per wake-up (EventBus) or poll, and the live numbers
(`stats`) are computed once per tick. While no stream is open it reads no events: it
only moves its position to the head.

Each subscriber has a bounded queue. A browser that does not keep up (its queue is
full) is dropped: its stream ends, its EventSource reconnects with `Last-Event-ID`, and
`replay` gives it what it missed if the outbox still has it (else it is told to reset).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ampyre.domain.events import OutboxEvent
from ampyre.services.clock import to_rfc3339
from ampyre.services.events import EventBus
from ampyre.services.periodic import Periodic

log = logging.getLogger(__name__)

POLL_EVERY = 1.0  # seconds between looks at the outbox without a wake-up (other nodes)
STATS_EVERY = 2.0  # seconds between `stats` messages
READ_BATCH = 500  # outbox events per read
REPLAY_MAX = 1000  # events a reconnecting stream may catch up on; more: reset
STATS = "stats"


class StreamSource(Protocol):
    """What the hub reads: the outbox (adapters/db/outbox.py) and cheap counts."""

    async def events_after(self, position: int, limit: int) -> list[OutboxEvent]: ...
    async def outbox_head(self) -> int:
        """The highest event id stored (0 when the outbox is empty)."""
        ...

    async def outbox_floor(self) -> int | None:
        """The lowest event id still stored (None when the outbox is empty)."""
        ...


Counts = Callable[[], Awaitable[tuple[int, int]]]  # (connected stations, active transactions)


class TooManyStreams(Exception):
    """The process serves `max_clients` streams already."""


@dataclass(slots=True)
class LiveMessage:
    event: str  # the SSE event name: a domain event type, or "stats"
    data: dict[str, Any]
    id: int | None = None  # the outbox position (domain events only)
    # The encoded form, made by the first stream that sends the message and reused by
    # the others (one message goes to every open stream).
    wire: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class Subscriber:
    start: int  # the hub's position when it subscribed: later events come by the queue
    queue: asyncio.Queue[LiveMessage]
    number: int
    dropped: asyncio.Event = field(default_factory=asyncio.Event)


def event_message(e: OutboxEvent) -> LiveMessage:
    """A domain event as streamed: the same body a webhook receives."""
    return LiveMessage(
        e.type,
        {
            "id": e.id,
            "type": e.type,
            "created_at": to_rfc3339(e.at),
            "station_id": e.station_id,
            "data": e.data,
        },
        e.id,
    )


class FrameRate:
    """Messages per second from a running total (OCPP frames in and out, from metrics),
    averaged over the last `window` seconds: a small network sends in bursts (a heartbeat
    here, a status there), and a rate over one 2-s tick would jump between 0 and 3."""

    def __init__(self, total: Callable[[], float], window: float = 10.0) -> None:
        self._total = total
        self._window = window
        self._samples: deque[tuple[float, float]] = deque()
        self.rate = 0.0

    def tick(self) -> float:
        now, total = time.monotonic(), self._total()
        self._samples.append((now, total))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._window:
            self._samples.popleft()
        first_at, first_total = self._samples[0]
        if now > first_at:
            self.rate = max(0.0, (total - first_total) / (now - first_at))
        return self.rate


class LiveHub:
    def __init__(
        self,
        source: StreamSource,
        events: EventBus,
        counts: Counts,
        frames_total: Callable[[], float],
        *,
        max_clients: int,
        queue_size: int,
        stats_every: float = STATS_EVERY,
        poll_every: float = POLL_EVERY,
    ) -> None:
        self._source = source
        self._events = events
        self._counts = counts
        self.rate = FrameRate(frames_total)
        self.max_clients = max_clients
        self._queue_size = queue_size
        self._subs: dict[int, Subscriber] = {}
        self._numbers = itertools.count(1)
        self._reader = Periodic(
            "live updates: reading the outbox", self._read_once, poll_every, log=log
        )
        self._stats = Periodic(
            "live updates: the live numbers", self.tick, stats_every, log=log, first_wait=True
        )
        self.position: int | None = None  # the last outbox id read (None until started)
        self.stats: dict[str, Any] = {
            "messages_per_second": 0.0,
            "connected_stations": 0,
            "active_transactions": 0,
        }
        self.dropped_total = 0
        self._name = f"live-hub-{id(self)}"
        self._closed = False

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        if self._reader.running:
            return
        self._closed = False
        try:
            self.position = await self._source.outbox_head()
        except Exception:
            log.warning("live updates: could not read the outbox head; will retry", exc_info=True)
        self._events.subscribe(self._name, self._reader.wake)
        self._reader.start()
        self._stats.start()

    async def close(self) -> None:
        self._closed = True
        self._events.unsubscribe(self._name)
        await self._reader.close()
        await self._stats.close()
        self.position = None  # not ready: new streams get 503
        for sub in list(self._subs.values()):
            sub.dropped.set()  # streams end; browsers reconnect to whoever serves next
        self._subs.clear()

    # ------------------------------------------------------------------ subscribers

    @property
    def clients(self) -> int:
        return len(self._subs)

    @property
    def ready(self) -> bool:
        return self.position is not None

    def subscribe(self) -> Subscriber:
        """A new stream's queue. Raises TooManyStreams at the cap, RuntimeError when the
        hub has not read the outbox head yet."""
        if self.position is None:
            raise RuntimeError("live updates are not started")
        if len(self._subs) >= self.max_clients:
            raise TooManyStreams(f"{self.max_clients} event streams are open")
        sub = Subscriber(self.position, asyncio.Queue(self._queue_size), next(self._numbers))
        self._subs[sub.number] = sub
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subs.pop(sub.number, None)

    async def replay(self, last_id: int, upto: int) -> list[LiveMessage] | None:
        """The events after `last_id` up to `upto` (a subscriber's start), or None when
        they are no longer all available: pruned from the outbox, or more than
        REPLAY_MAX (the client should then reload what it shows)."""
        if last_id >= upto:
            return []
        # Pruning deletes the oldest events first: if an event at or before last_id + 1
        # is still stored, everything after last_id is.
        floor = await self._source.outbox_floor()
        if floor is None or floor > last_id + 1:
            return None
        events = [e for e in await self._source.events_after(last_id, REPLAY_MAX + 1)]
        within = [e for e in events if e.id <= upto]
        if len(within) > REPLAY_MAX:
            return None
        return [event_message(e) for e in within]

    def _publish(self, message: LiveMessage) -> None:
        for sub in list(self._subs.values()):
            try:
                sub.queue.put_nowait(message)
            except asyncio.QueueFull:
                # Too slow: drop it; it reconnects and catches up with Last-Event-ID.
                self._subs.pop(sub.number, None)
                sub.dropped.set()
                self.dropped_total += 1
                log.info("live updates: dropped a stream that fell behind")

    # ------------------------------------------------------------------ loops

    async def _read_once(self) -> None:
        if self._closed:
            return
        if self.position is None:
            self.position = await self._source.outbox_head()
            return
        if not self._subs:
            # Nobody listens: skip the events instead of reading and decoding them.
            head = await self._source.outbox_head()
            if not self._subs and self.position is not None:
                self.position = max(self.position, head)
            return
        while self._subs:
            events = await self._source.events_after(self.position, READ_BATCH)
            for e in events:
                if e.id > self.position:
                    self._publish(event_message(e))
                    self.position = e.id
            if len(events) < READ_BATCH:
                return

    async def tick(self) -> None:
        """Measure the message rate; with streams open, count and send `stats`."""
        rate = self.rate.tick()
        self.stats = {**self.stats, "messages_per_second": round(rate, 1)}
        if not self._subs:
            return
        connected, active = await self._counts()
        self.stats = {
            "messages_per_second": round(rate, 1),
            "connected_stations": connected,
            "active_transactions": active,
        }
        self._publish(LiveMessage(STATS, dict(self.stats)))
