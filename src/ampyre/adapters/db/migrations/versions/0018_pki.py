"""Issue 19: the PKI's issued certificates and revocations.

Revision ID: 0018_pki
Revises: 0017_station_security
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_pki"
down_revision: str | None = "0017_station_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "pki_certificates",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("issuer", sa.String(32), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("station_id", sa.String(255)),
        sa.Column("not_before", _TS, nullable=False),
        sa.Column("not_after", _TS, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("pem", sa.Text, nullable=False),
        sa.Column("issued_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS),
        sa.Column("revocation_reason", sa.String(32)),
        sa.Column("revoked_by", sa.String(255)),
        sa.PrimaryKeyConstraint("id", name="pk_pki_certificates"),
        sa.UniqueConstraint("issuer", "serial", name="uq_pki_certificates_issuer_serial"),
    )
    op.create_index("ix_pki_certificates_serial", "pki_certificates", ["serial"])
    op.create_index("ix_pki_certificates_role_id", "pki_certificates", ["role", "id"])


def downgrade() -> None:
    op.drop_table("pki_certificates")
