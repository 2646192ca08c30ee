"""What a per-version command codec provides: the encoding of every CSMS-initiated
command the services give (in domain terms) and the decoding of its answer. One codec per
OCPP version: protocol/ocpp16/commands.py, ocpp201/commands.py, ocpp21/commands.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ampyre.domain.authz import AuthDecision, Reservation
from ampyre.domain.models import OcppVersion
from ampyre.services.station_port import ListEntry, ResetKind, ResetWhen, Trigger

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

    def transaction_status(self, transaction_id: str) -> Request | None:
        """None if the version cannot ask about one transaction."""
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


def answer_status(answer: dict[str, Any]) -> str | None:
    """The status field every version's command answers carry, as sent."""
    value = answer.get("status")
    return value if isinstance(value, str) else None
