"""Id tokens are case insensitive everywhere: one token per (lower(id_token), type), and
the transactions' id_token filter on lower(id_token).

Existing tokens that differ only in case (same type) become one: the oldest row (lowest
id) is kept and takes the most restrictive status of the group (blocked > invalid >
expired > accepted: a block set under one spelling keeps holding); the other rows are
deleted, each logged in full (WARNING, logger `alembic.runtime.migration`) so the
operator can see what was merged. Downgrade keeps the merged rows.

Revision ID: 0003_id_token_case
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_id_token_case"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

# Most restrictive first.
_SEVERITY = ("blocked", "invalid", "expired", "accepted")


def _rank(status: str) -> int:
    return _SEVERITY.index(status) if status in _SEVERITY else 0


def _merge_case_duplicates() -> None:
    conn = op.get_bind()
    k = sa.table(
        "id_tokens",
        sa.column("id", sa.Integer),
        sa.column("id_token", sa.String),
        sa.column("type", sa.String),
        sa.column("status", sa.String),
        sa.column("expires_at", sa.String),
        sa.column("group_id", sa.String),
        sa.column("description", sa.String),
    )
    dup_keys = (
        sa.select(sa.func.lower(k.c.id_token).label("folded"), k.c.type)
        .group_by(sa.func.lower(k.c.id_token), k.c.type)
        .having(sa.func.count() > 1)
    )
    for folded, type_ in conn.execute(dup_keys).all():
        rows = conn.execute(
            sa.select(k)
            .where(sa.func.lower(k.c.id_token) == folded, k.c.type == type_)
            .order_by(k.c.id)
        ).all()
        keep, drop = rows[0], rows[1:]
        status = min((r.status for r in rows), key=_rank)
        if status != keep.status:
            conn.execute(sa.update(k).where(k.c.id == keep.id).values(status=status))
        for r in drop:
            log.warning(
                "id token %s (%r, %s, status %s, expires %s, group %r, description %r) differs "
                "from id token %s (%r) only in case: merged into it (status now %s)",
                r.id,
                r.id_token,
                r.type,
                r.status,
                r.expires_at,
                r.group_id,
                r.description,
                keep.id,
                keep.id_token,
                status,
            )
            conn.execute(sa.delete(k).where(k.c.id == r.id))


def upgrade() -> None:
    _merge_case_duplicates()
    with op.batch_alter_table("id_tokens") as batch:
        batch.drop_constraint("uq_id_tokens_id_token_type", type_="unique")
    op.create_index(
        "uq_id_tokens_lower_id_token_type",
        "id_tokens",
        [sa.text("lower(id_token)"), "type"],
        unique=True,
    )
    op.drop_index("ix_transactions_id_token", table_name="transactions")
    op.create_index("ix_transactions_lower_id_token", "transactions", [sa.text("lower(id_token)")])


def downgrade() -> None:
    op.drop_index("ix_transactions_lower_id_token", table_name="transactions")
    op.create_index("ix_transactions_id_token", "transactions", ["id_token"])
    op.drop_index("uq_id_tokens_lower_id_token_type", table_name="id_tokens")
    with op.batch_alter_table("id_tokens") as batch:
        batch.create_unique_constraint("uq_id_tokens_id_token_type", ["id_token", "type"])
