"""Station configuration and the 2.0.1 device model (issue 17 part 1).

Revision ID: 0011_configuration
Revises: 0010_nodes
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_configuration"
down_revision: str | None = "0010_nodes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the column type as it was at this revision.
_TS = sa.DateTime(timezone=True)


_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "station_variables",
        sa.Column("id", _BigId, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("component", sa.String(50), nullable=False),
        sa.Column("component_instance", sa.String(50), nullable=False, server_default=""),
        sa.Column("evse_id", sa.Integer, nullable=False, server_default="0"),
        sa.Column("connector_id", sa.Integer, nullable=False, server_default="0"),
        sa.Column("variable", sa.String(50), nullable=False),
        sa.Column("variable_instance", sa.String(50), nullable=False, server_default=""),
        sa.Column("attribute_type", sa.String(16), nullable=False, server_default="Actual"),
        sa.Column("value", sa.String(2500)),
        sa.Column("mutability", sa.String(16)),
        sa.Column("persistent", sa.Boolean),
        sa.Column("constant", sa.Boolean),
        sa.Column("characteristics", _Json),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("reboot_required", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("report_id", sa.Integer),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name="fk_station_variables_station_id_stations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_station_variables"),
    )
    op.create_index(
        "ux_station_variables_address",
        "station_variables",
        [
            "station_id",
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable",
            "variable_instance",
            "attribute_type",
        ],
        unique=True,
    )
    op.create_index("ix_station_variables_variable", "station_variables", ["variable"])
    op.create_table(
        "config_reports",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("request_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("criteria", _Json),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("parts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("seq_nos", _Json),
        sa.Column("last_seq_no", sa.Integer),
        sa.Column("variables", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_part_at", _TS),
        sa.Column("finished_at", _TS),
        sa.Column("detail", sa.String(512)),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name="fk_config_reports_station_id_stations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_config_reports"),
    )
    op.create_index(
        "ux_config_reports_station_id_request_id",
        "config_reports",
        ["station_id", "request_id"],
        unique=True,
    )
    op.create_index("ix_config_reports_state", "config_reports", ["state"])
    op.create_table(
        "availability_changes",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("evse_id", sa.Integer, nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("operative", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("applied_at", _TS),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name="fk_availability_changes_station_id_stations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_availability_changes"),
    )
    op.create_index("ix_availability_changes_station_id", "availability_changes", ["station_id"])

    op.create_table(
        "network_profiles",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("profile", _Json, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("station_status", sa.String(64)),
        sa.Column("detail", sa.String(512)),
        sa.Column("requested_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name="fk_network_profiles_station_id_stations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_network_profiles"),
    )
    op.create_index("ix_network_profiles_station_id", "network_profiles", ["station_id"])


def downgrade() -> None:
    op.drop_table("network_profiles")
    op.drop_table("availability_changes")
    op.drop_table("config_reports")
    op.drop_table("station_variables")
