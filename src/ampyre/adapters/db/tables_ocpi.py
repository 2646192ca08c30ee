"""Tables of issue 20: OCPI partners with their credentials tokens, the exchange log
and the push queue (registered on `metadata` when imported)."""

from __future__ import annotations

import sqlalchemy as sa

from ampyre.adapters.db.tables import BigId, Json, UtcDateTime, metadata

__all__ = ["metadata", "ocpi_exchanges", "ocpi_partners", "ocpi_push_queue"]

# The platforms Ampyre roams with. Tokens they present to us are kept as SHA-256 hashes
# (token_in_hash: current; token_in_next_hash: one being handed over during a handshake or
# a credentials update, valid for versions/details/credentials until it becomes current);
# the token we present to them (token_out) is kept as given: we must send it.
ocpi_partners = sa.Table(
    "ocpi_partners",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # PartnerStatus
    sa.Column("versions_url", sa.String(255)),
    sa.Column("version", sa.String(16)),
    sa.Column("endpoints", Json, nullable=False),  # [{identifier, role, url}]
    sa.Column("roles", Json, nullable=False),  # [{role, country_code, party_id, name, website}]
    sa.Column("token_in_hash", sa.String(64)),
    sa.Column("token_in_next_hash", sa.String(64)),
    sa.Column("token_out", sa.String(255)),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("registered_at", UtcDateTime),
    sa.Index("ix_ocpi_partners_token_in_hash", "token_in_hash", unique=True),
    sa.Index("ix_ocpi_partners_token_in_next_hash", "token_in_next_hash", unique=True),
)

# Every OCPI request we made and every request a known partner made to us, with the
# answer (bodies clipped, credentials tokens masked). Pruned after
# ocpi_exchange_retention_days. No foreign key: the history outlives a deleted partner.
ocpi_exchanges = sa.Table(
    "ocpi_exchanges",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("partner_id", sa.Integer),
    sa.Column("direction", sa.String(3), nullable=False),  # out | in
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("status_code", sa.Integer),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("request_id", sa.String(64)),
    sa.Column("correlation_id", sa.String(64)),
    sa.Column("request_body", sa.Text),
    sa.Column("response_body", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_ocpi_exchanges_partner_id_id", "partner_id", "id"),
    sa.Index("ix_ocpi_exchanges_created_at", "created_at"),
)

# Requests waiting to be pushed to a partner, in order per (partner, object_key); a row
# is deleted once delivered, kept as failed when its attempts are exhausted. A row is
# sent only under a claim (claimed_by / claimed_until), so several processes share them.
ocpi_push_queue = sa.Table(
    "ocpi_push_queue",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "partner_id",
        sa.Integer,
        sa.ForeignKey("ocpi_partners.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("body", Json),
    sa.Column("object_key", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # PushStatus
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("last_http_status", sa.Integer),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("claimed_until", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_ocpi_push_queue_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_ocpi_push_queue_partner_id_object_key_id", "partner_id", "object_key", "id"),
)
