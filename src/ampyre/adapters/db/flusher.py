"""The buffered flusher: the fire-and-forget write path (`touch`, `log_messages`).

Last-seen times and audit-log entries are buffered in memory (bounded) and written
through the group-commit writer as `Buffers` ops: on SQLite a second writer would contend
for the database lock and stall the group commits behind busy-timeout sleeps.

Audit-log rows ride along: every group commit takes what is buffered (`ride`, at most
`ride_max` frames), so the log keeps up with the commits that the stations' own writes
cause, whatever their rate. A single flush task sending a chunk at a time could not: each
chunk waited behind the stations' ops in the writer's queue, and at 1,000 stations in a
closed loop the buffer overflowed (issue 15). A background task still writes every
`flush_interval` seconds what no commit took (and the last-seen times, every
`touch_interval`). A logged CALL waits up to `pair_wait` seconds for its answer, so that
both are written as one row (audit_rows.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ampyre.adapters.db.audit_rows import Exchange, Pairing
from ampyre.adapters.db.database import caused_by_data, describe
from ampyre.adapters.db.writer import GroupWriter
from ampyre.adapters.db.writes import Op, Program, Step
from ampyre.domain.models import MessageLogEntry
from ampyre.services.ports import StoreUnavailable

log = logging.getLogger("ampyre.adapters.db.store")


@dataclasses.dataclass(slots=True)
class Buffers:
    """Buffered last-seen times and audit-log entries, written by the writer task."""

    touches: dict[str, datetime]
    messages: list[Exchange]  # audit-log rows: a CALL with its answer, or one frame


class BufferPlanner:
    """Plans `Buffers` ops: last_seen updates, then audit-log rows."""

    def __init__(
        self,
        touch_step: Callable[[dict[str, datetime]], Step],
        message_step: Callable[[list[Exchange]], Step],
    ) -> None:
        self._touch_step = touch_step
        self._message_step = message_step

    def __call__(self, ops: list[Op], now: datetime) -> Program:
        touches: dict[str, datetime] = {}
        messages: list[Exchange] = []
        for op in ops:
            flushed: Buffers = op.payload
            touches.update(flushed.touches)
            messages.extend(flushed.messages)
        if touches:
            yield self._touch_step(touches)
        if messages:
            yield self._message_step(messages)


class BufferedFlusher:
    flush_interval: float = 0.25
    flush_chunk: int = 800  # audit-log frames per transaction (about 400 rows)
    ride_max: int = 16_000  # audit-log frames riding along with one group commit
    touch_interval: float = 2.0  # seconds between writes of buffered last_seen times
    max_buffered_messages: int = 100_000
    pair_wait: float = 3.0  # seconds a logged CALL waits for its answer to share a row

    def __init__(self, writer: GroupWriter) -> None:
        self._writer = writer
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._closed = False
        self._touches: dict[str, datetime] = {}
        self._last_touch_flush = time.monotonic()
        self._messages: deque[MessageLogEntry] = deque()
        self._pairing = Pairing(timedelta(seconds=self.pair_wait), self.max_buffered_messages)
        self.dropped_messages = 0
        self._flushing = asyncio.Lock()
        self._riding: set[asyncio.Future[Any]] = set()  # rider ops not committed yet

    # ------------------------------------------------------------------ life cycle

    def ensure_running(self) -> None:
        if not self._closed and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._flush_loop(), name="ampyre-db-flusher")

    async def stop(self, grace: float) -> None:
        """Stop the loop, letting a flush in progress finish (cancelling it would lose
        what it holds). The writer must still run afterwards for `flush_all`."""
        self._closed = True
        if self._task is not None:
            self._stop.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=grace)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    # ------------------------------------------------------------------ buffering

    def touch(self, station_id: str, at: datetime) -> None:
        previous = self._touches.get(station_id)
        if previous is None or at > previous:
            self._touches[station_id] = at
        self._start_soon()

    def log_messages(self, entries: Sequence[MessageLogEntry]) -> None:
        # Called for every frame: the common case (room left, flush task running) is one
        # comparison and an extend.
        messages = self._messages
        room = self.max_buffered_messages - len(messages)
        if len(entries) > room:
            self.dropped_messages += len(entries) - max(room, 0)
            entries = entries[: max(room, 0)]
        messages.extend(entries)
        if self._task is None:
            self._start_soon()

    def _start_soon(self) -> None:
        if self._task is None and not self._closed:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop yet: flushed once start() runs
            self.ensure_running()

    # ------------------------------------------------------------------ riding along

    def ride(self) -> Op | None:
        """The audit-log rows to write in the group commit about to run (GroupWriter.rider):
        what is buffered, at most `ride_max` frames; None when nothing is complete."""
        if not self._messages:
            return None
        take = min(len(self._messages), self.ride_max)
        popleft = self._messages.popleft
        exchanges = self._pairing.add([popleft() for _ in range(take)])
        if not exchanges:
            return None  # CALLs only: their answers follow
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._riding.add(future)
        future.add_done_callback(functools.partial(self._rode, exchanges))
        return Op(Buffers({}, exchanges), future)

    def _rode(self, exchanges: list[Exchange], future: asyncio.Future[Any]) -> None:
        self._riding.discard(future)
        exc = None if future.cancelled() else future.exception()
        if exc is None and not future.cancelled():
            return
        if exc is not None and _data_fault(exc):
            # The commit was bisected down to this op: store what the database takes.
            task = asyncio.get_running_loop().create_task(self._salvage(exchanges))
            self._riding.add(task)
            task.add_done_callback(self._riding.discard)
            return
        self._put_back(exchanges)  # the database is unavailable: written later

    async def _await_riders(self) -> None:
        while self._riding:
            await asyncio.wait(list(self._riding))

    # ------------------------------------------------------------------ flushing

    async def _flush_loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.flush_interval)
            # last_seen is coalesced per station: the longer between flushes, the fewer
            # rows (every station heartbeating twice a second would otherwise cost
            # thousands of UPDATEs a second).
            due = time.monotonic() - self._last_touch_flush >= self.touch_interval
            try:
                await self.flush_buffers(touches=due, final=False)
            except Exception:  # pragma: no cover - flush_buffers handles db errors
                log.exception("database flush: unexpected error")

    async def flush_buffers(self, touches: bool = True, final: bool = True) -> None:
        """Write what is buffered, in chunks of at most `flush_chunk` log entries.

        In chunks, so that a station's write waiting in the same queue waits for one
        small transaction, not for seconds' worth of audit log. CALLs still waiting for
        their answer are written when `pair_wait` is over, or now with `final`. One flush
        at a time: `flush()` returns only once what the loop had taken is written too."""
        async with self._flushing:
            if final:
                await self._await_riders()  # what they fail to write is put back
            await self._flush_buffers(touches, final)
            if final:
                await self._await_riders()

    async def _flush_buffers(self, touches: bool, final: bool) -> None:
        if touches:
            self._last_touch_flush = time.monotonic()
        first = True
        while True:
            with_touches = touches and bool(self._touches)
            if not (with_touches or self._messages or len(self._pairing)):
                return
            exchanges = self._take(final)
            if not exchanges and (not with_touches or not first):
                if self._messages:
                    continue  # a chunk of CALLs only: their answers follow
                return
            first = False
            if not await self._flush_chunk(with_touches, exchanges):
                return

    def _take(self, final: bool) -> list[Exchange]:
        """The next chunk of rows: answered CALLs, lone frames, and the CALLs whose answer
        did not come within `pair_wait` (with `final`, once the buffer is empty: all)."""
        take = min(len(self._messages), self.flush_chunk)
        out = self._pairing.add([self._messages.popleft() for _ in range(take)])
        if final and not self._messages:
            out.extend(self._pairing.drain())
        else:
            out.extend(self._pairing.due(datetime.now(UTC)))
        return out

    async def _flush_chunk(self, with_touches: bool, exchanges: list[Exchange]) -> bool:
        touches: dict[str, datetime] = {}
        if with_touches:
            touches, self._touches = self._touches, {}
        try:
            await self._writer.submit(Buffers(touches, exchanges), draining=True)
            return True
        except (StoreUnavailable, Exception) as exc:
            self._restore_touches(touches)
            if exchanges and _data_fault(exc):
                # Never put a chunk the database refuses back at the head of the buffer:
                # it would fail forever and stop the audit log. Store what it can.
                return await self._salvage(exchanges)
            log.warning(
                "flush of %d touches / %d log rows failed, will retry: %s",
                len(touches),
                len(exchanges),
                describe(exc),
            )
            self._put_back(exchanges)
            return False

    async def _salvage(self, exchanges: list[Exchange]) -> bool:
        """Write a refused chunk in halves; drop (and count) only rows refused alone.
        False if the database failed otherwise (the rest is put back for later)."""
        pending = [exchanges]
        while pending:
            part = pending.pop()
            try:
                await self._writer.submit(Buffers({}, part), draining=True)
            except (StoreUnavailable, Exception) as exc:
                if not _data_fault(exc):
                    for rest in [*pending, part]:
                        self._put_back(rest)
                    return False
                if len(part) == 1:
                    frame = part[0].first
                    self.dropped_messages += len(part[0].frames())
                    log.warning(
                        "audit-log entry of %s (%s) refused by the database, dropped: %s",
                        frame.station_id[:64],
                        (frame.action or "")[:64],
                        describe(exc),
                    )
                else:
                    middle = len(part) // 2
                    pending.extend((part[middle:], part[:middle]))
        return True

    def _restore_touches(self, touches: dict[str, datetime]) -> None:
        for sid, at in touches.items():
            newer = self._touches.get(sid)
            if newer is None or at > newer:
                self._touches[sid] = at

    def _put_back(self, exchanges: list[Exchange]) -> None:
        """Their frames go back in front (paired again); the buffer bound still holds."""
        messages = list(self._pairing.restore(exchanges))
        room = self.max_buffered_messages - len(self._messages)
        keep = messages[-room:] if room > 0 else []
        self.dropped_messages += len(messages) - len(keep)
        self._messages.extendleft(reversed(keep))


def _data_fault(exc: BaseException) -> bool:
    """The write failed on its data, not because the database is unavailable."""
    cause = exc.__cause__ if isinstance(exc, StoreUnavailable) else exc
    return cause is not None and caused_by_data(cause)
