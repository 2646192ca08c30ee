"""Repository: the audit (message) log (part of the Store port). Rows are written by the
buffered flusher (adapters/db/flusher.py) through the group commit; this module turns
entries into rows, reads pages and prunes by age."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.database import Database
from ampyre.adapters.db.parts import StorePart
from ampyre.adapters.db.writer import GroupWriter
from ampyre.adapters.db.writes import Step, aware_utc, driver_insert_sql, sqlite_utc
from ampyre.domain.models import Direction, MessageLogEntry, Page

_DIRECTION = {Direction.IN: "in", Direction.OUT: "out", "in": "in", "out": "out"}
# Column sizes (adapters/db/tables.py message_log).
_ID_LEN, _ACTION_LEN = 255, 64
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _fit(text: str, limit: int | None = None) -> str:
    """What a text column can hold of `text`: U+0000 (which PostgreSQL text refuses) and
    unpaired surrogates (not UTF-8) escaped as JSON writes them, cut to the column. The
    audit log keeps what a station sent as far as it can; one unstorable frame must not
    fail the chunk it is flushed with (issue 13, defect 2.1)."""
    if "\x00" in text or (not text.isascii() and _SURROGATE.search(text)):
        text = _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text if limit is None or len(text) <= limit else text[:limit]


def _fit_action(action: str | None) -> str | None:
    return None if action is None else _fit(action, _ACTION_LEN)


class AuditLogSql(StorePart):
    prune_chunk: int = 10_000

    def __init__(self, db: Database, writer: GroupWriter) -> None:
        super().__init__(db, writer)
        self._messages_stmt = sa.insert(t.message_log)
        self._messages_sql = driver_insert_sql(
            db.paramstyle,
            "message_log",
            (
                *("station_id", "direction", "message_type", "unique_id"),
                *("action", "payload", "created_at"),
            ),
        )

    def message_step(self, messages: list[MessageLogEntry]) -> Step:
        """The statement inserting audit-log entries (for the group commit)."""
        if self._messages_sql is None:
            return self._messages_stmt, [_message_row(m) for m in messages]
        # SQLite gets the text form UtcDateTime stores there (naive UTC, microseconds).
        stamp = sqlite_utc if self._dialect_name == "sqlite" else aware_utc
        rows = [
            (
                _fit(m.station_id, _ID_LEN),
                _DIRECTION[m.direction],
                m.message_type,
                _fit(m.unique_id, _ID_LEN),
                _fit_action(m.action),
                _fit(m.payload),
                stamp(m.created_at),
            )
            for m in messages
        ]
        return self._messages_sql, rows

    async def list_messages(self, station_id: str | None, limit: int, offset: int) -> Page:
        m = t.message_log
        query = sa.select(m).order_by(m.c.created_at.desc(), m.c.id.desc())
        count = sa.select(sa.func.count()).select_from(m)
        if station_id is not None:
            query = query.where(m.c.station_id == station_id)
            count = count.where(m.c.station_id == station_id)
        return await self._page(query, count, _message, limit, offset)

    async def prune_messages(self, older_than: datetime) -> int:
        """Delete log entries older than `older_than`, in chunks so a big delete never
        holds the (SQLite) write lock long enough to stall the OCPP path."""
        m = t.message_log
        chunk = (
            sa.select(m.c.id).where(m.c.created_at < older_than).limit(self.prune_chunk)
        ).scalar_subquery()
        stmt = sa.delete(m).where(m.c.id.in_(chunk))
        deleted = 0
        while True:
            async with self._tx() as conn:
                n = (await conn.execute(stmt)).rowcount
            deleted += n
            if n < self.prune_chunk:
                return deleted


def _message_row(m: MessageLogEntry) -> dict[str, Any]:
    return {
        "station_id": _fit(m.station_id, _ID_LEN),
        "direction": _DIRECTION[m.direction],
        "message_type": m.message_type,
        "unique_id": _fit(m.unique_id, _ID_LEN),
        "action": _fit_action(m.action),
        "payload": _fit(m.payload),
        "created_at": m.created_at,
    }


def _message(row: Any) -> MessageLogEntry:
    values = dict(row._mapping)
    del values["id"]
    values["direction"] = Direction(values["direction"])
    return MessageLogEntry(**values)
