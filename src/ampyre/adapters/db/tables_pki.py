"""Tables of issue 19: PKI (registered on `metadata` when imported).

`pki_certificates`: every certificate the built-in PKI issued (and its own CA
certificates), what the OCSP responder answers from and the dashboard lists. Serials
are hex text (up to 20 octets, beyond 64 bits); unique per issuing CA. No foreign key
to stations: the record (and its revocation) outlives a deleted station."""

from __future__ import annotations

import sqlalchemy as sa

from ampyre.adapters.db.tables import BigId, UtcDateTime, metadata

__all__ = ["pki_certificates"]

pki_certificates = sa.Table(
    "pki_certificates",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("serial", sa.String(64), nullable=False),  # lower-case hex, no leading zeros
    sa.Column("issuer", sa.String(32), nullable=False),  # CA name in the hierarchy
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("station_id", sa.String(255)),
    sa.Column("not_before", UtcDateTime, nullable=False),
    sa.Column("not_after", UtcDateTime, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),  # SHA-256 hex
    sa.Column("pem", sa.Text, nullable=False),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime),
    sa.Column("revocation_reason", sa.String(32)),
    sa.Column("revoked_by", sa.String(255)),
    sa.UniqueConstraint("issuer", "serial", name="uq_pki_certificates_issuer_serial"),
    sa.Index("ix_pki_certificates_serial", "serial"),
    sa.Index("ix_pki_certificates_role_id", "role", "id"),
)
