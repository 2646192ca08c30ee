"""Credentials-token authentication of the OCPI server (OCPI 2.2.1 transport_and_format
4.1.2) and the routing headers (4.1.5).

`Authorization: Token <token>`: 2.2.1 sends the token Base64-encoded; implementations in
the field send it raw too, so both are accepted (the decoded form is tried first). A
missing or unknown token is HTTP 401. A partner's token opens every module once the
partner is REGISTERED; before that (our token A, or a token being handed over during a
handshake) it opens only versions, details and credentials: elsewhere HTTP 401.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from ampyre.api.ocpi.envelope import INVALID_PARAMETERS, OcpiError
from ampyre.domain.ocpi import Partner
from ampyre.services.ocpi_partners import PartnerService, TokenMatch

TOKEN_MAX = 512
CHALLENGE = {"WWW-Authenticate": 'Token realm="ocpi"'}
STATE_PARTNER = "ocpi_partner_id"  # request.state: who called (the exchange log reads it)


def partner_service(request: Request) -> PartnerService:
    service = getattr(request.app.state.deps, "ocpi_partners", None)
    if service is None:
        raise OcpiError(3000, "OCPI is not available", http_status=503)
    assert isinstance(service, PartnerService)
    return service


def token_candidates(header: str | None) -> list[str]:
    """The credentials tokens an Authorization header may carry: Base64-decoded first
    (2.2.1), then as sent."""
    if not header:
        return []
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value or len(value) > TOKEN_MAX or " " in value:
        return []
    found: list[str] = []
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if decoded and decoded.isprintable() and " " not in decoded:
        found.append(decoded)
    if value not in found:
        found.append(value)
    return found


@dataclass(frozen=True, slots=True)
class Caller:
    """Who called, with the token they used (credentials GET answers it back)."""

    match: TokenMatch
    token: str

    @property
    def partner(self) -> Partner:
        return self.match.partner


async def identify(request: Request) -> Caller | None:
    service = partner_service(request)
    for token in token_candidates(request.headers.get("authorization")):
        match = await service.by_token(token)
        if match is not None:
            setattr(request.state, STATE_PARTNER, match.partner.id)
            return Caller(match, token)
    return None


def unauthorized(message: str) -> OcpiError:
    return OcpiError(INVALID_PARAMETERS, message, http_status=401)


async def ocpi_caller(request: Request) -> Caller:
    """Any known credentials token, token A included (versions, details, credentials)."""
    caller = await identify(request)
    if caller is None:
        raise unauthorized("missing or unknown credentials token")
    return caller


async def ocpi_partner(request: Request) -> Partner:
    """The REGISTERED partner behind the credentials token (every functional module)."""
    caller = await identify(request)
    if caller is None:
        raise unauthorized("missing or unknown credentials token")
    if not caller.match.full:
        # transport_and_format 4.1.2: token A on another module than credentials/versions.
        raise unauthorized("this credentials token is only valid for registration")
    return caller.partner


OcpiParty = Annotated[Partner, Depends(ocpi_partner)]
OcpiCaller = Annotated[Caller, Depends(ocpi_caller)]


def require_party(partner: Partner, country_code: str, party_id: str) -> None:
    """A Client Owned Object URL must name a party of the caller (transport_and_format
    4.1.6: "allowed to respond with an HTTP 404")."""
    if not partner.has_party(country_code, party_id):
        raise OcpiError(
            INVALID_PARAMETERS,
            f"{country_code}/{party_id} is not a party of this connection",
            http_status=404,
        )


@dataclass(frozen=True, slots=True)
class Routing:
    """The request's routing headers (transport_and_format 4.1.5), accepted as given."""

    to_country_code: str | None
    to_party_id: str | None
    from_country_code: str | None
    from_party_id: str | None


def routing(request: Request) -> Routing:
    h = request.headers
    return Routing(
        h.get("ocpi-to-country-code"),
        h.get("ocpi-to-party-id"),
        h.get("ocpi-from-country-code"),
        h.get("ocpi-from-party-id"),
    )
