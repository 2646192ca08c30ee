"""Tables of issue 18 (charging), on the shared metadata of adapters/db/tables.py (which
imports this module at its end, so the metadata is whole wherever it is read)."""

from __future__ import annotations

import sqlalchemy as sa

from ampyre.adapters.db.tables import Json, UtcDateTime, metadata

__all__ = ["charging_limits", "charging_profiles", "ev_charging_needs", "metadata", "sa"]


def _station_fk() -> sa.ForeignKey:
    return sa.ForeignKey("stations.id", ondelete="CASCADE")


# What Ampyre believes each station has installed (one row per station and profile id:
# a profile id is unique on a station, OCPP 1.6 5.16 / 2.0.1 K01.FR.05).
charging_profiles = sa.Table(
    "charging_profiles",
    metadata,
    sa.Column("station_id", sa.String(255), _station_fk(), primary_key=True),
    sa.Column("profile_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("evse_id", sa.Integer, nullable=False),  # 0: the station as a whole
    sa.Column("stack_level", sa.Integer, nullable=False),
    sa.Column("purpose", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("transaction_id", sa.String(64)),
    sa.Column("source", sa.String(16), nullable=False),  # ProfileSource
    sa.Column("limit_source", sa.String(20)),  # as the station reported it (EMS, CSO, ...)
    sa.Column("profile", Json, nullable=False),  # the neutral profile, snake_case
    sa.Column("installed_at", UtcDateTime, nullable=False),
    sa.Column("confirmed_at", UtcDateTime),  # the station last reported it
    sa.Column("report_id", sa.Integer),  # the GetChargingProfiles that reported it last
    sa.Index("ix_charging_profiles_source", "source"),
)

# External limits (2.x NotifyChargingLimit / ClearedChargingLimit), per EVSE (0: the
# station) and source.
charging_limits = sa.Table(
    "charging_limits",
    metadata,
    sa.Column("station_id", sa.String(255), _station_fk(), primary_key=True),
    sa.Column("evse_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("source", sa.String(20), primary_key=True),
    sa.Column("is_grid_critical", sa.Boolean),
    sa.Column("schedules", Json, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("cleared_at", UtcDateTime),
)

# The latest ISO 15118 charging needs and EV schedule per EVSE (2.x K15-K17).
ev_charging_needs = sa.Table(
    "ev_charging_needs",
    metadata,
    sa.Column("station_id", sa.String(255), _station_fk(), primary_key=True),
    sa.Column("evse_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("needs", Json),
    sa.Column("status", sa.String(16)),  # how Ampyre answered
    sa.Column("detail", sa.String(64)),
    sa.Column("transaction_id", sa.String(64)),
    sa.Column("received_at", UtcDateTime),
    sa.Column("schedule", Json),  # NotifyEVChargingSchedule
    sa.Column("schedule_received_at", UtcDateTime),
)
