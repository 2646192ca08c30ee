"""The audit log's SQL: writing paired rows in the group commit, listing one item per
frame, pruning in short batches. The row format is in audit_rows.py / audit_codec.py.

Ids follow the logging order (a flush writes its rows sorted by time), so the lowest ids
are the oldest rows: pruning reads the table from its start by primary key and needs no
index on created_at, and "newest first" is `ORDER BY id DESC`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.audit_rows import Exchange, Row, decode, encode
from ampyre.adapters.db.writes import Step, aware_utc, driver_insert_sql
from ampyre.domain.models import Direction, MessageLogEntry, Page

_m = t.message_log
_COLUMNS = tuple(c.name for c in _m.columns if c.name != "id")
_ORDER = tuple(Row._fields.index(name) for name in _COLUMNS)  # Row -> table order
_CREATED = _COLUMNS.index("created_at")
_ROW_COLUMNS = [_m.c[name] for name in Row._fields]
# Frames in a row: its request and/or its reply.
_FRAMES = sa.case((_m.c.call_type.is_(None), 0), else_=1) + sa.case(
    (_m.c.reply_type.is_(None), 0), else_=1
)


class AuditLogWriter:
    """Builds the group commit's INSERT for a batch of exchanges."""

    def __init__(self, dialect_name: str, paramstyle: str) -> None:
        self._sqlite = dialect_name == "sqlite"
        self._sql = driver_insert_sql(paramstyle, "message_log", _COLUMNS)

    def step(self, exchanges: Sequence[Exchange]) -> Step:
        """One executemany for all rows, in logging order (so ids follow time). Encoding
        (compression) happens here: on SQLite in the writer thread, off the event loop."""
        rows = sorted((encode(e) for e in exchanges), key=lambda r: r.created_at)
        if self._sql is None:
            return sa.insert(_m), [r._asdict() for r in rows]
        stamp = t.epoch_micros if self._sqlite else aware_utc
        out = []
        for r in rows:
            values = [r[i] for i in _ORDER]
            values[_CREATED] = stamp(r.created_at)
            out.append(tuple(values))
        return self._sql, out


async def list_frames(
    conn: AsyncConnection, station_id: str | None, limit: int, offset: int
) -> Page:
    """One item per frame, newest first (a reply above its request); `limit`, `offset`
    and `total` count frames. Reads about `offset + limit` rows, as OFFSET would."""
    limit, offset = max(0, limit), max(0, offset)
    mine = [] if station_id is None else [_m.c.station_id == station_id]
    total_q = sa.select(sa.func.count(_m.c.call_type) + sa.func.count(_m.c.reply_type)).where(*mine)
    total = int((await conn.execute(total_q)).scalar_one() or 0)
    if limit == 0 or offset >= total:
        return Page(items=[], total=total, limit=limit, offset=offset)
    # A row holds one or two frames: the first offset // 2 rows hold at most `offset`.
    skip_rows = offset // 2
    skipped = 0
    if skip_rows:
        head = sa.select(_FRAMES.label("n")).where(*mine).order_by(_m.c.id.desc())
        head_q = head.limit(skip_rows).subquery()
        skipped = int(
            (
                await conn.execute(sa.select(sa.func.coalesce(sa.func.sum(head_q.c.n), 0)))
            ).scalar_one()
        )
    skip_frames = offset - skipped
    query = (
        sa.select(*_ROW_COLUMNS)
        .where(*mine)
        .order_by(_m.c.id.desc())
        .limit(skip_frames + limit)
        .offset(skip_rows)
    )
    frames: list[MessageLogEntry] = []
    for found in (await conn.execute(query)).all():
        frames.extend(decode(Row(*found)))
        if len(frames) >= skip_frames + limit:
            break
    items = [f._replace(direction=Direction(f.direction)) for f in frames[skip_frames:]]
    return Page(items=items[:limit], total=total, limit=limit, offset=offset)


async def prune_oldest(
    conn: AsyncConnection, table: sa.Table, column: str, older_than: datetime, limit: int
) -> int:
    """Delete the rows among the `limit` lowest ids of `table` whose `column` is before
    `older_than`; the number deleted (0: nothing old is left at the start of the table).
    For tables whose ids grow with that time (message_log, status_history,
    station_reports): it reads only the start of the table, by primary key."""
    head = sa.select(table.c.id, table.c[column]).order_by(table.c.id).limit(limit).subquery()
    old = sa.select(head.c.id).where(head.c[column] < older_than)
    result = await conn.execute(sa.delete(table).where(table.c.id.in_(old)))
    return int(result.rowcount or 0)


async def prune_action(
    conn: AsyncConnection, action: str, older_than: datetime, after_id: int, limit: int
) -> tuple[int, int | None]:
    """Delete the rows of one action among the `limit` rows after id `after_id` that are
    older than `older_than`. Returns (deleted, id to continue after; None when the rows
    scanned reach `older_than`: the rest is younger)."""
    window = (
        sa.select(_m.c.id, _m.c.created_at)
        .where(_m.c.id > after_id)
        .order_by(_m.c.id)
        .limit(limit)
        .subquery()
    )
    bounds = (
        await conn.execute(
            sa.select(sa.func.max(window.c.id), sa.func.max(window.c.created_at), sa.func.count())
        )
    ).one()
    last_id, newest, count = bounds
    if not count:
        return 0, None
    result = await conn.execute(
        sa.delete(_m).where(
            _m.c.id > after_id,
            _m.c.id <= last_id,
            _m.c.action == action,
            _m.c.created_at < older_than,
        )
    )
    done = newest is not None and newest >= older_than
    return int(result.rowcount or 0), None if done or count < limit else int(last_id)
