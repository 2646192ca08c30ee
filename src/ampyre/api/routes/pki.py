"""The built-in PKI (issue 19): the CA hierarchy, the certificates it issued, and
revocation (the OCSP responder reports it from then on; the write guard records who)."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import Limit, Offset, problems
from ampyre.api.schemas_pki import CaOut, CertificateOut, CertificatePage, PkiOut, RevokeIn
from ampyre.domain.models import ApiToken, Role
from ampyre.services.pki import (
    CertificateNotFound,
    PkiService,
    RevocationConflict,
    clean_serial,
)
from ampyre.services.pki_port import CertificateFilter, RevocationReason

Serial = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        description="hexadecimal serial (leading zeros, 0x and colons are ignored)",
    ),
]


def pki_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["pki"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator_check = auth.require(Role.OPERATOR)

    def service() -> PkiService:
        if deps.pki is None:
            raise ApiProblem(503, "the PKI is not available in this process")
        return deps.pki

    @router.get("/pki", dependencies=viewer, responses=problems(503))
    async def get_pki() -> PkiOut:
        """The CA hierarchy as configured (`configured: false` until `ampyre pki init`)."""
        svc = service()
        entries = [CaOut.build(c) for c in svc.hierarchy()]
        settings = deps.settings
        return PkiOut(
            configured=svc.configured,
            directory=settings.pki_dir,
            signer=settings.certificate_signer,
            ocsp_url=svc.ocsp_url() if svc.configured and svc.ocsp_url else None,
            roots=[e for e in entries if e.parent is None],
            entries=entries,
        )

    @router.get("/pki/certificates", dependencies=viewer, responses=problems(422, 503))
    async def list_certificates(
        limit: Limit = 50,
        offset: Offset = 0,
        role: Annotated[str | None, Query(max_length=32)] = None,
        subject: Annotated[
            str | None, Query(max_length=200, description="substring, any case")
        ] = None,
        revoked: bool | None = None,
        issuer: Annotated[str | None, Query(max_length=32)] = None,
        station_id: Annotated[str | None, Query(max_length=255)] = None,
        serial: Annotated[str | None, Query(max_length=100)] = None,
    ) -> CertificatePage:
        """Issued certificates (and the hierarchy's own), the newest first."""
        try:
            wanted = clean_serial(serial) if serial else None
        except ValueError as exc:
            raise ApiProblem(422, str(exc)) from None
        where = CertificateFilter(
            role=role,
            subject=subject or None,
            revoked=revoked,
            issuer=issuer,
            station_id=station_id,
            serial=wanted,
        )
        found = await service().certificates(where, limit, offset)
        return CertificatePage(
            items=[CertificateOut.build(c) for c in found.items],
            total=found.total,
            limit=limit,
            offset=offset,
        )

    @router.post("/pki/certificates/{serial}/revoke", responses=problems(404, 409, 422, 503))
    async def revoke_certificate(
        serial: Serial,
        caller: Annotated[ApiToken, Depends(operator_check)],
        body: Annotated[RevokeIn | None, Body()] = None,
    ) -> CertificateOut:
        """Revoke an issued certificate: the OCSP responder answers `revoked` from now
        on. 404 unknown serial; 409 revoked already, or several CAs issued it (say
        `issuer`)."""
        request = body or RevokeIn(reason=RevocationReason.UNSPECIFIED, issuer=None)
        try:
            revoked = await service().revoke(
                serial, request.reason, by=caller.name, issuer=request.issuer
            )
        except ValueError as exc:
            raise ApiProblem(422, str(exc)) from None
        except CertificateNotFound:
            raise ApiProblem(404, f"no issued certificate with serial {serial}") from None
        except RevocationConflict as exc:
            raise ApiProblem(409, str(exc), slug="revocation-conflict") from None
        return CertificateOut.build(revoked)

    return router
