"""The group-commit writer: the OCPP write path (`record_*`).

Each call puts an op (a typed payload with a Future) on a bounded queue and waits. One
writer task takes everything queued (up to `settings.write_batch_max` ops), writes it in
ONE transaction on ONE connection, commits, then resolves every Future. The statements
come from the planners registered per payload type (adapters/db/writes.py), run in the
order the planners were registered, each given all the ops of its type in arrival order,
so a batch costs one executemany per statement kind. If the transaction fails, every op
in it fails with StoreUnavailable: nothing is acknowledged that is not durable. If the
failure is about the data of one op (a station deleted meanwhile: foreign key), the
batch is retried in halves so only the culprit fails.

SQLite runs the whole transaction in one hop on a dedicated thread (pysqlite);
PostgreSQL in one asyncpg transaction on the event loop, on a connection the writer keeps
between batches (see _PgConnection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ampyre.adapters.db.database import Database, caused_by_data, describe
from ampyre.adapters.db.outbox import outbox_steps
from ampyre.adapters.db.pg_writer import dbapi_errors, run_program
from ampyre.adapters.db.writes import Op, Planner, Program, outcome
from ampyre.services.ports import StoreUnavailable

log = logging.getLogger("ampyre.adapters.db.store")

_STOP = None


class _ThreadWriter:
    """The group-commit transaction, run whole in one dedicated thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="ampyre-sqlite-writer")

    def run(self, program: Program) -> None:
        with self.engine.begin() as conn:
            try:
                stmt, rows = next(program)
                while True:
                    if isinstance(stmt, str):
                        result = conn.exec_driver_sql(stmt, rows)
                    else:
                        result = conn.execute(stmt, rows)
                    stmt, rows = program.send(outcome(result))
            except StopIteration:
                pass

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.engine.dispose()


class _PgConnection:
    """The PostgreSQL writer's connection, kept from one group commit to the next.

    Taking it from the pool for every batch cost a pre-ping round trip and the pool's
    bookkeeping each time (about a fifth of a small commit's CPU). Kept only while in use:
    after `idle_after` seconds without a batch it goes back to the pool, and the next
    batch takes one that the pool pings first, as before. A batch that fails drops it
    (rolled back, or closed for good when it cannot be)."""

    idle_after = 5.0

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._raw: Any = None  # the asyncpg connection under _conn
        self._used = 0.0

    async def take(self) -> tuple[AsyncConnection, Any, bool]:
        """The connection, the asyncpg connection under it, and whether it was kept from
        an earlier batch (not pinged). Its isolation level is AUTOCOMMIT: the writer
        opens the transaction itself on the asyncpg connection (adapters/db/pg_writer.py),
        SQLAlchemy must not open another; the pool resets the level when it comes back."""
        now = asyncio.get_running_loop().time()
        if self._conn is not None and now - self._used > self.idle_after:
            await self.drop()
        self._used = now
        if self._conn is not None:
            return self._conn, self._raw, True
        conn = await self._engine.connect()
        try:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            self._raw = (await conn.get_raw_connection()).driver_connection
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.close()
            raise
        self._conn = conn
        return conn, self._raw, False

    async def drop(self) -> None:
        """Back to the pool (which discards it if it is broken)."""
        conn, self._conn, self._raw = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def discard(self, transaction: Any) -> None:
        """After a failed batch: roll `transaction` back (None: a failed COMMIT, its
        outcome unknown) and return the connection to the pool; if the rollback is not
        possible, close the connection for good: a pooled connection must never be left
        inside a transaction."""
        conn, self._conn, self._raw = self._conn, None, None
        if conn is None:
            return
        clean = False
        try:
            if transaction is not None:
                with contextlib.suppress(Exception):
                    await transaction.rollback()
                    clean = True
        finally:
            if not clean:
                with contextlib.suppress(Exception):
                    await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()


class GroupWriter:
    """See the module docstring. `register` planners, then `submit` payloads."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._batch_max = max(1, db.settings.write_batch_max)
        self._queue: asyncio.Queue[Op | None] = asyncio.Queue(maxsize=self._batch_max * 20)
        self._task: asyncio.Task[None] | None = None
        self._planners: dict[type, Planner] = {}
        self.closed = False  # refuses new writes (except `draining` ones); still drains
        self._sync_writer = (
            _ThreadWriter(db.writer_engine) if db.writer_engine is not None else None
        )
        self._pg = _PgConnection(db.engine) if self._sync_writer is None else None
        # Called after a commit that appended domain events to the outbox (a wake-up for
        # its consumers in this process, services/events.py).
        self.on_events: Callable[[], None] | None = None
        # Called with each batch about to be committed: may return one more op to ride
        # along in the same transaction (the buffered flusher's audit-log rows, which so
        # keep up with any rate of group commits without a queue slot of their own).
        self.rider: Callable[[], Op | None] | None = None
        # Called after each batch with (ops, of them failed, seconds from taking the batch
        # to answering its ops): the metrics' view of the write path.
        self.on_batch: Callable[[int, int, float], None] | None = None
        # Counters for metrics: group-commit transactions and the ops they carried.
        self.committed_batches = 0
        self.committed_ops = 0
        self.failed_ops = 0

    def register(self, payload_type: type, planner: Planner) -> None:
        """Ops with payloads of this type are planned by `planner`. Registration order is
        statement order in every transaction (e.g. connections first, so that stations
        registered automatically exist before their status rows)."""
        if payload_type in self._planners:
            raise ValueError(f"a planner for {payload_type.__name__} is registered already")
        self._planners[payload_type] = planner

    # ------------------------------------------------------------------ life cycle

    def ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write_loop(), name="ampyre-db-writer")

    async def stop(self, grace: float) -> None:
        """Write what is queued (within `grace` seconds), then stop; fail the rest."""
        self.closed = True
        if self._task is not None and not self._task.done():
            await self._queue.put(_STOP)
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=grace)
            except TimeoutError:
                log.warning("database writer did not finish within %.1fs", grace)
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        self._fail_queued()
        if self._pg is not None:
            await self._pg.drop()
        if self._sync_writer is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._sync_writer.close)

    # ------------------------------------------------------------------ submitting

    async def submit(self, payload: Any, *, draining: bool = False) -> Any:
        """Queue one op for the next group commit; return its result once committed.
        `draining`: accepted while closing (the buffered flusher's last writes)."""
        if type(payload) not in self._planners:
            raise TypeError(f"no planner registered for {type(payload).__name__}")
        if self.closed and not draining:
            raise StoreUnavailable("store is closed")
        self.ensure_running()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put(Op(payload, future))
        if self._task is None or self._task.done():
            self._fail_queued()  # closed while we waited for room in the queue
        return await future

    def _fail_queued(self) -> None:
        while not self._queue.empty():
            op = self._queue.get_nowait()
            if op is not None and not op.future.done():
                op.future.set_exception(StoreUnavailable("store is closed"))

    # ------------------------------------------------------------------ the loop

    async def _write_loop(self) -> None:
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            first = await queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self._batch_max and not queue.empty():
                op = queue.get_nowait()
                if op is _STOP:
                    stop = True
                    break
                batch.append(op)
            if self.rider is not None:
                try:
                    extra = self.rider()
                except Exception:  # never let the writer die
                    log.exception("database writer: rider failed")
                    extra = None
                if extra is not None:
                    batch.append(extra)
            started = loop.time()
            try:
                await self._commit(batch)
            except asyncio.CancelledError:
                _fail(batch, None)  # nobody may wait forever on a cancelled writer
                raise
            except Exception:  # never let the writer die
                log.exception("database writer: unexpected error")
                _fail(batch, None)
            if self.on_batch is not None:
                failed = sum(1 for op in batch if _failed(op))
                try:
                    self.on_batch(len(batch), failed, loop.time() - started)
                except Exception:
                    log.exception("database writer: batch metrics failed")
            if stop:
                return

    async def _commit(self, batch: list[Op]) -> None:
        try:
            if self._sync_writer is not None:
                # SQLite: the whole transaction in one hop to the writer thread. Through
                # aiosqlite every statement would be a round trip through the event loop,
                # and under load each round trip waits behind every ready station task.
                writer = self._sync_writer
                await asyncio.get_running_loop().run_in_executor(
                    writer.executor, lambda: writer.run(self._program(batch))
                )
            else:
                await self._commit_pg(batch)
        except Exception as exc:
            if len(batch) > 1 and caused_by_data(exc):
                # Bisect: the good ops still share few transactions, the culprit ends
                # up alone and fails alone.
                log.warning(
                    "group commit of %d ops failed (%s); retrying in halves",
                    len(batch),
                    describe(exc),
                )
                middle = len(batch) // 2
                await self._commit(batch[:middle])
                await self._commit(batch[middle:])
                return
            log.warning("group commit of %d ops failed: %s", len(batch), describe(exc))
            _fail(batch, exc)
            self.failed_ops += len(batch)
            return
        self.committed_batches += 1
        self.committed_ops += len(batch)
        for op in batch:
            if not op.future.done():
                op.future.set_result(op.result)
        if self.on_events is not None and any(op.events for op in batch):
            try:
                self.on_events()
            except Exception:
                log.exception("outbox wake-up failed")

    async def _commit_pg(self, batch: list[Op]) -> None:
        """The batch in one transaction on the kept connection. A kept connection that
        fails before the COMMIT is sent (the database restarted, its backend was
        terminated) is replaced by a fresh, pinged one and the batch runs once more:
        nothing of it was committed. A failure at the COMMIT is never retried here."""
        assert self._pg is not None
        while True:
            conn, raw, kept = await self._pg.take()
            committing = False
            transaction = None
            try:
                with dbapi_errors():
                    transaction = raw.transaction()
                    await transaction.start()
                    await run_program(conn, raw, self._program(batch))
                    committing = True
                    await transaction.commit()
                return
            except BaseException as exc:  # cancelled too: never keep an open transaction
                with contextlib.suppress(Exception):
                    await self._pg.discard(None if committing else transaction)
                retry = kept and not committing and isinstance(exc, Exception)
                if retry and not caused_by_data(exc):
                    log.info("database writer: kept connection failed: %s", describe(exc))
                    continue
                raise

    def _program(self, batch: list[Op]) -> Program:
        """The statements of a batch: each registered planner, in registration order, with
        the ops of its payload type in arrival order. A generator: each statement's
        outcome (rows or row count) is sent back in, so that later statements can use
        what earlier ones read. Ops that expect an answer get it in `op.result`."""
        for op in batch:
            op.result = None
            op.events = []
        now = datetime.now(UTC)
        by_type: dict[type, list[Op]] = {}
        for op in batch:
            by_type.setdefault(type(op.payload), []).append(op)
        planned: list[Op] = []
        for payload_type, planner in self._planners.items():
            ops = by_type.get(payload_type)
            if ops:
                yield from planner(ops, now)
                planned.extend(ops)
        # Last: the domain events of this batch, committed with their data (the outbox).
        events = [e for op in planned for e in op.events]
        yield from outbox_steps(events, now, self._db.dialect_name, self._db.paramstyle)


def _failed(op: Op) -> bool:
    future = op.future
    return future.done() and not future.cancelled() and future.exception() is not None


def _fail(batch: Iterable[Op], cause: BaseException | None) -> None:
    for op in batch:
        if op.future.done():
            continue
        reason = f": {describe(cause)}" if cause is not None else ""
        error = StoreUnavailable(f"write not stored{reason}")
        error.__cause__ = cause
        op.future.set_exception(error)
