"""OCPP 2.0.1 tariff and cost (block I), also used for 2.1 where the messages are the
same: CostUpdated, and the TransactionEvent handler with costs in its answer.

- Ended: `totalCost` (OCPP 2.0.1 TransactionEventResponse.totalCost "SHALL only be sent
  when charging has ended ... To indicate a free transaction, the CSMS SHALL send 0.00";
  I03) and `updatedPersonalMessage` with the cost in words. Omitted when no tariff prices
  the transaction or pricing failed: omitted means "not free" as the spec reads it, and a
  wrong number is worse than none.
- 2.1 Updated: `totalCost` is the running cost (2.1 TransactionEventResponse: "When
  eventType ... is Updated, then this value contains the running cost").
- Started / Updated in 2.0.1 (and a 2.1 Started): a CostUpdated after the answer when the
  event brings meter values or a new charging state (I02.FR.01), and periodically
  (services/ocpp_cost_live.py).
- A 2.1 station that computes the cost itself (it reports `costDetails` or the
  `tariffId` it uses) gets no running cost from Ampyre: its own is the one it shows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from ampyre.domain.models import OcppVersion
from ampyre.protocol.codec import Request
from ampyre.protocol.session import CallContext, Handler
from ampyre.services.ocpp_cost_live import LiveCosts
from ampyre.services.ocpp_costs import LOCAL_COST_KEY, OcppCosts, RunningCost
from ampyre.services.transactions import Recorded

# Runs a base handler and returns its answer with what it recorded
# (protocol/cost_messages.py call_recording).
Recording = Callable[
    [Handler, CallContext, dict[str, Any]], Awaitable[tuple[dict[str, Any], Recorded | None]]
]

# MessageContentType.content: 512 characters in 2.0.1, 1024 in 2.1.
CONTENT_MAX = {OcppVersion.V201: 512, OcppVersion.V21: 1024}
# A 2.1 Updated without meter values reuses a running cost priced this recently.
REPRICE_GAP = 5.0


def wire_money(amount: Decimal) -> float:
    """A JSON number for a cost already rounded to the currency's minor unit."""
    return float(amount)


def cost_updated(update: RunningCost) -> Request:
    return "CostUpdated", {
        "totalCost": wire_money(update.total),
        "transactionId": update.transaction_id,
    }


def personal_message(text: str, limit: int) -> dict[str, Any]:
    return {"format": "UTF8", "language": "en", "content": text[:limit]}


def handlers(
    costs: OcppCosts,
    live: LiveCosts,
    base: Handler,
    call_recording: Recording,
    version: OcppVersion,
) -> dict[str, Handler]:
    """The TransactionEvent handler around `base` (protocol/ocpp201/transactions.py's,
    built on a recording TransactionService)."""
    v21 = version is OcppVersion.V21
    limit = CONTENT_MAX[version]

    async def transaction_event(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        answer, recorded = await call_recording(base, ctx, p)
        if recorded is None or costs.known_free():
            return answer
        tx = recorded.stored.transaction
        kind = p["eventType"]
        if kind == "Ended":
            live.forget(tx.id)
            quote = await costs.final_quote(tx)
            if quote is None:
                return answer
            return {
                **answer,
                "totalCost": wire_money(quote.total),
                "updatedPersonalMessage": personal_message(costs.final_text(quote), limit),
            }
        refused = answer.get("idTokenInfo", {}).get("status", "Accepted") != "Accepted"
        if refused:
            return answer  # the station stops it (E05); nothing to show
        tariff = await costs.tariff_of(tx)
        if tariff is None:
            return answer
        info = p["transactionInfo"]
        local = v21 and (LOCAL_COST_KEY in p or "tariffId" in info)
        session = ctx.session
        entry = live.track(tx, tariff, lambda: not session.closed, local_cost=local)
        if entry is None or entry.local_cost:
            return answer
        if v21 and kind == "Updated":
            now = costs.monotonic()
            recent = entry.last_sent is not None and now - entry.last_sent < REPRICE_GAP
            if recent and entry.last_total is not None and not p.get("meterValue"):
                return {**answer, "totalCost": wire_money(entry.last_total)}
            quote = await costs.quote(tx.id)
            if quote is None:
                return answer
            live.answered(tx.id, quote.total, now)
            return {**answer, "totalCost": wire_money(quote.total)}
        if kind == "Started" or p.get("meterValue") or "chargingState" in info:
            live.kick(entry)
        return answer

    return {"TransactionEvent": transaction_event}
