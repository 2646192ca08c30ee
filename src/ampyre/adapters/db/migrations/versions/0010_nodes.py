"""The nodes of a cluster and their leases (issue 16).

Revision ID: 0010_nodes
Revises: 0009_dashboard_indexes
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_nodes"
down_revision: str | None = "0009_dashboard_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the column type as it was at this revision.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("node_id", sa.String(255), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("renewed_at", _TS, nullable=False),
        sa.Column("stations", sa.Integer, nullable=False, server_default="0"),
        sa.Column("messages_per_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("cpu", sa.Float, nullable=False, server_default="0"),
        sa.Column("address", sa.String(255), nullable=False, server_default=""),
        sa.Column("pid", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("node_id", name="pk_nodes"),
    )


def downgrade() -> None:
    op.drop_table("nodes")
