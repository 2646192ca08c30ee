"""Sites, circuits, members, allocations (issue 18 part 4).

Revision ID: 0016_sites
Revises: 0015_charging_profiles
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_sites"
down_revision: str | None = "0015_charging_profiles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _site_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["site_id"], ["sites.id"], name=f"fk_{table}_site_id_sites", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("config", _Json, nullable=False),
        sa.Column("pushed_base_load", _Json),
        sa.Column("pushed_at", _TS),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
    )
    op.create_table(
        "site_allocations",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("site_id", sa.Integer, nullable=False),
        sa.Column("computed_at", _TS, nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("at_limit", sa.Boolean, nullable=False),
        sa.Column("summary", _Json, nullable=False),
        sa.Column("evses", _Json, nullable=False),
        _site_fk("site_allocations"),
        sa.PrimaryKeyConstraint("id", name="pk_site_allocations"),
    )
    op.create_index("ix_site_allocations_site_id_id", "site_allocations", ["site_id", "id"])
    op.create_index("ix_site_allocations_computed_at", "site_allocations", ["computed_at"])
    op.create_table(
        "site_samples",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("site_id", sa.Integer, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("data", _Json, nullable=False),
        _site_fk("site_samples"),
        sa.PrimaryKeyConstraint("id", name="pk_site_samples"),
    )
    op.create_index("ix_site_samples_site_id_at", "site_samples", ["site_id", "at"])
    op.create_index("ix_site_samples_at", "site_samples", ["at"])


def downgrade() -> None:
    op.drop_table("site_samples")
    op.drop_table("site_allocations")
    op.drop_table("sites")
