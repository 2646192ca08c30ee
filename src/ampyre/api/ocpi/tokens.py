"""The OCPI 2.2.1 Tokens module (mod_tokens), both interfaces.

- cpo RECEIVER `/ocpi/cpo/2.2.1/tokens/{country_code}/{party_id}/{token_uid}[?type=RFID]`:
  `GET` a held token, `PUT` a new or changed token, `PATCH` some of its fields
  (`last_updated` required). The URL must name a party of the caller (404 otherwise),
  and a PUT's token the same owner, uid and type as its URL (12.2.1.2); an unknown
  token is HTTP 404 / 2004; a body that breaks the spec 2001.
- emsp SENDER `/ocpi/emsp/2.2.1/tokens`: `GET` our id tokens as published, last_updated
  in [date_from, date_to), paginated (12.2.2.1); `POST /{token_uid}/authorize[?type=]`
  with an optional LocationReferences body: real-time authorization (12.2.2.2), an
  AuthorizationInfo, or HTTP 404 / 2004 for a token we do not have.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from ampyre.api.ocpi.app import ModuleSpec
from ampyre.api.ocpi.auth import OcpiParty, require_party
from ampyre.api.ocpi.envelope import OcpiError, invalid, ocpi_response, unknown_object
from ampyre.api.ocpi.pagination import Paging, paged_response
from ampyre.domain.ocpi import InterfaceRole
from ampyre.domain.ocpi_tokens import (
    TokenType,
    authorization_info_to_json,
    token_to_json,
)
from ampyre.domain.ocpi_tokens_parse import InvalidObject, parse_location_references
from ampyre.services.roaming_publish import TokenPublisher
from ampyre.services.roaming_tokens import RoamingTokens

MODULE = "tokens"
BODY_MAX = 64 * 1024  # a Token is well under 2 kB

CountryCode = Annotated[str, Path(min_length=2, max_length=2)]
PartyId = Annotated[str, Path(min_length=3, max_length=3)]
TokenUid = Annotated[str, Path(min_length=1, max_length=36)]
# mod_tokens 12.2.1.1: "Default if omitted: RFID".
TypeParam = Annotated[TokenType, Query()]


def _held(request: Request) -> RoamingTokens:
    service = getattr(request.app.state.deps, "roaming_tokens", None)
    if not isinstance(service, RoamingTokens):
        raise OcpiError(3000, "OCPI tokens are not available", http_status=503)
    return service


def _publisher(request: Request) -> TokenPublisher:
    service = getattr(request.app.state.deps, "token_publisher", None)
    if not isinstance(service, TokenPublisher):
        raise OcpiError(3000, "OCPI tokens are not available", http_status=503)
    return service


async def json_object(request: Request, *, optional: bool = False) -> Any:
    """The body as JSON (2001 when it is not; None for an empty optional body)."""
    raw = await request.body()
    if len(raw) > BODY_MAX:
        raise invalid("the body is too large")
    if not raw.strip():
        if optional:
            return None
        raise invalid("a JSON body is required")
    try:
        return json.loads(raw)
    except ValueError:
        raise invalid("the body is not JSON") from None


def bad_object(exc: InvalidObject) -> OcpiError:
    return invalid(str(exc))


# ---------------------------------------------------------------------- CPO Receiver


def receiver_router() -> APIRouter:
    router = APIRouter()
    path = "/{country_code}/{party_id}/{token_uid}"

    @router.get(path)
    async def get_token(
        request: Request,
        partner: OcpiParty,
        country_code: CountryCode,
        party_id: PartyId,
        token_uid: TokenUid,
        type: TypeParam = TokenType.RFID,
    ) -> Response:
        require_party(partner, country_code, party_id)
        token = await _held(request).get(country_code, party_id, token_uid, type)
        if token is None:
            raise unknown_object("token")
        return ocpi_response(token_to_json(token))

    @router.put(path)
    async def put_token(
        request: Request,
        partner: OcpiParty,
        country_code: CountryCode,
        party_id: PartyId,
        token_uid: TokenUid,
        type: TypeParam = TokenType.RFID,
    ) -> Response:
        require_party(partner, country_code, party_id)
        body = await json_object(request)
        try:
            await _held(request).put(partner, country_code, party_id, token_uid, type, body)
        except InvalidObject as exc:
            raise bad_object(exc) from None
        return ocpi_response(None)

    @router.patch(path)
    async def patch_token(
        request: Request,
        partner: OcpiParty,
        country_code: CountryCode,
        party_id: PartyId,
        token_uid: TokenUid,
        type: TypeParam = TokenType.RFID,
    ) -> Response:
        require_party(partner, country_code, party_id)
        body = await json_object(request)
        try:
            token = await _held(request).patch(
                partner, country_code, party_id, token_uid, type, body
            )
        except InvalidObject as exc:
            raise bad_object(exc) from None
        if token is None:
            raise unknown_object("token")
        return ocpi_response(None)

    return router


# ---------------------------------------------------------------------- eMSP Sender


def sender_router() -> APIRouter:
    router = APIRouter()

    async def listing(request: Request, partner: OcpiParty, query: Paging) -> Response:
        page = await _publisher(request).page(
            query.offset, query.limit, query.date_from, query.date_to
        )
        return paged_response(request, [token_to_json(t) for t in page.items], page.total, query)

    router.add_api_route("", listing, methods=["GET"])
    router.add_api_route("/", listing, methods=["GET"], include_in_schema=False)

    @router.post("/{token_uid}/authorize")
    async def authorize(
        request: Request,
        partner: OcpiParty,
        token_uid: TokenUid,
        type: TypeParam = TokenType.RFID,
    ) -> Response:
        body = await json_object(request, optional=True)
        try:
            location = None if body is None else parse_location_references(body)
        except InvalidObject as exc:
            raise bad_object(exc) from None
        info = await _publisher(request).answer(partner.id, token_uid, type, location)
        if info is None:
            # 12.2.2.2: HTTP 404, "status code 2004: Unknown Token, and no data field".
            raise unknown_object("token")
        return ocpi_response(authorization_info_to_json(info))

    return router


def token_modules() -> list[ModuleSpec]:
    return [
        ModuleSpec(MODULE, InterfaceRole.RECEIVER, "cpo", receiver_router()),
        ModuleSpec(MODULE, InterfaceRole.SENDER, "emsp", sender_router()),
    ]
