"""Operator commands to a station that change nothing Ampyre stores: reset, change
availability, unlock a connector, trigger a message. Version-neutral: the station is
reached through the StationCommands port, whose codecs encode for its OCPP version.

Addresses are Ampyre's (EVSE, connector): a 1.6 connector n is EVSE n, connector n, as
its status notifications are filed; EVSE 0 (or none) is the whole station. What the
station's version cannot express raises NotAddressable (nothing is sent); a command that
no version can express (a connector without its EVSE, a hard reset that waits) raises
InvalidCommand. A command that gets no answer comes back as an Answer whose status says
why (not_connected, timeout, error).
"""

from __future__ import annotations

from typing import Any, Final

from ampyre.config import Settings
from ampyre.services.availability import AvailabilityTracker
from ampyre.services.station_port import (
    NOT_SUPPORTED,
    Answer,
    NotAddressable,
    ResetKind,
    ResetWhen,
    StationCommands,
    TransactionStatusAnswer,
    Trigger,
)

VENDOR_ID_MAX: Final = 255  # DataTransfer vendorId (1.6 CiString255, 2.x string(255))
MESSAGE_ID_MAX: Final = 50  # DataTransfer messageId


class InvalidCommand(ValueError):
    """The command makes no sense in any version; `field` names the offending input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TriggerNotSupported(NotAddressable):
    """The station's version has no such TriggerMessage; `supported` lists what it has."""

    def __init__(self, message: str, supported: tuple[Trigger, ...]) -> None:
        super().__init__(message)
        self.supported = supported


class StationControl:
    def __init__(
        self,
        commands: StationCommands,
        settings: Settings,
        availability: AvailabilityTracker | None = None,
    ) -> None:
        self._commands = commands
        self._settings = settings
        self.availability = availability

    def _wait(self, timeout: float | None) -> float:
        return timeout if timeout is not None else self._settings.call_timeout

    def connected_version(self, station_id: str) -> str | None:
        return self._commands.connected_version(station_id)

    def trigger_messages(self, version: str) -> tuple[Trigger, ...]:
        return self._commands.trigger_messages(version)

    async def reset(
        self,
        station_id: str,
        kind: ResetKind,
        when: ResetWhen = ResetWhen.IMMEDIATE,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> Answer:
        if kind is ResetKind.HARD and when is ResetWhen.ON_IDLE:
            raise InvalidCommand("a hard reset happens at once: it cannot wait for idle", "when")
        return await self._commands.reset(
            station_id, kind, when, evse_id or None, self._wait(timeout)
        )

    async def change_availability(
        self,
        station_id: str,
        operative: bool,
        evse_id: int | None = None,
        connector_id: int | None = None,
        timeout: float | None = None,
    ) -> Answer:
        _check_address(evse_id, connector_id)
        answer = await self._commands.change_availability(
            station_id, operative, evse_id or None, connector_id, self._wait(timeout)
        )
        if answer.status == "scheduled" and self.availability is not None:
            # A transaction runs there: the change follows when it ends (1.6 section 5.2,
            # 2.x G03.FR.xx / G04); followed until the station reports it.
            await self.availability.scheduled(station_id, evse_id, connector_id, operative)
        return answer

    async def unlock(
        self, station_id: str, evse_id: int, connector_id: int, timeout: float | None = None
    ) -> Answer:
        if evse_id < 1 or connector_id < 1:
            raise InvalidCommand("unlock names one connector: evse_id and connector_id >= 1")
        return await self._commands.unlock(station_id, evse_id, connector_id, self._wait(timeout))

    async def data_transfer(
        self,
        station_id: str,
        vendor_id: str,
        message_id: str | None = None,
        data: Any = None,
        timeout: float | None = None,
    ) -> Answer:
        """DataTransfer to the station (1.6 section 5.5, 2.x P01); the station answers
        Accepted, Rejected, UnknownMessageId or UnknownVendorId, maybe with data."""
        if not 1 <= len(vendor_id) <= VENDOR_ID_MAX:
            raise InvalidCommand(f"vendor_id has 1..{VENDOR_ID_MAX} characters", "vendor_id")
        if message_id is not None and not 1 <= len(message_id) <= MESSAGE_ID_MAX:
            raise InvalidCommand(f"message_id has 1..{MESSAGE_ID_MAX} characters", "message_id")
        return await self._commands.data_transfer(
            station_id, vendor_id, message_id, data, self._wait(timeout)
        )

    async def transaction_status(
        self, station_id: str, transaction_id: str | None = None, timeout: float | None = None
    ) -> TransactionStatusAnswer:
        """2.x GetTransactionStatus (D14 / E14): whether the transaction is ongoing and
        whether the station still has transaction messages queued. NotAddressable for
        1.6, which has no such message."""
        if transaction_id is not None and not 1 <= len(transaction_id) <= 36:
            raise InvalidCommand("transaction_id has 1..36 characters", "transaction_id")
        answer = await self._commands.transaction_status(
            station_id, transaction_id, self._wait(timeout)
        )
        if answer.status == NOT_SUPPORTED:
            raise NotAddressable(
                answer.detail or "the station's version has no GetTransactionStatus"
            )
        return answer

    async def trigger(
        self,
        station_id: str,
        message: Trigger,
        evse_id: int | None = None,
        connector_id: int | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """Raises TriggerNotSupported if the station's version has no such message."""
        _check_address(evse_id, connector_id)
        answer = await self._commands.trigger_message(
            station_id, message, evse_id or None, connector_id, self._wait(timeout)
        )
        if answer.status == NOT_SUPPORTED:
            version = self._commands.connected_version(station_id) or "?"
            raise TriggerNotSupported(
                f"{message.value} is not a TriggerMessage of OCPP {version.removeprefix('ocpp')}",
                self._commands.trigger_messages(version) if version != "?" else (),
            )
        return answer


def _check_address(evse_id: int | None, connector_id: int | None) -> None:
    if connector_id is not None and not evse_id:
        raise InvalidCommand(
            "a connector is named within its EVSE: give evse_id with connector_id", "evse_id"
        )
