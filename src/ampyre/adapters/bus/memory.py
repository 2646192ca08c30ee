"""The in-process bus of a single node: subscribers in this process hear what this
process publishes; nobody else exists. Handlers run as tasks, as they do over NATS."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ampyre.services.bus import BusTimeout, Handler, Message, NoResponders

log = logging.getLogger(__name__)


class MemoryBus:
    clustered = False

    def __init__(self) -> None:
        self._subs: dict[str, list[Handler]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._subs.clear()

    async def publish(self, subject: str, message: Message) -> None:
        for handler in list(self._subs.get(subject, ())):
            task = asyncio.get_running_loop().create_task(self._run(subject, handler, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(subject: str, handler: Handler, message: Message) -> None:
        try:
            await handler(dict(message))
        except Exception:
            log.exception("bus subscriber of %s failed", subject)

    async def subscribe(self, subject: str, handler: Handler) -> None:
        self._subs.setdefault(subject, []).append(handler)

    async def request(self, subject: str, message: Message, timeout: float) -> Message:
        handlers = self._subs.get(subject)
        if not handlers:
            raise NoResponders(subject)
        try:
            async with asyncio.timeout(timeout):
                reply = await handlers[0](dict(message))
        except TimeoutError:
            raise BusTimeout(subject) from None
        return reply if reply is not None else {}

    async def ping(self) -> None:
        return None
