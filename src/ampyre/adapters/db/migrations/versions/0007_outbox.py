"""The transactional outbox: domain events as rows, consumer cursors, claimed deliveries.

Revision ID: 0007_outbox
Revises: 0006_audit_compact
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_outbox"
down_revision: str | None = "0006_audit_compact"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("id", _BIGID, nullable=False, autoincrement=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("station_id", sa.String(255)),
        sa.Column("occurred_at", _TS, nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_events"),
    )
    op.create_index("ix_outbox_events_created_at", "outbox_events", ["created_at"])
    op.create_table(
        "outbox_consumers",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_outbox_consumers"),
    )
    op.add_column("webhook_deliveries", sa.Column("event_id", sa.BigInteger))
    op.add_column("webhook_deliveries", sa.Column("claimed_by", sa.String(64)))
    op.add_column("webhook_deliveries", sa.Column("claimed_until", _TS))
    op.create_index(
        "ix_webhook_deliveries_event_id_webhook_id",
        "webhook_deliveries",
        ["event_id", "webhook_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_event_id_webhook_id", "webhook_deliveries")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
        batch.drop_column("event_id")
    op.drop_table("outbox_consumers")
    op.drop_index("ix_outbox_events_created_at", "outbox_events")
    op.drop_table("outbox_events")
