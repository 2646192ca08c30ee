"""Issue 19: installed certificates, CSRs, security events.

Revision ID: 0019_certificates
Revises: 0018_pki
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_certificates"
down_revision: str | None = "0018_pki"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _station_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["station_id"], ["stations.id"], name=f"fk_{table}_station_id_stations", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "installed_certificates",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("use", sa.String(40), nullable=False),
        sa.Column("hash_algorithm", sa.String(8), nullable=False),
        sa.Column("issuer_name_hash", sa.String(128), nullable=False),
        sa.Column("issuer_key_hash", sa.String(128), nullable=False),
        sa.Column("serial_number", sa.String(40), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(500)),
        sa.Column("issuer", sa.String(500)),
        sa.Column("not_after", _TS),
        sa.Column("pem", sa.Text),
        sa.Column("child_of_serial", sa.String(40)),
        sa.Column("updated_at", _TS, nullable=False),
        _station_fk("installed_certificates"),
        sa.PrimaryKeyConstraint("id", name="pk_installed_certificates"),
        sa.UniqueConstraint(
            "station_id",
            "use",
            "hash_algorithm",
            "issuer_name_hash",
            "issuer_key_hash",
            "serial_number",
            name="uq_installed_certificates_hash",
        ),
    )
    op.create_index("ix_installed_certificates_not_after", "installed_certificates", ["not_after"])
    op.create_table(
        "certificate_requests",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("use", sa.String(40)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("csr", sa.Text, nullable=False),
        sa.Column("error", sa.String(500)),
        sa.Column("subject", sa.String(500)),
        sa.Column("certificate", sa.Text),
        sa.Column("serial_number", sa.String(40)),
        sa.Column("not_after", _TS),
        sa.Column("request_id", sa.Integer),
        sa.Column("via", sa.String(8), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        _station_fk("certificate_requests"),
        sa.PrimaryKeyConstraint("id", name="pk_certificate_requests"),
    )
    op.create_index(
        "ix_certificate_requests_station_id_id", "certificate_requests", ["station_id", "id"]
    )
    op.create_index("ix_certificate_requests_status", "certificate_requests", ["status"])
    op.create_table(
        "security_events",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("timestamp", _TS, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("tech_info", sa.String(255)),
        sa.Column("critical", sa.Boolean, nullable=False),
        _station_fk("security_events"),
        sa.PrimaryKeyConstraint("id", name="pk_security_events"),
    )
    op.create_index("ix_security_events_station_id_id", "security_events", ["station_id", "id"])
    op.create_index("ix_security_events_received_at", "security_events", ["received_at"])


def downgrade() -> None:
    op.drop_table("security_events")
    op.drop_table("certificate_requests")
    op.drop_table("installed_certificates")
