"""A simulated station's side of cost messages (issue 20 part 5): it takes what the CSMS
tells it about cost and keeps it to show (the last running and final cost per
transaction), as a station with a display would.

- 2.x CostUpdated: accepted (empty answer), the total kept.
- 1.6 DataTransfer of vendorId org.openchargealliance.costmsg (OCA "California Pricing
  Requirements"): RunningCost, FinalCost and SetUserPrice accepted and kept; anything
  else under that vendorId UnknownMessageId; other vendors go to the station's own
  DataTransfer handler.
- 2.1 SetDefaultTariff / ChangeTransactionTariff / GetTariffs / ClearTariffs: the
  tariffs are kept per EVSE (0: every EVSE) and reported back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Payload = dict[str, Any]
Answer = Callable[[Payload], Payload]
COST_VENDOR = "org.openchargealliance.costmsg"


@dataclass(slots=True)
class StationCosts:
    running: dict[str, float] = field(default_factory=dict)  # transactionId -> total
    final: dict[str, float] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # transactionId -> receipt text
    tariffs: dict[int, dict[str, Any]] = field(default_factory=dict)  # evseId -> TariffType
    transaction_tariffs: dict[str, str] = field(default_factory=dict)  # tx -> tariffId

    def handlers(self, data_transfer: Answer | None = None) -> dict[str, Answer]:
        def cost_updated(p: Payload) -> Payload:
            self.running[str(p.get("transactionId"))] = float(p.get("totalCost", 0))
            return {}

        def transfer(p: Payload) -> Payload:
            if p.get("vendorId") != COST_VENDOR:
                if data_transfer is None:
                    return {"status": "UnknownVendorId"}
                return data_transfer(p)
            return self._cost_message(p.get("messageId"), p.get("data"))

        def set_default(p: Payload) -> Payload:
            tariff = p.get("tariff") or {}
            self.tariffs[int(p.get("evseId", 0))] = tariff
            return {"status": "Accepted"}

        def change(p: Payload) -> Payload:
            tariff = p.get("tariff") or {}
            self.transaction_tariffs[str(p.get("transactionId"))] = str(tariff.get("tariffId"))
            return {"status": "Accepted"}

        def get_tariffs(p: Payload) -> Payload:
            evse = int(p.get("evseId", 0))
            held = {e: t for e, t in self.tariffs.items() if evse in (0, e) or e == 0}
            if not held:
                return {"status": "NoTariff"}
            return {
                "status": "Accepted",
                "tariffAssignments": [
                    {
                        "tariffId": str(t.get("tariffId")),
                        "tariffKind": "DefaultTariff",
                        "evseIds": [e],
                    }
                    for e, t in sorted(held.items())
                ],
            }

        def clear(p: Payload) -> Payload:
            ids = p.get("tariffIds")
            evse = p.get("evseId")
            results = []
            for e, t in list(self.tariffs.items()):
                tariff_id = str(t.get("tariffId"))
                if (ids is None or tariff_id in ids) and (evse is None or evse == e):
                    del self.tariffs[e]
                    results.append({"tariffId": tariff_id, "status": "Accepted"})
            return {"clearTariffsResult": results or [{"status": "NoTariff"}]}

        return {
            "CostUpdated": cost_updated,
            "DataTransfer": transfer,
            "SetDefaultTariff": set_default,
            "ChangeTransactionTariff": change,
            "GetTariffs": get_tariffs,
            "ClearTariffs": clear,
        }

    def _cost_message(self, message_id: object, data: object) -> Payload:
        try:
            body = json.loads(data) if isinstance(data, str) else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return {"status": "Rejected"}
        tx = str(body.get("transactionId"))
        if message_id == "RunningCost":
            self.running[tx] = float(body.get("cost", 0))
        elif message_id == "FinalCost":
            self.final[tx] = float(body.get("cost", 0))
            self.texts[tx] = str(body.get("priceText", ""))
        elif message_id != "SetUserPrice":
            return {"status": "UnknownMessageId"}
        return {"status": "Accepted"}
