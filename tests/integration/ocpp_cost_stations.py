"""Scripted stations for the OCPP cost message tests (test_ocpp_costs_*.py): independent
`ocpp`-library charge points (they validate every CALL Ampyre sends against the official
schemas of their version) that record the cost messages they receive."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

if TYPE_CHECKING:
    from conftest import Server

COST_VENDOR = "org.openchargealliance.costmsg"
TOKEN = "COSTS-0001"


def at(seconds: float = 0.0) -> str:
    """An RFC 3339 time `seconds` from now (the engine prices up to now)."""
    t = datetime.now(UTC) + timedelta(seconds=seconds)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def energy(wh: float, ts: str, context: str = "Sample.Periodic") -> list[dict[str, Any]]:
    return [{"timestamp": ts, "sampledValue": [{"value": wh, "context": context}]}]


class Inbox:
    """What a station received, with a wait for the next one."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    def add(self, item: dict[str, Any]) -> None:
        self.items.append(item)
        self._changed.set()

    async def wait(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.items


class Station201(ChargePoint201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.costs = Inbox()

    @on("CostUpdated")
    async def on_cost_updated(self, total_cost: float, transaction_id: str, **kw: Any) -> Any:
        self.costs.add({"total_cost": total_cost, "transaction_id": transaction_id})
        return result201.CostUpdated()


class Station21(ChargePoint21):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.costs = Inbox()
        self.tariffs = Inbox()  # SetDefaultTariff / ChangeTransactionTariff requests
        self.held: dict[int, dict[str, Any]] = {}
        self.answer = "Accepted"

    @on("CostUpdated")
    async def on_cost_updated(self, total_cost: float, transaction_id: str, **kw: Any) -> Any:
        self.costs.add({"total_cost": total_cost, "transaction_id": transaction_id})
        return result21.CostUpdated()

    @on("SetDefaultTariff")
    async def on_set_default(self, evse_id: int, tariff: dict[str, Any], **kw: Any) -> Any:
        self.tariffs.add({"action": "SetDefaultTariff", "evse_id": evse_id, "tariff": tariff})
        if self.answer == "Accepted":
            self.held[evse_id] = tariff
            return result21.SetDefaultTariff(status="Accepted")
        return result21.SetDefaultTariff(status=self.answer, status_info={"reason_code": "TooMany"})

    @on("ChangeTransactionTariff")
    async def on_change(self, transaction_id: str, tariff: dict[str, Any], **kw: Any) -> Any:
        self.tariffs.add(
            {
                "action": "ChangeTransactionTariff",
                "transaction_id": transaction_id,
                "tariff": tariff,
            }
        )
        return result21.ChangeTransactionTariff(status="Accepted")

    @on("GetTariffs")
    async def on_get(self, evse_id: int, **kw: Any) -> Any:
        if not self.held:
            return result21.GetTariffs(status="NoTariff")
        return result21.GetTariffs(
            status="Accepted",
            tariff_assignments=[
                {"tariff_id": t["tariff_id"], "tariff_kind": "DefaultTariff", "evse_ids": [e]}
                for e, t in sorted(self.held.items())
            ],
        )

    @on("ClearTariffs")
    async def on_clear(self, tariff_ids: list[str] | None = None, **kw: Any) -> Any:
        cleared = [
            {"tariff_id": t["tariff_id"], "status": "Accepted"}
            for t in self.held.values()
            if tariff_ids is None or t["tariff_id"] in tariff_ids
        ]
        self.held = {
            e: t
            for e, t in self.held.items()
            if tariff_ids is not None and t["tariff_id"] not in tariff_ids
        }
        return result21.ClearTariffs(clear_tariffs_result=cleared or [{"status": "NoTariff"}])


class Station16(ChargePoint16):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.costs = Inbox()  # {"message_id": ..., "data": {...}}

    @on(Action16.data_transfer)
    async def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> Any:
        if vendor_id != COST_VENDOR:
            return result16.DataTransfer(status="UnknownVendorId")
        self.costs.add({"message_id": message_id, "data": json.loads(data or "null")})
        return result16.DataTransfer(status="Accepted")


@asynccontextmanager
async def connected(
    cp_class: type[Any], server: Server, station_id: str, protocol: str
) -> AsyncIterator[Any]:
    async with connect(
        server.station_url(station_id), subprotocols=[Subprotocol(protocol)], open_timeout=5
    ) as ws:
        cp = cp_class(station_id, ws, response_timeout=10)
        task = asyncio.create_task(cp.start())
        for _ in range(200):
            if server.app.registry.ocpp_version(station_id) is not None:
                break
            await asyncio.sleep(0.02)
        try:
            yield cp
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def energy_tariff(tariff_id: str = "KWH", price: float = 0.30, **extra: Any) -> dict[str, Any]:
    """0.30 EUR/kWh + 21 % VAT (0.363 incl.), billed per Wh; the default tariff."""
    return {
        "id": tariff_id,
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": price, "vat": 21.0, "step_size": 1}]}
        ],
        "is_default": True,
        **extra,
    }


async def prepare(
    server: Server, station_id: str, tariff: dict[str, Any] | None = None
) -> httpx.AsyncClient:
    """The station, an accepted token and (optionally) a tariff; the admin API client."""
    api = server.api()
    await server.create_station(station_id)
    r = await api.post("/id-tokens", json={"id_token": TOKEN, "type": "ISO14443"})
    assert r.status_code in (201, 409), r.text
    if tariff is not None:
        r = await api.post("/tariffs", json=tariff)
        assert r.status_code == 201, r.text
    return api
