"""Diagnostics and security log uploads (issue 17 part 5): ask a station for a log,
follow the request, list and download the uploaded files. The upload itself arrives
at /uploads/logs/{token} (api/log_uploads.py), outside the bearer-token API.

POST .../logs answers 201 with the request as stored after the station's answer
(rejected and no_data included), 409 when the station is not connected (nothing
stored), 504 when it did not answer in time and 502 on a CALLERROR (both stay visible
as timed_out / error in the lists)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse, Response

from ampyre.api.auth import Auth, check_role
from ampyre.api.command_errors import check_answer, not_in_version
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, Limit, Offset, problems
from ampyre.api.routes.commands import Timeout
from ampyre.api.routes.stations import StationId
from ampyre.api.schemas_logs import LogRequestIn, LogRequestOut, LogRequestPage
from ampyre.domain.models import ApiToken, Role
from ampyre.services.logs import LogRequest, LogService, LogSpec, LogType, NotConnected
from ampyre.services.station_port import NotAddressable

LogId = Annotated[int, Path(ge=1, le=INT32_MAX, description="the log request's id")]


def logs_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["logs"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]
    admin = [Depends(auth.require(Role.ADMIN))]
    Viewer = Annotated[ApiToken, Depends(auth.require(Role.VIEWER))]

    def service() -> LogService:
        if deps.logs is None:
            raise ApiProblem(503, "log uploads are not available in this process")
        return deps.logs

    def page(items: list[LogRequest], total: int, limit: int, offset: int) -> LogRequestPage:
        return LogRequestPage(
            items=[LogRequestOut.of(r) for r in items], total=total, limit=limit, offset=offset
        )

    async def found(log_id: int) -> LogRequest:
        if not 1 <= log_id <= INT32_MAX:
            raise ApiProblem(404, f"no log request {log_id}")
        request = await service().get(log_id)
        if request is None:
            raise ApiProblem(404, f"no log request {log_id}")
        return request

    @router.post(
        "/stations/{station_id}/logs",
        dependencies=operator,
        status_code=201,
        responses=problems(404, 409, 422, 502, 503, 504),
    )
    async def request_log(
        station_id: StationId, body: LogRequestIn, timeout_s: Timeout = None
    ) -> LogRequestOut:
        """Ask the station to upload a log to Ampyre (1.6 GetDiagnostics, or GetLog of the
        security extension for security logs; 2.x GetLog). The location sent is an
        upload URL of Ampyre's valid for this request only."""
        svc = service()
        await deps.stations.require(station_id)
        wait = timeout_s if timeout_s is not None else deps.settings.call_timeout
        spec = LogSpec(
            log_type=body.log_type,
            oldest=body.oldest,
            latest=body.latest,
            retries=body.retries,
            retry_interval=body.retry_interval,
        )
        try:
            record, answer = await svc.request(station_id, spec, wait)
        except NotConnected:
            raise ApiProblem(
                409, f"station {station_id!r} is not connected", slug="station-not-connected"
            ) from None
        except NotAddressable as exc:
            not_in_version(station_id, exc, svc.connected_version(station_id))
        action = "GetDiagnostics" if record.ocpp_version == "ocpp1.6" else "GetLog"
        if spec.log_type == LogType.SECURITY:
            action = "GetLog"
        check_answer(station_id, action, answer, wait)
        return LogRequestOut.of(record)

    @router.get("/stations/{station_id}/logs", dependencies=viewer, responses=problems(404, 503))
    async def station_logs(
        station_id: StationId, limit: Limit = 50, offset: Offset = 0
    ) -> LogRequestPage:
        """The station's log requests, newest first, with their files' metadata."""
        await deps.stations.require(station_id)
        p = await service().list(station_id, None, limit, offset)
        return page(p.items, p.total, p.limit, p.offset)

    @router.get("/logs", dependencies=viewer, responses=problems(503))
    async def all_logs(
        station_id: Annotated[str | None, Query(max_length=48)] = None,
        with_file: Annotated[
            bool | None, Query(description="true: only requests whose file arrived")
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> LogRequestPage:
        """Log requests of all stations, newest first."""
        p = await service().list(station_id, with_file, limit, offset)
        return page(p.items, p.total, p.limit, p.offset)

    @router.get("/logs/{log_id}", dependencies=viewer, responses=problems(404, 503))
    async def one_log(log_id: LogId) -> LogRequestOut:
        return LogRequestOut.of(await found(log_id))

    @router.delete(
        "/logs/{log_id}", dependencies=admin, status_code=204, responses=problems(404, 503)
    )
    async def delete_log(log_id: LogId) -> Response:
        """Forget the log request and delete its file."""
        if not await service().delete(log_id):
            raise ApiProblem(404, f"no log request {log_id}")
        return Response(status_code=204)

    @router.get(
        "/logs/{log_id}/file",
        responses={
            **problems(404, 503),
            200: {"content": {"application/octet-stream": {}}, "description": "the file"},
        },
        response_class=FileResponse,
    )
    async def log_file(log_id: LogId, token: Viewer) -> FileResponse:
        """Download the uploaded file. Security logs need the admin role (they describe
        the station's security events); diagnostics logs the viewer role."""
        request = await found(log_id)
        if request.log_type == LogType.SECURITY:
            check_role(token, Role.ADMIN)
        path = service().file_path(request)
        if path is None:
            raise ApiProblem(404, f"log request {log_id} has no file (yet)", slug="no-file")
        name = f"{request.station_id}-{request.log_type.value}-{request.id}.log"
        return FileResponse(
            path,
            media_type="application/octet-stream",
            filename="".join(c if c.isalnum() or c in "-_." else "_" for c in name),
            headers={"X-Content-SHA256": request.sha256 or ""},
        )

    return router
