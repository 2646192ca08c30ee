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
from ampyre.services.station_port import (
    ListEntry,
    NotAddressable,
    ResetKind,
    ResetWhen,
    Trigger,
)

# 2.0.1 TriggerMessageRequest requestedMessage (MessageTriggerEnumType); the Trigger
# values are these names.
TRIGGERS_201: Final = (
    Trigger.BOOT_NOTIFICATION,
    Trigger.HEARTBEAT,
    Trigger.METER_VALUES,
    Trigger.STATUS_NOTIFICATION,
    Trigger.TRANSACTION_EVENT,
    Trigger.FIRMWARE_STATUS,
    Trigger.LOG_STATUS,
    Trigger.SIGN_STATION_CERTIFICATE,
    Trigger.SIGN_V2G_CERTIFICATE,
    Trigger.SIGN_COMBINED_CERTIFICATE,
    Trigger.PUBLISH_FIRMWARE_STATUS,
)


class Codec201:
    version = OcppVersion.V201
    trigger_set: tuple[Trigger, ...] = TRIGGERS_201

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

    def transaction_status(self, transaction_id: str | None) -> Request | None:
        # D14 / E14: without transactionId the station only says whether it has queued
        # transaction messages.
        if transaction_id is None:
            return "GetTransactionStatus", {}
        return "GetTransactionStatus", {"transactionId": transaction_id}

    def transaction_status_answer(self, answer: dict[str, Any]) -> tuple[bool | None, bool | None]:
        ongoing = answer.get("ongoingIndicator")
        queued = answer.get("messagesInQueue")
        return (
            ongoing if isinstance(ongoing, bool) else None,
            queued if isinstance(queued, bool) else None,
        )

    def triggers(self) -> tuple[Trigger, ...]:
        return self.trigger_set

    def trigger(
        self, message: Trigger, evse_id: int | None, connector_id: int | None
    ) -> Request | None:
        """TriggerMessageRequest (F06); `evse` only for one EVSE (or its connector)."""
        if message not in self.trigger_set:
            return None
        payload: dict[str, Any] = {"requestedMessage": message.value}
        evse = _evse(evse_id, connector_id)
        if evse is not None:
            payload["evse"] = evse
        return "TriggerMessage", payload

    def reset(self, kind: ResetKind, when: ResetWhen, evse_id: int | None) -> Request:
        """ResetRequest (B11/B12). 2.x has no hard reset: how the station restarts is its
        own business, so both kinds go as Immediate (running transactions are ended
        first) and a soft one may wait (OnIdle: Scheduled while a transaction runs).
        With evseId only that EVSE is reset."""
        if when is ResetWhen.ON_IDLE:
            if kind is ResetKind.HARD:
                raise NotAddressable("a hard reset does not wait for idle")
            payload: dict[str, Any] = {"type": "OnIdle"}
        else:
            payload = {"type": "Immediate"}
        if evse_id is not None:
            payload["evseId"] = evse_id
        return "Reset", payload

    def change_availability(
        self, operative: bool, evse_id: int | None, connector_id: int | None
    ) -> Request:
        """ChangeAvailabilityRequest: G04 without `evse` (the whole station), G03 with it
        (an EVSE, or one connector of it)."""
        payload: dict[str, Any] = {"operationalStatus": "Operative" if operative else "Inoperative"}
        evse = _evse(evse_id, connector_id)
        if evse is not None:
            payload["evse"] = evse
        return "ChangeAvailability", payload

    def unlock(self, evse_id: int, connector_id: int) -> Request:
        """UnlockConnectorRequest (F05). The station refuses while an authorized
        transaction runs there (OngoingAuthorizedTransaction)."""
        return "UnlockConnector", {"evseId": evse_id, "connectorId": connector_id}

    def set_network_profile(self, slot: int, connection: dict[str, Any]) -> Request:
        """SetNetworkProfileRequest (B09)."""
        return "SetNetworkProfile", {"configurationSlot": slot, "connectionData": connection}

    def data_transfer(self, vendor_id: str, message_id: str | None, data: Any) -> Request:
        """DataTransferRequest (P01): data is any JSON value."""
        payload: dict[str, Any] = {"vendorId": vendor_id}
        if message_id is not None:
            payload["messageId"] = message_id
        if data is not None:
            payload["data"] = data
        return "DataTransfer", payload


def _evse(evse_id: int | None, connector_id: int | None) -> dict[str, Any] | None:
    """EVSEType of an address: None for the whole station (no EVSE, or EVSE 0)."""
    if not evse_id:
        if connector_id:
            raise NotAddressable("a connector is addressed within its EVSE: give evse_id")
        return None
    evse: dict[str, Any] = {"id": evse_id}
    if connector_id:
        evse["connectorId"] = connector_id
    return evse
