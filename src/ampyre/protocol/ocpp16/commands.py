"""OCPP 1.6J encodings of the commands Ampyre gives a station, and decodings of their
answers (the StationCommands port speaks domain terms; this is its 1.6 wire form)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ampyre.domain.authz import AuthDecision, Reservation
from ampyre.domain.models import OcppVersion
from ampyre.protocol.codec import Request
from ampyre.protocol.ocpp16.authorization import ID_TAG_MAX, id_tag_info
from ampyre.protocol.timefmt import to_ocpp
from ampyre.services.station_port import (
    ListEntry,
    NotAddressable,
    ResetKind,
    ResetWhen,
    Trigger,
)

# 1.6 TriggerMessage.req requestedMessage (section 7.43 MessageTrigger).
_TRIGGERS: Final = {
    Trigger.BOOT_NOTIFICATION: "BootNotification",
    Trigger.HEARTBEAT: "Heartbeat",
    Trigger.METER_VALUES: "MeterValues",
    Trigger.STATUS_NOTIFICATION: "StatusNotification",
    Trigger.FIRMWARE_STATUS: "FirmwareStatusNotification",
    Trigger.DIAGNOSTICS_STATUS: "DiagnosticsStatusNotification",
}
_RESET_TYPES: Final = {ResetKind.SOFT: "Soft", ResetKind.HARD: "Hard"}


def connector_of(evse_id: int | None, connector_id: int | None) -> int | None:
    """The 1.6 connectorId of an (EVSE, connector) address. 1.6 has no EVSE level: Ampyre
    files 1.6 connector n as EVSE n, connector n (ocpp16/provisioning.py), so either
    number names it, and both must agree when both are given. None: neither given."""
    if evse_id is not None and connector_id is not None and evse_id != connector_id:
        raise NotAddressable(
            f"OCPP 1.6 has no EVSEs: connector {evse_id} is EVSE {evse_id}, connector "
            f"{evse_id}; EVSE {evse_id}, connector {connector_id} does not exist"
        )
    return evse_id if evse_id is not None else connector_id


class Codec16:
    version = OcppVersion.V16

    def entry_signature(self, decision: AuthDecision) -> str:
        info = id_tag_info(decision)
        parts = [info["status"], info.get("expiryDate", ""), info.get("parentIdTag", "")]
        return "|".join(parts).rstrip("|")

    def start(
        self,
        evse_id: int | None,
        id_token: str,
        token_type: str,
        remote_start_id: int,
        profile: dict[str, Any] | None,
    ) -> Request:
        # RemoteStartTransaction.req (section 6.33): no token type and no remoteStartId
        # in 1.6; the connector stands for the EVSE.
        payload: dict[str, Any] = {"idTag": id_token}
        if evse_id is not None:
            payload["connectorId"] = evse_id
        if profile is not None:
            payload["chargingProfile"] = profile
        return "RemoteStartTransaction", payload

    def started_transaction(self, answer: dict[str, Any]) -> str | None:
        return None  # RemoteStartTransaction.conf carries only a status

    def stop(self, transaction_id: str) -> Request:
        # RemoteStopTransaction.req transactionId is an integer (section 6.35).
        try:
            number = int(transaction_id)
        except ValueError:
            raise NotAddressable(
                f"transaction id {transaction_id!r} cannot be addressed over OCPP 1.6"
            ) from None
        return "RemoteStopTransaction", {"transactionId": number}

    def send_local_list(self, version: int, full: bool, entries: Sequence[ListEntry]) -> Request:
        """SendLocalList.req (section 6.41). An entry without a decision is a removal (no
        idTagInfo: "the idTag is removed" in a differential update, section 5.15). An
        empty Full update clears the list; the list is left out rather than sent empty."""
        payload: dict[str, Any] = {
            "listVersion": version,
            "updateType": "Full" if full else "Differential",
        }
        items: list[dict[str, Any]] = []
        for e in entries:
            item: dict[str, Any] = {"idTag": e.id_token}
            if e.decision is not None:
                item["idTagInfo"] = id_tag_info(e.decision)
            items.append(item)
        if items:
            payload["localAuthorizationList"] = items
        return "SendLocalList", payload

    def clear_cache(self) -> Request:
        return "ClearCache", {}

    def get_local_list_version(self) -> Request:
        return "GetLocalListVersion", {}

    def list_version(self, answer: dict[str, Any]) -> int | None:
        value = answer.get("listVersion")
        return value if isinstance(value, int) else None

    def reserve(self, reservation: Reservation) -> Request:
        """ReserveNow.req (section 6.39). connectorId 0 = any connector (the station
        answers Rejected unless it supports ReserveConnectorZeroSupported)."""
        r = reservation
        payload: dict[str, Any] = {
            "connectorId": r.evse_id or 0,
            "expiryDate": to_ocpp(r.expires_at),
            "idTag": r.id_token,
            "reservationId": r.id,
        }
        if r.group_id and len(r.group_id) <= ID_TAG_MAX:
            payload["parentIdTag"] = r.group_id
        return "ReserveNow", payload

    def cancel_reservation(self, reservation_id: int) -> Request:
        return "CancelReservation", {"reservationId": reservation_id}

    def transaction_status(self, transaction_id: str | None) -> Request | None:
        return None  # 1.6 has no GetTransactionStatus

    def transaction_status_answer(self, answer: dict[str, Any]) -> tuple[bool | None, bool | None]:
        return None, None

    def triggers(self) -> tuple[Trigger, ...]:
        return tuple(_TRIGGERS)

    def trigger(
        self, message: Trigger, evse_id: int | None, connector_id: int | None
    ) -> Request | None:
        """TriggerMessage.req (section 5.17); connectorId only for one connector."""
        requested = _TRIGGERS.get(message)
        if requested is None:
            return None
        payload: dict[str, Any] = {"requestedMessage": requested}
        connector = connector_of(evse_id, connector_id)
        if connector:
            payload["connectorId"] = connector
        return "TriggerMessage", payload

    def reset(self, kind: ResetKind, when: ResetWhen, evse_id: int | None) -> Request:
        """Reset.req (section 5.14): Soft ends transactions gracefully and restarts the
        application, Hard restarts the hardware at once. Always the whole Charge Point and
        always now: 1.6 can neither reset one connector nor wait for idle."""
        if evse_id is not None:
            raise NotAddressable("OCPP 1.6 resets only the whole Charge Point, not one EVSE")
        if when is not ResetWhen.IMMEDIATE:
            raise NotAddressable(
                "OCPP 1.6 has no reset on idle (a Soft reset ends running transactions)"
            )
        return "Reset", {"type": _RESET_TYPES[kind]}

    def change_availability(
        self, operative: bool, evse_id: int | None, connector_id: int | None
    ) -> Request:
        """ChangeAvailability.req (section 5.2): connectorId 0 is the whole Charge Point."""
        connector = connector_of(evse_id, connector_id) if evse_id is not None else 0
        kind = "Operative" if operative else "Inoperative"
        return "ChangeAvailability", {"connectorId": connector, "type": kind}

    def unlock(self, evse_id: int, connector_id: int) -> Request:
        """UnlockConnector.req (section 5.18). A running transaction there is ended by
        the station first (section 5.18), not refused."""
        connector_of(evse_id, connector_id)  # both must agree
        return "UnlockConnector", {"connectorId": evse_id}

    def set_network_profile(self, slot: int, connection: dict[str, Any]) -> Request:
        raise NotAddressable(
            "OCPP 1.6 has no network profiles (the security extension's SecurityProfile "
            "and AuthorizationKey keys are set as configuration)"
        )

    def data_transfer(self, vendor_id: str, message_id: str | None, data: Any) -> Request:
        """DataTransfer.req (section 5.5): 1.6 data is text; anything else is refused
        rather than silently encoded (the vendor decides the text's format)."""
        payload: dict[str, Any] = {"vendorId": vendor_id}
        if message_id is not None:
            payload["messageId"] = message_id
        if data is not None:
            if not isinstance(data, str):
                raise NotAddressable("OCPP 1.6 DataTransfer data is a string")
            payload["data"] = data
        return "DataTransfer", payload
