"""OCPI 2.2.1 commands as plain values (mod_commands: CommandType, CommandResponse,
CommandResult), the record of a command received or sent, and which CommandResult a
station's answer to a command is."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final


class CommandType(enum.StrEnum):
    """OCPI 2.2.1 mod_commands 13.4.3 CommandType."""

    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


class CommandResponseType(enum.StrEnum):
    """OCPI 2.2.1 mod_commands 13.4.1: the CPO's own answer, given at once."""

    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandResultType(enum.StrEnum):
    """OCPI 2.2.1 mod_commands 13.4.2: the Charge Point's result, POSTed later."""

    ACCEPTED = "ACCEPTED"
    CANCELED_RESERVATION = "CANCELED_RESERVATION"
    EVSE_OCCUPIED = "EVSE_OCCUPIED"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
    FAILED = "FAILED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"


class CommandDirection(enum.StrEnum):
    RECEIVED = "received"  # we are the CPO: an eMSP sent it to us
    SENT = "sent"  # we are the eMSP: we sent it to a CPO


@dataclass(slots=True, frozen=True)
class CommandResponse:
    """OCPI 2.2.1 mod_commands 13.3.2 CommandResponse."""

    result: CommandResponseType
    timeout: int
    message: str | None = None  # one DisplayText in English when given

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result.value, "timeout": self.timeout}
        if self.message:
            out["message"] = [{"language": "en", "text": self.message[:512]}]
        return out


@dataclass(slots=True, frozen=True)
class CommandResult:
    """OCPI 2.2.1 mod_commands 13.3.3 CommandResult."""

    result: CommandResultType
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result.value}
        if self.message:
            out["message"] = [{"language": "en", "text": self.message[:512]}]
        return out


@dataclass(slots=True)
class CommandRecord:
    """One command, received (CPO) or sent (eMSP), with its response and result."""

    uid: str
    direction: CommandDirection
    command: CommandType
    request: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    partner_id: int | None = None
    country_code: str | None = None  # the eMSP that sent / we sent as
    party_id: str | None = None
    response: CommandResponseType | None = None
    response_message: str | None = None
    result: CommandResultType | None = None
    result_message: str | None = None
    response_url: str | None = None  # received: where the result goes
    timeout_at: datetime | None = None
    result_at: datetime | None = None  # received: result POSTed; sent: result received
    station_id: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    location_id: str | None = None
    transaction_id: int | None = None  # Ampyre transaction (pk) started / stopped
    reservation_id: int | None = None  # Ampyre reservation made / cancelled
    ocpi_reservation_id: str | None = None  # the eMSP's reservation_id
    id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# A station's answer (station_port.Answer.status, lower case) -> CommandResult, per command.
_RESULTS: Final[dict[CommandType, dict[str, CommandResultType]]] = {
    CommandType.START_SESSION: {
        "accepted": CommandResultType.ACCEPTED,
        "rejected": CommandResultType.REJECTED,
    },
    CommandType.STOP_SESSION: {
        "accepted": CommandResultType.ACCEPTED,
        "rejected": CommandResultType.REJECTED,
    },
    # OCPP 1.6 ReservationStatus / 2.0.1 ReserveNowStatusEnumType.
    CommandType.RESERVE_NOW: {
        "accepted": CommandResultType.ACCEPTED,
        "faulted": CommandResultType.EVSE_INOPERATIVE,
        "occupied": CommandResultType.EVSE_OCCUPIED,
        "rejected": CommandResultType.REJECTED,
        "unavailable": CommandResultType.EVSE_INOPERATIVE,
    },
    # CancelReservationStatus: Rejected = the station knows no such reservation.
    CommandType.CANCEL_RESERVATION: {
        "accepted": CommandResultType.ACCEPTED,
        "rejected": CommandResultType.UNKNOWN_RESERVATION,
    },
    # 1.6 UnlockStatus / 2.0.1 UnlockStatusEnumType.
    CommandType.UNLOCK_CONNECTOR: {
        "unlocked": CommandResultType.ACCEPTED,
        "unlockfailed": CommandResultType.FAILED,
        "notsupported": CommandResultType.NOT_SUPPORTED,
        "ongoingauthorizedtransaction": CommandResultType.REJECTED,
        "unknownconnector": CommandResultType.REJECTED,
    },
}

# CALLERROR codes that mean the station does not do this at all.
_UNSUPPORTED_ERRORS: Final = frozenset({"NotImplemented", "NotSupported"})


def result_of(
    command: CommandType, status: str, error_code: str | None = None
) -> CommandResultType:
    """The CommandResult for a station's answer `status` (lower case as in
    station_port.Answer; "timeout" / "not_connected" / "error" when there is none)."""
    if status == "timeout":
        return CommandResultType.TIMEOUT
    if status == "error":
        return (
            CommandResultType.NOT_SUPPORTED
            if error_code in _UNSUPPORTED_ERRORS
            else CommandResultType.FAILED
        )
    return _RESULTS[command].get(status, CommandResultType.FAILED)
