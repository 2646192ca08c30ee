"""Issue 19 tables: station credential changes (password rotations and security
profile upgrades), tracked until the station reconnects with the new credentials. The
stations table's own security columns (security_profile, pending_password_hash,
connection_profile) are in tables.py; all of them come with migration 0017."""

from __future__ import annotations

import sqlalchemy as sa

from ampyre.adapters.db.tables import BigId, UtcDateTime, metadata

__all__ = ["station_security_changes"]

station_security_changes = sa.Table(
    "station_security_changes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "station_id",
        sa.String(255),
        sa.ForeignKey("stations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(16), nullable=False),  # password | profile
    sa.Column("target_profile", sa.SmallInteger),  # kind profile: the profile asked for
    sa.Column("status", sa.String(16), nullable=False),  # sent accepted rejected completed failed
    sa.Column("requested_by", sa.String(255)),
    sa.Column("station_status", sa.String(64)),  # the station's answer as sent
    sa.Column("detail", sa.String(512)),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("answered_at", UtcDateTime),
    sa.Column("completed_at", UtcDateTime),
    sa.Index("ix_station_security_changes_station_id_id", "station_id", "id"),
)
