"""The built-in PKI (issue 19): CA hierarchy per ISO 15118-2 Annex F, certificate
issuing, the OCSP responder and client, certificate signers (local, EST)."""

from ampyre.adapters.pki.hierarchy import (
    CSR_USES,
    DEFAULT_ORGANISATION,
    Issued,
    LocalPki,
    PkiError,
    fingerprint,
    init_pki,
    normalise_serial,
    serial_hex,
)
from ampyre.adapters.pki.profiles import CA_NAMES, HIERARCHY, PROFILES, Role

__all__ = [
    "CA_NAMES",
    "CSR_USES",
    "DEFAULT_ORGANISATION",
    "HIERARCHY",
    "PROFILES",
    "Issued",
    "LocalPki",
    "PkiError",
    "Role",
    "fingerprint",
    "init_pki",
    "normalise_serial",
    "serial_hex",
]
