"""The group commit's building blocks, shared by the writer and the repositories.

A batch of queued ops becomes one database transaction. Every op carries a typed payload
(a small frozen dataclass, one type per kind of write); the repository that owns the kind
registers a *planner* for that type with the writer (adapters/db/writer.py). A planner
turns all the ops of its type in a batch into statements: it is a generator that yields
`(statement, rows)` steps and gets each step's outcome sent back in (the rows it
returned, or its row count), so that a later statement can use what an earlier one read,
on the synchronous SQLite writer thread and on the asynchronous PostgreSQL connection
alike. Ops that expect an answer get it in `Op.result`; it becomes the value of the
caller's future once the transaction commits. Domain events describing an op's data go in
`Op.events`; the writer stores them in the outbox in the same transaction.

Adding a kind of write: a payload dataclass and a planner in the repository's module,
and one `writer.register(Payload, planner)` line in adapters/db/store.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Generator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

# One statement: a SQLAlchemy statement or driver SQL, with its rows (a list means
# executemany, a dict one execution).
Step = tuple[Any, Any]
Program = Generator[Step, Any, None]


@dataclasses.dataclass(slots=True)
class Op:
    payload: Any  # an instance of a registered payload type
    future: asyncio.Future[Any]
    result: Any = None  # set by the planner; the future's value once committed
    # Domain events the planner found in this op (ampyre.domain.events.DomainEvent): the
    # writer appends them to the outbox in the same transaction (adapters/db/outbox.py).
    events: list[Any] = dataclasses.field(default_factory=list)


class Planner(Protocol):
    """Plans every op of one payload type in a batch (in arrival order) as statements."""

    def __call__(self, ops: list[Op], now: datetime) -> Program: ...


def outcome(result: Any) -> Any:
    """What a program gets back for a statement: its rows, or the row count."""
    return result.all() if result.returns_rows else result.rowcount


def driver_insert_sql(
    paramstyle: str, table: str, columns: Sequence[str], suffix: str = ""
) -> str | None:
    """INSERT for rows given to the driver as plain tuples, bypassing SQLAlchemy's per-row
    parameter processing (about half the cost of a row): for the tables that get a row
    per frame or per sampled value. None if the driver's paramstyle is unknown here."""
    marks = {
        "qmark": ", ".join("?" for _ in columns),
        "numeric_dollar": ", ".join(f"${i}" for i in range(1, len(columns) + 1)),
        "format": ", ".join("%s" for _ in columns),
        "pyformat": ", ".join("%s" for _ in columns),
    }.get(paramstyle)
    if marks is None:
        return None
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}){suffix}"


def aware_utc(at: datetime) -> datetime:
    """A timestamp for the PostgreSQL driver (naive means UTC)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def sqlite_utc(at: datetime) -> str:
    """The text form UtcDateTime stores in SQLite: naive UTC, microseconds."""
    if at.tzinfo is not UTC:
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
