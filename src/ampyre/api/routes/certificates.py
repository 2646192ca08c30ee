"""Certificates per station and across the fleet, CSR records, security events and the
1.6 ExtendedTriggerMessage (issue 19 part 3)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from ampyre.api.auth import Auth
from ampyre.api.command_errors import check_answer
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT64_MAX, Limit, Offset, problems
from ampyre.api.routes.stations import StationId
from ampyre.api.schemas_certificates import (
    CertificateOut,
    CertificatePage,
    CommandOut,
    ExtendedTriggerIn,
    InstallIn,
    RefreshOut,
    RenewIn,
    RequestOut,
    RequestPage,
    SecurityEventOut,
    SecurityEventPage,
    TimeoutIn,
)
from ampyre.domain.certificates import CertificateUse, SecurityEventQuery, SigningUse
from ampyre.domain.models import Page, Role
from ampyre.services.certificates import (
    CertificateError,
    CertificateNotFound,
    CertificateService,
)
from ampyre.services.security_events import SecurityEventService
from ampyre.services.station_port import NOT_SUPPORTED, Answer

CertificateId = Annotated[int, Path(ge=1, le=INT64_MAX)]
RequestStatusQuery = Literal[
    "rejected", "signing", "sent", "installed", "station_rejected", "failed"
]
UseQuery = Literal[
    "CSMSRootCertificate",
    "ManufacturerRootCertificate",
    "V2GRootCertificate",
    "MORootCertificate",
    "OEMRootCertificate",
    "V2GCertificateChain",
    "ChargingStationCertificate",
]
# Up to ten years ahead; beyond is no filter anyone needs (and overflows dates).
ExpiringDays = Annotated[
    float | None,
    Query(ge=0, le=3650, description="only certificates that expire within this many days"),
]


def certificate_service(deps: ApiDeps) -> CertificateService:
    if deps.certificates is None:
        raise ApiProblem(503, "certificate management is not available")
    return deps.certificates


def events_service(deps: ApiDeps) -> SecurityEventService:
    if deps.security_events is None:
        raise ApiProblem(503, "security events are not available")
    return deps.security_events


def _command(station_id: str, action: str, answer: Answer, wait: float | None) -> CommandOut:
    check_answer(station_id, action, answer, wait)
    if answer.status == NOT_SUPPORTED:
        raise ApiProblem(
            422,
            answer.detail or f"station {station_id!r} cannot do {action}",
            slug="not-in-version",
            title="Not possible for the station",
        )
    return CommandOut(status=answer.status, response=answer.response, detail=answer.detail)


def _certificates(page: Page, now: datetime) -> CertificatePage:
    return CertificatePage(
        items=[CertificateOut.of(c, now) for c in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


def certificates_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["certificates"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]

    def wait_of(timeout: float | None) -> float:
        return timeout if timeout is not None else deps.settings.call_timeout

    @router.get(
        "/stations/{station_id}/certificates", dependencies=viewer, responses=problems(404, 503)
    )
    async def station_certificates(
        station_id: StationId, limit: Limit = 100, offset: Offset = 0, use: UseQuery | None = None
    ) -> CertificatePage:
        """The certificates Ampyre knows the station holds (hash data always; subject
        and expiry when Ampyre installed or signed the certificate)."""
        svc = certificate_service(deps)
        await deps.stations.require(station_id)
        page = await svc.certificates(station_id, None, use, limit, offset)
        return _certificates(page, svc.now())

    @router.post(
        "/stations/{station_id}/certificates/refresh",
        dependencies=operator,
        responses=problems(404, 409, 422, 502, 503, 504),
    )
    async def refresh(station_id: StationId, body: TimeoutIn | None = None) -> RefreshOut:
        """GetInstalledCertificateIds for every certificate use the station's version
        can list (1.6: the security extension's two, the V2G ones through the Plug &
        Charge DataTransfer); Ampyre's list of those uses is replaced by the answer."""
        svc = certificate_service(deps)
        await deps.stations.require(station_id)
        wait = wait_of(body.timeout if body else None)
        answer, reported = await svc.refresh(station_id, timeout=wait)
        out = _command(station_id, "GetInstalledCertificateIds", answer, wait)
        page = await svc.certificates(station_id, None, None, 500, 0)
        return RefreshOut(
            status=out.status,
            response=out.response,
            detail=out.detail,
            reported=reported,
            items=[CertificateOut.of(c, svc.now()) for c in page.items],
        )

    @router.post(
        "/stations/{station_id}/certificates",
        dependencies=operator,
        responses=problems(404, 409, 422, 502, 503, 504),
    )
    async def install(station_id: StationId, body: InstallIn) -> CommandOut:
        """InstallCertificate of a root certificate; kept as installed when Accepted."""
        svc = certificate_service(deps)
        await deps.stations.require(station_id)
        wait = wait_of(body.timeout)
        try:
            answer = await svc.install(station_id, CertificateUse(body.use), body.certificate, wait)
        except CertificateError as exc:
            raise ApiProblem(422, str(exc), slug="invalid-certificate") from None
        return _command(station_id, "InstallCertificate", answer, wait)

    @router.delete(
        "/stations/{station_id}/certificates/{certificate_id}",
        dependencies=operator,
        responses=problems(404, 409, 422, 502, 503, 504),
    )
    async def delete(
        station_id: StationId,
        certificate_id: CertificateId,
        timeout: Annotated[float | None, Query(gt=0, le=300)] = None,
    ) -> CommandOut:
        """DeleteCertificate by the certificate's hash data; the row goes when the
        station answers Accepted or NotFound."""
        svc = certificate_service(deps)
        await deps.stations.require(station_id)
        wait = wait_of(timeout)
        try:
            answer = await svc.delete(station_id, certificate_id, wait)
        except CertificateNotFound as exc:
            raise ApiProblem(404, str(exc), slug="certificate-not-found") from None
        return _command(station_id, "DeleteCertificate", answer, wait)

    @router.post(
        "/stations/{station_id}/certificates/renew",
        dependencies=operator,
        responses=problems(404, 409, 422, 502, 503, 504),
    )
    async def renew(station_id: StationId, body: RenewIn | None = None) -> CommandOut:
        """Ask the station for a new CSR: TriggerMessage SignChargingStationCertificate /
        SignV2GCertificate (1.6: ExtendedTriggerMessage SignChargePointCertificate, or
        the Plug & Charge DataTransfer for V2G)."""
        svc = certificate_service(deps)
        await deps.stations.require(station_id)
        body = body or RenewIn()
        wait = wait_of(body.timeout)
        answer = await svc.renew(station_id, SigningUse(body.use), wait)
        return _command(station_id, "TriggerMessage", answer, wait)

    @router.post(
        "/stations/{station_id}/extended-trigger",
        dependencies=operator,
        responses=problems(404, 409, 422, 502, 503, 504),
    )
    async def extended_trigger(station_id: StationId, body: ExtendedTriggerIn) -> CommandOut:
        """1.6 security extension ExtendedTriggerMessage (any of its requested messages)."""
        svc = certificate_service(deps)
        await deps.stations.require(station_id)
        wait = wait_of(body.timeout)
        answer = await svc.extended_trigger(
            station_id, body.requested_message, body.connector_id, wait
        )
        return _command(station_id, "ExtendedTriggerMessage", answer, wait)

    @router.get("/certificates", dependencies=viewer, responses=problems(503))
    async def all_certificates(
        limit: Limit = 100,
        offset: Offset = 0,
        station_id: Annotated[str | None, Query(max_length=48)] = None,
        expiring_within_days: ExpiringDays = None,
        use: UseQuery | None = None,
    ) -> CertificatePage:
        """Every station's known certificates; `expiring_within_days` keeps those with
        a known expiry before then (expired ones included), soonest first."""
        svc = certificate_service(deps)
        now = svc.now()
        before = (
            None if expiring_within_days is None else now + timedelta(days=expiring_within_days)
        )
        page = await svc.certificates(station_id, before, use, limit, offset)
        return _certificates(page, now)

    @router.get("/certificate-requests", dependencies=viewer, responses=problems(503))
    async def requests(
        limit: Limit = 100,
        offset: Offset = 0,
        station_id: Annotated[str | None, Query(max_length=48)] = None,
        status: RequestStatusQuery | None = None,
    ) -> RequestPage:
        """SignCertificate requests, newest first (without the CSR and certificate)."""
        svc = certificate_service(deps)
        page = await svc.requests(station_id, status, limit, offset)
        return RequestPage(
            items=[RequestOut.of(r) for r in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.get(
        "/certificate-requests/{request_id}", dependencies=viewer, responses=problems(404, 503)
    )
    async def request(request_id: CertificateId) -> RequestOut:
        """One request with its CSR and the signed chain."""
        svc = certificate_service(deps)
        try:
            return RequestOut.of(await svc.request(request_id), full=True)
        except CertificateNotFound as exc:
            raise ApiProblem(404, str(exc), slug="certificate-request-not-found") from None

    async def _events(
        station_id: str | None,
        type_: str | None,
        critical: bool | None,
        since: datetime | None,
        limit: int,
        offset: int,
    ) -> SecurityEventPage:
        svc = events_service(deps)
        query = SecurityEventQuery(station_id, type_, critical, since)
        page = await svc.list(query, limit, offset)
        return SecurityEventPage(
            items=[SecurityEventOut.of(e) for e in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.get("/security-events", dependencies=viewer, responses=problems(503))
    async def security_events(
        limit: Limit = 100,
        offset: Offset = 0,
        station_id: Annotated[str | None, Query(max_length=48)] = None,
        type: Annotated[str | None, Query(max_length=50)] = None,
        critical: bool | None = None,
        since: datetime | None = None,
    ) -> SecurityEventPage:
        """Security events of all stations, newest first."""
        return await _events(station_id, type, critical, since, limit, offset)

    @router.get(
        "/stations/{station_id}/security-events",
        dependencies=viewer,
        responses=problems(404, 503),
    )
    async def station_security_events(
        station_id: StationId,
        limit: Limit = 100,
        offset: Offset = 0,
        type: Annotated[str | None, Query(max_length=50)] = None,
        critical: bool | None = None,
        since: datetime | None = None,
    ) -> SecurityEventPage:
        await deps.stations.require(station_id)
        return await _events(station_id, type, critical, since, limit, offset)

    @router.get(
        "/stations/{station_id}/certificate-requests",
        dependencies=viewer,
        responses=problems(404, 503),
    )
    async def station_requests(
        station_id: StationId,
        limit: Limit = 100,
        offset: Offset = 0,
        status: RequestStatusQuery | None = None,
    ) -> RequestPage:
        await deps.stations.require(station_id)
        return await requests(limit, offset, station_id, status)

    return router
