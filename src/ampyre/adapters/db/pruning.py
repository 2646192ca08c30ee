"""Deleting old rows in short batches (the retention of growing tables).

Each batch is its own short transaction, with a pause between batches: a big delete
never holds the (SQLite) write lock long enough to stall the OCPP path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

PRUNE_CHUNK = 10_000  # rows per batch
PRUNE_PAUSE = 0.02  # seconds between batches

Tx = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


async def prune_oldest(
    conn: AsyncConnection, table: sa.Table, column: str, older_than: datetime, limit: int
) -> int:
    """Delete the rows among the `limit` lowest ids of `table` whose `column` is before
    `older_than`; the number deleted (0: nothing old is left at the start of the table).
    For tables whose ids grow with that time (message_log, status_history,
    station_reports): it reads only the start of the table, by primary key, and needs no
    index on the time column."""
    head = sa.select(table.c.id, table.c[column]).order_by(table.c.id).limit(limit).subquery()
    old = sa.select(head.c.id).where(head.c[column] < older_than)
    result = await conn.execute(sa.delete(table).where(table.c.id.in_(old)))
    return int(result.rowcount or 0)


async def prune_table(
    tx: Tx, table: sa.Table, column: str, older_than: datetime, chunk: int, pause: float
) -> int:
    """`prune_oldest` in batches until nothing old is left; the rows deleted."""
    deleted = 0
    while True:
        async with tx() as conn:
            n = await prune_oldest(conn, table, column, older_than, chunk)
        deleted += n
        if n == 0:
            return deleted
        await asyncio.sleep(pause)
