"""The one port through which services give a station commands, in domain terms.

The protocol layer implements it (protocol/commands.py): it picks the codec of the
station's connected OCPP version, encodes the command, sends it through the
CommandRouter and decodes the answer. Services never see an action name or a payload;
what they get back are the dataclasses below.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ampyre.domain.authz import AuthDecision, Reservation
from ampyre.services.commands import CallOutcome, CommandError

# Answer.status when there is no answer from the station.
NOT_CONNECTED = "not_connected"
TIMEOUT = "timeout"
ERROR = "error"
FAILURES = frozenset({NOT_CONNECTED, TIMEOUT, ERROR})
NOT_SUPPORTED = "not_supported"  # the station's version has no such command


class NotAddressable(CommandError):
    """The command cannot be expressed in the station's version (e.g. a 2.x-style
    transaction id sent to a 1.6 station, whose transactionId is an integer)."""


@dataclass(slots=True, frozen=True)
class ListEntry:
    """One entry of a local authorization list update: a removal when `decision` is
    None; `signature` is how the entry's info looks for the station's version (equal
    signatures: the station needs no update)."""

    id_token: str
    type: str
    decision: AuthDecision | None
    signature: str = ""


@dataclass(slots=True, frozen=True)
class Answer:
    """A station's answer to a command.

    `status` is the answer's status in lower case (accepted, rejected, ...; "ok" when
    the answer has none) or, when there is no answer, not_connected / timeout / error.
    `station_answer` is the status as the station sent it (or its CALLERROR code),
    `outcome` the CALLRESULT / CALLERROR as received, for callers that show it."""

    status: str
    station_answer: str | None = None
    detail: str | None = None
    outcome: CallOutcome | None = None

    @property
    def answered(self) -> bool:
        return self.status not in FAILURES

    @property
    def response(self) -> dict[str, Any]:
        """The answer's payload as received ({} without a CALLRESULT)."""
        if self.outcome is None or not self.outcome.ok:
            return {}
        return self.outcome.payload


@dataclass(slots=True, frozen=True)
class StartAnswer:
    """The answer to a remote start: `transaction_id` is the transaction the station
    says already runs (2.x F01, cable plugged in first), if any."""

    outcome: CallOutcome
    transaction_id: str | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome.status == "accepted"


@dataclass(slots=True, frozen=True)
class ListVersionAnswer(Answer):
    """GetLocalListVersion: the version the station holds (0: no list, -1: local lists
    not supported)."""

    version: int | None = None


@dataclass(slots=True, frozen=True)
class TransactionStatusAnswer(Answer):
    """Whether the station still runs the transaction and still holds messages of it."""

    ongoing: bool | None = None
    messages_in_queue: bool | None = None


class Trigger(enum.StrEnum):
    """What a station can be asked to send now (TriggerMessage). The values are the
    message names operators know them by (1.6 MessageTrigger, 2.x MessageTriggerEnumType);
    which of them a version has is the codec's business (`trigger_messages`)."""

    BOOT_NOTIFICATION = "BootNotification"
    HEARTBEAT = "Heartbeat"
    METER_VALUES = "MeterValues"
    STATUS_NOTIFICATION = "StatusNotification"
    FIRMWARE_STATUS = "FirmwareStatusNotification"
    DIAGNOSTICS_STATUS = "DiagnosticsStatusNotification"  # 1.6 only (GetDiagnostics)
    # 2.x only from here on.
    TRANSACTION_EVENT = "TransactionEvent"
    LOG_STATUS = "LogStatusNotification"  # 2.x GetLog (1.6 has DiagnosticsStatus)
    SIGN_STATION_CERTIFICATE = "SignChargingStationCertificate"
    SIGN_V2G_CERTIFICATE = "SignV2GCertificate"
    SIGN_COMBINED_CERTIFICATE = "SignCombinedCertificate"
    PUBLISH_FIRMWARE_STATUS = "PublishFirmwareStatusNotification"
    SIGN_V2G20_CERTIFICATE = "SignV2G20Certificate"  # 2.1 only


class ResetKind(enum.StrEnum):
    """How hard a reset is. soft: end transactions gracefully, then restart; hard: restart
    at once (1.6 Hard; 2.x has no such reset and refuses it, see ResetWhen)."""

    SOFT = "soft"
    HARD = "hard"


class ResetWhen(enum.StrEnum):
    """When a reset happens. immediate: now (ongoing transactions are ended first);
    on_idle: once no transaction runs (2.x OnIdle; 1.6 cannot wait)."""

    IMMEDIATE = "immediate"
    ON_IDLE = "on_idle"


class StationCommands(Protocol):
    """Commands to a station in domain terms. `timeout` None: the connection's default.

    `start_charging` and `stop_charging` raise CommandError (StationNotConnected,
    CommandTimeout, ...) when they get no answer; the others fold that into the answer's
    status."""

    def connected_version(self, station_id: str) -> str | None:
        """The OCPP version of the station's live connection, or None."""
        ...

    def entry_signature(self, version: str, decision: AuthDecision) -> str:
        """The info of a local list entry as `version` sends it, compactly
        ("Accepted|2030-01-01T00:00:00.000Z|G1"); its first part is the status."""
        ...

    async def start_charging(
        self,
        station_id: str,
        evse_id: int | None,
        id_token: str,
        token_type: str,
        remote_start_id: int,
        profile: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> StartAnswer: ...

    async def stop_charging(
        self, station_id: str, transaction_id: str, timeout: float | None = None
    ) -> CallOutcome:
        """Raises NotAddressable if the id cannot be sent in the station's version."""
        ...

    async def send_local_list(
        self,
        station_id: str,
        version: int,
        full: bool,
        entries: Sequence[ListEntry],
        timeout: float | None = None,
    ) -> Answer: ...

    async def clear_cache(self, station_id: str, timeout: float | None = None) -> Answer: ...

    async def get_local_list_version(
        self, station_id: str, timeout: float | None = None
    ) -> ListVersionAnswer: ...

    async def reserve(
        self, station_id: str, reservation: Reservation, timeout: float | None = None
    ) -> Answer: ...

    async def cancel_reservation(
        self, station_id: str, reservation_id: int, timeout: float | None = None
    ) -> Answer: ...

    async def transaction_status(
        self, station_id: str, transaction_id: str | None, timeout: float | None = None
    ) -> TransactionStatusAnswer:
        """status "not_supported" if the station's version cannot be asked; without a
        transaction id only about the station's queued transaction messages."""
        ...

    async def trigger_message(
        self,
        station_id: str,
        message: Trigger,
        evse_id: int | None = None,
        connector_id: int | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """status "not_supported" if the version has no such trigger; raises
        NotAddressable if it cannot address the connector (1.6: `evse_id` and
        `connector_id` differ; 2.x: a connector without its EVSE)."""
        ...

    def trigger_messages(self, version: str) -> tuple[Trigger, ...]:
        """The triggers stations of `version` know, in the order they are listed."""
        ...

    async def reset(
        self,
        station_id: str,
        kind: ResetKind,
        when: ResetWhen = ResetWhen.IMMEDIATE,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """Raises NotAddressable if the version cannot express it (see the codecs)."""
        ...

    async def change_availability(
        self,
        station_id: str,
        operative: bool,
        evse_id: int | None = None,
        connector_id: int | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """The whole station without `evse_id`; raises NotAddressable if the version
        cannot address the connector."""
        ...

    async def unlock(
        self, station_id: str, evse_id: int, connector_id: int, timeout: float | None = None
    ) -> Answer:
        """Raises NotAddressable if the version cannot address the connector."""
        ...

    async def set_network_profile(
        self, station_id: str, slot: int, connection: dict[str, Any], timeout: float | None = None
    ) -> Answer:
        """2.x SetNetworkProfile; NotAddressable for 1.6."""
        ...

    async def data_transfer(
        self,
        station_id: str,
        vendor_id: str,
        message_id: str | None,
        data: Any,
        timeout: float | None = None,
    ) -> Answer:
        """A vendor-specific message (DataTransfer); the answer's status and data are in
        Answer.response. Raises NotAddressable if the version cannot carry `data`."""
        ...
