"""Issue 19 tables: certificate management and security events, on the shared
metadata of adapters/db/tables.py (which imports this module at its end)."""

from __future__ import annotations

import sqlalchemy as sa

from ampyre.adapters.db.tables import BigId, UtcDateTime, metadata

__all__ = ["certificate_requests", "installed_certificates", "security_events"]


def _station_fk() -> sa.ForeignKey:
    return sa.ForeignKey("stations.id", ondelete="CASCADE")


# The certificates Ampyre knows each station holds (reported by GetInstalledCertificateIds,
# installed with InstallCertificate, or signed for it). One row per station, use and
# certificate hash data (hashes lower case, serial without leading zeroes).
installed_certificates = sa.Table(
    "installed_certificates",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("use", sa.String(40), nullable=False),  # CertificateUse
    sa.Column("hash_algorithm", sa.String(8), nullable=False),
    sa.Column("issuer_name_hash", sa.String(128), nullable=False),
    sa.Column("issuer_key_hash", sa.String(128), nullable=False),
    sa.Column("serial_number", sa.String(40), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # reported / installed / signed
    sa.Column("subject", sa.String(500)),
    sa.Column("issuer", sa.String(500)),
    sa.Column("not_after", UtcDateTime),
    sa.Column("pem", sa.Text),
    sa.Column("child_of_serial", sa.String(40)),  # V2G chain: the leaf this sub-CA is of
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint(
        "station_id",
        "use",
        "hash_algorithm",
        "issuer_name_hash",
        "issuer_key_hash",
        "serial_number",
        name="uq_installed_certificates_hash",
    ),
    sa.Index("ix_installed_certificates_not_after", "not_after"),
)

# Each SignCertificate and what became of it.
certificate_requests = sa.Table(
    "certificate_requests",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("use", sa.String(40)),  # SigningUse; NULL: both (2.x without type)
    sa.Column("status", sa.String(20), nullable=False),  # RequestStatus
    sa.Column("csr", sa.Text, nullable=False),
    sa.Column("error", sa.String(500)),
    sa.Column("subject", sa.String(500)),
    sa.Column("certificate", sa.Text),
    sa.Column("serial_number", sa.String(40)),
    sa.Column("not_after", UtcDateTime),
    sa.Column("request_id", sa.Integer),
    sa.Column("via", sa.String(8), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_certificate_requests_station_id_id", "station_id", "id"),
    sa.Index("ix_certificate_requests_status", "status"),
)

# SecurityEventNotification (source station) and events the CSMS saw (source csms).
security_events = sa.Table(
    "security_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("type", sa.String(50), nullable=False),
    sa.Column("timestamp", UtcDateTime, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("source", sa.String(8), nullable=False),
    sa.Column("tech_info", sa.String(255)),
    sa.Column("critical", sa.Boolean, nullable=False),
    sa.Index("ix_security_events_station_id_id", "station_id", "id"),
    sa.Index("ix_security_events_received_at", "received_at"),
)
