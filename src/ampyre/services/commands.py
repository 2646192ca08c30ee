"""Sending a CALL to a station and waiting for its answer, version-neutral.

The REST API and later the services use a CommandRouter; the gateway implements it for
the stations whose sockets this process holds (and, multi-node, forwards over the bus).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class CommandError(Exception):
    """Base of everything that keeps a command from getting an answer."""


class StationNotConnected(CommandError):
    pass


class CommandTimeout(CommandError):
    pass


class UnknownAction(CommandError):
    """The action does not exist for the station's OCPP version (CSMS -> station)."""


class InvalidPayload(CommandError):
    """The payload fails the official schema; nothing was sent."""

    def __init__(self, message: str, error_code: str, path: str | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.path = path


@dataclass(slots=True, frozen=True)
class CallOutcome:
    """The station's answer: a CALLRESULT (ok) or a CALLERROR."""

    ok: bool
    payload: dict[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    error_description: str | None = None
    error_details: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        """The reply's status field in lower case ('accepted', 'rejected', ...), or 'error'."""
        if not self.ok:
            return "error"
        value = self.payload.get("status")
        return value.lower() if isinstance(value, str) else "ok"


class CommandRouter(Protocol):
    def ocpp_version(self, station_id: str) -> str | None:
        """Subprotocol of the station's live connection anywhere in the cluster, or None."""
        ...

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> CallOutcome:
        """Validate, send, wait. Raises StationNotConnected, UnknownAction, InvalidPayload,
        CommandTimeout."""
        ...

    async def disconnect(self, station_id: str, reason: str) -> bool:
        """Close the station's connection (e.g. it was deleted); False if not connected."""
        ...


@dataclass(slots=True, frozen=True)
class CallFailure:
    """Why a command got no CALLRESULT, for services that report it rather than raise."""

    status: str  # "not_connected", "timeout" or "error"
    detail: str
    error_code: str | None = None  # the station's CALLERROR code, if it answered one


async def call_or_failure(
    router: CommandRouter,
    station_id: str,
    action: str,
    payload: dict[str, Any],
    timeout: float | None = None,
) -> CallOutcome | CallFailure:
    """`router.call`, with every way of getting no CALLRESULT turned into a CallFailure."""
    try:
        outcome = await router.call(station_id, action, payload, timeout=timeout)
    except StationNotConnected:
        return CallFailure("not_connected", "the station is not connected")
    except CommandTimeout:
        return CallFailure("timeout", f"the station did not answer {action} in time")
    except InvalidPayload as exc:
        return CallFailure("error", f"{action} payload refused by the schema: {exc}")
    except CommandError as exc:
        return CallFailure("error", f"{action} could not be delivered: {exc}")
    if not outcome.ok:
        return CallFailure(
            "error",
            f"the station answered {action} with {outcome.error_code}: "
            f"{outcome.error_description or ''}".rstrip(": "),
            outcome.error_code,
        )
    return outcome
