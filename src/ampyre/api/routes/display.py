"""Display messages of 2.0.1/2.1 stations (issue 17 part 6): set, list (the stored
state), refresh from the station (GetDisplayMessages, answered in NotifyDisplayMessages
parts), clear. 1.6 stations have none: 422 not-in-version. Commands answer 409 when the
station is not connected, 504 without an answer in time, 502 on a CALLERROR."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from ampyre.api.auth import Auth
from ampyre.api.command_errors import check_answer, not_in_version
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, problems
from ampyre.api.routes.commands import Timeout
from ampyre.api.routes.stations import StationId
from ampyre.api.schemas_logs import (
    DisplayCommandOut,
    DisplayMessageIn,
    DisplayMessageOut,
    PartRequestOut,
)
from ampyre.domain.models import Role
from ampyre.services.display import DisplayMessage, DisplayService
from ampyre.services.station_port import NotAddressable

MessageId = Annotated[int, Path(ge=0, le=INT32_MAX)]
RequestId = Annotated[int, Path(ge=1, le=INT32_MAX)]


def message_out(m: DisplayMessage) -> DisplayMessageOut:
    return DisplayMessageOut(
        id=m.message_id,
        priority=m.priority,
        state=m.state,
        start_at=m.start_at,
        end_at=m.end_at,
        transaction_id=m.transaction_id,
        format=m.format,
        language=m.language,
        content=m.content,
        source=m.source,
        updated_at=m.updated_at,
    )


def display_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(prefix="/stations/{station_id}/display-messages", tags=["display"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]
    commands = problems(404, 409, 422, 502, 503, 504)

    def service() -> DisplayService:
        if deps.display is None:
            raise ApiProblem(503, "display messages are not available in this process")
        return deps.display

    def wait_of(timeout_s: float | None) -> float:
        return timeout_s if timeout_s is not None else deps.settings.call_timeout

    @router.post("", dependencies=operator, responses=commands)
    async def set_message(
        station_id: StationId, body: DisplayMessageIn, timeout_s: Timeout = None
    ) -> DisplayCommandOut:
        """SetDisplayMessage. Stored when the station accepts it; other answers
        (Rejected, NotSupportedPriority, UnknownTransaction, ...) are returned as they
        are and change nothing."""
        svc = service()
        await deps.stations.require(station_id)
        wait = wait_of(timeout_s)
        message = DisplayMessage(
            station_id=station_id,
            message_id=body.id,
            priority=body.priority.value,
            content=body.content,
            format=body.format.value,
            language=body.language,
            state=body.state.value if body.state is not None else None,
            start_at=body.start_at,
            end_at=body.end_at,
            transaction_id=body.transaction_id,
        )
        try:
            answer = await svc.set(message, wait)
        except NotAddressable as exc:
            not_in_version(station_id, exc, svc.connected_version(station_id))
        check_answer(station_id, "SetDisplayMessage", answer, wait)
        stored = message_out(message) if answer.status == "accepted" else None
        return DisplayCommandOut(status=answer.status, response=answer.response, message=stored)

    @router.get("", dependencies=viewer, responses=problems(404, 503))
    async def list_messages(station_id: StationId) -> list[DisplayMessageOut]:
        """The station's display messages as last known (set or reported)."""
        await deps.stations.require(station_id)
        return [message_out(m) for m in await service().list(station_id)]

    @router.post("/refresh", dependencies=operator, status_code=202, responses=commands)
    async def refresh(station_id: StationId, timeout_s: Timeout = None) -> PartRequestOut:
        """GetDisplayMessages for all messages. The station reports them in
        NotifyDisplayMessages parts; the request is complete after the last part (its
        messages then replace the stored ones), incomplete if parts stop coming."""
        svc = service()
        await deps.stations.require(station_id)
        wait = wait_of(timeout_s)
        try:
            request, answer = await svc.refresh(station_id, wait)
        except NotAddressable as exc:
            not_in_version(station_id, exc, svc.connected_version(station_id))
        check_answer(station_id, "GetDisplayMessages", answer, wait)
        return PartRequestOut.of(request)

    @router.get("/requests/{request_id}", dependencies=viewer, responses=problems(404, 503))
    async def refresh_state(station_id: StationId, request_id: RequestId) -> PartRequestOut:
        found = await service().get_request(request_id)
        if found is None or found.station_id != station_id:
            raise ApiProblem(404, f"no display message request {request_id} of {station_id!r}")
        return PartRequestOut.of(found)

    @router.delete("/{message_id}", dependencies=operator, responses=commands)
    async def clear(
        station_id: StationId, message_id: MessageId, timeout_s: Timeout = None
    ) -> DisplayCommandOut:
        """ClearDisplayMessage. Accepted and Unknown (the station has no such message)
        both remove it from the stored state."""
        svc = service()
        await deps.stations.require(station_id)
        wait = wait_of(timeout_s)
        try:
            answer = await svc.clear(station_id, message_id, wait)
        except NotAddressable as exc:
            not_in_version(station_id, exc, svc.connected_version(station_id))
        check_answer(station_id, "ClearDisplayMessage", answer, wait)
        return DisplayCommandOut(status=answer.status, response=answer.response)

    return router
