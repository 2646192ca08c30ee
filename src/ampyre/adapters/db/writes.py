"""The group commit's building blocks, shared by the store and its per-concern parts.

A batch of queued ops becomes one database transaction. The statements of a batch are
produced by a *program*: a generator that yields `(statement, rows)` steps and gets each
step's outcome sent back in (the rows it returned, or its row count), so that a later
statement can use what an earlier one read, on the synchronous SQLite writer thread and
on the asynchronous PostgreSQL connection alike. Ops that expect an answer get it in
`Op.result`; it becomes the value of the caller's future once the transaction commits.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Generator
from typing import Any

# One statement: a SQLAlchemy statement or driver SQL, with its rows (a list means
# executemany, a dict one execution).
Step = tuple[Any, Any]
Program = Generator[Step, Any, None]

# Op kinds. The store plans the first five itself; the rest belong to
# adapters/db/transactions.py.
CONNECTION, BOOT, STATUS, REPORTS, BUFFERS = range(5)
TX_EVENTS, METER_VALUES, END_TRANSACTION = range(5, 8)
TRANSACTION_KINDS = frozenset({TX_EVENTS, METER_VALUES, END_TRANSACTION})


@dataclasses.dataclass(slots=True)
class Op:
    kind: int
    payload: Any
    future: asyncio.Future[Any]
    result: Any = None  # set by the program; the future's value once committed


def outcome(result: Any) -> Any:
    """What a program gets back for a statement: its rows, or the row count."""
    return result.all() if result.returns_rows else result.rowcount
