"""Fakes of certificate management (issue 19 part 3): an in-memory store, recording
commands and alerts, a CA that signs CSRs (EC P-256, made in the test)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ampyre.domain.alerts import Sighting
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
from ampyre.domain.models import Page, StationReport
from ampyre.services.certificates_port import ReportedCertificate, RequestUpdate, SigningRefused
from ampyre.services.station_port import Answer

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


class MemoryCertificates:
    def __init__(self) -> None:
        self.requests: dict[int, CertificateRequest] = {}
        self.certs: dict[int, InstalledCertificate] = {}
        self.events: list[SecurityEvent] = []
        self.stations = {"CS-1"}

    async def add_request(self, request: CertificateRequest) -> CertificateRequest:
        request.id = len(self.requests) + 1
        self.requests[request.id] = dataclasses.replace(request)
        return request

    async def update_request(self, request_id: int, update: RequestUpdate, at: dt.datetime) -> None:
        r = self.requests[request_id]
        r.status, r.updated_at = update.status, at
        for name in ("error", "certificate", "serial_number", "not_after"):
            if getattr(update, name) is not None:
                setattr(r, name, getattr(update, name))

    async def fail_stale(self, before: dt.datetime, reason: str, at: dt.datetime) -> int:
        stale = [
            r
            for r in self.requests.values()
            if r.status in (RequestStatus.SIGNING, RequestStatus.SENT) and r.updated_at < before
        ]
        for r in stale:
            r.status, r.error, r.updated_at = RequestStatus.FAILED, reason, at
        return len(stale)

    async def get_request(self, request_id: int) -> CertificateRequest | None:
        return self.requests.get(request_id)

    async def list_requests(
        self, station_id: str | None, status: str | None, limit: int, offset: int
    ) -> Page:
        items = [r for r in self.requests.values() if status in (None, r.status.value)]
        return Page(items=items, total=len(items), limit=limit, offset=offset)

    def _find(self, station_id: str, use: CertificateUse, h: HashData) -> int | None:
        for cid, c in self.certs.items():
            if c.station_id == station_id and c.use is use and c.hash_data.key() == h.key():
                return cid
        return None

    async def save_certificates(self, items: Sequence[InstalledCertificate]) -> None:
        for item in items:
            cid = self._find(item.station_id, item.use, item.hash_data) or len(self.certs) + 100
            item.id = cid
            self.certs[cid] = item

    async def replace_reported(
        self,
        station_id: str,
        uses: Collection[CertificateUse],
        items: Sequence[InstalledCertificate],
    ) -> None:
        keep = {(i.use, i.hash_data.key()) for i in items}
        for cid, c in list(self.certs.items()):
            mine = c.station_id == station_id and c.use in uses
            if mine and (c.use, c.hash_data.key()) not in keep:
                del self.certs[cid]
        for item in items:
            if self._find(station_id, item.use, item.hash_data) is None:
                await self.save_certificates([item])

    async def delete_certificate(self, station_id: str, cert_id: int) -> bool:
        return self.certs.pop(cert_id, None) is not None

    async def get_certificate(self, station_id: str, cert_id: int) -> InstalledCertificate | None:
        return self.certs.get(cert_id)

    async def list_certificates(
        self,
        station_id: str | None,
        expiring_before: dt.datetime | None,
        use: str | None,
        limit: int,
        offset: int,
    ) -> Page:
        items = [
            c
            for c in self.certs.values()
            if expiring_before is None
            or (c.not_after is not None and c.not_after < expiring_before)
        ]
        return Page(
            items=items[offset : offset + limit], total=len(items), limit=limit, offset=offset
        )

    async def add_event(self, event: SecurityEvent) -> SecurityEvent:
        if event.station_id not in self.stations:
            raise LookupError(event.station_id)
        event.id = len(self.events) + 1
        self.events.append(event)
        return event

    async def prune_security_events(self, older_than: dt.datetime) -> int:
        kept = [e for e in self.events if e.received_at >= older_than]
        gone, self.events = len(self.events) - len(kept), kept
        return gone

    async def list_events(self, query: SecurityEventQuery, limit: int, offset: int) -> Page:
        return Page(items=list(self.events), total=len(self.events), limit=limit, offset=offset)


@dataclasses.dataclass
class FakeCommands:
    signed_answer: str = "Accepted"
    calls: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    reported: list[ReportedCertificate] = dataclasses.field(default_factory=list)

    def connected_version(self, station_id: str) -> str | None:
        return "2.0.1"

    async def certificate_signed(
        self, station_id: str, chain: str, use: Any, request_id: Any, via_pnc: bool, timeout: Any
    ) -> Answer:
        self.calls.append(("CertificateSigned", (chain, use, request_id, via_pnc)))
        return Answer(self.signed_answer.lower(), self.signed_answer)

    async def install(self, station_id: str, use: CertificateUse, pem: str, timeout: Any) -> Answer:
        self.calls.append(("InstallCertificate", use))
        return Answer("accepted", "Accepted")

    async def get_installed(
        self, station_id: str, uses: Any, timeout: Any
    ) -> tuple[Answer, list[ReportedCertificate], frozenset[CertificateUse]]:
        self.calls.append(("GetInstalledCertificateIds", uses))
        return Answer("accepted", "Accepted"), self.reported, frozenset(uses)

    async def delete(
        self, station_id: str, use: CertificateUse, hash_data: HashData, timeout: Any
    ) -> Answer:
        self.calls.append(("DeleteCertificate", hash_data))
        return Answer("accepted", "Accepted")

    async def trigger_sign(self, station_id: str, use: SigningUse, timeout: Any) -> Answer:
        self.calls.append(("TriggerMessage", use))
        return Answer("accepted", "Accepted")

    async def extended_trigger(
        self, station_id: str, message: str, connector_id: Any, timeout: Any
    ) -> Answer:
        self.calls.append(("ExtendedTriggerMessage", message))
        return Answer("accepted", "Accepted")


class FakeAlerts:
    def __init__(self) -> None:
        self.sightings: list[Sighting] = []
        self.reports: list[StationReport] = []

    async def raise_alerts(self, sightings: Sequence[Sighting]) -> None:
        self.sightings.extend(sightings)

    async def record_event(self, report: StationReport, sightings: Sequence[Sighting]) -> None:
        self.reports.append(report)
        self.sightings.extend(sightings)


def make_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


class FakeSigner:
    def __init__(self, days: int = 365, refuse: str | None = None) -> None:
        self.key, self.ca = make_ca()
        self.days = days
        self.refuse = refuse

    async def sign(self, csr_pem: str, use: str, station_id: str) -> str:
        if self.refuse:
            raise SigningRefused(self.refuse)
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.ca.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=self.days))
            .sign(self.key, hashes.SHA256())
        )
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in (cert, self.ca))
