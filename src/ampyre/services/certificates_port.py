"""The ports of certificate management and security events (issue 19 part 3): where
requests, certificates and events are kept, how commands reach a station in its
version, and who signs a CSR."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from ampyre.domain.certificates import (
    CertificateRequest,
    CertificateUse,
    HashData,
    InstalledCertificate,
    RequestStatus,
    SecurityEvent,
    SecurityEventQuery,
    SigningUse,
)
from ampyre.domain.models import Page
from ampyre.services.pki_port import CertificateSigner, SigningRefused
from ampyre.services.station_port import Answer

__all__ = [
    "CertificateCommands",
    "CertificateSigner",
    "CertificateStore",
    "ReportedCertificate",
    "RequestUpdate",
    "SecurityEventStore",
    "SigningRefused",
]


@dataclasses.dataclass(slots=True, frozen=True)
class ReportedCertificate:
    """One entry of a GetInstalledCertificateIds answer (2.x certificateHashDataChain;
    1.6 certificateHashData). `children`: a V2G chain's sub-CA certificates."""

    use: CertificateUse
    hash_data: HashData
    children: tuple[HashData, ...] = ()


@dataclasses.dataclass(slots=True, frozen=True)
class RequestUpdate:
    status: RequestStatus
    error: str | None = None
    certificate: str | None = None
    serial_number: str | None = None
    not_after: datetime | None = None


class CertificateStore(Protocol):
    async def add_request(self, request: CertificateRequest) -> CertificateRequest: ...

    async def update_request(
        self, request_id: int, update: RequestUpdate, at: datetime
    ) -> None: ...

    async def get_request(self, request_id: int) -> CertificateRequest | None: ...

    async def fail_stale(self, before: datetime, reason: str, at: datetime) -> int:
        """Requests still signing or sent that were last updated before `before` (their
        process stopped before the end) become failed with `reason`."""
        ...

    async def list_requests(
        self, station_id: str | None, status: str | None, limit: int, offset: int
    ) -> Page: ...

    async def save_certificates(self, items: Sequence[InstalledCertificate]) -> None:
        """Insert or update by (station, hash data); known PEM/subject/expiry are kept
        when the new row has none."""
        ...

    async def replace_reported(
        self,
        station_id: str,
        uses: Collection[CertificateUse],
        items: Sequence[InstalledCertificate],
    ) -> None:
        """The station's full list of `uses`: rows of those uses not in `items` go."""
        ...

    async def delete_certificate(self, station_id: str, cert_id: int) -> bool: ...

    async def get_certificate(
        self, station_id: str, cert_id: int
    ) -> InstalledCertificate | None: ...

    async def list_certificates(
        self,
        station_id: str | None,
        expiring_before: datetime | None,
        use: str | None,
        limit: int,
        offset: int,
    ) -> Page: ...


class SecurityEventStore(Protocol):
    async def add_event(self, event: SecurityEvent) -> SecurityEvent: ...

    async def list_events(self, query: SecurityEventQuery, limit: int, offset: int) -> Page: ...

    async def prune_security_events(self, older_than: datetime) -> int:
        """Delete events received before `older_than` (retention); how many went."""
        ...


class CertificateCommands(Protocol):
    """Certificate management commands in the station's connected version (1.6: the
    security extension, its V2G uses through the Plug & Charge DataTransfer)."""

    def connected_version(self, station_id: str) -> str | None: ...

    async def certificate_signed(
        self,
        station_id: str,
        chain: str,
        use: SigningUse | None,
        request_id: int | None,
        via_pnc: bool,
        timeout: float | None,
    ) -> Answer: ...

    async def install(
        self, station_id: str, use: CertificateUse, pem: str, timeout: float | None
    ) -> Answer: ...

    async def get_installed(
        self, station_id: str, uses: Collection[CertificateUse], timeout: float | None
    ) -> tuple[Answer, list[ReportedCertificate], frozenset[CertificateUse]]:
        """The answer, the certificates reported and the uses the listing covered
        (uses the station could not be asked about are left out)."""
        ...

    async def delete(
        self, station_id: str, use: CertificateUse, hash_data: HashData, timeout: float | None
    ) -> Answer: ...

    async def trigger_sign(
        self, station_id: str, use: SigningUse, timeout: float | None
    ) -> Answer: ...

    async def extended_trigger(
        self, station_id: str, message: str, connector_id: int | None, timeout: float | None
    ) -> Answer: ...
