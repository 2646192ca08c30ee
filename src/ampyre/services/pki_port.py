"""Ports of the PKI (issue 19): the registry of issued certificates, certificate
signers (the built-in CA, an EST server), the OCSP responder and the OCSP client.
Plain values only: certificates travel as PEM text, OCSP messages as DER bytes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from ampyre.domain.models import Page


class SigningRefused(Exception):
    """A signer would not (or could not) sign a CSR; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RevocationReason(StrEnum):
    """RFC 5280 5.3.1 CRLReason (the ones an operator may give)."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "keyCompromise"
    CA_COMPROMISE = "cACompromise"
    AFFILIATION_CHANGED = "affiliationChanged"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn"


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate the PKI issued (or one of its own CA certificates). `serial` is
    lower-case hex without leading zeros (serials exceed 64 bits); `issuer` the name of
    the issuing CA in the hierarchy (`csms-sub`, `mo-sub2`, ...; the root's own name for a
    self-signed root); `role` what it is for (adapters/pki/profiles.py Role)."""

    serial: str
    issuer: str
    role: str
    subject: str
    not_before: datetime
    not_after: datetime
    fingerprint: str  # SHA-256 of the DER, hex
    pem: str
    issued_at: datetime
    station_id: str | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    revoked_by: str | None = None
    id: int | None = None


class Recordable(Protocol):
    """What the PKI adapter issued (adapters/pki `Issued`): gives its registry row."""

    def to_record(self, station_id: str | None = None) -> IssuedCertificate: ...


@dataclass(frozen=True, slots=True)
class CertificateFilter:
    role: str | None = None
    subject: str | None = None  # substring, case-insensitive
    revoked: bool | None = None
    issuer: str | None = None
    station_id: str | None = None
    serial: str | None = None


class PkiStore(Protocol):
    async def record_certificate(self, cert: IssuedCertificate) -> bool:
        """Insert; False when (issuer, serial) is recorded already (kept as it is)."""
        ...

    async def find_certificate(self, issuer: str, serial: str) -> IssuedCertificate | None: ...

    async def certificates_by_serial(self, serial: str) -> list[IssuedCertificate]: ...

    async def list_certificates(
        self, where: CertificateFilter, limit: int, offset: int
    ) -> Page: ...

    async def revoke_certificate(
        self, cert_id: int, at: datetime, reason: str, by: str | None
    ) -> IssuedCertificate | None:
        """Mark revoked unless it is already; the row as it is afterwards (None: gone)."""
        ...


@dataclass(frozen=True, slots=True)
class CaInfo:
    """One entry of the CA hierarchy as configured (GET /api/v1/pki)."""

    name: str
    role: str
    parent: str | None
    subject: str
    issuer_subject: str
    serial: str
    not_before: datetime
    not_after: datetime
    fingerprint: str  # SHA-256 hex
    fingerprint_sha1: str
    has_key: bool  # False: an external CA's certificate only (cannot sign here)
    path: str


class Authority(Protocol):
    """The built-in CA hierarchy as the service sees it."""

    def entries(self) -> list[CaInfo]: ...

    def own_certificates(self) -> list[IssuedCertificate]:
        """The hierarchy's certificates (CAs, csms-server, cps-leaf) as registry rows."""
        ...


class CertificateSigner(Protocol):
    """Signs a station's CSR (OCPP SignCertificate). `use`: ChargingStationCertificate |
    V2GCertificate. Returns the PEM chain (leaf first, then sub-CAs, no root) for
    CertificateSigned; raises SigningRefused."""

    async def sign(self, csr_pem: str, use: str, station_id: str) -> str: ...


class OcspStatus(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    FAILED = "failed"  # no usable answer (unreachable, malformed, unsuccessful, bad signature)


@dataclass(frozen=True, slots=True)
class CertStatus:
    """What the registry says of one certificate, for the OCSP responder."""

    status: OcspStatus
    revoked_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class OcspRequestData:
    """One certificate to ask about (OCPP OCSPRequestDataType): hashes as hex, the
    serial as hex, the algorithm SHA256 | SHA384 | SHA512 (SHA1 too), and the URL of the
    responder."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    responder_url: str


@dataclass(frozen=True, slots=True)
class OcspAnswer:
    """A responder's answer: `der` the complete OCSPResponse (empty when FAILED),
    `error` why it FAILED."""

    status: OcspStatus
    der: bytes = b""
    this_update: datetime | None = None
    next_update: datetime | None = None
    revoked_at: datetime | None = None
    error: str | None = None


class OcspClient(Protocol):
    async def status(self, request: OcspRequestData, issuer_pem: str | None = None) -> OcspAnswer:
        """Ask `request.responder_url` (cached until the answer's nextUpdate). With
        `issuer_pem`, the response's signature must verify against that issuer (or a
        responder certificate it issued for OCSP signing), else FAILED."""
        ...

    def forget(self, serial: str | None = None) -> None:
        """Drop cached answers (of one serial, or all)."""
        ...


class OcspResponder(Protocol):
    async def respond(self, request_der: bytes) -> bytes:
        """An RFC 6960 OCSPResponse (DER) for a DER OCSPRequest; never raises for bad
        input (malformedRequest)."""
        ...
