"""OCPP 2.1 cost messages and tariffs end to end (issue 20 part 5), a real Ampyre and an
independent `ocpp`-library 2.1 station (it validates what it gets against the 2.1
schemas): the running cost in the answer to Updated, the final cost in the answer to
Ended; SetDefaultTariff / GetTariffs / ClearTariffs / ChangeTransactionTariff through
REST with Ampyre's tariff as a TariffType; a station that calculates locally
(costDetails) gets no running cost and its reports are shown; what a 2.0.1 station or
bad input gets."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ocpp.v21 import call as call21
from ocpp_cost_stations import (
    TOKEN,
    Station21,
    Station201,
    at,
    connected,
    energy,
    energy_tariff,
    prepare,
)

if TYPE_CHECKING:
    from conftest import Server, StartServer


def event(kind: str, seq: int, tx_id: str, **extra: Any) -> call21.TransactionEvent:
    return call21.TransactionEvent(
        event_type=kind,
        timestamp=at(),
        trigger_reason=extra.pop("trigger_reason", "MeterValuePeriodic"),
        seq_no=seq,
        transaction_info={"transactionId": tx_id, **extra.pop("info", {})},
        **extra,
    )


def started(tx_id: str, **info: Any) -> call21.TransactionEvent:
    return event(
        "Started", 0, tx_id,
        trigger_reason="Authorized",
        id_token={"idToken": TOKEN, "type": "ISO14443"},
        evse={"id": 1, "connectorId": 1},
        info={"chargingState": "Charging", **info},
        meter_value=energy(0, at(), "Transaction.Begin"),
    )  # fmt: skip


async def test_running_cost_in_answers_and_final_cost(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    await prepare(server, "COST21-1", energy_tariff())
    async with connected(Station21, server, "COST21-1", "ocpp2.1") as cp:
        first = await cp.call(started("TX-21"))
        assert first.total_cost is None
        await cp.costs.wait(1)  # the start's CostUpdated
        updated = await cp.call(event("Updated", 1, "TX-21", meter_value=energy(2000, at())))
        assert updated.total_cost == 0.73  # 2 kWh * 0.363 = 0.726
        ended = await cp.call(
            event("Ended", 2, "TX-21", meter_value=energy(5000, at(), "Transaction.End"))
        )
        assert ended.total_cost == 1.82  # 1.815
        assert "1.82 EUR" in ended.updated_personal_message["content"]
        await asyncio.sleep(0.3)
        # The Updated answer carried the running cost: no CostUpdated for it.
        assert [c["total_cost"] for c in cp.costs.items] == [0.0]


async def test_tariff_commands(server: Server) -> None:
    tariff = energy_tariff(
        "DAYNIGHT",
        elements=[
            {
                "price_components": [{"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1}],
                "restrictions": {"start_time": "07:00", "end_time": "22:00"},
            },
            {"price_components": [{"type": "ENERGY", "price": 0.20, "vat": 21, "step_size": 1}]},
            {
                "price_components": [
                    {"type": "PARKING_TIME", "price": 6, "vat": 21, "step_size": 60}
                ]
            },
        ],
        tariff_alt_text=[{"language": "en", "text": "0.30/kWh by day, 0.20 at night"}],
    )
    api = await prepare(server, "COST21-2", tariff)
    base = "/stations/COST21-2/tariffs"
    # Not connected: 409, nothing sent.
    r = await api.post(f"{base}/default", json={"tariff_id": "DAYNIGHT"})
    assert r.status_code == 409, r.text
    async with connected(Station21, server, "COST21-2", "ocpp2.1") as cp:
        r = await api.post(f"{base}/query", json={})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "notariff" and r.json()["tariff_assignments"] == []

        r = await api.post(f"{base}/default", json={"tariff_id": "DAYNIGHT", "evse_id": 1})
        assert r.status_code == 200, r.text
        assert r.json() == {
            "status": "accepted",
            "station_answer": "Accepted",
            "status_info": None,
            "tariff_id": "DAYNIGHT",
            "evse_id": 1,
            "transaction_id": None,
        }
        sent = (await cp.tariffs.wait(1))[0]
        assert sent["evse_id"] == 1
        tt = sent["tariff"]
        assert tt["tariff_id"] == "DAYNIGHT" and tt["currency"] == "EUR"
        assert tt["energy"]["prices"] == [
            {
                "price_kwh": 0.3,
                "conditions": {"start_time_of_day": "07:00", "end_time_of_day": "22:00"},
            },
            {"price_kwh": 0.2},
        ]
        assert tt["energy"]["tax_rates"] == [{"type": "VAT", "tax": 21.0}]
        assert tt["idle_time"]["prices"] == [{"price_minute": 0.1}]
        assert tt["description"][0]["content"] == "0.30/kWh by day, 0.20 at night"

        # Without an id: the tariff Ampyre prices that EVSE with (the default one).
        r = await api.post(f"{base}/default", json={"evse_id": 0})
        assert r.status_code == 200 and r.json()["tariff_id"] == "DAYNIGHT", r.text

        r = await api.post(f"{base}/query", json={"evse_id": 0})
        assignments = r.json()["tariff_assignments"]
        assert [(a["tariff_id"], a["evse_ids"]) for a in assignments] == [
            ("DAYNIGHT", [0]),
            ("DAYNIGHT", [1]),
        ]
        assert assignments[0]["tariff_kind"] == "DefaultTariff"

        # The station refuses: its status comes back as it is.
        cp.answer = "TooManyElements"
        r = await api.post(f"{base}/default", json={"tariff_id": "DAYNIGHT"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "toomanyelements"
        assert r.json()["status_info"] == {"reasonCode": "TooMany"}

        r = await api.post(f"{base}/clear", json={"tariff_ids": ["DAYNIGHT"]})
        assert r.status_code == 200, r.text
        assert [x["status"] for x in r.json()["results"]] == ["Accepted", "Accepted"]
        r = await api.post(f"{base}/clear", json={})
        assert r.json()["results"] == [
            {"tariff_id": None, "status": "NoTariff", "status_info": None}
        ]

        # ChangeTransactionTariff for a running transaction.
        await cp.call(started("TX-22"))
        page = (await api.get("/transactions", params={"station_id": "COST21-2"})).json()
        pk = page["items"][0]["id"]
        r = await api.post(f"/transactions/{pk}/tariff", json={"tariff_id": "DAYNIGHT"})
        assert r.status_code == 200, r.text
        assert r.json()["transaction_id"] == pk and r.json()["status"] == "accepted"
        change = cp.tariffs.items[-1]
        assert change["action"] == "ChangeTransactionTariff"
        assert change["transaction_id"] == "TX-22"
        await cp.call(event("Ended", 1, "TX-22", meter_value=energy(10, at(), "Transaction.End")))
        r = await api.post(f"/transactions/{pk}/tariff", json={"tariff_id": "DAYNIGHT"})
        assert r.status_code == 409 and "transaction-ended" in r.json()["type"], r.text

        # Bad input: unknown tariff, unknown station/transaction, bad bodies.
        r = await api.post(f"{base}/default", json={"tariff_id": "NOPE"})
        assert r.status_code == 404, r.text
        r = await api.post("/stations/NOSUCH/tariffs/default", json={"tariff_id": "DAYNIGHT"})
        assert r.status_code == 404, r.text
        r = await api.post("/transactions/99999/tariff", json={"tariff_id": "DAYNIGHT"})
        assert r.status_code == 404, r.text
        for body in (
            {"tariff_id": "x" * 37},
            {"tariff_id": ""},
            {"evse_id": -1},
            {"evse_id": 2**31},
            {"tariff_id": 5},
        ):
            r = await api.post(f"{base}/default", json=body)
            assert r.status_code == 422, (body, r.text)
        r = await api.post(f"{base}/clear", json={"tariff_ids": []})
        assert r.status_code == 422, r.text


async def test_a_tariff_2_1_cannot_express_is_refused(server: Server) -> None:
    mixed_vat = energy_tariff(
        "MIXED",
        elements=[
            {
                "price_components": [{"type": "ENERGY", "price": 0.3, "vat": 21, "step_size": 1}],
                "restrictions": {"start_time": "07:00", "end_time": "22:00"},
            },
            {"price_components": [{"type": "ENERGY", "price": 0.2, "vat": 9, "step_size": 1}]},
        ],
    )
    api = await prepare(server, "COST21-3", mixed_vat)
    async with connected(Station21, server, "COST21-3", "ocpp2.1") as cp:
        r = await api.post("/stations/COST21-3/tariffs/default", json={"tariff_id": "MIXED"})
        assert r.status_code == 422 and "VAT" in r.json()["detail"], r.text
        await asyncio.sleep(0.1)
        assert cp.tariffs.items == []


async def test_2_0_1_station_has_no_tariff_commands(server: Server) -> None:
    api = await prepare(server, "COST21-4", energy_tariff())
    async with connected(Station201, server, "COST21-4", "ocpp2.0.1"):
        for path, body in (
            ("default", {"tariff_id": "KWH"}),
            ("query", {}),
            ("clear", {}),
        ):
            r = await api.post(f"/stations/COST21-4/tariffs/{path}", json=body)
            assert r.status_code == 422 and "not-in-version" in r.json()["type"], r.text


async def test_local_cost_calculation_reports(server: Server) -> None:
    api = await prepare(server, "COST21-5", energy_tariff())
    details = {
        "totalCost": {
            "currency": "EUR",
            "typeOfCost": "NormalCost",
            "total": {"exclTax": 0.3, "inclTax": 0.363},
        },
        "totalUsage": {"energy": 1000, "chargingTime": 60, "idleTime": 0},
    }
    async with connected(Station21, server, "COST21-5", "ocpp2.1") as cp:
        await cp.call(started("TX-LOCAL", tariffId="KWH"))
        updated = await cp.call(
            event("Updated", 1, "TX-LOCAL", meter_value=energy(1000, at()), cost_details=details)
        )
        assert updated.total_cost is None  # the station shows its own
        ended = await cp.call(
            event(
                "Ended", 2, "TX-LOCAL",
                meter_value=energy(1000, at(), "Transaction.End"),
                cost_details=details,
            )
        )  # fmt: skip
        assert ended.total_cost == 0.36  # Ampyre's final (billed) cost still
        await asyncio.sleep(0.3)
        assert cp.costs.items == []
    pk = (await api.get("/transactions", params={"station_id": "COST21-5"})).json()["items"][0][
        "id"
    ]
    view = (await api.get(f"/transactions/{pk}/station-cost")).json()
    reports = view["station_reports"]
    assert [(r["event"], r["tariff_id"]) for r in reports] == [
        ("Started", "KWH"),
        ("Updated", None),
        ("Ended", None),
    ]
    assert reports[1]["cost_details"]["totalCost"]["total"]["inclTax"] == 0.363
    assert view["ampyre_cost"] == {"total": "0.36", "currency": "EUR"}
