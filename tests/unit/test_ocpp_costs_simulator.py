"""The simulated station's side of cost messages (simulator/costs.py): it keeps the costs
and tariffs it is told and answers as the specs say, passing the official response
schemas; other DataTransfer vendors go to the station's own handler."""

from __future__ import annotations

import json
from typing import Any

from ampyre.domain.models import OcppVersion
from ampyre.protocol.schemas import SchemaRegistry
from ampyre.simulator.costs import COST_VENDOR, StationCosts


def answered(version: OcppVersion, action: str, answer: dict[str, Any]) -> dict[str, Any]:
    assert SchemaRegistry(version).validate(action, answer, response=True) is None, answer
    return answer


def test_2x_cost_updated_and_2_1_tariffs() -> None:
    sim = StationCosts()
    h = sim.handlers()
    answered(
        OcppVersion.V201, "CostUpdated", h["CostUpdated"]({"totalCost": 1.5, "transactionId": "T"})
    )
    assert sim.running == {"T": 1.5}

    v21 = OcppVersion.V21
    got = answered(v21, "GetTariffs", h["GetTariffs"]({"evseId": 0}))
    assert got == {"status": "NoTariff"}
    tariff = {"tariffId": "KWH", "currency": "EUR"}
    answered(v21, "SetDefaultTariff", h["SetDefaultTariff"]({"evseId": 1, "tariff": tariff}))
    answered(v21, "SetDefaultTariff", h["SetDefaultTariff"]({"evseId": 0, "tariff": tariff}))
    got = answered(v21, "GetTariffs", h["GetTariffs"]({"evseId": 2}))
    assert [a["evseIds"] for a in got["tariffAssignments"]] == [[0]]
    got = answered(v21, "GetTariffs", h["GetTariffs"]({"evseId": 0}))
    assert len(got["tariffAssignments"]) == 2
    change = {"transactionId": "T", "tariff": {"tariffId": "B", "currency": "EUR"}}
    answered(v21, "ChangeTransactionTariff", h["ChangeTransactionTariff"](change))
    assert sim.transaction_tariffs == {"T": "B"}
    cleared = answered(v21, "ClearTariffs", h["ClearTariffs"]({"tariffIds": ["KWH"], "evseId": 1}))
    assert cleared == {"clearTariffsResult": [{"tariffId": "KWH", "status": "Accepted"}]}
    cleared = answered(v21, "ClearTariffs", h["ClearTariffs"]({}))
    assert [r["status"] for r in cleared["clearTariffsResult"]] == ["Accepted"]
    cleared = answered(v21, "ClearTariffs", h["ClearTariffs"]({}))
    assert cleared == {"clearTariffsResult": [{"status": "NoTariff"}]}


def test_1_6_california_pricing_data_transfer() -> None:
    others: list[dict[str, Any]] = []

    def own(p: dict[str, Any]) -> dict[str, Any]:
        others.append(p)
        return {"status": "UnknownMessageId"}

    sim = StationCosts()
    transfer = sim.handlers(own)["DataTransfer"]

    def send(message_id: str, data: Any) -> dict[str, Any]:
        payload = {"vendorId": COST_VENDOR, "messageId": message_id, "data": data}
        return answered(OcppVersion.V16, "DataTransfer", transfer(payload))

    assert (
        send("RunningCost", json.dumps({"transactionId": 5, "cost": 1.25}))["status"] == "Accepted"
    )
    assert (
        send("FinalCost", json.dumps({"transactionId": 5, "cost": 3.5, "priceText": "x"}))["status"]
        == "Accepted"
    )
    assert sim.running == {"5": 1.25} and sim.final == {"5": 3.5} and sim.texts == {"5": "x"}
    assert send("SetUserPrice", json.dumps({"idToken": "A", "priceText": "y"}))["status"] == (
        "Accepted"
    )
    assert send("Other", "{}")["status"] == "UnknownMessageId"
    assert send("RunningCost", "not json")["status"] == "Rejected"
    transfer({"vendorId": "acme", "messageId": "x"})
    assert others == [{"vendorId": "acme", "messageId": "x"}]
    assert StationCosts().handlers()["DataTransfer"]({"vendorId": "acme"}) == {
        "status": "UnknownVendorId"
    }
