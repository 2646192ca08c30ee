"""The built-in PKI as the services see it: the Authority port (the hierarchy as
configured) and issuing that records what it issued (`RecordingPki`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from ampyre.adapters.pki.hierarchy import (
    Issued,
    LocalPki,
    certificate_record,
    fingerprint,
    serial_hex,
)
from ampyre.adapters.pki.profiles import HIERARCHY
from ampyre.services.pki_port import CaInfo, IssuedCertificate

Record = Callable[[IssuedCertificate], Awaitable[bool]]


class LocalAuthority:
    """The Authority port over a LocalPki."""

    def __init__(self, pki: LocalPki) -> None:
        self.pki = pki

    def entries(self) -> list[CaInfo]:
        out = []
        for name, (role, parent, _) in HIERARCHY.items():
            cert = self.pki.certificate(name)
            out.append(
                CaInfo(
                    name=name,
                    role=role.value,
                    parent=parent,
                    subject=cert.subject.rfc4514_string(),
                    issuer_subject=cert.issuer.rfc4514_string(),
                    serial=serial_hex(cert.serial_number),
                    not_before=cert.not_valid_before_utc,
                    not_after=cert.not_valid_after_utc,
                    fingerprint=fingerprint(cert),
                    fingerprint_sha1=cert.fingerprint(hashes.SHA1()).hex(),
                    has_key=self.pki.has_key(name),
                    path=str(self.pki.path(name)),
                )
            )
        return out

    def own_certificates(self) -> list[IssuedCertificate]:
        out = []
        for name, (role, parent, _) in HIERARCHY.items():
            cert = self.pki.certificate(name)
            out.append(
                certificate_record(
                    cert, parent or name, role.value, issued_at=cert.not_valid_before_utc
                )
            )
        return out


class RecordingPki:
    """Issues from a LocalPki and records each certificate (PkiService.record) so the
    OCSP responder answers `good` for it. The contract provider and the local signer
    issue through it."""

    def __init__(
        self, pki: LocalPki, record: Record, ocsp_url: Callable[[], str | None] | None = None
    ) -> None:
        self.pki = pki
        self._record = record
        self._ocsp_url = ocsp_url

    def _current(self) -> LocalPki:
        """The PKI with the OCSP URL as of now (the HTTP port is known once it is bound)."""
        if self._ocsp_url is None:
            return self.pki
        return self.pki.with_ocsp_url(self._ocsp_url())

    async def _recorded(self, issued: Issued, station_id: str | None = None) -> Issued:
        await self._record(issued.to_record(station_id))
        return issued

    async def issue_station_certificate(
        self,
        station_id: str,
        organisation: str | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> Issued:
        issued = self._current().issue_station_certificate(
            station_id, organisation, not_before=not_before, not_after=not_after
        )
        return await self._recorded(issued, station_id)

    async def issue_secc_certificate(
        self, secc_id: str, organisation: str | None = None, station_id: str | None = None
    ) -> Issued:
        return await self._recorded(
            self._current().issue_secc_certificate(secc_id, organisation), station_id
        )

    async def issue_oem_provisioning_certificate(
        self, pcid: str, organisation: str | None = None
    ) -> Issued:
        return await self._recorded(
            self._current().issue_oem_provisioning_certificate(pcid, organisation)
        )

    async def issue_contract_certificate(
        self,
        emaid: str,
        public_key: CertificatePublicKeyTypes | bytes | str,
        organisation: str | None = None,
        not_after: dt.datetime | None = None,
        station_id: str | None = None,
    ) -> Issued:
        issued = self._current().issue_contract_certificate(
            emaid, public_key, organisation, not_after=not_after
        )
        return await self._recorded(issued, station_id)

    async def sign_csr(self, csr: str | bytes, use: str, station_id: str | None = None) -> Issued:
        return await self._recorded(self._current().sign_csr(csr, use), station_id)
