"""The operator audit trail: REST writes and commands, who made them and how they ended.

Revision ID: 0005_operator_audit
Revises: 0004_tx_admin_close
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_operator_audit"
down_revision: str | None = "0004_tx_admin_close"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "operator_audit",
        sa.Column("id", _BIGID, nullable=False, autoincrement=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("token_id", sa.Integer),
        sa.Column("token_name", sa.String(255)),
        sa.Column("role", sa.String(16)),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("target", sa.String(2048), nullable=False),
        sa.Column("station_id", sa.String(255)),
        sa.Column("summary", sa.Text),
        sa.Column("status_code", sa.SmallInteger, nullable=False),
        sa.Column("outcome", sa.String(255)),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_operator_audit"),
    )
    op.create_index("ix_operator_audit_created_at", "operator_audit", ["created_at"])
    op.create_index(
        "ix_operator_audit_token_id_created_at", "operator_audit", ["token_id", "created_at"]
    )
    op.create_index(
        "ix_operator_audit_station_id_created_at", "operator_audit", ["station_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("operator_audit")
