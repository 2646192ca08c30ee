"""Sending any OCPP action to a station and returning its answer (the passthrough)."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import problems
from ampyre.api.routes.stations import StationId
from ampyre.api.schemas import CommandResult
from ampyre.domain.models import Role
from ampyre.services.commands import (
    CommandError,
    CommandTimeout,
    InvalidPayload,
    StationNotConnected,
    UnknownAction,
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
        except StationNotConnected:
            raise ApiProblem(
                409,
                f"station {station_id!r} is not connected",
                slug="station-not-connected",
            ) from None
        except CommandTimeout:
            raise ApiProblem(
                504,
                f"station {station_id!r} did not answer {action} within {wait:g} s",
                slug="station-timeout",
                title="Station timeout",
            ) from None
        except UnknownAction as exc:
            version = deps.commands.ocpp_version(station_id)
            raise ApiProblem(
                400,
                f"{action} is not an action Ampyre can send to a {version or 'this'} station"
                + (f": {exc}" if str(exc) else ""),
                slug="unknown-action",
                action=action,
                ocpp_version=version,
            ) from None
        except InvalidPayload as exc:
            raise ApiProblem(
                422,
                f"the {action} payload does not match the OCPP schema: {exc}",
                slug="invalid-payload",
                title="Invalid OCPP payload",
                error_code=exc.error_code,
                path=exc.path,
                errors=[
                    {
                        "loc": ["body", *(p for p in (exc.path or "").split(".") if p)],
                        "msg": str(exc),
                        "type": exc.error_code,
                    }
                ],
            ) from None
        except CommandError as exc:
            raise ApiProblem(
                502, f"the command could not be delivered: {exc}", slug="command-failed"
            ) from None
        if not outcome.ok:
            raise ApiProblem(
                502,
                f"station {station_id!r} answered {action} with "
                f"{outcome.error_code}: {outcome.error_description or ''}".rstrip(": "),
                slug="call-error",
                title="Station returned a CALLERROR",
                error_code=outcome.error_code,
                error_description=outcome.error_description,
                error_details=outcome.error_details or {},
            )
        return CommandResult(status=outcome.status, response=outcome.payload)

    return router
