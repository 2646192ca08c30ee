"""OCPP 1.6J transactions: StartTransaction, StopTransaction, MeterValues.
Thin: decode -> TransactionService -> encode.

Every write is awaited before the answer (durable before ack); a failed write raises
StoreUnavailable, which the session turns into an InternalError so the station retries
(1.6 section 4.10 / 3.16: transaction-related messages are retried until acknowledged).

A StopTransaction is never refused for what it says (1.6 section 4.10: sanity checks
"SHOULD NOT ever cause the Central System to not respond with a StopTransaction.conf"):
refusing it would only lose the stop after the station's retries. Odd values in it (a
negative meterStop) are stored as sent and logged. A StartTransaction or MeterValues with
a negative energy register is refused with a PropertyConstraintViolation (it would
corrupt the energy of a transaction still running), and so is a number no database
column can hold.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ampyre.domain.transactions import (
    ENERGY_REGISTER,
    EventKind,
    MeterReading,
    SampledValue,
    StationMeterValues,
    TransactionEvent,
)
from ampyre.protocol import meter
from ampyre.protocol import tx_checks as checks
from ampyre.protocol.ocpp16.authorization import id_tag_info
from ampyre.protocol.session import CallContext, Handler
from ampyre.services.transactions import TransactionService

log = logging.getLogger(__name__)

# 1.6 section 6.45 StopTransaction.req: reason "MAY only be omitted when the Reason is
# Local".
DEFAULT_STOP_REASON = "Local"


def _register(at: datetime, wh: int, context: str) -> MeterReading:
    """meterStart/meterStop: the energy register in Wh (1.6 sections 6.43, 6.45)."""
    return MeterReading(
        at,
        (
            SampledValue(
                value=float(wh),
                raw_value=str(wh),
                measurand=ENERGY_REGISTER,
                context=context,
                unit="Wh",
                format="Raw",
                si_value=float(wh),
                si_unit="Wh",
            ),
        ),
    )


def handlers(svc: TransactionService) -> dict[str, Handler]:
    async def start_transaction(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        connector = p["connectorId"]
        if connector <= 0:
            # Connector 0 is the whole station; a transaction runs on a connector (7.10).
            raise checks.refuse(
                ctx, "StartTransaction", f"connectorId {connector} cannot have a transaction"
            )
        checks.int_field(ctx, "StartTransaction", "connectorId", connector)
        checks.int_field(
            ctx, "StartTransaction", "reservationId", p.get("reservationId"), meter.INT_MIN
        )
        meter_start = p["meterStart"]
        if meter_start < 0:
            raise checks.refuse(ctx, "StartTransaction", f"negative meterStart {meter_start} Wh")
        at = checks.timestamp(ctx, "StartTransaction", p["timestamp"])
        id_tag = p["idTag"]
        event = TransactionEvent(
            station_id=ctx.station_id,
            kind=EventKind.STARTED,
            timestamp=at,
            received_at=svc.now(),
            transaction_id=None,  # issued by Ampyre (1.6 section 6.44)
            start_key=f"{connector}|{id_tag}|{p['timestamp']}|{meter_start}",
            event_key="Started",
            evse_id=connector,
            connector_id=connector,
            id_token=id_tag,
            reservation_id=p.get("reservationId"),
            meter_values=(_register(at, meter_start, "Transaction.Begin"),),
            payload=p,
            ocpp_version=ctx.version.value,
        )
        recorded = await svc.record(event)
        assert recorded.decision is not None
        return {
            "transactionId": int(recorded.stored.transaction_id),
            "idTagInfo": id_tag_info(recorded.decision),
        }

    async def stop_transaction(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        meter_stop = p["meterStop"]
        if meter_stop < 0:
            log.warning(
                "%s: StopTransaction with negative meterStop %s Wh stored as sent",
                ctx.station_id,
                meter_stop,
            )
        at = checks.timestamp(ctx, "StopTransaction", p["timestamp"])
        readings = checks.readings(
            ctx, "StopTransaction", meter.parse_16, p.get("transactionData"), refuse_negative=False
        )
        id_tag = p.get("idTag")
        event = TransactionEvent(
            station_id=ctx.station_id,
            kind=EventKind.ENDED,
            timestamp=at,
            received_at=svc.now(),
            # An id Ampyre never issued is accepted too: the store reconstructs the
            # transaction (never lose a stop; 1.6 section 4.10 says sanity checks SHOULD
            # NOT keep the Central System from answering).
            transaction_id=str(p["transactionId"]),
            event_key="Ended",
            id_token=id_tag,
            stop_reason=p.get("reason", DEFAULT_STOP_REASON),
            meter_values=(*readings, _register(at, meter_stop, "Transaction.End")),
            payload=p,
            ocpp_version=ctx.version.value,
        )
        recorded = await svc.record(event)
        # idTagInfo only for an idTag that was sent (1.6 section 6.46).
        if recorded.decision is None:
            return {}
        return {"idTagInfo": id_tag_info(recorded.decision)}

    async def meter_values(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        connector = p["connectorId"]
        # 0 is the main meter (1.6 section 6.31); below it there is nothing.
        checks.int_field(ctx, "MeterValues", "connectorId", connector)
        readings = checks.readings(ctx, "MeterValues", meter.parse_16, p["meterValue"])
        if not readings:
            return {}
        tx_id = p.get("transactionId")
        if tx_id is None:
            await svc.record_station_meter_values(
                StationMeterValues(ctx.station_id, connector, connector, readings, svc.now())
            )
            return {}
        await svc.record(
            TransactionEvent(
                station_id=ctx.station_id,
                kind=EventKind.UPDATED,
                timestamp=max(r.timestamp for r in readings),
                received_at=svc.now(),
                transaction_id=str(tx_id),
                event_key=None,  # no history row: 1.6 MeterValues are only samples
                evse_id=connector or None,
                connector_id=connector or None,
                meter_values=readings,
                payload=p,
                ocpp_version=ctx.version.value,
            )
        )
        return {}

    return {
        "StartTransaction": start_transaction,
        "StopTransaction": stop_transaction,
        "MeterValues": meter_values,
    }
