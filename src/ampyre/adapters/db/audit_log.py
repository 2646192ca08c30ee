"""Repository: the audit (message) log (part of the Store port). Rows are written by the
buffered flusher (adapters/db/flusher.py) through the group commit, one row per round
trip (a CALL with its answer; audit_rows.py, audit_codec.py); this module builds their
INSERT, lists one item per frame and prunes in short batches.

Ids follow the logging order (a flush writes its rows sorted by time), so the lowest ids
are the oldest rows: pruning reads the table from its start by primary key and needs no
index on created_at, and "newest first" is `ORDER BY id DESC`.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.audit_rows import Exchange, Row, columns, decode, encode
from ampyre.adapters.db.database import Database
from ampyre.adapters.db.parts import StorePart
from ampyre.adapters.db.pruning import PRUNE_CHUNK, PRUNE_PAUSE, prune_table
from ampyre.adapters.db.writer import GroupWriter
from ampyre.adapters.db.writes import Step, aware_utc, driver_insert_sql
from ampyre.domain.models import Direction, MessageLogEntry, Page

_m = t.message_log
_ROW_COLUMNS = [_m.c[name] for name in Row._fields]
# Frames in a row: its request and/or its reply.
_FRAMES = sa.case((_m.c.call_type.is_(None), 0), else_=1) + sa.case(
    (_m.c.reply_type.is_(None), 0), else_=1
)


_FIRST = operator.itemgetter(0)  # Row.created_at


class AuditLogSql(StorePart):
    prune_chunk: int = PRUNE_CHUNK
    prune_pause: float = PRUNE_PAUSE  # between pruning batches: the OCPP path goes first

    def __init__(self, db: Database, writer: GroupWriter) -> None:
        super().__init__(db, writer)
        self._sqlite = db.dialect_name == "sqlite"
        self._messages_sql = driver_insert_sql(db.paramstyle, "message_log", Row._fields)
        self._prune_cursors: dict[str, int] = {}  # per action: scanned up to this id

    def message_step(self, exchanges: Sequence[Exchange]) -> Step:
        """The statement inserting audit-log rows (for the group commit), in logging order
        so that ids follow time. Encoding (compression) happens here: on SQLite in the
        writer thread, off the event loop."""
        if self._messages_sql is None:
            rows = sorted((encode(e) for e in exchanges), key=_FIRST)
            return sa.insert(_m), [r._asdict() for r in rows]
        stamp = t.epoch_micros if self._sqlite else aware_utc
        out = [columns(e, stamp) for e in exchanges]
        out.sort(key=_FIRST)  # created_at (int or aware datetime): ids follow time
        return self._messages_sql, out

    async def list_messages(
        self,
        station_id: str | None,
        limit: int,
        offset: int,
        action: str | None = None,
        direction: str | None = None,
    ) -> Page:
        async with self._tx() as conn:
            return await list_frames(conn, station_id, limit, offset, action, direction)

    async def prune_messages(self, older_than: datetime, action: str | None = None) -> int:
        """Delete log rows older than `older_than` (with `action`: only that action's),
        in short batches of `prune_chunk` rows."""
        if action is None:
            return await prune_table(
                self._tx, _m, "created_at", older_than, self.prune_chunk, self.prune_pause
            )
        # The rows of one action lie among all others: scan forward from where the last
        # run stopped (from the start after a restart), a batch at a time.
        deleted = 0
        after: int | None = self._prune_cursors.get(action, -1)
        while after is not None:
            async with self._tx() as conn:
                n, after = await prune_action(conn, action, older_than, after, self.prune_chunk)
            deleted += n
            if after is not None:
                self._prune_cursors[action] = after
                await asyncio.sleep(self.prune_pause)
        return deleted


def _frames_going(direction: str) -> sa.ColumnElement[int]:
    """Frames of a row going `direction`: its request goes the row's direction, its reply
    the other way (so a row holds at most one of them)."""
    call = sa.and_(_m.c.direction == direction, _m.c.call_type.is_not(None))
    reply = sa.and_(_m.c.direction != direction, _m.c.reply_type.is_not(None))
    return sa.case((call, 1), else_=0) + sa.case((reply, 1), else_=0)


async def list_frames(
    conn: AsyncConnection,
    station_id: str | None,
    limit: int,
    offset: int,
    action: str | None = None,
    direction: str | None = None,
) -> Page:
    """One item per frame, newest first (a reply above its request); `limit`, `offset`
    and `total` count frames. Reads about `offset + limit` rows, as OFFSET would.
    `action`: a request and its reply share the row's action column. `direction`: only
    the frames going that way (rows with none of them are left out)."""
    limit, offset = max(0, limit), max(0, offset)
    mine = [] if station_id is None else [_m.c.station_id == station_id]
    if action is not None:
        mine.append(_m.c.action == action)
    frames = _FRAMES if direction is None else _frames_going(direction)
    if direction is None:
        total_q = sa.select(sa.func.count(_m.c.call_type) + sa.func.count(_m.c.reply_type))
    else:
        mine.append(frames > 0)
        total_q = sa.select(sa.func.count())
    total = int((await conn.execute(total_q.select_from(_m).where(*mine))).scalar_one() or 0)
    if limit == 0 or offset >= total:
        return Page(items=[], total=total, limit=limit, offset=offset)
    # A row holds one or two frames: the first offset // 2 rows hold at most `offset`.
    skip_rows = offset // 2
    skipped = 0
    if skip_rows:
        head = sa.select(frames.label("n")).where(*mine).order_by(_m.c.id.desc())
        head_q = head.limit(skip_rows).subquery()
        frames_q = sa.select(sa.func.coalesce(sa.func.sum(head_q.c.n), 0))
        skipped = int((await conn.execute(frames_q)).scalar_one())
    skip_frames = offset - skipped
    query = (
        sa.select(*_ROW_COLUMNS)
        .where(*mine)
        .order_by(_m.c.id.desc())
        .limit(skip_frames + limit)
        .offset(skip_rows)
    )
    got: list[MessageLogEntry] = []
    for found in (await conn.execute(query)).all():
        got.extend(f for f in decode(Row(*found)) if direction in (None, f.direction))
        if len(got) >= skip_frames + limit:
            break
    items = [f._replace(direction=Direction(f.direction)) for f in got[skip_frames:]]
    return Page(items=items[:limit], total=total, limit=limit, offset=offset)


async def prune_action(
    conn: AsyncConnection, action: str, older_than: datetime, after_id: int, limit: int
) -> tuple[int, int | None]:
    """Delete the rows of one action among the `limit` rows after id `after_id` that are
    older than `older_than`. Returns (deleted, id to continue after; None when the rows
    scanned reach `older_than` or the end of the table: the rest is younger)."""
    window = (
        sa.select(_m.c.id, _m.c.created_at)
        .where(_m.c.id > after_id)
        .order_by(_m.c.id)
        .limit(limit)
        .subquery()
    )
    bounds = sa.select(sa.func.max(window.c.id), sa.func.max(window.c.created_at), sa.func.count())
    last_id, newest, count = (await conn.execute(bounds)).one()
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
    done = count < limit or (newest is not None and newest >= older_than)
    return int(result.rowcount or 0), None if done else int(last_id)
