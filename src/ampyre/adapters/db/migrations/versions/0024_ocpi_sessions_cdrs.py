"""Issue 20: OCPI sessions and CDRs.

Revision ID: 0024_ocpi_sessions_cdrs
Revises: 0023_ocpi_locations
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_ocpi_sessions_cdrs"
down_revision: str | None = "0023_ocpi_locations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ocpi_sessions",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("transaction_pk", _BIGID),
        sa.Column("partner_id", _BIGID),
        sa.Column("token_uid", sa.String(36)),
        sa.Column("token_country_code", sa.String(2)),
        sa.Column("token_party_id", sa.String(3)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("kwh", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_cost_excl", sa.String(32)),
        sa.Column("total_cost_incl", sa.String(32)),
        sa.Column("start_date_time", _TS, nullable=False),
        sa.Column("end_date_time", _TS),
        sa.Column("last_updated", _TS, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("pushed_at", _TS),
        sa.Column("pushed_periods", sa.Integer, nullable=False, server_default="0"),
        sa.Column("dirty", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_sessions"),
        sa.UniqueConstraint(
            "side", "country_code", "party_id", "session_id", name="uq_ocpi_sessions_key"
        ),
        sa.UniqueConstraint("transaction_pk", name="uq_ocpi_sessions_transaction_pk"),
    )
    op.create_index("ix_ocpi_sessions_side_last_updated", "ocpi_sessions", ["side", "last_updated"])
    op.create_index(
        "ix_ocpi_sessions_token_party", "ocpi_sessions", ["token_country_code", "token_party_id"]
    )
    op.create_index("ix_ocpi_sessions_dirty", "ocpi_sessions", ["dirty"])
    op.create_table(
        "ocpi_cdrs",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("cdr_id", sa.String(39), nullable=False),
        sa.Column("transaction_pk", _BIGID),
        sa.Column("session_id", sa.String(36)),
        sa.Column("partner_id", _BIGID),
        sa.Column("token_uid", sa.String(36), nullable=False),
        sa.Column("token_country_code", sa.String(2), nullable=False),
        sa.Column("token_party_id", sa.String(3), nullable=False),
        sa.Column("credit", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("credit_reference_id", sa.String(39)),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_cost_excl", sa.String(32), nullable=False),
        sa.Column("total_cost_incl", sa.String(32)),
        sa.Column("total_energy", sa.String(32), nullable=False),
        sa.Column("total_time", sa.String(32), nullable=False),
        sa.Column("start_date_time", _TS, nullable=False),
        sa.Column("end_date_time", _TS, nullable=False),
        sa.Column("last_updated", _TS, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_cdrs"),
        sa.UniqueConstraint("side", "country_code", "party_id", "cdr_id", name="uq_ocpi_cdrs_key"),
    )
    op.create_index("ix_ocpi_cdrs_side_last_updated", "ocpi_cdrs", ["side", "last_updated"])
    op.create_index("ix_ocpi_cdrs_transaction_pk", "ocpi_cdrs", ["transaction_pk"])
    op.create_index(
        "ix_ocpi_cdrs_token_party", "ocpi_cdrs", ["token_country_code", "token_party_id"]
    )
    op.create_index("ix_ocpi_cdrs_credit_reference_id", "ocpi_cdrs", ["credit_reference_id"])


def downgrade() -> None:
    op.drop_index("ix_ocpi_cdrs_credit_reference_id", table_name="ocpi_cdrs")
    op.drop_index("ix_ocpi_cdrs_token_party", table_name="ocpi_cdrs")
    op.drop_index("ix_ocpi_cdrs_transaction_pk", table_name="ocpi_cdrs")
    op.drop_index("ix_ocpi_cdrs_side_last_updated", table_name="ocpi_cdrs")
    op.drop_table("ocpi_cdrs")
    op.drop_index("ix_ocpi_sessions_dirty", table_name="ocpi_sessions")
    op.drop_index("ix_ocpi_sessions_token_party", table_name="ocpi_sessions")
    op.drop_index("ix_ocpi_sessions_side_last_updated", table_name="ocpi_sessions")
    op.drop_table("ocpi_sessions")
