"""EVSE status changes to roaming partners: an outbox consumer ("ocpi-locations") over
station.status_changed / station.connected / station.disconnected. For each batch of
events it asks LocationService.refresh about the stations concerned, which PATCHes the
EVSEs whose OCPI status changed (mod_locations 8.2.2.3, "a simple status update").

It runs on the node that leads the cluster-wide work; the cursor moves with a
compare-and-set, so a second runner (a leader change in between) skips what the first
did. A new consumer starts at the head of the outbox: what happened before it existed is
in the Locations the receivers get (PUT) or fetch (GET).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final, Protocol

from ampyre.domain.events import EventType, OutboxEvent
from ampyre.services.events import EventBus

log = logging.getLogger(__name__)

CONSUMER: Final = "ocpi-locations"
BATCH: Final = 500  # events per look at the outbox
POLL_EVERY: Final = 1.0  # seconds between looks when nothing woke the loop
RETRY_AFTER: Final = 5.0  # seconds after a failed look
_TYPES: Final = frozenset(
    {
        EventType.STATION_STATUS_CHANGED,
        EventType.STATION_CONNECTED,
        EventType.STATION_DISCONNECTED,
    }
)


class Outbox(Protocol):
    async def events_after(self, position: int, limit: int) -> list[OutboxEvent]: ...
    async def last_event_id(self) -> int: ...
    async def consumer_position(self, name: str) -> int: ...
    async def advance_consumer(self, name: str, position: int, to: int) -> bool: ...


class Refresher(Protocol):
    async def refresh(self, station_ids: list[str]) -> int: ...


class LocationFeed:
    def __init__(
        self,
        refresher: Refresher,
        outbox: Outbox,
        events: EventBus,
        leads: Callable[[], bool] = lambda: True,
    ) -> None:
        self._refresher = refresher
        self._outbox = outbox
        self._events = events
        self._leads = leads
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._position: int | None = None
        self.handled = 0  # events read (tests, metrics)

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is not None:
            return
        self._events.subscribe(CONSUMER, self.wake)
        self._wake.set()
        self._task = asyncio.create_task(self._run(), name="ocpi-locations-feed")

    async def close(self) -> None:
        self._events.unsubscribe(CONSUMER)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_EVERY):
                    await self._wake.wait()
            self._wake.clear()
            if not self._leads():
                self._position = None  # another node reads; read the cursor when back
                continue
            try:
                while await self.run_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("OCPI locations feed: could not read the outbox", exc_info=True)
                self._position = None
                await asyncio.sleep(RETRY_AFTER)

    async def _start_position(self) -> int:
        position = await self._outbox.consumer_position(CONSUMER)
        if position == 0:
            head = await self._outbox.last_event_id()
            if head and await self._outbox.advance_consumer(CONSUMER, 0, head):
                return head
            return await self._outbox.consumer_position(CONSUMER)
        return position

    async def run_once(self) -> bool:
        """Handle the next batch of events; True if there may be more."""
        if self._position is None:
            self._position = await self._start_position()
        position = self._position
        batch = await self._outbox.events_after(position, BATCH)
        if not batch:
            return False
        stations = sorted({e.station_id for e in batch if e.type in _TYPES and e.station_id})
        if stations:
            await self._refresher.refresh(stations)
        upto = batch[-1].id
        if await self._outbox.advance_consumer(CONSUMER, position, upto):
            self._position = upto
        else:
            self._position = None  # another runner moved the cursor: read it again
        self.handled += len(batch)
        return len(batch) == BATCH
