"""MemoryOutbox: the `OutboxReader` port part of MemoryStore. The writes of the other parts
append the events (MemoryStations._emit), as the SQL store's planners do."""

from __future__ import annotations

from datetime import datetime

from ampyre.adapters.memory.stations import MemoryStations
from ampyre.domain.events import OutboxEvent


class MemoryOutbox(MemoryStations):
    async def events_after(self, position: int, limit: int) -> list[OutboxEvent]:
        self._read()
        return [e for e in self.outbox_events if e.id > position][: max(0, limit)]

    async def last_event_id(self) -> int:
        self._read()
        return self.outbox_events[-1].id if self.outbox_events else 0

    async def consumer_position(self, name: str) -> int:
        self._write()
        return self.outbox_cursors.setdefault(name, 0)

    async def advance_consumer(self, name: str, position: int, to: int) -> bool:
        self._write()
        if self.outbox_cursors.get(name) != position:  # a cursor exists once read
            return False
        self.outbox_cursors[name] = to
        return True

    async def prune_events(self, older_than: datetime, chunk: int = 10_000) -> int:
        self._write()
        slowest = min(self.outbox_cursors.values(), default=0)
        keep = [e for e in self.outbox_events if e.created_at >= older_than or e.id > slowest]
        removed = len(self.outbox_events) - len(keep)
        self.outbox_events = keep
        return removed
