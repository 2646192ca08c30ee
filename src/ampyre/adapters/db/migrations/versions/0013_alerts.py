"""Alerts from station errors and events, variable monitors (issue 17 part 2).

Revision ID: 0013_alerts
Revises: 0012_firmware
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013_alerts"
down_revision: str | None = "0012_firmware"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the column type as it was at this revision.
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
        "alerts",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("evse_id", sa.Integer, nullable=False, server_default="0"),
        sa.Column("connector_id", sa.Integer, nullable=False, server_default="0"),
        sa.Column("component", sa.String(50), nullable=False, server_default=""),
        sa.Column("component_instance", sa.String(50), nullable=False, server_default=""),
        sa.Column("variable", sa.String(50), nullable=False, server_default=""),
        sa.Column("variable_instance", sa.String(50), nullable=False, server_default=""),
        sa.Column("code", sa.String(128), nullable=False),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer, nullable=False, server_default="1"),
        sa.Column("first_seen", _TS, nullable=False),
        sa.Column("last_seen", _TS, nullable=False),
        sa.Column("info", sa.String(500)),
        sa.Column("vendor_error_code", sa.String(255)),
        sa.Column("trigger", sa.String(32)),
        sa.Column("event_type", sa.String(32)),
        sa.Column("event_id", sa.Integer),
        sa.Column("monitor_id", sa.Integer),
        sa.Column("tech_code", sa.String(50)),
        sa.Column("tech_info", sa.String(500)),
        sa.Column("actual_value", sa.String(2500)),
        sa.Column("status", sa.String(32)),
        sa.Column("acknowledged_by", sa.String(255)),
        sa.Column("acknowledged_at", _TS),
        sa.Column("cleared_at", _TS),
        _station_fk("alerts"),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_station_id_state", "alerts", ["station_id", "state"])
    op.create_index("ix_alerts_state_last_seen", "alerts", ["state", "last_seen"])
    op.create_table(
        "station_monitors",
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("monitor_id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("component", sa.String(50), nullable=False),
        sa.Column("component_instance", sa.String(50), nullable=False, server_default=""),
        sa.Column("evse_id", sa.Integer, nullable=False, server_default="0"),
        sa.Column("connector_id", sa.Integer, nullable=False, server_default="0"),
        sa.Column("variable", sa.String(50), nullable=False),
        sa.Column("variable_instance", sa.String(50), nullable=False, server_default=""),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("transaction", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        _station_fk("station_monitors"),
        sa.PrimaryKeyConstraint("station_id", "monitor_id", name="pk_station_monitors"),
    )
    op.create_table(
        "monitoring_reports",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("request_id", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("parts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("monitors", sa.Integer, nullable=False, server_default="0"),
        sa.Column("seq_nos", _JSON),
        sa.Column("full", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_part_at", _TS),
        sa.Column("finished_at", _TS),
        sa.Column("detail", sa.String(512)),
        _station_fk("monitoring_reports"),
        sa.PrimaryKeyConstraint("id", name="pk_monitoring_reports"),
    )
    op.create_index(
        "ux_monitoring_reports_station_id_request_id",
        "monitoring_reports",
        ["station_id", "request_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_table("monitoring_reports")
    op.drop_table("station_monitors")
    op.drop_index("ix_alerts_state_last_seen", table_name="alerts")
    op.drop_index("ix_alerts_station_id_state", table_name="alerts")
    op.drop_table("alerts")
