"""Sending any OCPP action to a station and returning its answer (the passthrough).

Refused here (nothing is sent): actions a station sends and a CSMS never does (422), and
actions whose typed endpoint keeps Ampyre's state in step with the station (409, with
the typed endpoint to use): a raw SendLocalList would leave the stored list version
behind the station's, a raw ReserveNow / CancelReservation a reservation Ampyre does not
know or still thinks active, a raw remote start a remoteStartId outside Ampyre's
sequence and a start nobody waits for."""

from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Depends, Path, Query

from ampyre.api.auth import Auth
from ampyre.api.command_errors import check_outcome, command_failed
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import problems
from ampyre.api.routes.stations import StationId
from ampyre.api.schemas import CommandResult
from ampyre.domain.models import Role
from ampyre.protocol.actions import station_initiated
from ampyre.services.commands import (
    CommandError,
)

MAX_TIMEOUT = 300.0

# Action -> the typed endpoint that sends it and keeps Ampyre's state with it.
TYPED_ENDPOINTS: Final = {
    "SendLocalList": "POST /api/v1/local-lists/push",
    "ReserveNow": "POST /api/v1/reservations",
    "CancelReservation": "DELETE /api/v1/reservations/{reservation_id}",
    "RemoteStartTransaction": "POST /api/v1/stations/{station_id}/remote-start",
    "RequestStartTransaction": "POST /api/v1/stations/{station_id}/remote-start",
    "SetChargingProfile": "POST /api/v1/stations/{station_id}/charging-profile",
    "ClearChargingProfile": "POST /api/v1/stations/{station_id}/charging-profiles/clear",
    "GetChargingProfiles": "POST /api/v1/stations/{station_id}/charging-profiles/refresh",
}


def refuse_raw(station_id: str, action: str) -> None:
    """Raise the problem for an action the raw endpoint does not send."""
    typed = TYPED_ENDPOINTS.get(action)
    if typed is not None:
        endpoint = typed.replace("{station_id}", station_id)
        raise ApiProblem(
            409,
            f"{action} changes state Ampyre keeps: send it with {endpoint}",
            slug="use-typed-endpoint",
            title="Use the typed endpoint",
            action=action,
            typed_endpoint=endpoint,
        )
    if station_initiated(action):
        raise ApiProblem(
            422,
            f"{action} is sent by a station, never by a CSMS",
            slug="station-initiated-action",
            title="Not a CSMS command",
            action=action,
        )


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
        Refused, nothing sent: 422 for an action only stations send (BootNotification,
        Heartbeat, ...); 409 for SendLocalList, ReserveNow, CancelReservation and remote
        start, which go through their typed endpoints (named in `typed_endpoint`).
        """
        await deps.stations.require(station_id)
        refuse_raw(station_id, action)
        wait = timeout_s if timeout_s is not None else deps.settings.call_timeout
        try:
            outcome = await deps.commands.call(station_id, action, payload or {}, timeout=wait)
        except CommandError as exc:
            command_failed(station_id, action, exc, wait, deps.commands.ocpp_version(station_id))
        check_outcome(station_id, action, outcome)
        return CommandResult(status=outcome.status, response=outcome.payload)

    return router
