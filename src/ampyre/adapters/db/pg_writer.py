"""The PostgreSQL group commit's statements, sent straight to asyncpg.

The writer (adapters/db/writer.py) opens the transaction on the asyncpg connection itself
(`Connection.transaction()`: BEGIN ... COMMIT) and runs a batch's program here. Driver SQL
(a `str` step: the rows of the busy tables as plain tuples) goes to asyncpg directly,
without SQLAlchemy's cursor adaptation and greenlet hop per statement:

- a list of tuples is one `executemany` (asyncpg sends every row's Bind/Execute in one
  pipeline and waits once); its outcome is None (asyncpg reports no row count);
- a `ReturningSql` with a list of tuples is one `fetchmany` (the same pipeline, the rows
  every execution returned come back: an upsert ... RETURNING);
- a tuple is one execution with those arguments.

SQLAlchemy statements (rare or small ones) still go through the SQLAlchemy connection,
which wraps the same asyncpg connection: its isolation level is AUTOCOMMIT so that it
never begins a transaction of its own, and the statements run inside the writer's.

asyncpg's own errors come out as the SQLAlchemy errors its dialect would have raised
(IntegrityError, DataError, DBAPIError with the asyncpg error as `orig`), so that the
writer classifies them as before (adapters/db/database.py: caused_by_data).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db.writes import Program, outcome


@dataclasses.dataclass(frozen=True, slots=True)
class ReturningSql:
    """Driver SQL whose executions return rows (INSERT ... RETURNING): with a list of
    tuples, the rows of every execution, in order (asyncpg Records)."""

    sql: str


@contextlib.contextmanager
def dbapi_errors() -> Iterator[None]:
    """asyncpg's errors as SQLAlchemy's (module docstring). Its argument-encoding
    DataError is a ValueError already (one op's data) and passes unchanged."""
    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        if isinstance(exc, ValueError | TypeError):
            raise
        state = str(getattr(exc, "sqlstate", None) or "")
        kind: type[sa_exc.DBAPIError] = sa_exc.DBAPIError
        if state.startswith("23"):
            kind = sa_exc.IntegrityError
        elif state.startswith("22"):
            kind = sa_exc.DataError
        raise kind(None, None, exc) from exc


async def run_program(conn: AsyncConnection, raw: Any, program: Program) -> None:
    """Run `program` (writes.py) on `raw`, the asyncpg connection under `conn`, inside
    the transaction the caller opened on it."""
    try:
        stmt, rows = next(program)
        while True:
            result: Any
            if isinstance(stmt, ReturningSql):
                result = await raw.fetchmany(stmt.sql, rows)
            elif isinstance(stmt, str):
                if isinstance(rows, list):
                    await raw.executemany(stmt, rows)
                    result = None
                else:
                    result = await raw.fetch(stmt, *rows)
            else:
                result = outcome(await conn.execute(stmt, rows))
            stmt, rows = program.send(result)
    except StopIteration:
        pass
