"""REST shapes of the built-in PKI (issue 19): the CA hierarchy, issued certificates,
revocation."""

from datetime import datetime

from pydantic import BaseModel, Field

from ampyre.services.pki_port import CaInfo, IssuedCertificate, RevocationReason


class CaOut(BaseModel):
    name: str = Field(description="csms-root, csms-sub, csms-server, v2g-root, cpo-sub1, ...")
    role: str
    parent: str | None = Field(description="the issuing entry; null for a root")
    subject: str
    issuer: str
    serial: str = Field(description="hexadecimal, lower case")
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    fingerprint_sha1: str
    has_key: bool = Field(description="false: only the certificate (an external CA)")
    path: str

    @classmethod
    def build(cls, c: CaInfo) -> "CaOut":
        return cls(
            name=c.name,
            role=c.role,
            parent=c.parent,
            subject=c.subject,
            issuer=c.issuer_subject,
            serial=c.serial,
            not_before=c.not_before,
            not_after=c.not_after,
            fingerprint_sha256=c.fingerprint,
            fingerprint_sha1=c.fingerprint_sha1,
            has_key=c.has_key,
            path=c.path,
        )


class PkiOut(BaseModel):
    configured: bool = Field(description="false: no PKI in AMPYRE_PKI_DIR (`ampyre pki init`)")
    directory: str
    signer: str = Field(description="who signs stations' CSRs: local or est")
    ocsp_url: str | None = Field(description="the built-in OCSP responder (POST/GET)")
    roots: list[CaOut] = Field(description="the self-signed roots")
    entries: list[CaOut] = Field(description="every entry of the hierarchy, roots first")


class CertificateOut(BaseModel):
    id: int
    serial: str = Field(description="hexadecimal, lower case, no leading zeros")
    issuer: str = Field(description="the issuing CA's name (`external`: signed by EST)")
    role: str
    subject: str
    station_id: str | None
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    issued_at: datetime
    revoked: bool
    revoked_at: datetime | None
    revocation_reason: str | None
    revoked_by: str | None
    pem: str

    @classmethod
    def build(cls, c: IssuedCertificate) -> "CertificateOut":
        return cls(
            id=c.id or 0,
            serial=c.serial,
            issuer=c.issuer,
            role=c.role,
            subject=c.subject,
            station_id=c.station_id,
            not_before=c.not_before,
            not_after=c.not_after,
            fingerprint_sha256=c.fingerprint,
            issued_at=c.issued_at,
            revoked=c.revoked_at is not None,
            revoked_at=c.revoked_at,
            revocation_reason=c.revocation_reason,
            revoked_by=c.revoked_by,
            pem=c.pem,
        )


class CertificatePage(BaseModel):
    items: list[CertificateOut]
    total: int
    limit: int
    offset: int


class RevokeIn(BaseModel):
    reason: RevocationReason = Field(RevocationReason.UNSPECIFIED, description="RFC 5280 CRLReason")
    issuer: str | None = Field(
        None,
        max_length=32,
        description="the issuing CA's name, when several CAs issued this serial",
    )
