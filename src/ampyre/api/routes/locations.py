"""OCPI Locations for the operator (issue 20): our locations, the stations in them,
their EVSEs' and connectors' OCPI attributes, and the Locations partners pushed to us.

- `GET|POST /locations`, `GET|PUT|DELETE /locations/{id}`: a location (the OCPI Location
  fields describing the place, and whether it is offered to roaming partners).
- `PUT|DELETE /locations/{id}/stations/{station_id}`: assign a station (moving it out of
  another location) or take it out.
- `GET /locations/{id}/evses`: the EVSEs built from the stations, with status.
- `PUT|DELETE /locations/{id}/evses/{station_id}/{evse_id}`: an EVSE's attributes.
- `PUT|DELETE /locations/{id}/evses/{station_id}/{evse_id}/connectors/{connector_id}`:
  a connector's standard, format, power type and limits (DELETE: the defaults).
- `GET /locations/{id}/ocpi`: the OCPI Location object partners get.
- `POST /locations/{id}/push`: PUT it to every receiver now.
- `GET /ocpi/received/locations`, `GET /ocpi/received/locations/{cc}/{party}/{id}`,
  `POST /ocpi/received/locations/pull?partner_id=`: fetch a CPO partner's Locations now.
Every change is pushed to the roaming partners (a PUT of the whole Location).
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Depends, Path, Query, Response

from ampyre.api.auth import Auth
from ampyre.api.command_errors import invalid_request
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, Limit, Offset, problems
from ampyre.api.schemas_locations import (
    ConnectorIn,
    EvseIn,
    EvseList,
    EvseOut,
    LocationIn,
    LocationOut,
    LocationPage,
    PullOut,
    PushOut,
    ReceivedLocationOut,
    ReceivedLocationPage,
)
from ampyre.domain.models import Role
from ampyre.services.locations import (
    LocationExists,
    LocationInvalid,
    LocationNotFound,
    LocationService,
    NotInLocation,
    UnknownStation,
)
from ampyre.services.locations_received import ReceivedLocations
from ampyre.services.ocpi_port import OcpiCallFailed

LocationId = Annotated[str, Path(min_length=1, max_length=36, description="OCPI Location.id")]
StationId = Annotated[str, Path(min_length=1, max_length=255)]
EvseNumber = Annotated[int, Path(ge=1, le=INT32_MAX, description="the station's EVSE id")]
ConnectorNumber = Annotated[int, Path(ge=1, le=INT32_MAX, description="the EVSE's connector id")]


def _service(deps: ApiDeps) -> LocationService:
    if deps.locations is None:
        raise ApiProblem(503, "locations are not available")
    return deps.locations


def _received(deps: ApiDeps) -> ReceivedLocations:
    if deps.received_locations is None:
        raise ApiProblem(503, "locations are not available")
    return deps.received_locations


def _invalid(exc: LocationInvalid, prefix: str = "") -> NoReturn:
    field = f"{prefix}{exc.field}" if exc.field else prefix.rstrip(".") or None
    loc: list[str | int] = ["body"]
    if field:
        loc += [int(p) if p.isdigit() else p for p in field.split(".")]
    invalid_request(str(exc), field, loc)


def _problem(exc: Exception) -> NoReturn:
    if isinstance(exc, LocationInvalid):
        _invalid(exc)
    if isinstance(exc, LocationExists):
        raise ApiProblem(409, str(exc), slug="location-exists") from None
    if isinstance(exc, UnknownStation):
        raise ApiProblem(404, str(exc), slug="station-not-found") from None
    if isinstance(exc, NotInLocation):
        raise ApiProblem(404, str(exc), slug="not-in-location") from None
    if isinstance(exc, LocationNotFound):
        raise ApiProblem(404, str(exc), slug="location-not-found") from None
    raise exc


_ERRORS = (LocationInvalid, LocationExists, UnknownStation, NotInLocation, LocationNotFound)


def locations_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["locations"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]

    async def _out(location_id: str) -> LocationOut:
        try:
            return LocationOut.of(await _service(deps).require(location_id))
        except _ERRORS as exc:
            _problem(exc)

    @router.get("/locations", dependencies=viewer, responses=problems(503))
    async def list_locations(limit: Limit = 50, offset: Offset = 0) -> LocationPage:
        page = await _service(deps).page(limit, offset)
        return LocationPage(
            items=[LocationOut.of(x) for x in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.post(
        "/locations", status_code=201, dependencies=operator, responses=problems(409, 422, 503)
    )
    async def create_location(body: LocationIn) -> LocationOut:
        """A location: the place (OCPI Location fields) where stations are installed."""
        try:
            created = await _service(deps).create(
                body.place(), location_id=body.id, roaming=body.roaming
            )
        except _ERRORS as exc:
            _problem(exc)
        return LocationOut.of(created)

    @router.get("/locations/{location_id}", dependencies=viewer, responses=problems(404, 503))
    async def get_location(location_id: LocationId) -> LocationOut:
        return await _out(location_id)

    @router.put(
        "/locations/{location_id}", dependencies=operator, responses=problems(404, 422, 503)
    )
    async def replace_location(location_id: LocationId, body: LocationIn) -> LocationOut:
        """Replace the place fields (the id never changes: a different `id` is 422)."""
        if body.id is not None and body.id.upper() != location_id.upper():
            invalid_request("the id of a location never changes", "id")
        try:
            saved = await _service(deps).replace(location_id, body.place(), roaming=body.roaming)
        except _ERRORS as exc:
            _problem(exc)
        return LocationOut.of(saved)

    @router.delete(
        "/locations/{location_id}",
        status_code=204,
        dependencies=operator,
        responses=problems(404, 503),
    )
    async def delete_location(location_id: LocationId) -> Response:
        """Delete a location; roaming partners get its EVSEs as REMOVED first."""
        if not await _service(deps).delete(location_id):
            raise ApiProblem(404, f"no location {location_id!r}", slug="location-not-found")
        return Response(status_code=204)

    @router.put(
        "/locations/{location_id}/stations/{station_id}",
        dependencies=operator,
        responses=problems(404, 503),
    )
    async def assign_station(location_id: LocationId, station_id: StationId) -> LocationOut:
        """Put a station in the location (out of the one it was in)."""
        try:
            saved = await _service(deps).assign(location_id, station_id)
        except _ERRORS as exc:
            _problem(exc)
        return LocationOut.of(saved)

    @router.delete(
        "/locations/{location_id}/stations/{station_id}",
        status_code=204,
        dependencies=operator,
        responses=problems(404, 503),
    )
    async def unassign_station(location_id: LocationId, station_id: StationId) -> Response:
        try:
            await _service(deps).unassign(location_id, station_id)
        except _ERRORS as exc:
            _problem(exc)
        return Response(status_code=204)

    @router.get("/locations/{location_id}/evses", dependencies=viewer, responses=problems(404, 503))
    async def list_evses(location_id: LocationId) -> EvseList:
        """The location's EVSEs with their OCPI status, attributes and connectors."""
        try:
            views = await _service(deps).evses(location_id)
        except _ERRORS as exc:
            _problem(exc)
        return EvseList(items=[EvseOut.of(x) for x in views])

    evse_path = "/locations/{location_id}/evses/{station_id}/{evse_id}"

    @router.put(
        evse_path, status_code=204, dependencies=operator, responses=problems(404, 422, 503)
    )
    async def set_evse(
        location_id: LocationId, station_id: StationId, evse_id: EvseNumber, body: EvseIn
    ) -> Response:
        try:
            await _service(deps).set_evse(
                location_id, station_id, evse_id, body.model_dump(exclude_unset=False)
            )
        except _ERRORS as exc:
            _problem(exc)
        return Response(status_code=204)

    @router.delete(evse_path, status_code=204, dependencies=operator, responses=problems(404, 503))
    async def reset_evse(
        location_id: LocationId, station_id: StationId, evse_id: EvseNumber
    ) -> Response:
        """Back to the defaults (derived evse_id, default capabilities)."""
        try:
            found = await _service(deps).reset_evse(location_id, station_id, evse_id)
        except _ERRORS as exc:
            _problem(exc)
        if not found:
            raise ApiProblem(404, "that EVSE has no attributes of its own", slug="not-customized")
        return Response(status_code=204)

    connector_path = evse_path + "/connectors/{connector_id}"

    @router.put(
        connector_path, status_code=204, dependencies=operator, responses=problems(404, 422, 503)
    )
    async def set_connector(
        location_id: LocationId,
        station_id: StationId,
        evse_id: EvseNumber,
        connector_id: ConnectorNumber,
        body: ConnectorIn,
    ) -> Response:
        try:
            await _service(deps).set_connector(
                location_id, station_id, evse_id, connector_id, body.model_dump()
            )
        except _ERRORS as exc:
            _problem(exc)
        return Response(status_code=204)

    @router.delete(
        connector_path, status_code=204, dependencies=operator, responses=problems(404, 503)
    )
    async def reset_connector(
        location_id: LocationId,
        station_id: StationId,
        evse_id: EvseNumber,
        connector_id: ConnectorNumber,
    ) -> Response:
        """Back to the defaults (AMPYRE_OCPI_CONNECTOR_*)."""
        try:
            found = await _service(deps).reset_connector(
                location_id, station_id, evse_id, connector_id
            )
        except _ERRORS as exc:
            _problem(exc)
        if not found:
            raise ApiProblem(
                404, "that connector has no attributes of its own", slug="not-customized"
            )
        return Response(status_code=204)

    @router.get("/locations/{location_id}/ocpi", dependencies=viewer, responses=problems(404, 503))
    async def ocpi_object(location_id: LocationId) -> dict[str, Any]:
        """The OCPI 2.2.1 Location object roaming partners get (also for one that is not
        offered to them: what they would get)."""
        service = _service(deps)
        try:
            location = await service.require(location_id)
        except _ERRORS as exc:
            _problem(exc)
        return await service.build(location)

    @router.post(
        "/locations/{location_id}/push", dependencies=operator, responses=problems(404, 503)
    )
    async def push_location(location_id: LocationId) -> PushOut:
        """PUT the whole Location to every roaming receiver now."""
        try:
            queued = await _service(deps).push(location_id)
        except _ERRORS as exc:
            _problem(exc)
        return PushOut(queued=queued)

    # ------------------------------------------------------------------ received

    @router.get("/ocpi/received/locations", dependencies=viewer, responses=problems(503))
    async def received_locations(
        limit: Limit = 50,
        offset: Offset = 0,
        partner_id: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
        country_code: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
        party_id: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
    ) -> ReceivedLocationPage:
        """Locations CPO partners pushed to us (eMSP role)."""
        page = await _received(deps).page(limit, offset, partner_id, country_code, party_id)
        return ReceivedLocationPage(
            items=[ReceivedLocationOut.of(x) for x in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.post(
        "/ocpi/received/locations/pull",
        dependencies=operator,
        responses=problems(404, 502, 503),
    )
    async def pull_locations(
        partner_id: Annotated[int, Query(ge=1, le=INT32_MAX)],
    ) -> PullOut:
        """Fetch every Location of a CPO partner now (its Sender interface, GET List)."""
        puller, partners = deps.location_puller, deps.ocpi_partners
        if puller is None or partners is None:
            raise ApiProblem(503, "OCPI is not available")
        partner = await partners.get(partner_id)
        if partner is None or not partner.registered:
            raise ApiProblem(404, f"no registered partner {partner_id}", slug="partner-not-found")
        try:
            stored = await puller.pull(partner)
        except OcpiCallFailed as exc:
            raise ApiProblem(502, str(exc), slug="partner-call-failed") from None
        return PullOut(stored=stored)

    @router.get(
        "/ocpi/received/locations/{country_code}/{party_id}/{location_id}",
        dependencies=viewer,
        responses=problems(404, 503),
    )
    async def received_location(
        country_code: Annotated[str, Path(min_length=2, max_length=2)],
        party_id: Annotated[str, Path(min_length=3, max_length=3)],
        location_id: LocationId,
    ) -> ReceivedLocationOut:
        found = await _received(deps).one(country_code, party_id, location_id)
        if found is None:
            raise ApiProblem(404, "no such received location", slug="location-not-found")
        return ReceivedLocationOut.of(found)

    return router
