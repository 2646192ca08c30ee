"""Issue 20: tariffs (ours, their versions, and partners' received tariffs).

Revision ID: 0022_tariffs
Revises: 0021_ocpi_partners
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022_tariffs"
down_revision: str | None = "0021_ocpi_partners"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "tariffs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("body", _Json, nullable=False),
        sa.Column("station_ids", _Json, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_updated", _TS, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tariffs"),
    )
    op.create_index("ix_tariffs_last_updated", "tariffs", ["last_updated"])
    op.create_table(
        "tariff_versions",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("tariff_id", sa.String(36), nullable=False),
        sa.Column("valid_from", _TS, nullable=False),
        sa.Column("body", _Json),
        sa.Column("station_ids", _Json, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_tariff_versions"),
    )
    op.create_index(
        "ix_tariff_versions_tariff_id_valid_from",
        "tariff_versions",
        ["tariff_id", "valid_from"],
    )
    op.create_table(
        "received_tariffs",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.Integer, nullable=False),
        sa.Column("country_code_key", sa.String(2), nullable=False),
        sa.Column("party_id_key", sa.String(3), nullable=False),
        sa.Column("tariff_id_key", sa.String(36), nullable=False),
        sa.Column("body", _Json, nullable=False),
        sa.Column("last_updated", _TS, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_received_tariffs"),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["ocpi_partners.id"],
            name="fk_received_tariffs_partner_id_ocpi_partners",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "country_code_key",
            "party_id_key",
            "tariff_id_key",
            name="uq_received_tariffs_country_code_key_party_id_key_tariff_id_key",
        ),
    )
    op.create_index("ix_received_tariffs_partner_id", "received_tariffs", ["partner_id"])


def downgrade() -> None:
    op.drop_index("ix_received_tariffs_partner_id", table_name="received_tariffs")
    op.drop_table("received_tariffs")
    op.drop_index("ix_tariff_versions_tariff_id_valid_from", table_name="tariff_versions")
    op.drop_table("tariff_versions")
    op.drop_index("ix_tariffs_last_updated", table_name="tariffs")
    op.drop_table("tariffs")
