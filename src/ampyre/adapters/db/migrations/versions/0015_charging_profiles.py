"""Charging profiles installed per station, external limits, EV charging needs (issue 18).

Revision ID: 0015_charging_profiles
Revises: 0014_logs
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015_charging_profiles"
down_revision: str | None = "0014_logs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _station_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["station_id"], ["stations.id"], name=f"fk_{table}_station_id_stations", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "charging_profiles",
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("profile_id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("evse_id", sa.Integer, nullable=False),
        sa.Column("stack_level", sa.Integer, nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("transaction_id", sa.String(64)),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("limit_source", sa.String(20)),
        sa.Column("profile", _Json, nullable=False),
        sa.Column("installed_at", _TS, nullable=False),
        sa.Column("confirmed_at", _TS),
        sa.Column("report_id", sa.Integer),
        _station_fk("charging_profiles"),
        sa.PrimaryKeyConstraint("station_id", "profile_id", name="pk_charging_profiles"),
    )
    op.create_index("ix_charging_profiles_source", "charging_profiles", ["source"])
    op.create_table(
        "charging_limits",
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("evse_id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("is_grid_critical", sa.Boolean),
        sa.Column("schedules", _Json, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("cleared_at", _TS),
        _station_fk("charging_limits"),
        sa.PrimaryKeyConstraint("station_id", "evse_id", "source", name="pk_charging_limits"),
    )
    op.create_table(
        "ev_charging_needs",
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("evse_id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("needs", _Json),
        sa.Column("status", sa.String(16)),
        sa.Column("detail", sa.String(64)),
        sa.Column("transaction_id", sa.String(64)),
        sa.Column("received_at", _TS),
        sa.Column("schedule", _Json),
        sa.Column("schedule_received_at", _TS),
        _station_fk("ev_charging_needs"),
        sa.PrimaryKeyConstraint("station_id", "evse_id", name="pk_ev_charging_needs"),
    )


def downgrade() -> None:
    op.drop_table("ev_charging_needs")
    op.drop_table("charging_limits")
    op.drop_index("ix_charging_profiles_source", table_name="charging_profiles")
    op.drop_table("charging_profiles")
