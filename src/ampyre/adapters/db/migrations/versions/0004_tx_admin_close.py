"""Transactions: who closed a transaction administratively, why and when.

Revision ID: 0004_tx_admin_close
Revises: 0003_id_token_case
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_tx_admin_close"
down_revision: str | None = "0003_id_token_case"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("closed_by", sa.String(255)))
        batch.add_column(sa.Column("close_reason", sa.String(500)))
        batch.add_column(sa.Column("closed_at", _TS))


def downgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.drop_column("closed_at")
        batch.drop_column("close_reason")
        batch.drop_column("closed_by")
