"""Transactions, meter values, id tokens, local lists, reservations, webhooks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
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


def _transaction_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["transaction_pk"],
        ["transactions.id"],
        name=f"fk_{table}_transaction_pk_transactions",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    counters = op.create_table(
        "id_counters",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_id_counters"),
    )
    op.bulk_insert(
        counters, [{"name": "transaction", "value": 0}, {"name": "remote_start", "value": 0}]
    )
    op.create_table(
        "transactions",
        sa.Column("id", _BIGID, nullable=False, autoincrement=True),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("transaction_id", sa.String(64), nullable=False),
        sa.Column("start_key", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ocpp_version", sa.String(16)),
        sa.Column("evse_id", sa.Integer),
        sa.Column("connector_id", sa.Integer),
        sa.Column("id_token", sa.String(255)),
        sa.Column("id_token_type", sa.String(32)),
        sa.Column("auth_status", sa.String(32)),
        sa.Column("started_at", _TS),
        sa.Column("ended_at", _TS),
        sa.Column("start_seen", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("stop_reason", sa.String(64)),
        sa.Column("meter_start_wh", sa.Float),
        sa.Column("meter_start_at", _TS),
        sa.Column("meter_start_rank", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("meter_stop_wh", sa.Float),
        sa.Column("meter_stop_at", _TS),
        sa.Column("meter_stop_rank", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("charging_state", sa.String(32)),
        sa.Column("charging_state_at", _TS),
        sa.Column("remote_start_id", sa.Integer),
        sa.Column("reservation_id", sa.Integer),
        sa.Column("offline", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_message_at", _TS),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transactions"),
        _station_fk("transactions"),
        sa.UniqueConstraint(
            "station_id", "transaction_id", name="uq_transactions_station_id_transaction_id"
        ),
        sa.UniqueConstraint("station_id", "start_key", name="uq_transactions_station_id_start_key"),
    )
    op.create_index(
        "ix_transactions_status_last_message_at", "transactions", ["status", "last_message_at"]
    )
    op.create_index("ix_transactions_started_at", "transactions", ["started_at"])
    op.create_index("ix_transactions_id_token", "transactions", ["id_token"])
    op.create_table(
        "transaction_events",
        sa.Column("id", _BIGID, nullable=False, autoincrement=True),
        sa.Column("transaction_pk", _BIGID, nullable=False),
        sa.Column("event_key", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("seq_no", sa.Integer),
        sa.Column("timestamp", _TS, nullable=False),
        sa.Column("trigger_reason", sa.String(64)),
        sa.Column("charging_state", sa.String(32)),
        sa.Column("offline", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transaction_events"),
        _transaction_fk("transaction_events"),
        sa.UniqueConstraint(
            "transaction_pk", "event_key", name="uq_transaction_events_transaction_pk_event_key"
        ),
    )
    op.create_table(
        "meter_values",
        sa.Column("id", _BIGID, nullable=False, autoincrement=True),
        sa.Column("transaction_pk", _BIGID),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("evse_id", sa.Integer, nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("timestamp", _TS, nullable=False),
        sa.Column("measurand", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(8), nullable=False),
        sa.Column("location", sa.String(16), nullable=False),
        sa.Column("context", sa.String(32), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("multiplier", sa.Integer, nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("raw_value", sa.Text, nullable=False),
        sa.Column("si_value", sa.Float),
        sa.Column("si_unit", sa.String(20)),
        sa.Column("signed", _JSON),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meter_values"),
        _transaction_fk("meter_values"),
        _station_fk("meter_values"),
    )
    op.create_index(
        "uq_meter_values_transaction",
        "meter_values",
        ["transaction_pk", "timestamp", "measurand", "phase", "location", "context", "format"],
        unique=True,
        sqlite_where=sa.text("transaction_pk IS NOT NULL"),
        postgresql_where=sa.text("transaction_pk IS NOT NULL"),
    )
    op.create_index(
        "uq_meter_values_station",
        "meter_values",
        [
            "station_id",
            "evse_id",
            "connector_id",
            "timestamp",
            "measurand",
            "phase",
            "location",
            "context",
            "format",
        ],
        unique=True,
        sqlite_where=sa.text("transaction_pk IS NULL"),
        postgresql_where=sa.text("transaction_pk IS NULL"),
    )
    op.create_table(
        "id_tokens",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("id_token", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", _TS),
        sa.Column("group_id", sa.String(255)),
        sa.Column("restrictions", _JSON, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_id_tokens"),
        sa.UniqueConstraint("id_token", "type", name="uq_id_tokens_id_token_type"),
    )
    op.create_table(
        "local_lists",
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("entries", _JSON, nullable=False),
        sa.Column("last_status", sa.String(32)),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("station_id", name="pk_local_lists"),
        _station_fk("local_lists"),
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("evse_id", sa.Integer),
        sa.Column("connector_type", sa.String(32)),
        sa.Column("id_token", sa.String(255), nullable=False),
        sa.Column("id_token_type", sa.String(32), nullable=False),
        sa.Column("group_id", sa.String(255)),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("station_answer", sa.String(32)),
        sa.Column("transaction_id", sa.BigInteger),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reservations"),
        _station_fk("reservations"),
    )
    op.create_index("ix_reservations_status_expires_at", "reservations", ["status", "expires_at"])
    op.create_index("ix_reservations_station_id", "reservations", ["station_id"])
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.String(255), nullable=False),
        sa.Column("event_types", _JSON, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("description", sa.Text),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", _BIGID, nullable=False, autoincrement=True),
        sa.Column("webhook_id", sa.Integer, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", _TS),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("delivered_at", _TS),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name="fk_webhook_deliveries_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at",
        "webhook_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        "ix_webhook_deliveries_webhook_id_created_at",
        "webhook_deliveries",
        ["webhook_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    op.drop_table("reservations")
    op.drop_table("local_lists")
    op.drop_table("id_tokens")
    op.drop_table("meter_values")
    op.drop_table("transaction_events")
    op.drop_table("transactions")
    op.drop_table("id_counters")
