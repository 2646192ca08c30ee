"""Issue 20: OCPI locations.

Revision ID: 0023_ocpi_locations
Revises: 0022_tariffs
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023_ocpi_locations"
down_revision: str | None = "0022_tariffs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _station_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["station_id"],
        ["stations.id"],
        name=f"fk_{table}_station_id_stations",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "ocpi_locations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("location_key", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("roaming", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("place", _Json, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("last_updated", _TS, nullable=False),
        sa.Column("pushed_digest", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_locations"),
        sa.UniqueConstraint("location_key", name="uq_ocpi_locations_location_key"),
    )
    op.create_index("ix_ocpi_locations_last_updated", "ocpi_locations", ["last_updated"])
    op.create_table(
        "ocpi_location_stations",
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("location_id", sa.String(36), nullable=False),
        sa.Column("assigned_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("station_id", name="pk_ocpi_location_stations"),
        _station_fk("ocpi_location_stations"),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["ocpi_locations.id"],
            name="fk_ocpi_location_stations_location_id_ocpi_locations",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_ocpi_location_stations_location_id", "ocpi_location_stations", ["location_id"]
    )
    op.create_table(
        "ocpi_evses",
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("evse_id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("emi3_id", sa.String(48)),
        sa.Column("floor_level", sa.String(4)),
        sa.Column("physical_reference", sa.String(16)),
        sa.Column("capabilities", _Json),
        sa.Column("parking_restrictions", _Json),
        sa.Column("directions", _Json),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("station_id", "evse_id", name="pk_ocpi_evses"),
        _station_fk("ocpi_evses"),
    )
    op.create_table(
        "ocpi_connectors",
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("evse_id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("connector_id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("standard", sa.String(32), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("power_type", sa.String(16), nullable=False),
        sa.Column("max_voltage", sa.Integer, nullable=False),
        sa.Column("max_amperage", sa.Integer, nullable=False),
        sa.Column("max_electric_power", sa.Integer),
        sa.Column("terms_and_conditions", sa.String(255)),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("station_id", "evse_id", "connector_id", name="pk_ocpi_connectors"),
        _station_fk("ocpi_connectors"),
    )
    op.create_table(
        "ocpi_evse_states",
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("evse_id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("location_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("station_id", "evse_id", name="pk_ocpi_evse_states"),
        _station_fk("ocpi_evse_states"),
    )
    op.create_table(
        "ocpi_received_locations",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.Integer),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("location_id", sa.String(36), nullable=False),
        sa.Column("location_key", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("city", sa.String(45)),
        sa.Column("country", sa.String(3)),
        sa.Column("data", _Json, nullable=False),
        sa.Column("last_updated", _TS, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_received_locations"),
        sa.UniqueConstraint(
            "country_code",
            "party_id",
            "location_key",
            name="uq_ocpi_received_locations_country_code_party_id_location_key",
        ),
    )
    op.create_index(
        "ix_ocpi_received_locations_partner_id", "ocpi_received_locations", ["partner_id"]
    )
    op.create_index(
        "ix_ocpi_received_locations_last_updated", "ocpi_received_locations", ["last_updated"]
    )


def downgrade() -> None:
    op.drop_index("ix_ocpi_received_locations_last_updated", table_name="ocpi_received_locations")
    op.drop_index("ix_ocpi_received_locations_partner_id", table_name="ocpi_received_locations")
    op.drop_table("ocpi_received_locations")
    op.drop_table("ocpi_evse_states")
    op.drop_table("ocpi_connectors")
    op.drop_table("ocpi_evses")
    op.drop_index("ix_ocpi_location_stations_location_id", table_name="ocpi_location_stations")
    op.drop_table("ocpi_location_stations")
    op.drop_index("ix_ocpi_locations_last_updated", table_name="ocpi_locations")
    op.drop_table("ocpi_locations")
