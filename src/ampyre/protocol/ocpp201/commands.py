"""OCPP 2.0.1 encodings of the commands Ampyre gives a station, and decodings of their
answers (the StationCommands port speaks domain terms; this is its 2.0.1 wire form).
2.1 uses the same messages for these commands: protocol/ocpp21/commands.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ampyre.domain.authz import AuthDecision, Reservation
from ampyre.domain.models import OcppVersion
from ampyre.protocol.codec import Request
from ampyre.protocol.ocpp201.authorization import group_token, id_token_info
from ampyre.protocol.timefmt import to_ocpp
from ampyre.services.station_port import ListEntry, Trigger

# 2.0.1 TriggerMessageRequest requestedMessage (MessageTriggerEnumType).
_TRIGGERS: Final = {
    Trigger.BOOT_NOTIFICATION: "BootNotification",
    Trigger.HEARTBEAT: "Heartbeat",
    Trigger.METER_VALUES: "MeterValues",
    Trigger.STATUS_NOTIFICATION: "StatusNotification",
    Trigger.TRANSACTION_EVENT: "TransactionEvent",
    Trigger.FIRMWARE_STATUS: "FirmwareStatusNotification",
    Trigger.LOG_STATUS: "LogStatusNotification",
}


class Codec201:
    version = OcppVersion.V201

    def entry_signature(self, decision: AuthDecision) -> str:
        info = id_token_info(decision)
        group = info.get("groupIdToken", {}).get("idToken", "")
        parts = [info["status"], info.get("cacheExpiryDateTime", ""), group]
        return "|".join(parts).rstrip("|")

    def start(
        self,
        evse_id: int | None,
        id_token: str,
        token_type: str,
        remote_start_id: int,
        profile: dict[str, Any] | None,
    ) -> Request:
        # RequestStartTransactionRequest (F01/F02): the remoteStartId comes back in the
        # TransactionEvent that starts the transaction.
        payload: dict[str, Any] = {
            "idToken": {"idToken": id_token, "type": token_type},
            "remoteStartId": remote_start_id,
        }
        if evse_id is not None:
            payload["evseId"] = evse_id
        if profile is not None:
            payload["chargingProfile"] = profile
        return "RequestStartTransaction", payload

    def started_transaction(self, answer: dict[str, Any]) -> str | None:
        # F01: transactionId is given when a transaction was already running.
        value = answer.get("transactionId")
        return value if isinstance(value, str) else None

    def stop(self, transaction_id: str) -> Request:
        return "RequestStopTransaction", {"transactionId": transaction_id}

    def send_local_list(self, version: int, full: bool, entries: Sequence[ListEntry]) -> Request:
        """SendLocalListRequest (D01). D01.FR.18: versionNumber > 0 (the caller counts
        from 1). An entry without a decision is a removal (D01.FR.17: no idTokenInfo in
        a differential update); the list has minItems 1, so an empty one is left out (a
        Full update without a list clears it, D01.FR.04)."""
        payload: dict[str, Any] = {
            "versionNumber": version,
            "updateType": "Full" if full else "Differential",
        }
        items: list[dict[str, Any]] = []
        for e in entries:
            item: dict[str, Any] = {"idToken": {"idToken": e.id_token, "type": e.type}}
            if e.decision is not None:
                item["idTokenInfo"] = id_token_info(e.decision)
            items.append(item)
        if items:
            payload["localAuthorizationList"] = items
        return "SendLocalList", payload

    def clear_cache(self) -> Request:
        return "ClearCache", {}

    def get_local_list_version(self) -> Request:
        return "GetLocalListVersion", {}

    def list_version(self, answer: dict[str, Any]) -> int | None:
        value = answer.get("versionNumber")
        return value if isinstance(value, int) else None

    def reserve(self, reservation: Reservation) -> Request:
        """ReserveNowRequest (H01). No evseId = any EVSE of the station;
        EVSE id 0 is the whole station, never an EVSE, so it also means "any"."""
        r = reservation
        payload: dict[str, Any] = {
            "id": r.id,
            "expiryDateTime": to_ocpp(r.expires_at),
            "idToken": {"idToken": r.id_token, "type": r.id_token_type.value},
        }
        if r.evse_id:
            payload["evseId"] = r.evse_id
        if r.connector_type:
            payload["connectorType"] = r.connector_type
        group = group_token(r.group_id)
        if group is not None:
            payload["groupIdToken"] = group
        return "ReserveNow", payload

    def cancel_reservation(self, reservation_id: int) -> Request:
        return "CancelReservation", {"reservationId": reservation_id}

    def transaction_status(self, transaction_id: str) -> Request | None:
        return "GetTransactionStatus", {"transactionId": transaction_id}

    def transaction_status_answer(self, answer: dict[str, Any]) -> tuple[bool | None, bool | None]:
        ongoing = answer.get("ongoingIndicator")
        queued = answer.get("messagesInQueue")
        return (
            ongoing if isinstance(ongoing, bool) else None,
            queued if isinstance(queued, bool) else None,
        )

    def trigger(
        self, message: Trigger, evse_id: int | None, connector_id: int | None
    ) -> Request | None:
        requested = _TRIGGERS.get(message)
        if requested is None:
            return None
        payload: dict[str, Any] = {"requestedMessage": requested}
        if evse_id:
            evse: dict[str, Any] = {"id": evse_id}
            if connector_id:
                evse["connectorId"] = connector_id
            payload["evse"] = evse
        return "TriggerMessage", payload
