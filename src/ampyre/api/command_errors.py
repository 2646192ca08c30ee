"""How a command sent to a station maps to an HTTP answer, for every route that sends one:
409 not connected, 504 no answer in time, 400 unknown action, 422 payload refused by the
schema (nothing sent), 502 undeliverable or answered with a CALLERROR."""

from collections.abc import Sequence
from typing import NoReturn

from ampyre.api.problems import ApiProblem
from ampyre.services.commands import (
    CallOutcome,
    CommandError,
    CommandTimeout,
    InvalidPayload,
    StationNotConnected,
    UnknownAction,
)
from ampyre.services.station_port import Answer


def command_failed(
    station_id: str,
    action: str,
    exc: CommandError,
    wait: float | None = None,
    version: str | None = None,
) -> NoReturn:
    """Raise the problem for a command that got no answer (`exc` from CommandRouter.call)."""
    if isinstance(exc, StationNotConnected):
        raise ApiProblem(
            409, f"station {station_id!r} is not connected", slug="station-not-connected"
        ) from None
    if isinstance(exc, CommandTimeout):
        within = f"within {wait:g} s" if wait is not None else "in time"
        raise ApiProblem(
            504,
            f"station {station_id!r} did not answer {action} {within}",
            slug="station-timeout",
            title="Station timeout",
        ) from None
    if isinstance(exc, UnknownAction):
        raise ApiProblem(
            400,
            f"{action} is not an action Ampyre can send to a {version or 'this'} station"
            + (f": {exc}" if str(exc) else ""),
            slug="unknown-action",
            action=action,
            ocpp_version=version,
        ) from None
    if isinstance(exc, InvalidPayload):
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
    raise ApiProblem(
        502, f"the command could not be delivered: {exc}", slug="command-failed"
    ) from None


def check_outcome(station_id: str, action: str, outcome: CallOutcome) -> None:
    """Raise 502 if the station answered with a CALLERROR."""
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


def check_answer(station_id: str, action: str, answer: Answer, wait: float | None = None) -> None:
    """Raise the problem for a StationCommands answer that is no CALLRESULT: 409 not
    connected, 504 no answer in time, 502 a CALLERROR (its code in `error_code`) or a
    command that could not be delivered."""
    if answer.status == "not_connected":
        raise ApiProblem(
            409, f"station {station_id!r} is not connected", slug="station-not-connected"
        )
    if answer.status == "timeout":
        within = f"within {wait:g} s" if wait is not None else "in time"
        raise ApiProblem(
            504,
            f"station {station_id!r} did not answer {action} {within}",
            slug="station-timeout",
            title="Station timeout",
        )
    if answer.status == "error":
        outcome = answer.outcome
        if answer.station_answer is not None:
            raise ApiProblem(
                502,
                answer.detail or f"station {station_id!r} answered {action} with an error",
                slug="call-error",
                title="Station returned a CALLERROR",
                error_code=answer.station_answer,
                error_description=outcome.error_description if outcome is not None else None,
            )
        raise ApiProblem(502, answer.detail or f"{action} failed", slug="command-failed")


def not_in_version(station_id: str, exc: Exception, version: str | None) -> NoReturn:
    """422: the station's OCPP version cannot express the command; nothing was sent."""
    raise ApiProblem(
        422,
        f"station {station_id!r} speaks {version or 'another version'}: {exc}",
        slug="not-in-version",
        title="Not possible in the station's OCPP version",
        ocpp_version=version,
    ) from None


def invalid_request(
    message: str, field: str | None = None, loc: Sequence[str | int] | None = None
) -> NoReturn:
    """422 for a body that passed its schema but not the rules: the problem's `errors`
    point at `loc` (default: ["body", field])."""
    where = list(loc) if loc is not None else ["body", field] if field else ["body"]
    raise ApiProblem(
        422,
        message,
        slug="validation-error",
        title="Invalid request",
        errors=[{"loc": where, "msg": message, "type": "value_error"}],
    ) from None
