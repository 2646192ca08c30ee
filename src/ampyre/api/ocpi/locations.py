"""The OCPI 2.2.1 Locations module (mod_locations 8.2).

- CPO, Sender interface (`/ocpi/cpo/2.2.1/locations`): GET the list of our roaming
  locations (paginated, date_from inclusive / date_to exclusive on last_updated), or one
  Location, EVSE or Connector.
- eMSP, Receiver interface (`/ocpi/emsp/2.2.1/locations/{country_code}/{party_id}/...`):
  GET, PUT and PATCH of a Location, EVSE or Connector a CPO partner owns; the URL's
  party must be one of the caller's.

Unknown objects are status 2003 "Unknown Location" with HTTP 404 (status_codes 5.2), bad
bodies 2001 with HTTP 400 and the offending field in the message.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from ampyre.api.ocpi.app import ModuleSpec
from ampyre.api.ocpi.auth import OcpiParty, require_party
from ampyre.api.ocpi.envelope import (
    INVALID_PARAMETERS,
    UNKNOWN_LOCATION,
    OcpiError,
    ocpi_response,
)
from ampyre.api.ocpi.pagination import Paging, paged_response
from ampyre.domain.locations_merge import UnknownObject
from ampyre.domain.locations_validate import LocationInvalid
from ampyre.domain.ocpi import InterfaceRole
from ampyre.services.locations import LocationService
from ampyre.services.locations_received import ReceivedLocations

MODULE = "locations"
BODY_MAX = 1_000_000  # bytes of one pushed object (a Location with many EVSEs)

# mod_locations 8.2.1.2 / 8.2.2.1: URL segments are CiString(2), (3) and (36).
CountryCode = Annotated[str, Path(min_length=2, max_length=2)]
PartyId = Annotated[str, Path(min_length=3, max_length=3)]
LocationId = Annotated[str, Path(min_length=1, max_length=36)]
EvseUid = Annotated[str, Path(min_length=1, max_length=36)]
ConnectorId = Annotated[str, Path(min_length=1, max_length=36)]


def _ours(request: Request) -> LocationService:
    service = getattr(request.app.state.deps, "locations", None)
    if service is None:
        raise OcpiError(3000, "locations are not available", http_status=503)
    assert isinstance(service, LocationService)
    return service


def _received(request: Request) -> ReceivedLocations:
    service = getattr(request.app.state.deps, "received_locations", None)
    if service is None:
        raise OcpiError(3000, "locations are not available", http_status=503)
    assert isinstance(service, ReceivedLocations)
    return service


def _unknown(what: str) -> OcpiError:
    return OcpiError(UNKNOWN_LOCATION, f"unknown {what}", http_status=404)


async def _body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > BODY_MAX:
        raise OcpiError(INVALID_PARAMETERS, "request body too large", http_status=413)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        # status_codes 5: a message that is not valid JSON is HTTP 400.
        raise OcpiError(INVALID_PARAMETERS, "the body is not JSON", http_status=400) from None


def _refused(exc: LocationInvalid) -> OcpiError:
    return OcpiError(INVALID_PARAMETERS, f"invalid object: {exc}", http_status=400)


# ---------------------------------------------------------------------- CPO Sender


def sender_router() -> APIRouter:
    router = APIRouter()

    async def listing(request: Request, partner: OcpiParty, query: Paging) -> Response:
        """GET List (8.2.1.1): Locations last updated in [date_from, date_to)."""
        items, total = await _ours(request).sender_page(
            query.date_from, query.date_to, query.offset, query.limit
        )
        return paged_response(request, items, total, query)

    router.add_api_route("", listing, methods=["GET"])
    router.add_api_route("/", listing, methods=["GET"], include_in_schema=False)

    @router.get("/{location_id}")
    async def get_location(
        request: Request, partner: OcpiParty, location_id: LocationId
    ) -> Response:
        found = await _ours(request).sender_object(location_id)
        if found is None:
            raise _unknown("Location")
        return ocpi_response(found)

    @router.get("/{location_id}/{evse_uid}")
    async def get_evse(
        request: Request, partner: OcpiParty, location_id: LocationId, evse_uid: EvseUid
    ) -> Response:
        found = await _ours(request).sender_object(location_id, evse_uid)
        if found is None:
            raise _unknown("EVSE")
        return ocpi_response(found)

    @router.get("/{location_id}/{evse_uid}/{connector_id}")
    async def get_connector(
        request: Request,
        partner: OcpiParty,
        location_id: LocationId,
        evse_uid: EvseUid,
        connector_id: ConnectorId,
    ) -> Response:
        found = await _ours(request).sender_object(location_id, evse_uid, connector_id)
        if found is None:
            raise _unknown("Connector")
        return ocpi_response(found)

    return router


# ---------------------------------------------------------------------- eMSP Receiver


def receiver_router() -> APIRouter:
    router = APIRouter()

    async def read(
        request: Request,
        partner: OcpiParty,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str | None = None,
        connector_id: str | None = None,
    ) -> Response:
        require_party(partner, country_code, party_id)
        try:
            found = await _received(request).get(
                country_code, party_id, location_id, evse_uid, connector_id
            )
        except UnknownObject as exc:
            raise _unknown(exc.what) from None
        return ocpi_response(found)

    async def write(
        request: Request,
        partner: OcpiParty,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str | None = None,
        connector_id: str | None = None,
    ) -> Response:
        require_party(partner, country_code, party_id)
        body = await _body(request)
        service = _received(request)
        try:
            if request.method == "PUT":
                created = await service.put(
                    partner.id, country_code, party_id, location_id, body, evse_uid, connector_id
                )
                # status_codes 5: 201 for a new object, 200 for an updated one.
                return ocpi_response(None, http_status=201 if created else 200)
            await service.patch(country_code, party_id, location_id, body, evse_uid, connector_id)
        except LocationInvalid as exc:
            raise _refused(exc) from None
        except UnknownObject as exc:
            raise _unknown(exc.what) from None
        return ocpi_response(None)

    location = "/{country_code}/{party_id}/{location_id}"

    @router.get(location)
    async def get_location(
        request: Request,
        partner: OcpiParty,
        country_code: CountryCode,
        party_id: PartyId,
        location_id: LocationId,
    ) -> Response:
        return await read(request, partner, country_code, party_id, location_id)

    @router.get(location + "/{evse_uid}")
    async def get_evse(
        request: Request,
        partner: OcpiParty,
        country_code: CountryCode,
        party_id: PartyId,
        location_id: LocationId,
        evse_uid: EvseUid,
    ) -> Response:
        return await read(request, partner, country_code, party_id, location_id, evse_uid)

    @router.get(location + "/{evse_uid}/{connector_id}")
    async def get_connector(
        request: Request,
        partner: OcpiParty,
        country_code: CountryCode,
        party_id: PartyId,
        location_id: LocationId,
        evse_uid: EvseUid,
        connector_id: ConnectorId,
    ) -> Response:
        return await read(
            request, partner, country_code, party_id, location_id, evse_uid, connector_id
        )

    @router.api_route(location, methods=["PUT", "PATCH"])
    async def write_location(
        request: Request,
        partner: OcpiParty,
        country_code: CountryCode,
        party_id: PartyId,
        location_id: LocationId,
    ) -> Response:
        return await write(request, partner, country_code, party_id, location_id)

    @router.api_route(location + "/{evse_uid}", methods=["PUT", "PATCH"])
    async def write_evse(
        request: Request,
        partner: OcpiParty,
        country_code: CountryCode,
        party_id: PartyId,
        location_id: LocationId,
        evse_uid: EvseUid,
    ) -> Response:
        return await write(request, partner, country_code, party_id, location_id, evse_uid)

    @router.api_route(location + "/{evse_uid}/{connector_id}", methods=["PUT", "PATCH"])
    async def write_connector(
        request: Request,
        partner: OcpiParty,
        country_code: CountryCode,
        party_id: PartyId,
        location_id: LocationId,
        evse_uid: EvseUid,
        connector_id: ConnectorId,
    ) -> Response:
        return await write(
            request, partner, country_code, party_id, location_id, evse_uid, connector_id
        )

    return router


def location_modules() -> list[ModuleSpec]:
    return [
        ModuleSpec(MODULE, InterfaceRole.SENDER, "cpo", sender_router()),
        ModuleSpec(MODULE, InterfaceRole.RECEIVER, "emsp", receiver_router()),
    ]
