"""Initial schema: stations, connectors, status history, raw reports, message log,
API tokens.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision (migrations must not
# change when tables.py does).
_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _station_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["station_id"],
        ["stations.id"],
        name=f"fk_{table}_station_id_stations",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "stations",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("registration_status", sa.String(16), nullable=False, server_default="Accepted"),
        sa.Column("ocpp_version", sa.String(16)),
        sa.Column("vendor", sa.String(255)),
        sa.Column("model", sa.String(255)),
        sa.Column("serial_number", sa.String(255)),
        sa.Column("firmware_version", sa.String(255)),
        sa.Column("iccid", sa.String(255)),
        sa.Column("imsi", sa.String(255)),
        sa.Column("meter_type", sa.String(255)),
        sa.Column("meter_serial_number", sa.String(255)),
        sa.Column("boot_reason", sa.String(64)),
        sa.Column("description", sa.Text),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("connected", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("connected_node", sa.String(255)),
        sa.Column("remote_address", sa.String(255)),
        sa.Column("last_seen", _TS),
        sa.Column("last_boot", _TS),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stations"),
    )
    op.create_table(
        "connectors",
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("evse_id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("connector_id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("error_code", sa.String(64)),
        sa.Column("info", sa.Text),
        sa.Column("vendor_id", sa.String(255)),
        sa.Column("vendor_error_code", sa.String(255)),
        sa.Column("status_timestamp", _TS),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("station_id", "evse_id", "connector_id", name="pk_connectors"),
        _station_fk("connectors"),
    )
    op.create_table(
        "status_history",
        sa.Column("id", _BIGID, nullable=False, autoincrement=True),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("evse_id", sa.Integer, nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("error_code", sa.String(64)),
        sa.Column("info", sa.Text),
        sa.Column("vendor_id", sa.String(255)),
        sa.Column("vendor_error_code", sa.String(255)),
        sa.Column("timestamp", _TS),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_status_history"),
        _station_fk("status_history"),
    )
    op.create_index(
        "ix_status_history_station_id_received_at",
        "status_history",
        ["station_id", "received_at"],
    )
    op.create_table(
        "station_reports",
        sa.Column("id", _BIGID, nullable=False, autoincrement=True),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("request_id", sa.Integer),
        sa.Column("seq_no", sa.Integer),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_station_reports"),
        _station_fk("station_reports"),
    )
    op.create_index(
        "ix_station_reports_station_id_received_at",
        "station_reports",
        ["station_id", "received_at"],
    )
    op.create_table(
        "message_log",
        sa.Column("id", _BIGID, nullable=False, autoincrement=True),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("message_type", sa.SmallInteger, nullable=False),
        sa.Column("unique_id", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64)),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message_log"),
    )
    op.create_index("ix_message_log_created_at", "message_log", ["created_at"])
    op.create_index(
        "ix_message_log_station_id_created_at", "message_log", ["station_id", "created_at"]
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(255), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_used_at", _TS),
        sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_index("ix_message_log_station_id_created_at", table_name="message_log")
    op.drop_index("ix_message_log_created_at", table_name="message_log")
    op.drop_table("message_log")
    op.drop_index("ix_station_reports_station_id_received_at", table_name="station_reports")
    op.drop_table("station_reports")
    op.drop_index("ix_status_history_station_id_received_at", table_name="status_history")
    op.drop_table("status_history")
    op.drop_table("connectors")
    op.drop_table("stations")
