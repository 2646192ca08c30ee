"""The transactional outbox: domain events as rows of `outbox_events`.

Writing: the group-commit writer adds `outbox_steps` to the transaction that writes the
data the events describe, so an event exists iff its data committed (a failed commit
leaves neither). Events are appended under a transaction-scoped lock on PostgreSQL (taken
just before the insert, held until the commit), so ids become visible in increasing order:
a consumer that has read up to id N never later finds a committed event below N. SQLite
has one writer at a time, which gives the same order.

Reading (OutboxSql): consumers (webhooks now; OCPI and other nodes later) read events in
id order after a cursor, and keep their cursor in `outbox_consumers`. Advancing a cursor
is a compare-and-set, so when several processes run the same consumer, one of them
handles a stretch of events and the others see the cursor moved and read on from there.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.database import Database
from ampyre.adapters.db.writes import Step, aware_utc, sqlite_utc
from ampyre.domain.events import DomainEvent, OutboxEvent, json_safe

# pg_advisory_xact_lock key of the outbox append ("OUTBOX" in ASCII).
_APPEND_LOCK = 0x4F5554424F58

_lock = sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("b_key", type_=sa.BigInteger)))
_COLUMNS = "type, station_id, occurred_at, data, created_at"
# Rows go to the driver as tuples (SQLAlchemy's per-row processing would cost about as
# much as the rest of a status write); `data` is JSON text made here.
_DRIVER_SQL = {"qmark": f"INSERT INTO outbox_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)"}
# PostgreSQL: the lock and the rows in ONE statement (the events of a batch as arrays), a
# round trip instead of two (a lock statement, then an executemany) in every group commit
# that appends events. The lock is taken (the CTE is joined) before any row gets its id;
# WITH ORDINALITY keeps the batch's order.
_PG_APPEND = (
    f"WITH appending AS (SELECT pg_advisory_xact_lock({_APPEND_LOCK})) "
    f"INSERT INTO outbox_events ({_COLUMNS}) "
    "SELECT e.type, e.station_id, e.occurred_at, e.data::jsonb, $5 FROM appending, "
    "unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) WITH ORDINALITY "
    "AS e(type, station_id, occurred_at, data, n) ORDER BY e.n"
)


def event_row(event: DomainEvent, now: datetime) -> dict[str, Any]:
    return {
        "type": str(event.type),
        "station_id": event.station_id,
        "occurred_at": event.at,
        "data": json_safe(event.data),
        "created_at": now,
    }


def json_text(data: dict[str, Any]) -> str:
    """JSON text of event data; a stray datetime, Decimal or the like becomes text."""
    return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def outbox_steps(
    events: Sequence[DomainEvent], now: datetime, dialect: str, paramstyle: str
) -> Iterator[Step]:
    """The statements that append `events` inside the current transaction: last in the
    transaction, so the PostgreSQL lock is held only from here to the commit."""
    if not events:
        return
    if dialect == "postgresql" and paramstyle == "numeric_dollar":
        yield (
            _PG_APPEND,
            (
                [str(e.type) for e in events],
                [e.station_id for e in events],
                [aware_utc(e.at) for e in events],
                [json_text(e.data) for e in events],
                aware_utc(now),
            ),
        )
        return
    if dialect == "postgresql":
        yield _lock, {"b_key": _APPEND_LOCK}
    sql = _DRIVER_SQL.get(paramstyle)
    if sql is None:
        yield sa.insert(t.outbox_events), [event_row(e, now) for e in events]
        return
    stamp = sqlite_utc if dialect == "sqlite" else aware_utc
    created = stamp(now)
    yield (
        sql,
        [(str(e.type), e.station_id, stamp(e.at), json_text(e.data), created) for e in events],
    )


class OutboxSql:
    """The outbox's read side (the OutboxReader port). Not a StorePart: the writer
    (which StorePart brings) uses this module."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def events_after(self, position: int, limit: int) -> list[OutboxEvent]:
        """Up to `limit` events with an id above `position`, in id order."""
        o = t.outbox_events
        query = sa.select(o).where(o.c.id > position).order_by(o.c.id).limit(max(0, limit))
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
        return [_event(r) for r in rows]

    async def last_event_id(self) -> int:
        """The newest event's id (0 if none): one index lookup."""
        o = t.outbox_events
        async with self._db.tx() as conn:
            last = (await conn.execute(sa.select(sa.func.max(o.c.id)))).scalar_one()
        return int(last or 0)

    async def consumer_position(self, name: str) -> int:
        """The consumer's cursor; a new consumer starts at the beginning of the outbox."""
        c = t.outbox_consumers
        add = (
            self._db.insert(c)
            .values(name=name, position=0, updated_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=[c.c.name])
        )
        async with self._db.tx() as conn:
            await conn.execute(add)
            position = (
                await conn.execute(sa.select(c.c.position).where(c.c.name == name))
            ).scalar_one()
        return int(position)

    async def advance_consumer(self, name: str, position: int, to: int) -> bool:
        """Move the consumer's cursor from `position` to `to`; False if it was not at
        `position` (another process moved it)."""
        async with self._db.tx() as conn:
            return await advance(conn, name, position, to)

    async def prune_events(self, older_than: datetime, chunk: int = 10_000) -> int:
        """Delete events older than `older_than` that every consumer has passed."""
        o, c = t.outbox_events, t.outbox_consumers
        slowest = sa.select(sa.func.coalesce(sa.func.min(c.c.position), 0)).scalar_subquery()
        ids = (
            sa.select(o.c.id)
            .where(o.c.created_at < older_than, o.c.id <= slowest)
            .order_by(o.c.id)
            .limit(chunk)
        ).scalar_subquery()
        stmt = sa.delete(o).where(o.c.id.in_(ids))
        deleted = 0
        while True:
            async with self._db.tx() as conn:
                n = (await conn.execute(stmt)).rowcount
            deleted += n
            if n < chunk:
                return deleted


async def advance(conn: Any, name: str, position: int, to: int) -> bool:
    """The compare-and-set of a consumer's cursor, inside the caller's transaction."""
    c = t.outbox_consumers
    stmt = (
        sa.update(c)
        .where(c.c.name == name, c.c.position == position)
        .values(position=to, updated_at=datetime.now(UTC))
    )
    return bool((await conn.execute(stmt)).rowcount)


def _event(row: Any) -> OutboxEvent:
    return OutboxEvent(
        id=int(row.id),
        type=row.type,
        at=row.occurred_at,
        station_id=row.station_id,
        data=dict(row.data or {}),
        created_at=row.created_at,
    )
