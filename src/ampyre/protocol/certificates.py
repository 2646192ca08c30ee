"""Certificate management over OCPP: the CertificateCommands port (blocks A and M's
CSMS -> station calls in the station's connected version, through the CommandRouter;
1.6's V2G certificates through the Plug & Charge DataTransfer) and the handlers of
SignCertificate and SecurityEventNotification for every version."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ampyre.domain.certificates import CertificateUse, HashData, SigningUse
from ampyre.domain.models import OcppVersion
from ampyre.protocol.codec import Request, ask
from ampyre.protocol.ocpp16 import certificates as c16
from ampyre.protocol.ocpp201 import certificates as c201
from ampyre.protocol.session import Handler
from ampyre.services.certificates import CertificateService
from ampyre.services.certificates_port import ReportedCertificate
from ampyre.services.commands import CommandRouter
from ampyre.services.security_events import SecurityEventService
from ampyre.services.station_port import (
    NOT_CONNECTED,
    NOT_SUPPORTED,
    Answer,
    NotAddressable,
)

_V16 = OcppVersion.V16.value
_V21 = OcppVersion.V21.value


def _lower(status: str) -> str:
    return status.lower()


class OcppCertificateCommands:
    """CertificateCommands for the stations a CommandRouter reaches."""

    def __init__(self, router: CommandRouter) -> None:
        self._router = router

    def connected_version(self, station_id: str) -> str | None:
        return self._router.ocpp_version(station_id)

    async def _send(
        self, station_id: str, request: Request, timeout: float | None
    ) -> tuple[Answer, dict[str, Any] | None]:
        answer, payload = await ask(self._router, station_id, request, timeout)
        if payload is None or request[0] != "DataTransfer":
            return answer, payload
        # 1.6 Plug & Charge: the 2.0.1 answer is inside the DataTransfer's data.
        status, inner = c16.pnc_answer(payload)
        if status != "Accepted" or inner is None:
            detail = f"the station answered the Plug & Charge DataTransfer {status or '?'}"
            return Answer(NOT_SUPPORTED, status or None, detail, answer.outcome), None
        inner_status = inner.get("status")
        if isinstance(inner_status, str):
            return Answer(_lower(inner_status), inner_status, outcome=answer.outcome), inner
        return Answer("ok", outcome=answer.outcome), inner

    async def _version_call(
        self, station_id: str, encode: Any, timeout: float | None
    ) -> tuple[Answer, dict[str, Any] | None]:
        version = self._router.ocpp_version(station_id)
        if version is None:
            return Answer(NOT_CONNECTED, detail="the station is not connected"), None
        try:
            request = encode(version)
        except NotAddressable as exc:
            return Answer(NOT_SUPPORTED, detail=str(exc)), None
        return await self._send(station_id, request, timeout)

    async def certificate_signed(
        self,
        station_id: str,
        chain: str,
        use: SigningUse | None,
        request_id: int | None,
        via_pnc: bool,
        timeout: float | None,
    ) -> Answer:
        def encode(version: str) -> Request:
            if version == _V16:
                return c16.certificate_signed(chain, SigningUse.V2G if via_pnc else use)
            return c201.certificate_signed(chain, use, request_id, version == _V21)

        answer, _ = await self._version_call(station_id, encode, timeout)
        return answer

    async def install(
        self, station_id: str, use: CertificateUse, pem: str, timeout: float | None
    ) -> Answer:
        def encode(version: str) -> Request:
            if version == _V16:
                return c16.install_certificate(use, pem)
            return c201.install_certificate(use, pem, version == _V21)

        answer, _ = await self._version_call(station_id, encode, timeout)
        return answer

    async def get_installed(
        self, station_id: str, uses: Collection[CertificateUse], timeout: float | None
    ) -> tuple[Answer, list[ReportedCertificate], frozenset[CertificateUse]]:
        version = self._router.ocpp_version(station_id)
        if version is None:
            return Answer(NOT_CONNECTED, detail="the station is not connected"), [], frozenset()
        if version != _V16:
            asked = frozenset(u for u in uses if u in c201.listable(version == _V21))
            if not asked:
                return Answer(NOT_SUPPORTED, detail="no listable certificate use"), [], frozenset()
            answer, payload = await self._send(
                station_id, c201.get_installed(asked, version == _V21), timeout
            )
            if payload is None or answer.status not in ("accepted", "notfound"):
                return answer, [], frozenset()
            return answer, c201.installed_of(payload), asked
        return await self._get_installed_16(station_id, uses, timeout)

    async def _get_installed_16(
        self, station_id: str, uses: Collection[CertificateUse], timeout: float | None
    ) -> tuple[Answer, list[ReportedCertificate], frozenset[CertificateUse]]:
        reported: list[ReportedCertificate] = []
        covered: set[CertificateUse] = set()
        first: Answer | None = None
        for use in sorted((u for u in uses if c16.native(u)), key=lambda u: u.value):
            answer, payload = await self._send(station_id, c16.get_installed(use), timeout)
            first = first if first is not None and first.answered else answer
            if payload is not None and answer.status in ("accepted", "notfound"):
                covered.add(use)
                reported.extend(c16.installed_of(use, payload))
        pnc_uses = frozenset(u for u in uses if u in c201.LISTABLE_201 and not c16.native(u))
        if pnc_uses:
            answer, payload = await self._send(station_id, c16.get_installed_pnc(pnc_uses), timeout)
            first = first if first is not None and first.answered else answer
            if payload is not None and answer.status in ("accepted", "notfound"):
                covered |= pnc_uses
                reported.extend(c201.installed_of(payload))
        if first is None:
            first = Answer(NOT_SUPPORTED, detail="no certificate use a 1.6 station can list")
        return first, reported, frozenset(covered)

    async def delete(
        self, station_id: str, use: CertificateUse, hash_data: HashData, timeout: float | None
    ) -> Answer:
        def encode(version: str) -> Request:
            if version == _V16:
                return c16.delete_certificate(use, hash_data)
            return c201.delete_certificate(hash_data)

        answer, _ = await self._version_call(station_id, encode, timeout)
        return answer

    async def trigger_sign(self, station_id: str, use: SigningUse, timeout: float | None) -> Answer:
        def encode(version: str) -> Request:
            if version == _V16:
                return c16.trigger_sign(use)
            return c201.trigger_sign(use, version == _V21)

        answer, _ = await self._version_call(station_id, encode, timeout)
        return answer

    async def extended_trigger(
        self, station_id: str, message: str, connector_id: int | None, timeout: float | None
    ) -> Answer:
        def encode(version: str) -> Request:
            if version != _V16:
                raise NotAddressable("ExtendedTriggerMessage is OCPP 1.6 (security extension)")
            return c16.extended_trigger(message, connector_id)

        answer, _ = await self._version_call(station_id, encode, timeout)
        return answer


def handlers(
    certs: CertificateService, events: SecurityEventService
) -> dict[OcppVersion, dict[str, Handler]]:
    """The certificate handlers per version (a block for build_tables)."""
    v2x = c201.handlers(certs, events)
    return {
        OcppVersion.V16: c16.handlers(certs, events),
        OcppVersion.V201: v2x,
        OcppVersion.V21: dict(v2x),
    }
