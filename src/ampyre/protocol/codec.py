"""What a per-version command codec provides: the encoding of every CSMS-initiated
command the services give (in domain terms) and the decoding of its answer. One codec per
OCPP version: protocol/ocpp16/commands.py, ocpp201/commands.py, ocpp21/commands.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ampyre.domain.authz import AuthDecision, Reservation
from ampyre.domain.models import OcppVersion
from ampyre.services.commands import CallFailure, CommandRouter, call_or_failure
from ampyre.services.station_port import Answer, ListEntry, ResetKind, ResetWhen, Trigger

# (action, payload) of one CALL.
Request = tuple[str, dict[str, Any]]


class CommandCodec(Protocol):
    version: OcppVersion

    def entry_signature(self, decision: AuthDecision) -> str: ...

    def start(
        self,
        evse_id: int | None,
        id_token: str,
        token_type: str,
        remote_start_id: int,
        profile: dict[str, Any] | None,
    ) -> Request: ...

    def started_transaction(self, answer: dict[str, Any]) -> str | None:
        """The transaction the station says already runs, from a start's answer."""
        ...

    def stop(self, transaction_id: str) -> Request:
        """Raises NotAddressable if the id cannot be expressed in this version."""
        ...

    def send_local_list(
        self, version: int, full: bool, entries: Sequence[ListEntry]
    ) -> Request: ...

    def clear_cache(self) -> Request: ...

    def get_local_list_version(self) -> Request: ...

    def list_version(self, answer: dict[str, Any]) -> int | None: ...

    def reserve(self, reservation: Reservation) -> Request: ...

    def cancel_reservation(self, reservation_id: int) -> Request: ...

    def transaction_status(self, transaction_id: str | None) -> Request | None:
        """None if the version cannot ask about transactions (no id: about the station's
        queued transaction messages only)."""
        ...

    def transaction_status_answer(self, answer: dict[str, Any]) -> tuple[bool | None, bool | None]:
        """(ongoing, messages in queue) from the answer."""
        ...

    def triggers(self) -> tuple[Trigger, ...]:
        """The triggers this version has (TriggerMessage requestedMessage)."""
        ...

    def trigger(
        self, message: Trigger, evse_id: int | None, connector_id: int | None
    ) -> Request | None:
        """None if the version has no such trigger."""
        ...

    def reset(self, kind: ResetKind, when: ResetWhen, evse_id: int | None) -> Request:
        """Raises NotAddressable if the version has no such reset."""
        ...

    def change_availability(
        self, operative: bool, evse_id: int | None, connector_id: int | None
    ) -> Request:
        """The whole station without `evse_id`. Raises NotAddressable if the version
        cannot address the connector."""
        ...

    def unlock(self, evse_id: int, connector_id: int) -> Request:
        """Raises NotAddressable if the version cannot address the connector."""
        ...

    def set_network_profile(self, slot: int, connection: dict[str, Any]) -> Request:
        """Raises NotAddressable if the version has no network profiles."""
        ...

    def data_transfer(self, vendor_id: str, message_id: str | None, data: Any) -> Request:
        """Raises NotAddressable if the version cannot carry `data`."""
        ...


def answer_status(answer: dict[str, Any]) -> str | None:
    """The status field every version's command answers carry, as sent."""
    value = answer.get("status")
    return value if isinstance(value, str) else None


async def ask(
    router: CommandRouter, station_id: str, request: Request, timeout: float | None
) -> tuple[Answer, dict[str, Any] | None]:
    """Send one CALL and take whatever comes back as an Answer (no CALLRESULT: status
    not_connected / timeout / error, a CALLERROR's code as `station_answer`), with the
    CALLRESULT's payload (None without one) for the codec to decode."""
    action, payload = request
    outcome = await call_or_failure(router, station_id, action, payload, timeout)
    if isinstance(outcome, CallFailure):
        return Answer(outcome.status, outcome.error_code, outcome.detail), None
    return Answer(outcome.status, answer_status(outcome.payload), outcome=outcome), outcome.payload
