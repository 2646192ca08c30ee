"""Sending any OCPP action to a station and returning its answer (the passthrough)."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query

from ampyre.api.auth import Auth
from ampyre.api.command_errors import check_outcome, command_failed
from ampyre.api.deps import ApiDeps
from ampyre.api.routes._common import problems
from ampyre.api.routes.stations import StationId
from ampyre.api.schemas import CommandResult
from ampyre.domain.models import Role
from ampyre.services.commands import (
    CommandError,
)

MAX_TIMEOUT = 300.0

Action = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z][A-Za-z0-9]{0,63}$",
        description="OCPP action of the station's version, e.g. `Reset`, `GetVariables`",
        examples=["Reset"],
    ),
]
Timeout = Annotated[
    float | None,
    Query(
        alias="timeout",
        gt=0,
        le=MAX_TIMEOUT,
        description="seconds to wait for the answer (default: the server's call timeout)",
    ),
]
Payload = Annotated[
    dict[str, Any] | None,
    Body(
        description="the OCPP request payload; validated against the official schema",
        examples=[{"type": "Soft"}],
    ),
]


def commands_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(prefix="/stations", tags=["commands"])
    operator = [Depends(auth.require(Role.OPERATOR))]

    @router.post(
        "/{station_id}/ocpp/{action}",
        dependencies=operator,
        responses=problems(400, 404, 409, 422, 502, 504),
    )
    async def send_ocpp(
        station_id: StationId,
        action: Action,
        payload: Payload = None,
        timeout_s: Timeout = None,
    ) -> CommandResult:
        """Send `action` with the body as payload and wait for the station's answer.

        200 with the CALLRESULT; 502 if the station answers with a CALLERROR; 409 if it is
        not connected; 504 if it does not answer in time; 400 if the action does not exist
        in the station's OCPP version; 422 if the payload fails the schema (nothing sent).
        """
        await deps.stations.require(station_id)
        wait = timeout_s if timeout_s is not None else deps.settings.call_timeout
        try:
            outcome = await deps.commands.call(station_id, action, payload or {}, timeout=wait)
        except CommandError as exc:
            command_failed(station_id, action, exc, wait, deps.commands.ocpp_version(station_id))
        check_outcome(station_id, action, outcome)
        return CommandResult(status=outcome.status, response=outcome.payload)

    return router
