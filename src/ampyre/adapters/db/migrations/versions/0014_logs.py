"""Log uploads, display messages, customer information requests (issue 17 parts 5-7).

Revision ID: 0014_logs
Revises: 0013_alerts
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_logs"
down_revision: str | None = "0013_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _station_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["station_id"], ["stations.id"], name=f"fk_{table}_station_id_stations", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "log_requests",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("ocpp_version", sa.String(16), nullable=False),
        sa.Column("log_type", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("station_status", sa.String(32)),
        sa.Column("station_answer", sa.String(64)),
        sa.Column("filename", sa.String(255)),
        sa.Column("detail", sa.String(512)),
        sa.Column("params", _Json),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("stored_as", sa.String(64)),
        sa.Column("size", sa.BigInteger),
        sa.Column("sha256", sa.String(64)),
        sa.Column("content_type", sa.String(127)),
        sa.Column("received_at", _TS),
        _station_fk("log_requests"),
        sa.PrimaryKeyConstraint("id", name="pk_log_requests"),
    )
    op.create_index("ux_log_requests_token_hash", "log_requests", ["token_hash"], unique=True)
    op.create_index(
        "ix_log_requests_station_id_requested_at", "log_requests", ["station_id", "requested_at"]
    )
    op.create_table(
        "display_messages",
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("message_id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16)),
        sa.Column("start_at", _TS),
        sa.Column("end_at", _TS),
        sa.Column("transaction_id", sa.String(36)),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("language", sa.String(8)),
        sa.Column("content", sa.String(1024), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("request_id", sa.Integer),
        sa.Column("updated_at", _TS, nullable=False),
        _station_fk("display_messages"),
        sa.PrimaryKeyConstraint("station_id", "message_id", name="pk_display_messages"),
    )
    op.create_table(
        "part_requests",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("station_answer", sa.String(64)),
        sa.Column("params", _Json),
        sa.Column("parts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("last_part_at", _TS),
        sa.Column("finished_at", _TS),
        sa.Column("detail", sa.String(512)),
        _station_fk("part_requests"),
        sa.PrimaryKeyConstraint("id", name="pk_part_requests"),
    )
    op.create_index("ix_part_requests_station_id_kind", "part_requests", ["station_id", "kind"])
    op.create_index("ix_part_requests_status", "part_requests", ["status"])
    op.create_table(
        "customer_info_parts",
        sa.Column("request_id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("seq_no", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("tbc", sa.Boolean, nullable=False),
        sa.Column("generated_at", _TS),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["part_requests.id"],
            name="fk_customer_info_parts_request_id_part_requests",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", "seq_no", name="pk_customer_info_parts"),
    )


def downgrade() -> None:
    op.drop_table("customer_info_parts")
    op.drop_table("part_requests")
    op.drop_table("display_messages")
    op.drop_table("log_requests")
