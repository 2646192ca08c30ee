"""The OCPI 2.2.1 Sessions module (mod_sessions), both interfaces.

- cpo SENDER `/ocpi/cpo/2.2.1/sessions`: `GET` our sessions of the caller's tokens,
  last_updated in [date_from, date_to), paginated (9.2.1.1);
  `PUT /{session_id}/charging_preferences`: no EVSE of ours is CHARGING_PREFERENCES_CAPABLE,
  so HTTP 404 as 9.4.1 asks (2004 for a session the caller does not have).
- emsp RECEIVER `/ocpi/emsp/2.2.1/sessions/{country_code}/{party_id}/{session_id}`:
  `GET`, `PUT` (new or replaced), `PATCH` (changed fields, `last_updated` required,
  `charging_periods` added to the stored ones) of sessions a CPO partner owns (9.2.2).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import Response

from ampyre.api.ocpi.app import ModuleSpec
from ampyre.api.ocpi.auth import OcpiParty, require_party
from ampyre.api.ocpi.envelope import (
    GENERIC_CLIENT_ERROR,
    OcpiError,
    invalid,
    ocpi_response,
    unknown_object,
)
from ampyre.api.ocpi.pagination import Paging, paged_response
from ampyre.api.ocpi.sessions_models import SessionModel, SessionPatchModel
from ampyre.api.ocpi.types import OcpiDateTime, OcpiModel
from ampyre.domain.ocpi import InterfaceRole
from ampyre.domain.ocpi_sessions import SessionRejected
from ampyre.services.ocpi_sessions import OcpiSessions, SessionNotFound

M = TypeVar("M", bound=BaseModel)

CountryPath = Annotated[str, Path(min_length=2, max_length=2)]
PartyPath = Annotated[str, Path(min_length=3, max_length=3)]
SessionPath = Annotated[str, Path(min_length=1, max_length=36)]


class ProfileType(StrEnum):
    """mod_sessions 9.4.2 ProfileType."""

    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


class ChargingPreferences(OcpiModel):
    """mod_sessions 9.3.2 ChargingPreferences."""

    profile_type: ProfileType
    departure_time: OcpiDateTime | None = None
    energy_need: Decimal | None = Field(default=None, allow_inf_nan=False)
    discharge_allowed: bool | None = None


def sessions_service(request: Request) -> OcpiSessions:
    service = getattr(request.app.state.deps, "ocpi_sessions", None)
    if not isinstance(service, OcpiSessions):
        raise OcpiError(3000, "OCPI sessions are not available", http_status=503)
    return service


async def json_body(request: Request) -> Any:
    """The request body as JSON (2001 when it is not)."""
    try:
        return await request.json()
    except ValueError:
        raise invalid("the body is not JSON") from None


def validated(model: type[M], data: Any) -> M:
    """`data` checked against an OCPI object model: 2001 with the failing fields."""
    if not isinstance(data, dict):
        raise invalid("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        parts = []
        for error in exc.errors()[:10]:
            where = ".".join(str(p) for p in error.get("loc", ()))
            parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error["msg"])
        raise invalid("; ".join(parts) or "invalid body") from None


def cpo_router() -> APIRouter:
    router = APIRouter()

    @router.get("")
    @router.get("/", include_in_schema=False)
    async def list_sessions(request: Request, partner: OcpiParty, query: Paging) -> Response:
        page = await sessions_service(request).page_for(
            partner, query.date_from, query.date_to, query.offset, query.limit
        )
        return paged_response(request, [s.body for s in page.items], page.total, query)

    @router.put("/{session_id}/charging_preferences")
    async def charging_preferences(
        request: Request, partner: OcpiParty, session_id: SessionPath
    ) -> Response:
        validated(ChargingPreferences, await json_body(request))
        session = await sessions_service(request).ours(session_id)
        owner = (session.token_country_code, session.token_party_id) if session else None
        if owner is None or not partner.has_party(owner[0] or "", owner[1] or ""):
            raise unknown_object("session")
        # mod_sessions 9.4.1: an EVSE without CHARGING_PREFERENCES_CAPABLE answers 404.
        raise OcpiError(
            GENERIC_CLIENT_ERROR,
            "charging preferences are not supported at this EVSE",
            http_status=404,
        )

    return router


def emsp_router() -> APIRouter:
    router = APIRouter()
    path = "/{country_code}/{party_id}/{session_id}"

    @router.get(path)
    async def get_session(
        request: Request,
        partner: OcpiParty,
        country_code: CountryPath,
        party_id: PartyPath,
        session_id: SessionPath,
    ) -> Response:
        require_party(partner, country_code, party_id)
        session = await sessions_service(request).received(country_code, party_id, session_id)
        if session is None or session.partner_id != partner.id:
            raise unknown_object("session")
        return ocpi_response(session.body)

    @router.put(path)
    async def put_session(
        request: Request,
        partner: OcpiParty,
        country_code: CountryPath,
        party_id: PartyPath,
        session_id: SessionPath,
    ) -> Response:
        require_party(partner, country_code, party_id)
        data = await json_body(request)
        validated(SessionModel, data)
        try:
            await sessions_service(request).receive_put(
                partner, country_code, party_id, session_id, data
            )
        except SessionRejected as exc:
            raise invalid(str(exc)) from None
        return ocpi_response(None)

    @router.patch(path)
    async def patch_session(
        request: Request,
        partner: OcpiParty,
        country_code: CountryPath,
        party_id: PartyPath,
        session_id: SessionPath,
    ) -> Response:
        require_party(partner, country_code, party_id)
        data = await json_body(request)
        validated(SessionPatchModel, data)
        service = sessions_service(request)
        stored = await service.received(country_code, party_id, session_id)
        if stored is None or stored.partner_id != partner.id:
            raise unknown_object("session")
        try:
            await service.receive_patch(partner, country_code, party_id, session_id, data)
        except SessionNotFound:
            raise unknown_object("session") from None
        except SessionRejected as exc:
            raise invalid(str(exc)) from None
        return ocpi_response(None)

    return router


def session_modules() -> list[ModuleSpec]:
    return [
        ModuleSpec("sessions", InterfaceRole.SENDER, "cpo", cpo_router()),
        ModuleSpec("sessions", InterfaceRole.RECEIVER, "emsp", emsp_router()),
    ]
