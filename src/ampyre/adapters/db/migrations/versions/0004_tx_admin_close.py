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


# Plain ALTER TABLE on both databases (SQLite >= 3.35 drops columns itself): a batch
# operation would copy the table on SQLite, and the copy would lose the expression index
# on lower(id_token) from 0003, which SQLAlchemy cannot reflect.


def upgrade() -> None:
    op.add_column("transactions", sa.Column("closed_by", sa.String(255)))
    op.add_column("transactions", sa.Column("close_reason", sa.String(500)))
    op.add_column("transactions", sa.Column("closed_at", _TS))


def downgrade() -> None:
    op.drop_column("transactions", "closed_at")
    op.drop_column("transactions", "close_reason")
    op.drop_column("transactions", "closed_by")
