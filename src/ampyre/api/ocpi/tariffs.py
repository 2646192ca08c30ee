"""The OCPI 2.2.1 Tariffs module (mod_tariffs 11.2).

- CPO, Sender interface (`/ocpi/cpo/2.2.1/tariffs`): GET our tariffs last updated in
  [date_from, date_to), paginated (11.2.1.1).
- eMSP, Receiver interface (`/ocpi/emsp/2.2.1/tariffs/{country_code}/{party_id}/{tariff_id}`):
  GET, PUT and DELETE of a tariff a CPO partner owns (11.2.2); the URL's party must be
  one of the caller's and the object's own country_code/party_id/id must match the URL.

Unknown tariffs are status 2004 with HTTP 404; bad bodies 2001 with HTTP 400 and the
offending field in the message.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from ampyre.api.ocpi.app import ModuleSpec
from ampyre.api.ocpi.auth import OcpiParty, require_party
from ampyre.api.ocpi.envelope import INVALID_PARAMETERS, OcpiError, ocpi_response, unknown_object
from ampyre.api.ocpi.pagination import Paging, paged_response
from ampyre.domain.ocpi import InterfaceRole
from ampyre.domain.tariff_json import tariff_from_json, tariff_to_json
from ampyre.domain.tariffs import TariffInvalid
from ampyre.services.tariffs import TariffService

MODULE = "tariffs"
BODY_MAX = 256_000  # bytes of one pushed Tariff

# mod_tariffs 11.2.2.1: CiString(2), CiString(3), CiString(36).
CountryCode = Annotated[str, Path(min_length=2, max_length=2)]
PartyId = Annotated[str, Path(min_length=3, max_length=3)]
TariffId = Annotated[str, Path(min_length=1, max_length=36)]


def _service(request: Request) -> TariffService:
    service = getattr(request.app.state.deps, "tariffs", None)
    if service is None:
        raise OcpiError(3000, "tariffs are not available", http_status=503)
    assert isinstance(service, TariffService)
    return service


async def _body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > BODY_MAX:
        raise OcpiError(INVALID_PARAMETERS, "request body too large", http_status=413)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise OcpiError(INVALID_PARAMETERS, "the body is not JSON", http_status=400) from None


def sender_router() -> APIRouter:
    router = APIRouter()

    async def listing(request: Request, partner: OcpiParty, query: Paging) -> Response:
        """GET (11.2.1.1): our tariffs last updated in [date_from, date_to)."""
        page = await _service(request).changed(
            query.date_from, query.date_to, query.offset, query.limit
        )
        return paged_response(request, [tariff_to_json(t) for t in page.items], page.total, query)

    router.add_api_route("", listing, methods=["GET"])
    router.add_api_route("/", listing, methods=["GET"], include_in_schema=False)
    return router


def receiver_router() -> APIRouter:
    router = APIRouter()
    path = "/{country_code}/{party_id}/{tariff_id}"

    @router.get(path)
    async def get_tariff(
        request: Request,
        partner: OcpiParty,
        country_code: CountryCode,
        party_id: PartyId,
        tariff_id: TariffId,
    ) -> Response:
        """GET (11.2.2.1): the tariff as we store it."""
        require_party(partner, country_code, party_id)
        found = await _service(request).received(country_code, party_id, tariff_id)
        if found is None or found.partner_id != partner.id:
            raise unknown_object("Tariff")
        return ocpi_response(tariff_to_json(found.tariff))

    @router.put(path)
    async def put_tariff(
        request: Request,
        partner: OcpiParty,
        country_code: CountryCode,
        party_id: PartyId,
        tariff_id: TariffId,
    ) -> Response:
        """PUT (11.2.2.2): a new or updated tariff; its country_code and party_id SHALL
        be the URL's."""
        require_party(partner, country_code, party_id)
        body = await _body(request)
        try:
            tariff = tariff_from_json(body)
        except TariffInvalid as exc:
            raise OcpiError(INVALID_PARAMETERS, f"invalid Tariff: {exc}", http_status=400) from None
        named = (tariff.country_code, tariff.party_id, tariff.id)
        if tuple(x.upper() for x in named) != (
            country_code.upper(),
            party_id.upper(),
            tariff_id.upper(),
        ):
            raise OcpiError(
                INVALID_PARAMETERS,
                "the Tariff's country_code, party_id and id must be the URL's",
                http_status=400,
            )
        service = _service(request)
        existed = await service.received(country_code, party_id, tariff_id)
        if existed is not None and existed.partner_id != partner.id:
            raise OcpiError(
                INVALID_PARAMETERS, "this tariff belongs to another connection", http_status=400
            )
        await service.receive(partner.id, tariff)
        return ocpi_response(None, http_status=200 if existed is not None else 201)

    @router.delete(path)
    async def delete_tariff(
        request: Request,
        partner: OcpiParty,
        country_code: CountryCode,
        party_id: PartyId,
        tariff_id: TariffId,
    ) -> Response:
        """DELETE (11.2.2.3): the CPO no longer uses the tariff."""
        require_party(partner, country_code, party_id)
        service = _service(request)
        found = await service.received(country_code, party_id, tariff_id)
        if found is None or found.partner_id != partner.id:
            raise unknown_object("Tariff")
        await service.forget_received(country_code, party_id, tariff_id)
        return ocpi_response(None)

    return router


def tariff_modules() -> list[ModuleSpec]:
    return [
        ModuleSpec(MODULE, InterfaceRole.SENDER, "cpo", sender_router()),
        ModuleSpec(MODULE, InterfaceRole.RECEIVER, "emsp", receiver_router()),
    ]
