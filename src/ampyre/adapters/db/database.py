"""The database a store runs on: its engines, short API transactions, paging, schema and
health checks, and the classification of database errors. Shared by the group-commit
writer (adapters/db/writer.py) and every repository."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db.engine import create_engine, create_writer_engine
from ampyre.adapters.db.migrate import head_revision, known_revisions, revision_of
from ampyre.config import Settings
from ampyre.domain.models import Page
from ampyre.services.ports import SchemaNotCurrent, StoreUnavailable

# Errors that mean "the database did not do it" (as opposed to bugs in our code).
DB_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
    OSError,
    TimeoutError,
)
# Errors caused by the data of one op; worth retrying the batch op by op.
DATA_ERRORS: tuple[type[BaseException], ...] = (sa_exc.IntegrityError, sa_exc.DataError)


def caused_by_data(exc: BaseException) -> bool:
    """True if one op's data (not the database) made the batch fail: a constraint, a value
    the database refuses, or a parameter we could not even convert (unserialisable JSON)."""
    if isinstance(exc, DATA_ERRORS):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        # SQLAlchemy's asyncpg dialect wraps PostgreSQL's data exceptions (SQLSTATE class
        # 22: CharacterNotInRepertoire for U+0000, StringDataRightTruncation, ...) as a
        # plain DBAPIError, and asyncpg's own argument-encoding DataError (a ValueError)
        # as InterfaceError: classify them by SQLSTATE and by the driver's exception.
        orig = exc.orig
        state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
        if state.startswith(("22", "23")):
            return True
        causes = (*getattr(orig, "args", ()), getattr(orig, "__cause__", None))
        return any(isinstance(c, ValueError) for c in causes)
    if isinstance(exc, TypeError | ValueError | OverflowError):
        # Raised unwrapped by some drivers' adapters (psycopg's JSON dumper, pysqlite
        # binding an integer beyond 64 bits).
        return True
    return isinstance(exc, sa_exc.StatementError) and not isinstance(exc, sa_exc.DBAPIError)


def describe(exc: BaseException) -> str:
    """One line about a database error (SQLAlchemy appends the SQL; not wanted here)."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first if len(first) <= 300 else first[:297] + "..."


class Database:
    """The engines of one database URL and what every repository needs of them."""

    ping_timeout: float = 5.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.database_url
        self.engine = create_engine(settings.database_url, settings)
        self.dialect_name: str = self.engine.dialect.name
        # SQLite: a synchronous one-connection engine for the group-commit writer thread.
        self.writer_engine: Engine | None = create_writer_engine(settings.database_url, settings)
        # The driver the group commit runs on (SQLite: the writer thread's pysqlite).
        self.paramstyle: str = (self.writer_engine or self.engine).dialect.paramstyle

    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def check_schema(self) -> None:
        try:
            async with self.engine.connect() as conn:
                current = await conn.run_sync(revision_of)
        except DB_ERRORS as exc:
            raise StoreUnavailable(
                f"database at {self.safe_url()} unreachable: {describe(exc)}"
            ) from exc
        head = head_revision()
        if current == head:
            return
        if current is not None and current not in known_revisions():
            raise SchemaNotCurrent(
                f"database at {self.safe_url()} is newer than this Ampyre "
                f"(revision {current}, expected {head}): upgrade Ampyre"
            )
        raise SchemaNotCurrent(
            f"database at {self.safe_url()} is not migrated "
            f"(revision {current or 'none'}, expected {head}): run `ampyre migrate`"
        )

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(self.ping_timeout), self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except DB_ERRORS as exc:
            raise StoreUnavailable(
                f"database at {self.safe_url()} unreachable: {describe(exc)}"
            ) from exc

    @contextlib.asynccontextmanager
    async def tx(self) -> AsyncIterator[AsyncConnection]:
        """A short transaction for the API side; database failures -> StoreUnavailable."""
        try:
            async with self.engine.begin() as conn:
                yield conn
        except DATA_ERRORS:
            raise
        except DB_ERRORS as exc:
            raise StoreUnavailable(f"database error: {describe(exc)}") from exc

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for ONE reading statement. On PostgreSQL outside a transaction
        (AUTOCOMMIT): no BEGIN and COMMIT round trips around it, each of which waits for
        the busy event loop to come back (the reads of a station's transaction start).
        Several statements that must see one snapshot use `tx()`."""
        try:
            async with self.engine.connect() as conn:
                if self.dialect_name == "postgresql":
                    conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn
        except DATA_ERRORS:
            raise
        except DB_ERRORS as exc:
            raise StoreUnavailable(f"database error: {describe(exc)}") from exc

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT (with on_conflict_do_nothing/do_update)."""
        if self.dialect_name == "postgresql":
            return pg_dialect.insert(table)
        if self.dialect_name == "sqlite":
            return sqlite_dialect.insert(table)
        raise ValueError(f"unsupported database {self.dialect_name!r}")

    async def page(
        self,
        query: sa.Select[Any],
        count: sa.Select[Any],
        convert: Callable[[Any], Any],
        limit: int,
        offset: int,
    ) -> Page:
        limit, offset = max(0, limit), max(0, offset)
        async with self.tx() as conn:
            total = (await conn.execute(count)).scalar_one()
            rows = (await conn.execute(query.limit(limit).offset(offset))).all() if limit else []
        return Page(items=[convert(r) for r in rows], total=int(total), limit=limit, offset=offset)
