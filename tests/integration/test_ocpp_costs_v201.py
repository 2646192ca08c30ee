"""OCPP 2.0.1 cost messages end to end (issue 20 part 5): a real Ampyre with a tariff
(0.30 EUR/kWh + 21 % VAT) and an independent `ocpp`-library station. CostUpdated after
the start and after meter values (I02.FR.01) with the cost so far; `totalCost` and a
personal message in the answer to Ended (I03), nothing after it; periodic updates for a
time tariff without meter values; no tariff: no totalCost and no CostUpdated at all.
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from ocpp.v201 import call as call201
from ocpp_cost_stations import TOKEN, Station201, at, connected, energy, energy_tariff, prepare

if TYPE_CHECKING:
    from conftest import Server, StartServer


def event(kind: str, seq: int, tx_id: str, **extra: Any) -> call201.TransactionEvent:
    return call201.TransactionEvent(
        event_type=kind,
        timestamp=extra.pop("timestamp", at()),
        trigger_reason=extra.pop("trigger_reason", "MeterValuePeriodic"),
        seq_no=seq,
        transaction_info={"transactionId": tx_id, **extra.pop("info", {})},
        **extra,
    )


async def test_running_and_final_cost(store_url: str, start_server: StartServer) -> None:
    server = await start_server(store_url)
    await prepare(server, "COST201-1", energy_tariff())
    async with connected(Station201, server, "COST201-1", "ocpp2.0.1") as cp:
        started = await cp.call(
            event(
                "Started", 0, "TX-201",
                trigger_reason="Authorized",
                id_token={"idToken": TOKEN, "type": "ISO14443"},
                evse={"id": 1, "connectorId": 1},
                info={"chargingState": "Charging"},
                meter_value=energy(0, at(), "Transaction.Begin"),
            )
        )  # fmt: skip
        assert started.id_token_info["status"] == "Accepted"
        assert started.total_cost is None  # 2.0.1: only when charging has ended
        first = (await cp.costs.wait(1))[0]
        assert first == {"total_cost": 0.0, "transaction_id": "TX-201"}

        updated = await cp.call(event("Updated", 1, "TX-201", meter_value=energy(1000, at())))
        assert updated.total_cost is None
        costs = await cp.costs.wait(2)
        assert costs[1] == {"total_cost": 0.36, "transaction_id": "TX-201"}  # 0.363

        ended = await cp.call(
            event(
                "Ended", 2, "TX-201",
                trigger_reason="EVDeparted",
                info={"stoppedReason": "EVDisconnected"},
                meter_value=energy(10000, at(), "Transaction.End"),
            )
        )  # fmt: skip
        assert ended.total_cost == 3.63
        message = ended.updated_personal_message
        assert message["format"] == "UTF8"
        assert message["content"].startswith("Total 3.63 EUR (10.00 kWh, ")
        await asyncio.sleep(0.5)
        assert len(cp.costs.items) == 2  # nothing once it ended

        # A resent Ended (same seqNo) gets the same answer.
        again = await cp.call(
            event(
                "Ended", 2, "TX-201",
                trigger_reason="EVDeparted",
                info={"stoppedReason": "EVDisconnected"},
                meter_value=energy(10000, at(), "Transaction.End"),
            )
        )  # fmt: skip
        assert again.total_cost == 3.63

    # Ampyre's own view agrees (H2's GET /transactions/{id}/cost).
    api = server.api()
    page = (await api.get("/transactions", params={"station_id": "COST201-1"})).json()
    pk = page["items"][0]["id"]
    view = (await api.get(f"/transactions/{pk}/station-cost")).json()
    assert view["ampyre_cost"] == {"total": "3.63", "currency": "EUR"}
    assert view["station_reports"] == [] and view["transaction_id"] == "TX-201"


async def test_no_tariff_no_cost(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    await prepare(server, "COST201-2")
    # No tariff at all: the OCPP path asks once whether one exists (answered from the
    # tariff service's memory), then it only reads its own cached answer.
    costs = server.app.roaming.ocpp_costs
    assert costs is not None
    calls: list[str] = []
    for name in ("tariff_of", "has_tariffs", "quote", "final_quote", "running_cost"):
        original = getattr(costs, name)

        def counted(*a: Any, _name: str = name, _original: Any = original, **k: Any) -> Any:
            calls.append(_name)
            return _original(*a, **k)

        monkeypatch.setattr(costs, name, counted)
    async with connected(Station201, server, "COST201-2", "ocpp2.0.1") as cp:
        await cp.call(
            event(
                "Started", 0, "TX-FREE",
                trigger_reason="Authorized",
                id_token={"idToken": TOKEN, "type": "ISO14443"},
                evse={"id": 1, "connectorId": 1},
                meter_value=energy(0, at(), "Transaction.Begin"),
            )
        )  # fmt: skip
        await cp.call(event("Updated", 1, "TX-FREE", meter_value=energy(500, at())))
        ended = await cp.call(
            event("Ended", 2, "TX-FREE", meter_value=energy(900, at(), "Transaction.End"))
        )
        # Omitted, not 0.00: no tariff priced it (2.0.1: "When omitted, the transaction
        # was NOT free").
        assert ended.total_cost is None and ended.updated_personal_message is None
        await asyncio.sleep(0.5)
        assert cp.costs.items == []
    assert calls == ["tariff_of", "has_tariffs"], calls
    api = server.api()
    pk = (await api.get("/transactions", params={"station_id": "COST201-2"})).json()["items"][0][
        "id"
    ]
    assert (await api.get(f"/transactions/{pk}/station-cost")).json()["ampyre_cost"] is None
    assert (await api.get("/transactions/999999/station-cost")).status_code == 404


async def test_periodic_updates_of_a_time_tariff(
    start_server: StartServer, sqlite_url: str
) -> None:
    server = await start_server(sqlite_url, tariff_cost_update_interval=0.5)
    per_hour = {
        "id": "TIME",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "TIME", "price": 360, "step_size": 1}]}],
        "is_default": True,
    }  # 0.10 EUR per second, no VAT
    await prepare(server, "COST201-3", per_hour)
    async with connected(Station201, server, "COST201-3", "ocpp2.0.1") as cp:
        await cp.call(
            event(
                "Started", 0, "TX-TIME",
                trigger_reason="Authorized",
                id_token={"idToken": TOKEN, "type": "ISO14443"},
                evse={"id": 1, "connectorId": 1},
                info={"chargingState": "Charging"},
                meter_value=energy(0, at(), "Transaction.Begin"),
            )
        )  # fmt: skip
        # No more messages from the station: the sweep sends the growing cost.
        costs = await cp.costs.wait(3, timeout=15)
        totals = [c["total_cost"] for c in costs]
        assert totals == sorted(totals) and len(set(totals)) == len(totals), totals
        assert totals[-1] >= 0.2


async def test_switched_off(sqlite_url: str, start_server: StartServer) -> None:
    server = await start_server(sqlite_url, tariff_cost_messages=False)
    await prepare(server, "COST201-4", energy_tariff())
    assert server.app.roaming.live_costs is None
    async with connected(Station201, server, "COST201-4", "ocpp2.0.1") as cp:
        await cp.call(
            event(
                "Started", 0, "TX-OFF",
                trigger_reason="Authorized",
                id_token={"idToken": TOKEN, "type": "ISO14443"},
                evse={"id": 1, "connectorId": 1},
                meter_value=energy(0, at(), "Transaction.Begin"),
            )
        )  # fmt: skip
        ended = await cp.call(
            event("Ended", 1, "TX-OFF", meter_value=energy(1000, at(), "Transaction.End"))
        )
        assert ended.total_cost is None
        await asyncio.sleep(0.3)
        assert cp.costs.items == []
    # The station-cost view still shows Ampyre's own cost.
    api = server.api()
    pk = (await api.get("/transactions", params={"station_id": "COST201-4"})).json()["items"][0][
        "id"
    ]
    view = (await api.get(f"/transactions/{pk}/station-cost")).json()
    assert view["ampyre_cost"] == {"total": "0.36", "currency": "EUR"}
