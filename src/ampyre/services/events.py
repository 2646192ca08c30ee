"""In-process publish/subscribe of domain events.

`publish` never blocks and never raises: the OCPP path calls it after a write has
committed, and a slow or failing subscriber must not delay an acknowledgement. Each
subscriber gets its own bounded queue drained by its own task; when a queue is full the
event is dropped for that subscriber and counted (`dropped`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from ampyre.domain.events import DomainEvent

log = logging.getLogger(__name__)

# Receives events in batches (everything queued since its last call, at most `batch`).
Subscriber = Callable[[Sequence[DomainEvent]], Awaitable[None]]


class _Subscription:
    def __init__(self, name: str, callback: Subscriber, capacity: int, batch: int) -> None:
        self.name = name
        self.callback = callback
        self.batch = batch
        self.queue: asyncio.Queue[DomainEvent] = asyncio.Queue(maxsize=capacity)
        self.task: asyncio.Task[None] | None = None


class EventBus:
    def __init__(self) -> None:
        self._subs: list[_Subscription] = []
        self._started = False
        self.published = 0
        self.dropped = 0

    def subscribe(
        self, name: str, callback: Subscriber, capacity: int = 10_000, batch: int = 200
    ) -> None:
        sub = _Subscription(name, callback, capacity, batch)
        self._subs.append(sub)
        if self._started:
            sub.task = asyncio.create_task(self._drain(sub), name=f"events-{name}")

    def publish(self, event: DomainEvent) -> None:
        self.published += 1
        for sub in self._subs:
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                self.dropped += 1
                log.warning("event subscriber %s is behind; dropped %s", sub.name, event.type)

    async def start(self) -> None:
        self._started = True
        for sub in self._subs:
            if sub.task is None:
                sub.task = asyncio.create_task(self._drain(sub), name=f"events-{sub.name}")

    async def close(self, grace: float = 5.0) -> None:
        """Deliver what is queued (within `grace` seconds), then stop the subscribers."""
        self._started = False
        for sub in self._subs:
            if sub.task is None:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await sub.queue.join()
            sub.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sub.task
            sub.task = None

    async def _drain(self, sub: _Subscription) -> None:
        while True:
            first = await sub.queue.get()
            events = [first]
            while len(events) < sub.batch and not sub.queue.empty():
                events.append(sub.queue.get_nowait())
            try:
                await sub.callback(events)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event subscriber %s failed on %d events", sub.name, len(events))
            finally:
                for _ in events:
                    sub.queue.task_done()
