"""The PKI service (issue 19): the built-in CA hierarchy as configured, the registry of
issued certificates, revocation (which the OCSP responder then reports) and the
responder's status lookups.

Issuing itself is the adapter's (adapters/pki: pure, no database); whatever it issues
is recorded here (`record`) so the OCSP responder answers `good` for it. Certificates
never recorded are `unknown` to the responder (RFC 6960 2.2)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime

from ampyre.domain.models import Page
from ampyre.services.clock import utcnow
from ampyre.services.pki_port import (
    Authority,
    CaInfo,
    CertificateFilter,
    CertStatus,
    IssuedCertificate,
    OcspClient,
    OcspResponder,
    OcspStatus,
    PkiStore,
    Recordable,
    RevocationReason,
)

log = logging.getLogger(__name__)

_SERIAL_MAX = 64


class PkiNotConfigured(Exception):
    """No initialised PKI (run `ampyre pki init`)."""


class CertificateNotFound(KeyError):
    pass


class RevocationConflict(Exception):
    """Already revoked, or the serial names certificates of several CAs."""


def clean_serial(text: str) -> str:
    """`0x00AB:CD` -> `abcd`; ValueError for what is not a hexadecimal serial."""
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "")
    if (
        not cleaned
        or len(cleaned) > _SERIAL_MAX
        or any(c not in "0123456789abcdef" for c in cleaned)
    ):
        raise ValueError(f"not a hexadecimal certificate serial: {text[:80]!r}")
    return cleaned.lstrip("0") or "0"


class PkiService:
    def __init__(
        self,
        store: PkiStore,
        authority: Authority | None,
        ocsp_client: OcspClient | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._authority = authority
        self._ocsp_client = ocsp_client
        self._clock = clock
        # Set by the composition once built (the responder asks this service), and the
        # responder's public URL.
        self.responder: OcspResponder | None = None
        self.ocsp_url: Callable[[], str] | None = None

    @property
    def configured(self) -> bool:
        return self._authority is not None

    def hierarchy(self) -> list[CaInfo]:
        return [] if self._authority is None else self._authority.entries()

    async def sync_hierarchy(self) -> int:
        """Record the hierarchy's own certificates (so the responder answers for the
        sub-CAs too); the number newly recorded."""
        if self._authority is None:
            return 0
        added = 0
        for cert in self._authority.own_certificates():
            if await self._store.record_certificate(cert):
                added += 1
        if added:
            log.info("pki: recorded %d certificates of the CA hierarchy", added)
        return added

    async def record(
        self, cert: IssuedCertificate | Recordable, station_id: str | None = None
    ) -> bool:
        """Record an issued certificate (a registry row, or what the PKI adapter issued:
        `record(issued, station_id)`); idempotent per issuer and serial. False: recorded
        already."""
        if not isinstance(cert, IssuedCertificate):
            cert = cert.to_record(station_id)
        elif station_id is not None and cert.station_id is None:
            cert = dataclasses.replace(cert, station_id=station_id)
        return await self._store.record_certificate(cert)

    async def certificates(
        self, where: CertificateFilter, limit: int = 50, offset: int = 0
    ) -> Page:
        return await self._store.list_certificates(where, limit, offset)

    async def status(self, issuer: str, serial: str) -> CertStatus:
        """What the registry says of (issuing CA, serial)."""
        found = await self._store.find_certificate(issuer, serial)
        if found is None:
            return CertStatus(OcspStatus.UNKNOWN)
        if found.revoked_at is not None:
            return CertStatus(OcspStatus.REVOKED, found.revoked_at, found.revocation_reason)
        return CertStatus(OcspStatus.GOOD)

    async def revoke(
        self,
        serial: str,
        reason: RevocationReason = RevocationReason.UNSPECIFIED,
        by: str | None = None,
        issuer: str | None = None,
    ) -> IssuedCertificate:
        """Revoke a recorded certificate; from then on the responder says `revoked`.
        CertificateNotFound, RevocationConflict (already revoked; several CAs issued
        this serial and `issuer` does not say which), ValueError (malformed serial)."""
        serial = clean_serial(serial)
        found = await self._store.certificates_by_serial(serial)
        if issuer is not None:
            found = [c for c in found if c.issuer == issuer]
        if not found:
            raise CertificateNotFound(serial)
        if len(found) > 1:
            raise RevocationConflict(
                f"serial {serial} was issued by {', '.join(c.issuer for c in found)}: "
                "say which issuer"
            )
        cert = found[0]
        if cert.revoked_at is not None:
            raise RevocationConflict(f"certificate {serial} is revoked already")
        assert cert.id is not None
        revoked = await self._store.revoke_certificate(
            cert.id, self._clock(), RevocationReason(reason).value, by
        )
        if revoked is None:
            raise CertificateNotFound(serial)
        if self._ocsp_client is not None:
            self._ocsp_client.forget(serial)  # our own cached `good` is stale now
        log.warning(
            "pki: certificate %s (%s, %s) revoked by %s: %s",
            serial,
            revoked.role,
            revoked.subject,
            by or "-",
            reason,
        )
        return revoked

    async def ocsp_respond(self, request_der: bytes) -> bytes:
        if self.responder is None:
            raise PkiNotConfigured("no initialised PKI: run `ampyre pki init`")
        return await self.responder.respond(request_der)
