"""Tables of issue 19: Plug and Charge (registered on `metadata` when imported)."""

from __future__ import annotations

import sqlalchemy as sa

from ampyre.adapters.db.tables import BigId, UtcDateTime, metadata

__all__ = ["contract_certificates", "metadata"]

# Contract certificates Ampyre issued through a provider (Get15118EVCertificate) or a
# station presented for central validation (Authorize with `certificate`), one row per
# certificate (SHA-256 fingerprint of the DER). The station is not a foreign key: the
# record of a contract outlives a deleted station.
contract_certificates = sa.Table(
    "contract_certificates",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("emaid", sa.String(255), nullable=False),
    sa.Column("serial_number", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(1000), nullable=False),
    sa.Column("issuer", sa.String(1000), nullable=False),
    sa.Column("not_before", UtcDateTime, nullable=False),
    sa.Column("not_after", UtcDateTime, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # ContractSource
    sa.Column("provider", sa.String(32)),
    sa.Column("station_id", sa.String(255)),
    sa.Column("last_status", sa.String(32)),  # CertificateStatus last answered
    sa.Column("last_checked_at", UtcDateTime),
    sa.Column("pem", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("fingerprint", name="uq_contract_certificates_fingerprint"),
    sa.Index("ix_contract_certificates_emaid", "emaid"),
    sa.Index("ix_contract_certificates_serial_number", "serial_number"),
)
