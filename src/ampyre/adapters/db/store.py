"""SqlStore: the `Store` port on SQLAlchemy Core (SQLite via aiosqlite, PostgreSQL via
asyncpg).

Three write paths, chosen by what the caller needs:

* OCPP path (`record_*`): group commit. Each call puts an op (with a Future) on a bounded
  queue and waits. One writer task takes everything queued (up to
  `settings.write_batch_max` ops), writes it in ONE transaction on ONE connection with
  one executemany per statement kind, commits, then resolves every Future. If the
  transaction fails, every op in it fails with StoreUnavailable: nothing is acknowledged
  that is not durable. If the failure is about the data of one op (a station deleted
  meanwhile: foreign key), the batch is retried in halves so only the culprit fails.
* Fire-and-forget (`touch`, `log_messages`): buffered in memory (bounded), flushed by a
  background task every `flush_interval` seconds in one transaction.
* API (everything else): short plain transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.audit_log import AuditLogWriter, list_frames, prune_action, prune_oldest
from ampyre.adapters.db.audit_rows import Exchange, Pairing
from ampyre.adapters.db.authz import AuthSql
from ampyre.adapters.db.engine import create_engine, create_writer_engine
from ampyre.adapters.db.migrate import head_revision, known_revisions, revision_of
from ampyre.adapters.db.transactions import TransactionSql
from ampyre.adapters.db.webhooks import WebhookSql
from ampyre.adapters.db.writes import (
    BOOT,
    BUFFERS,
    CONNECTION,
    REPORTS,
    STATUS,
    Op,
    Program,
    Step,
    outcome,
)
from ampyre.config import Settings
from ampyre.domain.models import (
    ApiToken,
    BootInfo,
    Connector,
    MessageLogEntry,
    Page,
    RegistrationStatus,
    Role,
    Station,
    StationReport,
    StationUpdate,
    StatusReport,
)
from ampyre.services.ports import (
    AuthStore,
    SchemaNotCurrent,
    Store,
    StoreUnavailable,
    TransactionStore,
    WebhookStore,
)

log = logging.getLogger(__name__)

# Errors that mean "the database did not do it" (as opposed to bugs in our code).
_DB_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
    OSError,
    TimeoutError,
)
# Errors caused by the data of one op; worth retrying the batch op by op.
_DATA_ERRORS: tuple[type[BaseException], ...] = (sa_exc.IntegrityError, sa_exc.DataError)


def _caused_by_data(exc: BaseException) -> bool:
    """True if one op's data (not the database) made the batch fail: a constraint, a value
    the database refuses, or a parameter we could not even convert (unserialisable JSON)."""
    if isinstance(exc, _DATA_ERRORS):
        return True
    if isinstance(exc, TypeError | ValueError):
        # Raised unwrapped by some drivers' adapters (psycopg's JSON dumper).
        return True
    return isinstance(exc, sa_exc.StatementError) and not isinstance(exc, sa_exc.DBAPIError)


_STOP = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


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


@dataclasses.dataclass(slots=True)
class _Buffers:
    """Buffered last-seen times and audit-log entries, written by the writer task."""

    touches: dict[str, datetime]
    messages: list[Exchange]  # audit-log rows: a CALL with its answer, or one frame


@dataclasses.dataclass(slots=True, frozen=True)
class _ConnectionChange:
    station_id: str
    connected: bool
    at: datetime
    ocpp_version: str | None
    node: str | None
    remote_address: str | None
    auto_register: bool


@dataclasses.dataclass(slots=True, frozen=True)
class _Boot:
    station_id: str
    ocpp_version: str
    info: BootInfo
    at: datetime


def _bp(name: str, type_: Any = None) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=type_)


def _latest(column: sa.Column[Any], param: sa.BindParameter[Any]) -> sa.Case[Any]:
    """SQL for max(column, param) that never moves a timestamp backwards."""
    return sa.case(
        (column.is_(None), param),
        (column < param, param),
        else_=column,
    )


class SqlStore(TransactionSql, AuthSql, WebhookSql):
    """See the module docstring. Construct, `await start()`, use, `await close()`."""

    flush_interval: float = 0.25
    flush_chunk: int = 400  # audit-log rows per transaction
    touch_interval: float = 2.0  # seconds between writes of buffered last_seen times
    max_buffered_messages: int = 100_000
    ping_timeout: float = 5.0
    prune_chunk: int = 10_000
    prune_pause: float = 0.02  # between pruning batches: the OCPP path gets the database
    pair_wait: float = 3.0  # seconds a logged CALL waits for its answer to share a row

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._url = settings.database_url
        self._engine = create_engine(settings.database_url, settings)
        self._dialect_name = self._engine.dialect.name
        self._batch_max = max(1, settings.write_batch_max)
        self._queue: asyncio.Queue[Op | None] = asyncio.Queue(maxsize=self._batch_max * 20)
        self._writer: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self._stop_flushing = asyncio.Event()
        self._touches: dict[str, datetime] = {}
        self._last_touch_flush = time.monotonic()
        self._messages: deque[MessageLogEntry] = deque()
        self._pairing = Pairing(timedelta(seconds=self.pair_wait), self.max_buffered_messages)
        self._prune_cursors: dict[str, int] = {}  # per action: pruned up to this id
        self.dropped_messages = 0
        # Counters for metrics: group-commit transactions and the ops they carried.
        self.committed_batches = 0
        self.committed_ops = 0
        self.failed_ops = 0
        writer_engine = create_writer_engine(settings.database_url, settings)
        self._sync_writer = _ThreadWriter(writer_engine) if writer_engine is not None else None
        # The driver the group commit runs on (SQLite: the writer thread's pysqlite).
        paramstyle = (writer_engine or self._engine).dialect.paramstyle
        self._build_statements()
        self._build_transaction_statements(paramstyle)
        self._audit_writer = AuditLogWriter(self._dialect_name, paramstyle)

    # ------------------------------------------------------------------ life cycle

    @property
    def database_url(self) -> str:
        return self._url

    def _safe_url(self) -> str:
        return make_url(self._url).render_as_string(hide_password=True)

    async def start(self) -> None:
        if self._closed:
            raise StoreUnavailable("store is closed")
        self._ensure_tasks()

    def _ensure_tasks(self) -> None:
        if self._closed:
            return
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="ampyre-db-writer")
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop(), name="ampyre-db-flusher")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True  # refuses new writes; the writer still drains
        grace = max(self._settings.shutdown_grace, 1.0)
        if self._flusher is not None:
            # Let a flush in progress finish (cancelling it would lose what it holds).
            self._stop_flushing.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._flusher), timeout=grace)
            except TimeoutError:
                self._flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._flusher
        # The buffers go through the writer: it must still be running for this.
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="ampyre-db-writer")
        try:
            await asyncio.wait_for(self._flush_buffers(), timeout=grace)
        except TimeoutError:
            log.warning("buffered writes not flushed within %.1fs; dropped", grace)
        if self._writer is not None and not self._writer.done():
            await self._queue.put(_STOP)
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), timeout=grace)
            except TimeoutError:
                log.warning("database writer did not finish within %.1fs", grace)
                self._writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._writer
        self._fail_queued()
        if self._sync_writer is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._sync_writer.close)
        await self._engine.dispose()

    async def check_schema(self) -> None:
        try:
            async with self._engine.connect() as conn:
                current = await conn.run_sync(revision_of)
        except _DB_ERRORS as exc:
            raise StoreUnavailable(
                f"database at {self._safe_url()} unreachable: {_describe(exc)}"
            ) from exc
        head = head_revision()
        if current == head:
            return
        if current is not None and current not in known_revisions():
            raise SchemaNotCurrent(
                f"database at {self._safe_url()} is newer than this Ampyre "
                f"(revision {current}, expected {head}): upgrade Ampyre"
            )
        raise SchemaNotCurrent(
            f"database at {self._safe_url()} is not migrated "
            f"(revision {current or 'none'}, expected {head}): run `ampyre migrate`"
        )

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(self.ping_timeout), self._engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except _DB_ERRORS as exc:
            raise StoreUnavailable(
                f"database at {self._safe_url()} unreachable: {_describe(exc)}"
            ) from exc

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        """A short transaction for the API side; database failures -> StoreUnavailable."""
        try:
            async with self._engine.begin() as conn:
                yield conn
        except _DATA_ERRORS:
            raise
        except _DB_ERRORS as exc:
            raise StoreUnavailable(f"database error: {_describe(exc)}") from exc

    # ------------------------------------------------------------------ statements

    def _insert(self, table: sa.Table) -> Any:
        if self._dialect_name == "postgresql":
            return pg_dialect.insert(table)
        if self._dialect_name == "sqlite":
            return sqlite_dialect.insert(table)
        raise ValueError(f"unsupported database {self._dialect_name!r}")

    def _build_statements(self) -> None:
        s = t.stations
        at = _bp("b_at", t.UtcDateTime())
        now = _bp("b_now", t.UtcDateTime())

        self._register_stmt = self._insert(s).on_conflict_do_nothing(index_elements=[s.c.id])
        node = _bp("b_node", sa.String())
        connected = _bp("b_connected", sa.Boolean())
        self._connection_stmt = (
            sa.update(s)
            .where(s.c.id == _bp("b_id", sa.String()))
            # A late "disconnected" from a node the station has already left must not
            # mark a station connected elsewhere as offline.
            .where(
                sa.or_(
                    connected,
                    s.c.connected_node.is_(None),
                    node.is_(None),
                    s.c.connected_node == node,
                )
            )
            .values(
                connected=connected,
                connected_node=_bp("b_new_node", sa.String()),
                remote_address=sa.func.coalesce(_bp("b_addr", sa.String()), s.c.remote_address),
                ocpp_version=sa.func.coalesce(_bp("b_version", sa.String()), s.c.ocpp_version),
                last_seen=_latest(s.c.last_seen, at),
                updated_at=now,
            )
        )
        boot_fields = {
            "vendor": "vendor",
            "model": "model",
            "serial_number": "serial_number",
            "firmware_version": "firmware_version",
            "iccid": "iccid",
            "imsi": "imsi",
            "meter_type": "meter_type",
            "meter_serial_number": "meter_serial_number",
            "boot_reason": "reason",
        }
        self._boot_fields = boot_fields
        self._boot_stmt = (
            sa.update(s)
            .where(s.c.id == _bp("b_id", sa.String()))
            .values(
                **{col: _bp(f"b_{col}", sa.String()) for col in boot_fields},
                ocpp_version=_bp("b_version", sa.String()),
                last_boot=at,
                last_seen=_latest(s.c.last_seen, at),
                updated_at=now,
            )
        )
        self._touch_stmt = (
            sa.update(s)
            .where(s.c.id == _bp("b_id", sa.String()))
            .values(last_seen=_latest(s.c.last_seen, at))
        )
        c = t.connectors
        upsert = self._insert(c)
        keys = ("station_id", "evse_id", "connector_id")
        self._connector_stmt = upsert.on_conflict_do_update(
            index_elements=[c.c[k] for k in keys],
            set_={col.name: upsert.excluded[col.name] for col in c.columns if col.name not in keys},
        )
        self._history_stmt = sa.insert(t.status_history)
        self._reports_stmt = sa.insert(t.station_reports)

    # ------------------------------------------------------------------ group commit

    async def _submit(self, kind: int, payload: Any) -> Any:
        """Queue one op for the next group commit; return its result once committed."""
        if self._closed and kind != BUFFERS:
            raise StoreUnavailable("store is closed")
        self._ensure_tasks()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put(Op(kind, payload, future))
        if self._writer is None or self._writer.done():
            self._fail_queued()  # closed while we waited for room in the queue
        return await future

    def _fail_queued(self) -> None:
        while not self._queue.empty():
            op = self._queue.get_nowait()
            if op is not None and not op.future.done():
                op.future.set_exception(StoreUnavailable("store is closed"))

    async def _write_loop(self) -> None:
        queue = self._queue
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
            try:
                await self._commit(batch)
            except asyncio.CancelledError:
                _fail(batch, None)  # nobody may wait forever on a cancelled writer
                raise
            except Exception:  # never let the writer die
                log.exception("database writer: unexpected error")
                _fail(batch, None)
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
                async with self._engine.begin() as conn:
                    program = self._program(batch)
                    try:
                        stmt, rows = next(program)
                        while True:
                            if isinstance(stmt, str):
                                result = await conn.exec_driver_sql(stmt, rows)
                            else:
                                result = await conn.execute(stmt, rows)
                            stmt, rows = program.send(outcome(result))
                    except StopIteration:
                        pass
        except Exception as exc:
            if len(batch) > 1 and _caused_by_data(exc):
                # Bisect: the good ops still share few transactions, the culprit ends
                # up alone and fails alone.
                log.warning(
                    "group commit of %d ops failed (%s); retrying in halves",
                    len(batch),
                    _describe(exc),
                )
                middle = len(batch) // 2
                await self._commit(batch[:middle])
                await self._commit(batch[middle:])
                return
            log.warning("group commit of %d ops failed: %s", len(batch), _describe(exc))
            _fail(batch, exc)
            self.failed_ops += len(batch)
            return
        self.committed_batches += 1
        self.committed_ops += len(batch)
        for op in batch:
            if not op.future.done():
                op.future.set_result(op.result)

    def _program(self, batch: list[Op]) -> Program:
        """The statements of a batch with their rows, in statement-kind order (connections
        first so that auto-registered stations exist before their status rows); arrival
        order is kept within a kind. A generator: each statement's outcome (rows or row
        count) is sent back in, so that later statements can use what earlier ones read.
        Ops that expect an answer get it in `op.result`."""
        for op in batch:
            op.result = None
        now = _utcnow()
        registers: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        boots: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        current: dict[tuple[str, int, int], dict[str, Any]] = {}
        reports: list[dict[str, Any]] = []
        touches: dict[str, datetime] = {}
        messages: list[Exchange] = []
        transaction_ops: list[Op] = []
        for op in batch:
            if op.kind == STATUS:
                for r in op.payload:
                    history.append(_history_row(r))
                    current[(r.station_id, r.evse_id, r.connector_id)] = _connector_row(r)
            elif op.kind == CONNECTION:
                ch: _ConnectionChange = op.payload
                if ch.auto_register:
                    registers.append(
                        {
                            "id": ch.station_id,
                            "registration_status": RegistrationStatus.ACCEPTED.value,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                changes.append(
                    {
                        "b_id": ch.station_id,
                        "b_connected": ch.connected,
                        "b_node": ch.node,
                        "b_new_node": ch.node if ch.connected else None,
                        "b_addr": ch.remote_address,
                        "b_version": ch.ocpp_version,
                        "b_at": ch.at,
                        "b_now": now,
                    }
                )
            elif op.kind == BUFFERS:
                flushed: _Buffers = op.payload
                touches.update(flushed.touches)
                messages.extend(flushed.messages)
            elif op.kind == BOOT:
                boot: _Boot = op.payload
                row = {
                    f"b_{col}": getattr(boot.info, attr) for col, attr in self._boot_fields.items()
                }
                row.update(
                    b_id=boot.station_id, b_version=boot.ocpp_version, b_at=boot.at, b_now=now
                )
                boots.append(row)
            elif op.kind == REPORTS:
                reports.extend(_report_row(r) for r in op.payload)
            else:
                transaction_ops.append(op)
        plan: list[Step] = []
        if registers:
            plan.append((self._register_stmt, registers))
        if changes:
            plan.append((self._connection_stmt, changes))
        if boots:
            plan.append((self._boot_stmt, boots))
        if history:
            plan.append((self._history_stmt, history))
        if current:
            plan.append((self._connector_stmt, list(current.values())))
        if reports:
            plan.append((self._reports_stmt, reports))
        if touches:
            plan.append(
                (self._touch_stmt, [{"b_id": sid, "b_at": at} for sid, at in touches.items()])
            )
        if messages:
            plan.append(self._audit_writer.step(messages))
        for step in plan:  # noqa: UP028 - `yield from` a list cannot take send()
            yield step
        if transaction_ops:
            yield from self._transaction_steps(transaction_ops, now)

    async def record_boot(
        self, station_id: str, ocpp_version: str, info: BootInfo, at: datetime
    ) -> None:
        await self._submit(BOOT, _Boot(station_id, ocpp_version, info, at))

    async def record_status(self, reports: Sequence[StatusReport]) -> None:
        if reports:
            await self._submit(STATUS, tuple(reports))

    async def record_reports(self, reports: Sequence[StationReport]) -> None:
        if reports:
            await self._submit(REPORTS, tuple(reports))

    async def record_connection(
        self,
        station_id: str,
        connected: bool,
        at: datetime,
        ocpp_version: str | None,
        node: str | None,
        remote_address: str | None,
        auto_register: bool = False,
    ) -> None:
        await self._submit(
            CONNECTION,
            _ConnectionChange(
                station_id, connected, at, ocpp_version, node, remote_address, auto_register
            ),
        )

    # ------------------------------------------------------------------ buffered writes

    def touch(self, station_id: str, at: datetime) -> None:
        previous = self._touches.get(station_id)
        if previous is None or at > previous:
            self._touches[station_id] = at
        self._start_soon()

    def log_messages(self, entries: Sequence[MessageLogEntry]) -> None:
        room = self.max_buffered_messages - len(self._messages)
        if len(entries) > room:
            self.dropped_messages += len(entries) - max(room, 0)
            entries = entries[: max(room, 0)]
        self._messages.extend(entries)
        self._start_soon()

    def _start_soon(self) -> None:
        if self._flusher is None and not self._closed:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop yet: flushed once start() runs
            self._ensure_tasks()

    async def _flush_loop(self) -> None:
        while not self._stop_flushing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_flushing.wait(), self.flush_interval)
            # last_seen is coalesced per station: the longer between flushes, the fewer
            # rows (every station heartbeating twice a second would otherwise cost
            # thousands of UPDATEs a second).
            due = time.monotonic() - self._last_touch_flush >= self.touch_interval
            try:
                await self._flush_buffers(touches=due, final=False)
            except Exception:  # pragma: no cover - _flush_buffers handles db errors
                log.exception("database flush: unexpected error")

    async def flush(self) -> None:
        """Write buffered touches and log entries now (tests, shutdown)."""
        await self._flush_buffers()

    async def _flush_buffers(self, touches: bool = True, final: bool = True) -> None:
        """Write what is buffered, in chunks of at most `flush_chunk` log entries.

        Through the writer, not a connection of its own: on SQLite a second writer would
        contend for the database lock and stall the group commits behind busy-timeout
        sleeps. In chunks, so that a station's write waiting in the same queue waits for
        one small transaction, not for seconds' worth of audit log. A logged CALL waits
        up to `pair_wait` for its answer to share its row; `final` writes those too."""
        if touches:
            self._last_touch_flush = time.monotonic()
        first = True
        while True:
            with_touches = touches and bool(self._touches)
            if not (with_touches or self._messages or len(self._pairing)):
                return
            exchanges = self._take_exchanges(final)
            if not exchanges and not with_touches:
                return
            if not first and not exchanges:
                return
            first = False
            if not await self._flush_chunk(with_touches, exchanges):
                return

    def _take_exchanges(self, final: bool) -> list[Exchange]:
        """The next chunk of audit-log rows: answered CALLs, lone frames, and the CALLs
        whose answer did not come within `pair_wait` (with `final`: every CALL)."""
        take = min(len(self._messages), self.flush_chunk)
        out = self._pairing.add([self._messages.popleft() for _ in range(take)])
        if final and not self._messages:
            out.extend(self._pairing.drain())
        else:
            out.extend(self._pairing.due(_utcnow()))
        return out

    async def _flush_chunk(self, with_touches: bool, exchanges: list[Exchange]) -> bool:
        touches: dict[str, datetime] = {}
        if with_touches:
            touches, self._touches = self._touches, {}
        try:
            await self._submit(BUFFERS, _Buffers(touches, exchanges))
            return True
        except (StoreUnavailable, Exception) as exc:
            log.warning(
                "flush of %d touches / %d log rows failed, will retry: %s",
                len(touches),
                len(exchanges),
                _describe(exc),
            )
            for sid, at in touches.items():
                newer = self._touches.get(sid)
                if newer is None or at > newer:
                    self._touches[sid] = at
            # Older entries go back in front (paired again); the buffer bound still holds.
            messages = list(self._pairing.restore(exchanges))
            room = self.max_buffered_messages - len(self._messages)
            keep = messages[-room:] if room > 0 else []
            self.dropped_messages += len(messages) - len(keep)
            self._messages.extendleft(reversed(keep))
            return False

    # ------------------------------------------------------------------ stations (API)

    async def get_station(self, station_id: str) -> Station | None:
        async with self._tx() as conn:
            row = (
                await conn.execute(sa.select(t.stations).where(t.stations.c.id == station_id))
            ).first()
        return None if row is None else _station(row)

    async def list_stations(self, limit: int, offset: int) -> Page:
        s = t.stations
        return await self._page(
            sa.select(s).order_by(s.c.id),
            sa.select(sa.func.count()).select_from(s),
            _station,
            limit,
            offset,
        )

    async def create_station(self, station: Station) -> Station:
        now = _utcnow()
        values = dataclasses.asdict(station)
        values["created_at"] = station.created_at or now
        values["updated_at"] = station.updated_at or now
        values["registration_status"] = RegistrationStatus(station.registration_status).value
        stmt = (
            self._insert(t.stations)
            .values(values)
            .on_conflict_do_nothing(index_elements=[t.stations.c.id])
            .returning(*t.stations.columns)
        )
        async with self._tx() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            raise KeyError(station.id)
        return _station(row)

    async def update_station(self, station_id: str, update: StationUpdate) -> Station | None:
        values: dict[str, Any] = {}
        for key, value in update.extra.items():
            if key not in t.STATION_EDITABLE:
                raise ValueError(f"station field {key!r} cannot be updated")
            values[key] = value
        if update.registration_status is not None:
            values["registration_status"] = RegistrationStatus(update.registration_status).value
        if update.description is not None:
            values["description"] = update.description
        if update.clear_password:
            values["password_hash"] = None
        elif update.password_hash is not None:
            values["password_hash"] = update.password_hash
        values["updated_at"] = _utcnow()
        s = t.stations
        stmt = sa.update(s).where(s.c.id == station_id).values(values).returning(*s.columns)
        async with self._tx() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _station(row)

    async def delete_station(self, station_id: str) -> bool:
        async with self._tx() as conn:
            result = await conn.execute(sa.delete(t.stations).where(t.stations.c.id == station_id))
        return bool(result.rowcount)

    async def list_connectors(self, station_id: str) -> list[Connector]:
        c = t.connectors
        stmt = (
            sa.select(c).where(c.c.station_id == station_id).order_by(c.c.evse_id, c.c.connector_id)
        )
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).all()
        return [Connector(**row._mapping) for row in rows]

    async def list_status_history(self, station_id: str, limit: int, offset: int) -> Page:
        return await self._received_page(
            t.status_history, station_id, _status_report, limit, offset
        )

    async def list_reports(self, station_id: str, limit: int, offset: int) -> Page:
        return await self._received_page(
            t.station_reports, station_id, _station_report, limit, offset
        )

    async def _received_page(
        self,
        table: sa.Table,
        station_id: str,
        convert: Callable[[Any], Any],
        limit: int,
        offset: int,
    ) -> Page:
        """One station's rows of a table with `received_at`, newest first."""
        mine = table.c.station_id == station_id
        return await self._page(
            sa.select(table).where(mine).order_by(table.c.received_at.desc(), table.c.id.desc()),
            sa.select(sa.func.count()).select_from(table).where(mine),
            convert,
            limit,
            offset,
        )

    async def list_messages(self, station_id: str | None, limit: int, offset: int) -> Page:
        async with self._tx() as conn:
            return await list_frames(conn, station_id, limit, offset)

    async def _page(
        self,
        query: sa.Select[Any],
        count: sa.Select[Any],
        convert: Callable[[Any], Any],
        limit: int,
        offset: int,
    ) -> Page:
        limit, offset = max(0, limit), max(0, offset)
        async with self._tx() as conn:
            total = (await conn.execute(count)).scalar_one()
            rows = (await conn.execute(query.limit(limit).offset(offset))).all() if limit else []
        return Page(items=[convert(r) for r in rows], total=int(total), limit=limit, offset=offset)

    async def prune_messages(self, older_than: datetime, action: str | None = None) -> int:
        """Delete log rows older than `older_than` (with `action`: only that action's),
        in batches of `prune_chunk` rows, each its own short transaction, so a big delete
        never holds the (SQLite) write lock long enough to stall the OCPP path."""
        if action is not None:
            return await self._prune_action(action, older_than)
        return await self._prune_table(t.message_log, "created_at", older_than)

    async def prune_status_history(self, older_than: datetime) -> int:
        return await self._prune_table(t.status_history, "received_at", older_than)

    async def prune_reports(self, older_than: datetime) -> int:
        return await self._prune_table(t.station_reports, "received_at", older_than)

    async def _prune_table(self, table: sa.Table, column: str, older_than: datetime) -> int:
        deleted = 0
        while True:
            async with self._tx() as conn:
                n = await prune_oldest(conn, table, column, older_than, self.prune_chunk)
            deleted += n
            if n == 0:
                return deleted
            await asyncio.sleep(self.prune_pause)

    async def _prune_action(self, action: str, older_than: datetime) -> int:
        # The rows of one action lie among all others: scan forward from where the last
        # run stopped (from the start after a restart), a batch at a time.
        deleted = 0
        after: int | None = self._prune_cursors.get(action, -1)
        while after is not None:
            async with self._tx() as conn:
                n, nxt = await prune_action(conn, action, older_than, after, self.prune_chunk)
            deleted += n
            if nxt is not None:
                self._prune_cursors[action] = nxt
            after = nxt
            await asyncio.sleep(self.prune_pause)
        return deleted

    # ------------------------------------------------------------------ API tokens

    async def create_api_token(self, token: ApiToken) -> ApiToken:
        a = t.api_tokens
        values: dict[str, Any] = {
            "name": token.name,
            "role": Role(token.role).value,
            "token_hash": token.token_hash,
            "created_at": token.created_at,
            "last_used_at": token.last_used_at,
            "revoked": token.revoked,
        }
        if token.id is not None:
            values["id"] = token.id
        stmt = (
            self._insert(a)
            .values(values)
            .on_conflict_do_nothing(index_elements=[a.c.token_hash])
            .returning(*a.columns)
        )
        async with self._tx() as conn:
            try:
                row = (await conn.execute(stmt)).first()
            except sa_exc.IntegrityError as exc:  # duplicate id
                raise KeyError(token.id) from exc
        if row is None:
            raise KeyError(token.token_hash)
        return _api_token(row)

    async def find_api_token(self, token_hash: str) -> ApiToken | None:
        a = t.api_tokens
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(a).where(a.c.token_hash == token_hash))).first()
        return None if row is None else _api_token(row)

    async def list_api_tokens(self) -> list[ApiToken]:
        a = t.api_tokens
        async with self._tx() as conn:
            rows = (await conn.execute(sa.select(a).order_by(a.c.id))).all()
        return [_api_token(r) for r in rows]

    async def revoke_api_token(self, token_id: int) -> bool:
        a = t.api_tokens
        stmt = sa.update(a).where(a.c.id == token_id, a.c.revoked.is_(False)).values(revoked=True)
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)


# ---------------------------------------------------------------------- helpers


def _describe(exc: BaseException) -> str:
    """One line about a database error (SQLAlchemy appends the SQL; not wanted here)."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first if len(first) <= 300 else first[:297] + "..."


def _fail(batch: Iterable[Op], cause: BaseException | None) -> None:
    for op in batch:
        if op.future.done():
            continue
        reason = f": {_describe(cause)}" if cause is not None else ""
        error = StoreUnavailable(f"write not stored{reason}")
        error.__cause__ = cause
        op.future.set_exception(error)


def _status_fields(r: StatusReport) -> dict[str, Any]:
    return {
        "station_id": r.station_id,
        "evse_id": r.evse_id,
        "connector_id": r.connector_id,
        "status": r.status,
        "error_code": r.error_code,
        "info": r.info,
        "vendor_id": r.vendor_id,
        "vendor_error_code": r.vendor_error_code,
    }


def _history_row(r: StatusReport) -> dict[str, Any]:
    return {**_status_fields(r), "timestamp": r.timestamp, "received_at": r.received_at}


def _connector_row(r: StatusReport) -> dict[str, Any]:
    return {**_status_fields(r), "status_timestamp": r.timestamp, "updated_at": r.received_at}


def _report_row(r: StationReport) -> dict[str, Any]:
    return {
        "station_id": r.station_id,
        "action": r.action,
        "request_id": r.request_id,
        "seq_no": r.seq_no,
        "payload": r.payload,
        "received_at": r.received_at,
    }


def _station(row: Any) -> Station:
    values = dict(row._mapping)
    values["registration_status"] = RegistrationStatus(values["registration_status"])
    values["connected"] = bool(values["connected"])
    return Station(**values)


def _status_report(row: Any) -> StatusReport:
    values = dict(row._mapping)
    del values["id"]
    return StatusReport(**values)


def _station_report(row: Any) -> StationReport:
    values = dict(row._mapping)
    del values["id"]
    return StationReport(**values)


def _api_token(row: Any) -> ApiToken:
    values = dict(row._mapping)
    values["role"] = Role(values["role"])
    values["revoked"] = bool(values["revoked"])
    return ApiToken(**values)


def _conforms(store: SqlStore) -> tuple[Store, TransactionStore, AuthStore, WebhookStore]:
    return store, store, store, store  # mypy proves SqlStore implements the ports
