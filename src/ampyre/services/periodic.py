"""A service's background loop: one task that runs a step every so often.

Most services keep something going in the background (expire reservations, watch silent
transactions, push queued OCPI objects, advance firmware rollouts, ...). They share one
shape, kept here: a step every `interval` seconds, or sooner after `wake()`; on a cluster
only on the node that `leads()`; a failing step is logged and the loop goes on (a database
outage must never end it); `close()` cancels the task and waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from ampyre.services.ports import StoreUnavailable

__all__ = ["Periodic"]


def _always() -> bool:
    return True


class Periodic:
    """Run `step` in a background task until closed.

    `interval` is seconds (or a callable read before each wait, for settings that change).
    `first_wait`: wait one interval before the first step (checks that look for silence).
    `settle`: after a wake, wait this long before the step so that a burst of wakes makes
    one step. A step that returns True has more to do: the next one runs at once.
    `leads`: the step runs only while it returns True (the cluster's leader); otherwise
    `follow` (if given) is called, e.g. to forget state that another node now owns.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        interval: float | Callable[[], float],
        *,
        log: logging.Logger,
        leads: Callable[[], bool] = _always,
        follow: Callable[[], None] | None = None,
        first_wait: bool = False,
        settle: float = 0.0,
    ) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._log = log
        self._leads = leads
        self._follow = follow
        self._first_wait = first_wait
        self._settle = settle
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._run(), name=self.name)

    def wake(self) -> None:
        """Run the next step now rather than at the end of the interval."""
        self._wake.set()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # whoever closes is cancelled too: not ours to swallow

    def _seconds(self) -> float:
        return self._interval() if callable(self._interval) else self._interval

    async def _wait(self) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns normally when it
        # is cancelled just as the event is set, and the cancellation of close() is lost.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._seconds()):
                await self._wake.wait()
        if self._settle > 0:
            await asyncio.sleep(self._settle)
        self._wake.clear()

    async def _run(self) -> None:
        if self._first_wait:
            await self._wait()
        while True:
            more = False
            if self._leads():
                try:
                    more = (await self._step()) is True
                except StoreUnavailable as exc:
                    self._log.warning("%s: %s; will retry", self.name, exc)
                except Exception:  # the loop must never end: try again next round
                    self._log.warning("%s failed; will retry", self.name, exc_info=True)
            elif self._follow is not None:
                self._follow()
            if not more:
                await self._wait()
