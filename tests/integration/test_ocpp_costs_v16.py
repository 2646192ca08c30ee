"""OCPP 1.6 cost messages end to end (issue 20 part 5): the OCA "California Pricing
Requirements" DataTransfer messages between a real Ampyre with a tariff (0.30 EUR/kWh +
21 % VAT) and an independent `ocpp`-library 1.6 station. RunningCost right after the
StartTransaction.conf (cost 0, the unit prices), after MeterValues (the cost so far),
FinalCost after the StopTransaction.conf; the station's ConnectorUnplugged is accepted;
no tariff: no cost messages. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ocpp.v16 import call as call16
from ocpp_cost_stations import COST_VENDOR, TOKEN, Station16, at, connected, energy_tariff, prepare

if TYPE_CHECKING:
    from conftest import Server, StartServer


def meter(wh: int) -> list[dict[str, object]]:
    return [{"timestamp": at(), "sampledValue": [{"value": str(wh), "unit": "Wh"}]}]


async def test_running_and_final_cost(store_url: str, start_server: StartServer) -> None:
    server = await start_server(
        store_url, tariff_cost_receipt_url="https://cpo.example/r/{transaction_id}"
    )
    await prepare(server, "COST16-1", energy_tariff())
    async with connected(Station16, server, "COST16-1", "ocpp1.6") as cp:
        start = await cp.call(
            call16.StartTransaction(connector_id=1, id_tag=TOKEN, meter_start=0, timestamp=at())
        )
        assert start.id_tag_info["status"] == "Accepted"
        tx_id = start.transaction_id
        first = (await cp.costs.wait(1))[0]
        assert first["message_id"] == "RunningCost"
        data = first["data"]
        assert data["transactionId"] == tx_id and data["cost"] == 0.0
        assert data["state"] == "Charging" and data["meterValue"] == 0
        assert data["chargingPrice"] == {"kWhPrice": 0.363}
        assert "idlePrice" not in data and "nextPeriod" not in data

        await cp.call(
            call16.MeterValues(connector_id=1, transaction_id=tx_id, meter_value=meter(1000))
        )
        second = (await cp.costs.wait(2))[1]["data"]
        assert second["cost"] == 0.36 and second["meterValue"] == 1000

        await cp.call(
            call16.StopTransaction(meter_stop=10000, timestamp=at(), transaction_id=tx_id)
        )
        final = (await cp.costs.wait(3))[2]
        assert final["message_id"] == "FinalCost"
        assert final["data"]["transactionId"] == tx_id and final["data"]["cost"] == 3.63
        assert final["data"]["priceText"].startswith("Total 3.63 EUR (10.00 kWh, ")
        assert final["data"]["qrCodeText"].startswith("https://cpo.example/r/")
        await asyncio.sleep(0.3)
        assert len(cp.costs.items) == 3

        # The station says the cable is out (a reliable, queued message in the note).
        unplugged = await cp.call(
            call16.DataTransfer(
                vendor_id=COST_VENDOR,
                message_id="ConnectorUnplugged",
                data=f'{{"transactionId": {tx_id}, "timestamp": "{at()}"}}',
            )
        )
        assert unplugged.status == "Accepted"
        other = await cp.call(call16.DataTransfer(vendor_id=COST_VENDOR, message_id="Nope"))
        assert other.status == "UnknownMessageId"


async def test_no_tariff_no_cost_messages(server: Server) -> None:
    await prepare(server, "COST16-2")
    async with connected(Station16, server, "COST16-2", "ocpp1.6") as cp:
        start = await cp.call(
            call16.StartTransaction(connector_id=1, id_tag=TOKEN, meter_start=0, timestamp=at())
        )
        await cp.call(
            call16.MeterValues(
                connector_id=1, transaction_id=start.transaction_id, meter_value=meter(10)
            )
        )
        await cp.call(
            call16.StopTransaction(
                meter_stop=20, timestamp=at(), transaction_id=start.transaction_id
            )
        )
        await asyncio.sleep(0.5)
        assert cp.costs.items == []


async def test_refused_token_gets_no_running_cost(server: Server) -> None:
    await prepare(server, "COST16-3", energy_tariff())
    async with connected(Station16, server, "COST16-3", "ocpp1.6") as cp:
        start = await cp.call(
            call16.StartTransaction(
                connector_id=1, id_tag="UNKNOWN-TAG", meter_start=0, timestamp=at()
            )
        )
        assert start.id_tag_info["status"] != "Accepted"
        await asyncio.sleep(0.5)
        assert cp.costs.items == []
