"""Plug & Charge contract certificates (issue 19 part 4): the ones a provider issued
through Ampyre (Get15118EVCertificate) and the ones stations presented with Authorize,
with the certificate status last answered for each. Revoking one is the PKI's business
(POST /pki/certificates/{serial}/revoke): the next Authorize with it is refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT64_MAX, Limit, Offset, problems
from ampyre.domain.models import Role
from ampyre.domain.plug_and_charge import CertificateStatus, ContractCertificate, ContractSource
from ampyre.services.plug_and_charge import ContractNotFound, PlugAndChargeService


class ContractCertificateOut(BaseModel):
    id: int
    emaid: str = Field(description="the contract id (the certificate's commonName)")
    serial_number: str = Field(description="lower-case hex, no leading zeroes")
    fingerprint: str = Field(description="SHA-256 of the DER, hex")
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    source: ContractSource = Field(
        description="issued: through Ampyre's provider; presented: by a station (Authorize)"
    )
    provider: str | None = Field(None, description="builtin | http (issued ones)")
    station_id: str | None = Field(None, description="issued through / last presented at")
    last_status: CertificateStatus | None = Field(
        None, description="the certificateStatus last answered for it (Authorize)"
    )
    last_checked_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, c: ContractCertificate) -> ContractCertificateOut:
        return cls(
            id=c.id or 0,
            emaid=c.emaid,
            serial_number=c.serial_number,
            fingerprint=c.fingerprint,
            subject=c.subject,
            issuer=c.issuer,
            not_before=c.not_before,
            not_after=c.not_after,
            source=c.source,
            provider=c.provider,
            station_id=c.station_id,
            last_status=c.last_status,
            last_checked_at=c.last_checked_at,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class ContractCertificateDetail(ContractCertificateOut):
    pem: str

    @classmethod
    def of(cls, c: ContractCertificate) -> ContractCertificateDetail:
        base = ContractCertificateOut.of(c).model_dump()
        return cls(**base, pem=c.pem)


class ContractCertificatePage(BaseModel):
    items: list[ContractCertificateOut]
    total: int
    limit: int
    offset: int


def pnc_service(deps: ApiDeps) -> PlugAndChargeService:
    if deps.plug_and_charge is None:
        raise ApiProblem(503, "Plug & Charge is not available")
    return deps.plug_and_charge


def plug_and_charge_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["plug and charge"])
    viewer = [Depends(auth.require(Role.VIEWER))]

    @router.get("/contract-certificates", dependencies=viewer, responses=problems(422, 503))
    async def list_contract_certificates(
        limit: Limit = 50,
        offset: Offset = 0,
        emaid: Annotated[str | None, Query(max_length=255, description="case-insensitive")] = None,
        status: Annotated[
            CertificateStatus | None, Query(description="the certificateStatus last answered")
        ] = None,
        station_id: Annotated[str | None, Query(max_length=255)] = None,
    ) -> ContractCertificatePage:
        """Contract certificates, newest first."""
        page = await pnc_service(deps).list_contracts(limit, offset, emaid, status, station_id)
        return ContractCertificatePage(
            items=[ContractCertificateOut.of(c) for c in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.get(
        "/contract-certificates/{contract_id}",
        dependencies=viewer,
        responses=problems(404, 422, 503),
    )
    async def get_contract_certificate(
        contract_id: Annotated[int, Path(ge=1, le=INT64_MAX)],
    ) -> ContractCertificateDetail:
        """One contract certificate with its PEM."""
        try:
            found = await pnc_service(deps).get_contract(contract_id)
        except ContractNotFound as exc:
            raise ApiProblem(404, str(exc)) from None
        return ContractCertificateDetail.of(found)

    return router
