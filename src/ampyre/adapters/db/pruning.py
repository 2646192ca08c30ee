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

from ampyre.adapters.db import tables as t
from ampyre.domain.transactions import TransactionStatus

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


async def prune_ended_transactions_data(
    tx: Tx, older_than: datetime, page: int = 500, pause: float = PRUNE_PAUSE
) -> int:
    """Meter values and events of transactions that ended before `older_than`, and meter
    values outside any transaction received before it. The transactions themselves stay,
    with their start/stop readings and energy (what billing needs). Walks the ended
    transactions by id, `page` at a time, one short transaction per page."""
    trans, mv, ev = t.transactions, t.meter_values, t.transaction_events
    deleted = 0
    last = -1
    while True:
        async with tx() as conn:
            ended = (
                sa.select(trans.c.id)
                .where(
                    trans.c.id > last,
                    trans.c.status == TransactionStatus.ENDED.value,
                    trans.c.ended_at < older_than,
                )
                .order_by(trans.c.id)
                .limit(page)
            )
            ids = [int(i) for i in (await conn.execute(ended)).scalars().all()]
            if not ids:
                break
            for table in (mv, ev):
                result = await conn.execute(
                    sa.delete(table).where(
                        table.c.transaction_pk.is_not(None), table.c.transaction_pk.in_(ids)
                    )
                )
                deleted += int(result.rowcount or 0)
        last = ids[-1]
        await asyncio.sleep(pause)
    loose = (
        sa.select(mv.c.id)
        .where(mv.c.transaction_pk.is_(None), mv.c.received_at < older_than)
        .limit(PRUNE_CHUNK)
    )
    while True:
        async with tx() as conn:
            result = await conn.execute(sa.delete(mv).where(mv.c.id.in_(loose)))
        n = int(result.rowcount or 0)
        deleted += n
        if n == 0:
            return deleted
        await asyncio.sleep(pause)
