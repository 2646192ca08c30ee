"""Compact audit log: one row per round trip, frames in compact form, no created_at index.

The rows of the old log are converted in batches (one row per old frame: they are not
paired afterwards); downgrading expands every row back into one row per frame.

Revision ID: 0006_audit_compact
Revises: 0005_operator_audit
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

from ampyre.adapters.db.audit_rows import REPLIES, Exchange, Row, decode, encode
from ampyre.domain.models import MessageLogEntry

revision: str = "0006_audit_compact"
down_revision: str | None = "0005_operator_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AUDIT_TS = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
_BATCH = 5_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_OLD_COLUMNS = (
    *("id", "station_id", "direction", "message_type", "unique_id"),
    *("action", "payload", "created_at"),
)
_NEW_COLUMNS = (
    *("id", "station_id", "direction", "unique_id", "action", "created_at", "call_type"),
    *("call_frame", "reply_type", "reply_frame", "reply_after_us"),
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _to_db(at: datetime) -> Any:
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    if not _sqlite():
        return at
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_db(value: Any) -> datetime:
    if isinstance(value, int):
        return _EPOCH + timedelta(microseconds=value)
    at: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _batches(table: str, columns: Sequence[str]) -> Iterator[Sequence[Any]]:
    """All rows of `table` in id order, a batch at a time (keyset, never OFFSET)."""
    conn = op.get_bind()
    last = -(2**63)
    select = sa.text(
        f"SELECT {', '.join(columns)} FROM {table} WHERE id > :last ORDER BY id LIMIT {_BATCH}"
    )
    while True:
        rows = conn.execute(select, {"last": last}).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _create_compact() -> None:
    op.create_table(
        "message_log",
        sa.Column("id", _BIGID, nullable=False, autoincrement=True),
        sa.Column("created_at", _AUDIT_TS, nullable=False),
        sa.Column("reply_after_us", sa.Integer),
        sa.Column("call_type", sa.SmallInteger),
        sa.Column("reply_type", sa.SmallInteger),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("unique_id", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64)),
        sa.Column("call_frame", sa.LargeBinary),
        sa.Column("reply_frame", sa.LargeBinary),
        sa.PrimaryKeyConstraint("id", name="pk_message_log"),
    )
    op.create_index("ix_message_log_station_id", "message_log", ["station_id"])


def _create_per_frame() -> None:
    op.create_table(
        "message_log",
        sa.Column("id", _BIGID, nullable=False, autoincrement=True),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("message_type", sa.SmallInteger, nullable=False),
        sa.Column("unique_id", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64)),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message_log"),
    )
    op.create_index("ix_message_log_created_at", "message_log", ["created_at"])
    op.create_index(
        "ix_message_log_station_id_created_at", "message_log", ["station_id", "created_at"]
    )


def _set_aside(old: str) -> None:
    op.rename_table("message_log", old)
    if not _sqlite():  # PostgreSQL: the primary key's index name is schema-wide
        op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT pk_message_log TO pk_{old}")


def _new_table() -> sa.TableClause:
    return sa.table(
        "message_log",
        sa.column("id", sa.BigInteger),
        *(sa.column(c) for c in ("station_id", "direction", "unique_id", "action")),
        sa.column("created_at"),
        sa.column("call_type", sa.SmallInteger),
        sa.column("call_frame", sa.LargeBinary),
        sa.column("reply_type", sa.SmallInteger),
        sa.column("reply_frame", sa.LargeBinary),
        sa.column("reply_after_us", sa.Integer),
    )


def upgrade() -> None:
    op.drop_index("ix_message_log_station_id_created_at", table_name="message_log")
    op.drop_index("ix_message_log_created_at", table_name="message_log")
    _set_aside("message_log_0002")
    _create_compact()
    insert = sa.insert(_new_table())
    conn = op.get_bind()
    for rows in _batches("message_log_0002", _OLD_COLUMNS):
        values = []
        for old_id, station, direction, mtype, uid, action, payload, created in rows:
            frame = MessageLogEntry(
                station, direction, mtype, uid, action, payload, _from_db(created)
            )
            pair = Exchange(None, frame) if mtype in REPLIES else Exchange(frame, None)
            row = encode(pair)._asdict()
            row["id"] = old_id  # the order of the log stays as it was
            row["created_at"] = _to_db(row["created_at"])
            values.append(row)
        conn.execute(insert, values)
    op.drop_table("message_log_0002")
    if not _sqlite():
        op.execute(
            "SELECT setval(pg_get_serial_sequence('message_log', 'id'), "
            "coalesce((SELECT max(id) FROM message_log), 0) + 1, false)"
        )


def downgrade() -> None:
    op.drop_index("ix_message_log_station_id", table_name="message_log")
    _set_aside("message_log_0003")
    _create_per_frame()
    old = sa.table("message_log", *(sa.column(c) for c in _OLD_COLUMNS[1:]))
    insert = sa.insert(old)
    conn = op.get_bind()
    for rows in _batches("message_log_0003", _NEW_COLUMNS):
        values = []
        for values_in in rows:
            fields = dict(zip(_NEW_COLUMNS[1:], values_in[1:], strict=True))
            fields["created_at"] = _from_db(fields["created_at"])
            for frame in reversed(decode(Row(**fields))):
                entry = frame._asdict()
                if _sqlite():  # the text form UtcDateTime stores there
                    entry["created_at"] = frame.created_at.replace(tzinfo=None).isoformat(
                        sep=" ", timespec="microseconds"
                    )
                values.append(entry)
        conn.execute(insert, values)
    op.drop_table("message_log_0003")
