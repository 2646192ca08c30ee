"""Tables of issue 20: OCPI sessions and CDRs (registered on `metadata` when imported).

Both tables hold our own objects (side "ours": Ampyre as CPO) and those partners sent us
(side "received": Ampyre as eMSP). The OCPI object itself is kept as JSON text exactly as
built or received (`body`); the other columns are copies for filtering and listing.
Partners are not foreign keys: a session or CDR outlives a deleted partner.
"""

from __future__ import annotations

import sqlalchemy as sa

from ampyre.adapters.db.tables import BigId, UtcDateTime, metadata

__all__ = ["metadata", "ocpi_cdrs", "ocpi_sessions"]

# OCPI 2.2.1 mod_sessions: a Session is unique per (country_code, party_id, id) of the
# CPO that owns it; ours have one row per roaming transaction (`transaction_pk`).
ocpi_sessions = sa.Table(
    "ocpi_sessions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("side", sa.String(8), nullable=False),  # "ours" | "received"
    sa.Column("country_code", sa.String(2), nullable=False),
    sa.Column("party_id", sa.String(3), nullable=False),
    sa.Column("session_id", sa.String(36), nullable=False),
    sa.Column("transaction_pk", BigId),  # ours: Ampyre's transaction
    sa.Column("partner_id", BigId),  # ours: the token owner's partner; received: sender
    sa.Column("token_uid", sa.String(36)),
    sa.Column("token_country_code", sa.String(2)),
    sa.Column("token_party_id", sa.String(3)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("kwh", sa.String(32), nullable=False),  # Decimal as text
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("total_cost_excl", sa.String(32)),  # Decimal as text; None: not priced
    sa.Column("total_cost_incl", sa.String(32)),
    sa.Column("start_date_time", UtcDateTime, nullable=False),
    sa.Column("end_date_time", UtcDateTime),
    sa.Column("last_updated", UtcDateTime, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the OCPI Session object, JSON
    # Ours: when the last push was queued, how many charging periods it carried, and
    # whether a later change still waits for the next push (throttled PATCH).
    sa.Column("pushed_at", UtcDateTime),
    sa.Column("pushed_periods", sa.Integer, nullable=False, server_default="0"),
    sa.Column("dirty", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint(
        "side", "country_code", "party_id", "session_id", name="uq_ocpi_sessions_key"
    ),
    sa.UniqueConstraint("transaction_pk", name="uq_ocpi_sessions_transaction_pk"),
    sa.Index("ix_ocpi_sessions_side_last_updated", "side", "last_updated"),
    sa.Index("ix_ocpi_sessions_token_party", "token_country_code", "token_party_id"),
    sa.Index("ix_ocpi_sessions_dirty", "dirty"),
)

# OCPI 2.2.1 mod_cdrs: a CDR id is unique per (country_code, party_id); CDRs are never
# changed once made (a correction is a credit CDR, then a new CDR).
ocpi_cdrs = sa.Table(
    "ocpi_cdrs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("side", sa.String(8), nullable=False),  # "ours" | "received"
    sa.Column("country_code", sa.String(2), nullable=False),
    sa.Column("party_id", sa.String(3), nullable=False),
    sa.Column("cdr_id", sa.String(39), nullable=False),
    sa.Column("transaction_pk", BigId),  # ours: Ampyre's transaction
    sa.Column("session_id", sa.String(36)),
    sa.Column("partner_id", BigId),  # ours: pushed to; received: sent by
    sa.Column("token_uid", sa.String(36), nullable=False),
    sa.Column("token_country_code", sa.String(2), nullable=False),
    sa.Column("token_party_id", sa.String(3), nullable=False),
    sa.Column("credit", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("credit_reference_id", sa.String(39)),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("total_cost_excl", sa.String(32), nullable=False),  # Decimal as text
    sa.Column("total_cost_incl", sa.String(32)),
    sa.Column("total_energy", sa.String(32), nullable=False),
    sa.Column("total_time", sa.String(32), nullable=False),
    sa.Column("start_date_time", UtcDateTime, nullable=False),
    sa.Column("end_date_time", UtcDateTime, nullable=False),
    sa.Column("last_updated", UtcDateTime, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the OCPI CDR object, JSON
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("side", "country_code", "party_id", "cdr_id", name="uq_ocpi_cdrs_key"),
    sa.Index("ix_ocpi_cdrs_side_last_updated", "side", "last_updated"),
    sa.Index("ix_ocpi_cdrs_transaction_pk", "transaction_pk"),
    sa.Index("ix_ocpi_cdrs_token_party", "token_country_code", "token_party_id"),
    sa.Index("ix_ocpi_cdrs_credit_reference_id", "credit_reference_id"),
)
