"""OCPP 2.0.1 (and 2.1) transactions: TransactionEvent (block E) and MeterValues (J01).
Thin: decode -> TransactionService -> encode.

Every write is awaited before the answer (durable before ack); a failed write raises
StoreUnavailable, which the session turns into an InternalError so the station retries
(2.0.1 E13: transaction-related messages are retried until acknowledged). A resent
TransactionEvent (same transactionId and seqNo) is absorbed by the store.

An Ended event is never refused for a negative energy register: the stop would be lost
after the station's retries (as 1.6 section 4.10 says of StopTransaction); it is stored as
sent and logged. Numbers no database column can hold, and negative seqNo values (the
sequence starts at 0, so gaps could not be told), are refused.
"""

from __future__ import annotations

from typing import Any

from ampyre.domain.transactions import EventKind, StationMeterValues, TransactionEvent
from ampyre.protocol import meter
from ampyre.protocol import tx_checks as checks
from ampyre.protocol.ocpp201.authorization import id_token_info
from ampyre.protocol.session import CallContext, Handler
from ampyre.services.transactions import TransactionService

# TransactionType.stoppedReason: "MAY only be omitted when Reason is Local".
DEFAULT_STOP_REASON = "Local"
_KINDS = {k.value: k for k in EventKind}


def handlers(svc: TransactionService) -> dict[str, Handler]:
    async def transaction_event(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        action = "TransactionEvent"
        kind = _KINDS[p["eventType"]]
        at = checks.timestamp(ctx, action, p["timestamp"])
        # An Ended event is never refused for what it says: that would lose the stop.
        readings = checks.readings(
            ctx, action, meter.parse_2x, p.get("meterValue"), kind is not EventKind.ENDED
        )
        info = p["transactionInfo"]
        evse = p.get("evse") or {}
        evse_id = evse.get("id")
        if evse_id is not None and evse_id <= 0:
            # EVSE 0 is the whole station; a transaction runs on an EVSE.
            raise checks.refuse(ctx, action, f"evse id {evse_id} cannot have a transaction")
        checks.int_field(ctx, action, "seqNo", p["seqNo"])
        checks.int_field(ctx, action, "evse id", evse_id)
        checks.int_field(ctx, action, "evse connectorId", evse.get("connectorId"))
        checks.int_field(ctx, action, "remoteStartId", info.get("remoteStartId"), meter.INT_MIN)
        checks.int_field(ctx, action, "reservationId", p.get("reservationId"), meter.INT_MIN)
        token = p.get("idToken")
        stop_reason = info.get("stoppedReason")
        if stop_reason is None and kind is EventKind.ENDED:
            stop_reason = DEFAULT_STOP_REASON
        event = TransactionEvent(
            station_id=ctx.station_id,
            kind=kind,
            timestamp=at,
            received_at=svc.now(),
            transaction_id=info["transactionId"],
            event_key=f"seq:{p['seqNo']}",
            seq_no=p["seqNo"],
            evse_id=evse_id,
            connector_id=evse.get("connectorId"),
            id_token=token["idToken"] if token else None,
            id_token_type=token["type"] if token else None,
            trigger_reason=p["triggerReason"],
            charging_state=info.get("chargingState"),
            stop_reason=stop_reason,
            remote_start_id=info.get("remoteStartId"),
            reservation_id=p.get("reservationId"),
            offline=bool(p.get("offline", False)),
            meter_values=readings,
            payload=p,
            ocpp_version=ctx.version.value,
        )
        recorded = await svc.record(event)
        # An idToken in the request gets its IdTokenInfo in the response (E01/E03: the
        # CSMS authorizes the token the transaction was started or stopped with).
        if recorded.decision is None:
            return {}
        return {"idTokenInfo": id_token_info(recorded.decision)}

    async def meter_values(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        # J01: meter values outside a transaction (evseId 0 = the main meter).
        checks.int_field(ctx, "MeterValues", "evseId", p["evseId"])
        readings = checks.readings(ctx, "MeterValues", meter.parse_2x, p["meterValue"])
        await svc.record_station_meter_values(
            StationMeterValues(ctx.station_id, p["evseId"], None, readings, svc.now())
        )
        return {}

    return {"TransactionEvent": transaction_event, "MeterValues": meter_values}
