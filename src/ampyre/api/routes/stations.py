"""Stations: registry CRUD, their connectors, status history and device reports."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Response, status

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.routes._common import API_PREFIX, Limit, Offset, problems
from ampyre.api.schemas import (
    StationCreate,
    StationOut,
    StationPage,
    StationPatch,
    StationReportOut,
    StationReportPage,
    StatusHistoryPage,
    StatusReportOut,
)
from ampyre.domain.dashboard import StationQuery, StationSort, StationState, parse_sort
from ampyre.domain.models import Role, Station
from ampyre.services.stations import UNSET

SORT_PATTERN = f"^-?({'|'.join(k.value for k in StationSort)})$"
StationId = Annotated[str, Path(description="the charge point identity", max_length=48)]


def stations_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(prefix="/stations", tags=["stations"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    admin = [Depends(auth.require(Role.ADMIN))]
    service = deps.stations

    async def render(station: Station) -> StationOut:
        connectors = await service.connectors(station.id)
        return StationOut.build(station, connectors, deps.commands.ocpp_version(station.id))

    @router.get("", dependencies=viewer, responses=problems(422))
    async def list_stations(
        limit: Limit = 50,
        offset: Offset = 0,
        q: Annotated[
            str | None,
            Query(
                max_length=255,
                description="case-insensitive substring of id, vendor, model, serial "
                "number, firmware version or description",
            ),
        ] = None,
        sort: Annotated[
            str,
            Query(
                pattern=SORT_PATTERN,
                description=f"one of {', '.join(k.value for k in StationSort)}; "
                "`-` before it: descending (stations without a value come last)",
            ),
        ] = "id",
        state: Annotated[
            StationState | None,
            Query(
                description="online / offline (connected now or not), faulted (a "
                "connector is Faulted), charging (an active transaction or a connector "
                "Charging): the overview's counts"
            ),
        ] = None,
    ) -> StationPage:
        """Stations with their live connection state and connectors: searched, filtered,
        sorted (by id unless `sort` says otherwise)."""
        key, descending = parse_sort(sort)
        query = StationQuery(q=q or None, state=state, sort=key, descending=descending)
        page = await service.list(limit, offset, query)
        stations: list[Station] = page.items
        # One query for the page's connectors, not one per station.
        connectors = await service.connectors_of([s.id for s in stations])
        items = [
            StationOut.build(s, connectors.get(s.id, []), deps.commands.ocpp_version(s.id))
            for s in stations
        ]
        return StationPage(items=items, total=page.total, limit=limit, offset=offset)

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        dependencies=admin,
        responses=problems(409, 422),
    )
    async def create_station(body: StationCreate, response: Response) -> StationOut:
        """Register a station. With a password it must present it with HTTP Basic
        (security profile 1); without one it connects without credentials (profile 0).
        `security_profile` 2 or 3 needs TLS (AMPYRE_OCPP_TLS_PORT, or a TLS proxy)."""
        station = await service.create(
            body.id,
            password=body.password,
            registration_status=body.registration_status,
            description=body.description,
            security_profile=body.security_profile,
        )
        location = quote(station.id, safe="*=:+@")
        response.headers["Location"] = f"{API_PREFIX}/stations/{location}"
        return await render(station)

    @router.get("/{station_id}", dependencies=viewer, responses=problems(404))
    async def get_station(station_id: StationId) -> StationOut:
        return await render(await service.require(station_id))

    @router.patch("/{station_id}", dependencies=admin, responses=problems(404, 422))
    async def update_station(station_id: StationId, body: StationPatch) -> StationOut:
        """Change registration status, description or password. Fields left out are kept;
        `"password": null` removes the password, `"description": null` clears it."""
        given = body.model_fields_set
        station = await service.update(
            station_id,
            registration_status=body.registration_status,
            description=body.description if "description" in given else UNSET,
            password=body.password if "password" in given else UNSET,
            # the configured security profile
            security_profile=body.security_profile if "security_profile" in given else UNSET,
        )
        return await render(station)

    @router.delete(
        "/{station_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        dependencies=admin,
        responses=problems(404),
    )
    async def delete_station(station_id: StationId) -> Response:
        await service.delete(station_id)
        # A deleted station must not keep its open socket (it would stay "connected").
        await deps.commands.disconnect(station_id, "station deleted")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get("/{station_id}/status-history", dependencies=viewer, responses=problems(404, 422))
    async def status_history(
        station_id: StationId, limit: Limit = 50, offset: Offset = 0
    ) -> StatusHistoryPage:
        """Status notifications as received, newest first."""
        await service.require(station_id)
        page = await deps.store.list_status_history(station_id, limit, offset)
        return StatusHistoryPage(
            items=[StatusReportOut.build(r) for r in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @router.get("/{station_id}/reports", dependencies=viewer, responses=problems(404, 422))
    async def reports(
        station_id: StationId, limit: Limit = 50, offset: Offset = 0
    ) -> StationReportPage:
        """Device reports (NotifyEvent, NotifyReport, ...) as received, newest first."""
        await service.require(station_id)
        page = await deps.store.list_reports(station_id, limit, offset)
        return StationReportPage(
            items=[StationReportOut.build(r) for r in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    return router
