"""Issue 20: OCPI partners, credentials, exchange log, push queue.

Revision ID: 0021_ocpi_partners
Revises: 0020_plug_and_charge
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021_ocpi_partners"
down_revision: str | None = "0020_plug_and_charge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ocpi_partners",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("versions_url", sa.String(255)),
        sa.Column("version", sa.String(16)),
        sa.Column("endpoints", _Json, nullable=False),
        sa.Column("roles", _Json, nullable=False),
        sa.Column("token_in_hash", sa.String(64)),
        sa.Column("token_in_next_hash", sa.String(64)),
        sa.Column("token_out", sa.String(255)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("registered_at", _TS),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_partners"),
    )
    op.create_index(
        "ix_ocpi_partners_token_in_hash", "ocpi_partners", ["token_in_hash"], unique=True
    )
    op.create_index(
        "ix_ocpi_partners_token_in_next_hash",
        "ocpi_partners",
        ["token_in_next_hash"],
        unique=True,
    )
    op.create_table(
        "ocpi_exchanges",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.Integer),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("http_status", sa.Integer),
        sa.Column("status_code", sa.Integer),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("request_id", sa.String(64)),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("request_body", sa.Text),
        sa.Column("response_body", sa.Text),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_exchanges"),
    )
    op.create_index("ix_ocpi_exchanges_partner_id_id", "ocpi_exchanges", ["partner_id", "id"])
    op.create_index("ix_ocpi_exchanges_created_at", "ocpi_exchanges", ["created_at"])
    op.create_table(
        "ocpi_push_queue",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.Integer, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("body", _Json),
        sa.Column("object_key", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("last_http_status", sa.Integer),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("claimed_until", _TS),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_push_queue"),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["ocpi_partners.id"],
            name="fk_ocpi_push_queue_partner_id_ocpi_partners",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_ocpi_push_queue_status_next_attempt_at",
        "ocpi_push_queue",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        "ix_ocpi_push_queue_partner_id_object_key_id",
        "ocpi_push_queue",
        ["partner_id", "object_key", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_ocpi_push_queue_partner_id_object_key_id", table_name="ocpi_push_queue")
    op.drop_index("ix_ocpi_push_queue_status_next_attempt_at", table_name="ocpi_push_queue")
    op.drop_table("ocpi_push_queue")
    op.drop_index("ix_ocpi_exchanges_created_at", table_name="ocpi_exchanges")
    op.drop_index("ix_ocpi_exchanges_partner_id_id", table_name="ocpi_exchanges")
    op.drop_table("ocpi_exchanges")
    op.drop_index("ix_ocpi_partners_token_in_next_hash", table_name="ocpi_partners")
    op.drop_index("ix_ocpi_partners_token_in_hash", table_name="ocpi_partners")
    op.drop_table("ocpi_partners")
