"""The credentials module (OCPI 2.2.1 credentials, chapter 7) at /ocpi/2.2.1/credentials.

* GET: our Credentials, carrying the token the caller used (7.2.1);
* POST with our token A: the caller registers; we fetch its versions and details with
  its token B and answer our Credentials with a new token C (7.2.2). Already registered:
  HTTP 405. Their API unusable: 3001; no common version: 3002; no credentials endpoint
  in their details: 3003 (7.1.4, 7.1.5);
* PUT with the current token: new endpoints and a new token (7.2.3); not registered: 405;
* DELETE: the caller unregisters (7.2.4); not registered: 405.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ampyre.api.ocpi.auth import OcpiCaller, partner_service, unauthorized
from ampyre.api.ocpi.envelope import GENERIC_CLIENT_ERROR, OcpiError, ocpi_response
from ampyre.api.ocpi.types import Credentials
from ampyre.domain.ocpi import OCPI_VERSION, OcpiRole, PartyRole
from ampyre.services.ocpi_credentials import CredentialsIn, OcpiCredentials, RegistrationFailed
from ampyre.services.ocpi_partners import PartnerConflict


def _service(request: Request) -> OcpiCredentials:
    service = getattr(request.app.state.deps, "ocpi_credentials", None)
    if service is None:
        raise OcpiError(3000, "OCPI is not available", http_status=503)
    assert isinstance(service, OcpiCredentials)
    return service


def _given(body: Credentials) -> CredentialsIn:
    return CredentialsIn(
        token=body.token,
        url=body.url,
        roles=tuple(
            PartyRole(
                OcpiRole(r.role),
                r.country_code.upper(),
                r.party_id.upper(),
                r.business_details.name,
                r.business_details.website,
            )
            for r in body.roles
        ),
    )


def _not_allowed(exc: PartnerConflict) -> OcpiError:
    # credentials 7.2.2-7.2.4: "MUST return a HTTP status code 405: method not allowed".
    return OcpiError(GENERIC_CLIENT_ERROR, str(exc), http_status=405)


def _refused(exc: RegistrationFailed) -> OcpiError:
    # Their API failed us during the open POST/PUT (7.1.4): a 3xxx status, HTTP 200 (the
    # request itself was fine; status_codes 5: the OCPI layer answers).
    return OcpiError(exc.status_code, exc.message, http_status=200)


def credentials_router() -> APIRouter:
    router = APIRouter()
    path = f"/{OCPI_VERSION}/credentials"

    @router.get(path)
    async def get_credentials(request: Request, caller: OcpiCaller) -> Response:
        identity = partner_service(request).identity
        return ocpi_response(identity.credentials(caller.token))

    @router.post(path)
    async def register(request: Request, body: Credentials, caller: OcpiCaller) -> Response:
        if caller.match.partner.registered:
            raise _not_allowed(PartnerConflict("already registered: use PUT to update"))
        try:
            ours = await _service(request).accept_registration(caller.partner, _given(body))
        except PartnerConflict as exc:
            raise _not_allowed(exc) from None
        except RegistrationFailed as exc:
            raise _refused(exc) from None
        return ocpi_response(ours)

    @router.put(path)
    async def update(request: Request, body: Credentials, caller: OcpiCaller) -> Response:
        if not caller.match.partner.registered:
            raise _not_allowed(PartnerConflict("not registered: use POST to register"))
        if not caller.match.full:
            raise unauthorized("this credentials token is only valid for registration")
        try:
            ours = await _service(request).accept_update(caller.partner, _given(body))
        except PartnerConflict as exc:
            raise _not_allowed(exc) from None
        except RegistrationFailed as exc:
            raise _refused(exc) from None
        return ocpi_response(ours)

    @router.delete(path)
    async def unregister(request: Request, caller: OcpiCaller) -> Response:
        if not caller.match.partner.registered:
            raise _not_allowed(PartnerConflict("not registered"))
        if not caller.match.full:
            raise unauthorized("this credentials token is only valid for registration")
        try:
            await _service(request).accept_unregister(caller.partner)
        except PartnerConflict as exc:
            raise _not_allowed(exc) from None
        return ocpi_response(None)

    return router
