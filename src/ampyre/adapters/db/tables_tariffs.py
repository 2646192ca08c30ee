"""Tables of issue 20: our tariffs with every version of them, and the tariffs
partners pushed to us (registered on `metadata` when imported)."""

from __future__ import annotations

import sqlalchemy as sa

from ampyre.adapters.db.tables import BigId, Json, UtcDateTime, metadata

__all__ = ["metadata", "received_tariffs", "tariff_versions", "tariffs"]

# Our tariffs as they are now: the OCPI 2.2.1 Tariff object (`body`), the stations it is
# scoped to (a JSON list; empty: not scoped) and whether it is the default. `last_updated`
# is the object's, indexed for the OCPI sender's date_from/date_to.
tariffs = sa.Table(
    "tariffs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("body", Json, nullable=False),
    sa.Column("station_ids", Json, nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_updated", UtcDateTime, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_tariffs_last_updated", "last_updated"),
)

# Every version of our tariffs, deletions included: a transaction is priced with the
# version in force when it started (the driver accepted that one; OCPI 2.2.1 mod_tariffs
# 11.3.1 note on start_date_time), however the tariff was changed since.
tariff_versions = sa.Table(
    "tariff_versions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("tariff_id", sa.String(36), nullable=False),
    sa.Column("valid_from", UtcDateTime, nullable=False),
    sa.Column("body", Json),  # null: deleted from valid_from on
    sa.Column("station_ids", Json, nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_tariff_versions_tariff_id_valid_from", "tariff_id", "valid_from"),
)

# Tariffs CPO partners pushed to us (we are their eMSP), keyed as OCPI keys them: the
# owner's country code and party id and the tariff id, all CiString (stored upper-case
# in `*_key` for the case-insensitive match; the object keeps them as sent).
received_tariffs = sa.Table(
    "received_tariffs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "partner_id",
        sa.Integer,
        sa.ForeignKey("ocpi_partners.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("country_code_key", sa.String(2), nullable=False),
    sa.Column("party_id_key", sa.String(3), nullable=False),
    sa.Column("tariff_id_key", sa.String(36), nullable=False),
    sa.Column("body", Json, nullable=False),
    sa.Column("last_updated", UtcDateTime, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("country_code_key", "party_id_key", "tariff_id_key"),
    sa.Index("ix_received_tariffs_partner_id", "partner_id"),
)
