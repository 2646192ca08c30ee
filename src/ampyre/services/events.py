"""Wake-ups for the consumers of the outbox in this process.

Domain events are rows in the outbox, written by the store in the same commit as the data
they describe (adapters/db/outbox.py); consumers read them from there after their cursor.
This signal only shortens the wait: the store calls `notify` after committing events and
every subscriber's wake-up callback runs. Nothing is carried and nothing can be dropped:
a consumer that misses a signal finds the events at its next look at the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class EventBus:
    def __init__(self) -> None:
        self._subs: dict[str, Callable[[], None]] = {}
        self.notified = 0

    def subscribe(self, name: str, wake: Callable[[], None]) -> None:
        """`wake` is called (on the event loop, must not block) after events commit."""
        self._subs[name] = wake

    def unsubscribe(self, name: str) -> None:
        self._subs.pop(name, None)

    def notify(self) -> None:
        self.notified += 1
        for name, wake in list(self._subs.items()):
            try:
                wake()
            except Exception:
                log.exception("outbox consumer %s: wake-up failed", name)
