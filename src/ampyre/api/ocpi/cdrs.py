"""The OCPI 2.2.1 CDRs module (mod_cdrs), both interfaces.

- cpo SENDER `/ocpi/cpo/2.2.1/cdrs`: `GET` our CDRs of the caller's tokens, last_updated
  in [date_from, date_to), paginated (10.2.1.1).
- emsp RECEIVER `/ocpi/emsp/2.2.1/cdrs`: `POST` a new CDR (10.2.2.2; answered with a
  `Location` header: the URL of the CDR here), `GET /{id}` of a CDR the caller sent
  (10.2.2.1). CDRs cannot be replaced, changed or removed: the same CDR POSTed again
  (a retry) is accepted, another CDR under a used id is refused (2001).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from ampyre.api.ocpi.app import ModuleSpec
from ampyre.api.ocpi.auth import OcpiParty
from ampyre.api.ocpi.envelope import OcpiError, invalid, ocpi_response, unknown_object
from ampyre.api.ocpi.pagination import Paging, paged_response, public_url
from ampyre.api.ocpi.sessions import json_body, validated
from ampyre.api.ocpi.sessions_models import CdrModel
from ampyre.domain.cdrs import CdrConflict, CdrInvalid
from ampyre.domain.ocpi import InterfaceRole
from ampyre.services.cdrs import CdrService

CdrPk = Annotated[int, Path(ge=1, le=2**63 - 1)]


def cdrs_service(request: Request) -> CdrService:
    service = getattr(request.app.state.deps, "cdrs", None)
    if not isinstance(service, CdrService):
        raise OcpiError(3000, "OCPI CDRs are not available", http_status=503)
    return service


def cpo_router() -> APIRouter:
    router = APIRouter()

    @router.get("")
    @router.get("/", include_in_schema=False)
    async def list_cdrs(request: Request, partner: OcpiParty, query: Paging) -> Response:
        page = await cdrs_service(request).page_for(
            partner, query.date_from, query.date_to, query.offset, query.limit
        )
        return paged_response(request, [c.body for c in page.items], page.total, query)

    return router


def emsp_router() -> APIRouter:
    router = APIRouter()

    @router.post("")
    @router.post("/", include_in_schema=False)
    async def post_cdr(request: Request, partner: OcpiParty) -> Response:
        data = await json_body(request)
        model = validated(CdrModel, data)
        if not partner.has_party(model.country_code, model.party_id):
            raise invalid(
                f"{model.country_code}/{model.party_id} is not a party of this connection"
            )
        try:
            cdr, _created = await cdrs_service(request).receive(partner, data)
        except (CdrInvalid, CdrConflict) as exc:
            raise invalid(str(exc)) from None
        # mod_cdrs 10.2.2.2: "The response should contain the URL to the just created CDR".
        location = str(public_url(request)).split("?", 1)[0].rstrip("/") + f"/{cdr.id}"
        return ocpi_response(None, headers={"Location": location})

    @router.get("/{cdr_id}")
    async def get_cdr(request: Request, partner: OcpiParty, cdr_id: CdrPk) -> Response:
        cdr = await cdrs_service(request).received_for(partner, cdr_id)
        if cdr is None:
            raise unknown_object("CDR")
        return ocpi_response(cdr.body)

    return router


def cdr_modules() -> list[ModuleSpec]:
    return [
        ModuleSpec("cdrs", InterfaceRole.SENDER, "cpo", cpo_router()),
        ModuleSpec("cdrs", InterfaceRole.RECEIVER, "emsp", emsp_router()),
    ]
