"""OCPP 1.6 cost messages: the OCA application note "OCPP & California Pricing
Requirements" (DataTransfer, vendorId org.openchargealliance.costmsg; 1.6 itself has no
cost messages).

- `RunningCost` (CSMS -> station): right after the StartTransaction.conf and after each
  MeterValues of the transaction ("for every meter value the Central System receives"),
  coalesced, and periodically (services/ocpp_cost_live.py): the cost so far and the unit
  prices the station counts with until the next update (`chargingPrice`, `idlePrice`,
  `nextPeriod`, `triggerMeterValue`).
- `FinalCost` (CSMS -> station): after the StopTransaction.conf, with a receipt text and
  optionally a receipt URL (`qrCodeText`).
- `ConnectorUnplugged` (station -> CSMS): accepted; Ampyre ends a transaction at
  StopTransaction (it does not offer `CustomIdleFeeAfterStop`).

The data field of a 1.6 DataTransfer is a string: JSON text here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Final

from ampyre.protocol.codec import Request
from ampyre.protocol.session import CallContext, Handler
from ampyre.protocol.timefmt import to_ocpp
from ampyre.services.data_transfer import DataTransferStatus, VendorMessage, VendorReply
from ampyre.services.ocpp_cost_live import LiveCosts
from ampyre.services.ocpp_cost_prices import UnitPrices
from ampyre.services.ocpp_costs import FinalCost, OcppCosts, RunningCost
from ampyre.services.station_port import NotAddressable
from ampyre.services.transactions import Recorded

log = logging.getLogger(__name__)

VENDOR_ID: Final = "org.openchargealliance.costmsg"
Recording = Callable[
    [Handler, CallContext, dict[str, Any]], Awaitable[tuple[dict[str, Any], Recorded | None]]
]


def _number(value: Decimal) -> float:
    return float(value)


def _transaction_id(text: str) -> int:
    """1.6 transaction ids are integers (Ampyre issues them at StartTransaction)."""
    try:
        return int(text)
    except ValueError:
        raise NotAddressable(f"transaction id {text!r} is not a 1.6 integer id") from None


def _charging_price(prices: UnitPrices) -> dict[str, float]:
    out: dict[str, float] = {}
    if prices.kwh is not None:
        out["kWhPrice"] = _number(prices.kwh)
    if prices.hour is not None:
        out["hourPrice"] = _number(prices.hour)
    if prices.flat is not None:
        out["flatFee"] = _number(prices.flat)
    return out


def _idle_price(prices: UnitPrices) -> dict[str, float] | None:
    if prices.idle_hour is None:
        return None
    return {"hourPrice": _number(prices.idle_hour)}


def _data_transfer(message_id: str, data: dict[str, Any]) -> Request:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return "DataTransfer", {"vendorId": VENDOR_ID, "messageId": message_id, "data": text}


def running_cost_data(update: RunningCost) -> dict[str, Any]:
    data: dict[str, Any] = {
        "transactionId": _transaction_id(update.transaction_id),
        "timestamp": to_ocpp(update.at),
        "meterValue": update.meter_wh if update.meter_wh is not None else 0,
        "cost": _number(update.total),
        "state": "Idle" if update.idle else "Charging",
        "chargingPrice": _charging_price(update.prices),
    }
    idle = _idle_price(update.prices)
    if idle is not None:
        data["idlePrice"] = idle
    if update.next_at is not None and update.next_prices is not None:
        period: dict[str, Any] = {
            "atTime": to_ocpp(update.next_at),
            "chargingPrice": _charging_price(update.next_prices),
        }
        next_idle = _idle_price(update.next_prices)
        if next_idle is not None:
            period["idlePrice"] = next_idle
        data["nextPeriod"] = period
    if update.triggers is not None:
        trigger: dict[str, Any] = {}
        if update.triggers.at_time is not None:
            trigger["atTime"] = to_ocpp(update.triggers.at_time)
        if update.triggers.at_status:
            trigger["atCPStatus"] = list(update.triggers.at_status)
        if trigger:
            data["triggerMeterValue"] = trigger
    return data


def running_cost(update: RunningCost) -> Request:
    return _data_transfer("RunningCost", running_cost_data(update))


def final_cost(final: FinalCost) -> Request:
    data: dict[str, Any] = {
        "transactionId": _transaction_id(final.transaction_id),
        "cost": _number(final.total),
        "priceText": final.text,
    }
    if final.receipt_url:
        data["qrCodeText"] = final.receipt_url
    return _data_transfer("FinalCost", data)


async def vendor_messages(message: VendorMessage) -> VendorReply:
    """What a station sends under the cost vendorId: `ConnectorUnplugged` is accepted."""
    if message.message_id != "ConnectorUnplugged":
        return VendorReply(DataTransferStatus.UNKNOWN_MESSAGE_ID)
    try:
        data = json.loads(message.data) if isinstance(message.data, str) else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or "transactionId" not in data:
        return VendorReply(DataTransferStatus.REJECTED)
    log.info(
        "%s: connector unplugged after transaction %s at %s",
        message.station_id,
        data.get("transactionId"),
        data.get("timestamp"),
    )
    return VendorReply(DataTransferStatus.ACCEPTED)


def handlers(
    costs: OcppCosts, live: LiveCosts, base: dict[str, Handler], call_recording: Recording
) -> dict[str, Handler]:
    """StartTransaction, StopTransaction and MeterValues around the base handlers
    (protocol/ocpp16/transactions.py, built on a recording TransactionService)."""
    start, stop, meter = base["StartTransaction"], base["StopTransaction"], base["MeterValues"]

    async def running(ctx: CallContext, recorded: Recorded) -> None:
        tx = recorded.stored.transaction
        if tx.ended_at is not None or costs.known_free():
            return
        tariff = await costs.tariff_of(tx)
        if tariff is None:
            return
        session = ctx.session
        entry = live.track(tx, tariff, lambda: not session.closed)
        if entry is not None:
            live.kick(entry)  # runs after this answer is sent

    async def start_transaction(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        answer, recorded = await call_recording(start, ctx, p)
        if recorded is not None and answer["idTagInfo"]["status"] == "Accepted":
            await running(ctx, recorded)
        return answer

    async def meter_values(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        answer, recorded = await call_recording(meter, ctx, p)
        if recorded is not None:
            await running(ctx, recorded)
        return answer

    async def stop_transaction(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        answer, recorded = await call_recording(stop, ctx, p)
        if recorded is not None and not costs.known_free():
            tx = recorded.stored.transaction
            live.forget(tx.id)
            if await costs.tariff_of(tx) is not None:
                live.send_final(tx)  # runs after this answer is sent
        return answer

    return {
        "StartTransaction": start_transaction,
        "StopTransaction": stop_transaction,
        "MeterValues": meter_values,
    }
