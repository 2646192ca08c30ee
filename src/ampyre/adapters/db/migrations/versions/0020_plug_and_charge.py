"""Issue 19: contract certificates (Plug & Charge).

Revision ID: 0020_plug_and_charge
Revises: 0019_certificates
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_plug_and_charge"
down_revision: str | None = "0019_certificates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contract_certificates",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("emaid", sa.String(255), nullable=False),
        sa.Column("serial_number", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(1000), nullable=False),
        sa.Column("issuer", sa.String(1000), nullable=False),
        sa.Column("not_before", _TS, nullable=False),
        sa.Column("not_after", _TS, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(32)),
        sa.Column("station_id", sa.String(255)),
        sa.Column("last_status", sa.String(32)),
        sa.Column("last_checked_at", _TS),
        sa.Column("pem", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contract_certificates"),
        sa.UniqueConstraint("fingerprint", name="uq_contract_certificates_fingerprint"),
    )
    op.create_index("ix_contract_certificates_emaid", "contract_certificates", ["emaid"])
    op.create_index(
        "ix_contract_certificates_serial_number", "contract_certificates", ["serial_number"]
    )


def downgrade() -> None:
    op.drop_index("ix_contract_certificates_serial_number", table_name="contract_certificates")
    op.drop_index("ix_contract_certificates_emaid", table_name="contract_certificates")
    op.drop_table("contract_certificates")
