"""Tables of issue 20: OCPI locations (registered on `metadata` when imported).

Our locations (the place as one OCPI JSON document, domain/locations.py), the stations
assigned to them, the operator's EVSE and connector attributes, the OCPI status last
published per EVSE (change detection), and the Locations partners pushed to us (eMSP).
"""

from __future__ import annotations

import sqlalchemy as sa

from ampyre.adapters.db.tables import BigId, Json, UtcDateTime, metadata

__all__ = [
    "metadata",
    "ocpi_connectors",
    "ocpi_evse_states",
    "ocpi_evses",
    "ocpi_location_stations",
    "ocpi_locations",
    "ocpi_received_locations",
]


def _station_fk() -> sa.ForeignKey:
    return sa.ForeignKey("stations.id", ondelete="CASCADE")


ocpi_locations = sa.Table(
    "ocpi_locations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    # The id upper-cased: Location.id is a CiString (compared case-insensitively).
    sa.Column("location_key", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(255)),
    sa.Column("roaming", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("place", Json, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("last_updated", UtcDateTime, nullable=False),
    # SHA-256 of what was last PUT to the receivers, last_updated and status left out:
    # whether a change elsewhere (a tariff) changed the Location.
    sa.Column("pushed_digest", sa.String(64)),
    sa.Index("ix_ocpi_locations_last_updated", "last_updated"),
)

ocpi_location_stations = sa.Table(
    "ocpi_location_stations",
    metadata,
    sa.Column("station_id", sa.String(255), _station_fk(), primary_key=True),
    sa.Column(
        "location_id",
        sa.String(36),
        sa.ForeignKey("ocpi_locations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("assigned_at", UtcDateTime, nullable=False),
    sa.Index("ix_ocpi_location_stations_location_id", "location_id"),
)

ocpi_evses = sa.Table(
    "ocpi_evses",
    metadata,
    sa.Column("station_id", sa.String(255), _station_fk(), primary_key=True),
    sa.Column("evse_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("emi3_id", sa.String(48)),
    sa.Column("floor_level", sa.String(4)),
    sa.Column("physical_reference", sa.String(16)),
    sa.Column("capabilities", Json),  # null: the defaults
    sa.Column("parking_restrictions", Json),
    sa.Column("directions", Json),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

ocpi_connectors = sa.Table(
    "ocpi_connectors",
    metadata,
    sa.Column("station_id", sa.String(255), _station_fk(), primary_key=True),
    sa.Column("evse_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("connector_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("standard", sa.String(32), nullable=False),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("power_type", sa.String(16), nullable=False),
    sa.Column("max_voltage", sa.Integer, nullable=False),
    sa.Column("max_amperage", sa.Integer, nullable=False),
    sa.Column("max_electric_power", sa.Integer),
    sa.Column("terms_and_conditions", sa.String(255)),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# The OCPI status last published for an EVSE, and in which location: a row means the
# receivers know the EVSE (a new one is PUT, a known one PATCHed).
ocpi_evse_states = sa.Table(
    "ocpi_evse_states",
    metadata,
    sa.Column("station_id", sa.String(255), _station_fk(), primary_key=True),
    sa.Column("evse_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("location_id", sa.String(36), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_at", UtcDateTime, nullable=False),
)

# Locations pushed to us by CPO partners (eMSP role), each the whole OCPI object.
ocpi_received_locations = sa.Table(
    "ocpi_received_locations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("partner_id", sa.Integer),
    sa.Column("country_code", sa.String(2), nullable=False),  # upper-cased
    sa.Column("party_id", sa.String(3), nullable=False),  # upper-cased
    sa.Column("location_id", sa.String(36), nullable=False),  # as the CPO spells it
    sa.Column("location_key", sa.String(36), nullable=False),  # upper-cased
    sa.Column("name", sa.String(255)),
    sa.Column("city", sa.String(45)),
    sa.Column("country", sa.String(3)),
    sa.Column("data", Json, nullable=False),
    sa.Column("last_updated", UtcDateTime, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("country_code", "party_id", "location_key"),
    sa.Index("ix_ocpi_received_locations_partner_id", "partner_id"),
    sa.Index("ix_ocpi_received_locations_last_updated", "last_updated"),
)
