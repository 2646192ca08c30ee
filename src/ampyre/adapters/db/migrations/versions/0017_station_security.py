"""Issue 19: security profiles per station, credential changes.

Revision ID: 0017_station_security
Revises: 0016_sites
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_station_security"
down_revision: str | None = "0016_sites"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("security_profile", sa.SmallInteger))
        batch.add_column(sa.Column("pending_password_hash", sa.String(255)))
        batch.add_column(sa.Column("connection_profile", sa.SmallInteger))
    op.create_table(
        "station_security_changes",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target_profile", sa.SmallInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(255)),
        sa.Column("station_status", sa.String(64)),
        sa.Column("detail", sa.String(512)),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("answered_at", _TS),
        sa.Column("completed_at", _TS),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name="fk_station_security_changes_station_id_stations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_station_security_changes"),
    )
    op.create_index(
        "ix_station_security_changes_station_id_id",
        "station_security_changes",
        ["station_id", "id"],
    )


def downgrade() -> None:
    op.drop_table("station_security_changes")
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("connection_profile")
        batch.drop_column("pending_password_hash")
        batch.drop_column("security_profile")
