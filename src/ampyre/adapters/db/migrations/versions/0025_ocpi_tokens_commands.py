"""Issue 20: OCPI tokens and commands.

Roaming tokens held as a CPO, Ampyre's own tokens as published as an eMSP, roaming
authorizations, and OCPI commands received and sent.

Revision ID: 0025_ocpi_tokens_commands
Revises: 0024_ocpi_sessions_cdrs
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0025_ocpi_tokens_commands"
down_revision: str | None = "0024_ocpi_sessions_cdrs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ocpi_tokens",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.BigInteger),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("contract_id", sa.String(36), nullable=False),
        sa.Column("valid", sa.Boolean, nullable=False),
        sa.Column("whitelist", sa.String(16), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("last_updated", _TS, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_tokens"),
    )
    op.create_index(
        "uq_ocpi_tokens_owner_lower_uid_type",
        "ocpi_tokens",
        ["country_code", "party_id", sa.text("lower(uid)"), "type"],
        unique=True,
    )
    op.create_index("ix_ocpi_tokens_lower_uid", "ocpi_tokens", [sa.text("lower(uid)")])
    op.create_index("ix_ocpi_tokens_last_updated", "ocpi_tokens", ["last_updated"])

    op.create_table(
        "ocpi_published_tokens",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("id_token_id", sa.Integer),
        sa.Column("valid", sa.Boolean, nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("last_updated", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_published_tokens"),
    )
    op.create_index(
        "uq_ocpi_published_tokens_lower_uid_type",
        "ocpi_published_tokens",
        [sa.text("lower(uid)"), "type"],
        unique=True,
    )
    op.create_index(
        "ix_ocpi_published_tokens_last_updated", "ocpi_published_tokens", ["last_updated"]
    )

    op.create_table(
        "ocpi_authorizations",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("token_type", sa.String(16)),
        sa.Column("country_code", sa.String(2)),
        sa.Column("party_id", sa.String(3)),
        sa.Column("partner_id", sa.BigInteger),
        sa.Column("station_id", sa.String(255)),
        sa.Column("evse_id", sa.Integer),
        sa.Column("location_id", sa.String(36)),
        sa.Column("allowed", sa.String(16)),
        sa.Column("outcome", sa.String(32)),
        sa.Column("reason", sa.String(500)),
        sa.Column("authorization_reference", sa.String(36)),
        sa.Column("valid_until", _TS),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_authorizations"),
    )
    op.create_index(
        "ix_ocpi_authorizations_lower_uid", "ocpi_authorizations", [sa.text("lower(uid)")]
    )
    op.create_index("ix_ocpi_authorizations_created_at", "ocpi_authorizations", ["created_at"])

    op.create_table(
        "ocpi_commands",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("command", sa.String(24), nullable=False),
        sa.Column("partner_id", sa.BigInteger),
        sa.Column("country_code", sa.String(2)),
        sa.Column("party_id", sa.String(3)),
        sa.Column("request", _JSON, nullable=False),
        sa.Column("response", sa.String(16)),
        sa.Column("response_message", sa.String(512)),
        sa.Column("result", sa.String(24)),
        sa.Column("result_message", sa.String(512)),
        sa.Column("response_url", sa.String(255)),
        sa.Column("timeout_at", _TS),
        sa.Column("result_at", _TS),
        sa.Column("station_id", sa.String(255)),
        sa.Column("evse_id", sa.Integer),
        sa.Column("connector_id", sa.Integer),
        sa.Column("location_id", sa.String(36)),
        sa.Column("transaction_id", sa.BigInteger),
        sa.Column("reservation_id", sa.BigInteger),
        sa.Column("ocpi_reservation_id", sa.String(36)),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_commands"),
        sa.UniqueConstraint("uid", name="uq_ocpi_commands_uid"),
    )
    op.create_index("ix_ocpi_commands_direction", "ocpi_commands", ["direction"])
    op.create_index(
        "ix_ocpi_commands_ocpi_reservation_id", "ocpi_commands", ["ocpi_reservation_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_ocpi_commands_ocpi_reservation_id", table_name="ocpi_commands")
    op.drop_index("ix_ocpi_commands_direction", table_name="ocpi_commands")
    op.drop_table("ocpi_commands")
    op.drop_index("ix_ocpi_authorizations_created_at", table_name="ocpi_authorizations")
    op.drop_index("ix_ocpi_authorizations_lower_uid", table_name="ocpi_authorizations")
    op.drop_table("ocpi_authorizations")
    op.drop_index("ix_ocpi_published_tokens_last_updated", table_name="ocpi_published_tokens")
    op.drop_index("uq_ocpi_published_tokens_lower_uid_type", table_name="ocpi_published_tokens")
    op.drop_table("ocpi_published_tokens")
    op.drop_index("ix_ocpi_tokens_last_updated", table_name="ocpi_tokens")
    op.drop_index("ix_ocpi_tokens_lower_uid", table_name="ocpi_tokens")
    op.drop_index("uq_ocpi_tokens_owner_lower_uid_type", table_name="ocpi_tokens")
    op.drop_table("ocpi_tokens")
