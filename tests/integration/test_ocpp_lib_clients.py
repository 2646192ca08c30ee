"""Independent peers: charge points written with the `ocpp` PyPI library (mobilityhouse),
strict schema validation on both directions, against a running Ampyre."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server

TS = "2025-01-01T12:00:00Z"


class Station16(ChargePoint16):
    @on(Action16.get_configuration)
    async def on_get_configuration(self, **kwargs: Any) -> result16.GetConfiguration:
        self.asked = kwargs
        return result16.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            unknown_key=["Nope"],
        )


class Station201(ChargePoint201):
    @on(Action201.get_variables)
    async def on_get_variables(self, get_variable_data: list[dict[str, Any]]) -> Any:
        return result201.GetVariables(
            get_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "attribute_value": "300",
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in get_variable_data
            ]
        )


@asynccontextmanager
async def running(
    cp_class: type[Any], server: Server, station_id: str, protocol: str
) -> AsyncIterator[Any]:
    async with connect(
        server.station_url(station_id), subprotocols=[Subprotocol(protocol)], open_timeout=5
    ) as ws:
        assert ws.subprotocol == protocol
        cp = cp_class(station_id, ws, response_timeout=5)
        task = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_ocpp16_library_client(server: Server) -> None:
    await server.create_station("LIB-16")
    api = server.api()
    async with running(Station16, server, "LIB-16", "ocpp1.6") as cp:
        boot = await cp.call(
            call16.BootNotification(
                charge_point_vendor="Vendor", charge_point_model="Model", firmware_version="1.2"
            ),
            suppress=False,
        )
        assert boot.status == "Accepted"
        assert boot.interval == server.app.settings.heartbeat_interval
        heartbeat = await cp.call(call16.Heartbeat(), suppress=False)
        assert heartbeat.current_time.endswith("Z") or "+" in heartbeat.current_time
        for connector in (0, 1, 2):
            await cp.call(
                call16.StatusNotification(
                    connector_id=connector,
                    error_code="NoError",
                    status="Available" if connector != 2 else "Unavailable",
                    timestamp=TS,
                ),
                suppress=False,
            )

        body = (await api.get("/stations/LIB-16")).json()
        assert body["connected"] is True
        assert body["ocpp_version"] == "ocpp1.6"
        assert (body["vendor"], body["model"], body["firmware_version"]) == (
            "Vendor",
            "Model",
            "1.2",
        )
        statuses = {
            evse["evse_id"]: [c["status"] for c in evse["connectors"]] for evse in body["evses"]
        }
        assert statuses == {0: ["Available"], 1: ["Available"], 2: ["Unavailable"]}

        response = await api.post(
            "/stations/LIB-16/ocpp/GetConfiguration", json={"key": ["HeartbeatInterval", "Nope"]}
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "status": "ok",
            "response": {
                "configurationKey": [
                    {"key": "HeartbeatInterval", "readonly": False, "value": "300"}
                ],
                "unknownKey": ["Nope"],
            },
        }
        assert cp.asked == {"key": ["HeartbeatInterval", "Nope"]}

        # an action the library station has no handler for: it answers NotImplemented
        response = await api.post("/stations/LIB-16/ocpp/ClearCache", json={})
        assert response.status_code == 502
        assert response.json()["error_code"] == "NotImplemented"


@pytest.mark.parametrize("protocol", ["ocpp2.0.1", "ocpp2.1"])
async def test_ocpp201_library_client(server: Server, protocol: str) -> None:
    # The library's 2.0.1 peer also speaks for 2.1 here: Ampyre's 2.1 provisioning
    # replies must validate against the library's 2.0.1 schemas too.
    await server.create_station("LIB-201")
    api = server.api()
    async with running(Station201, server, "LIB-201", protocol) as cp:
        boot = await cp.call(
            call201.BootNotification(
                charging_station={"vendor_name": "Vendor", "model": "Model", "serial_number": "S1"},
                reason="PowerUp",
            ),
            suppress=False,
        )
        assert boot.status == "Accepted"
        await cp.call(call201.Heartbeat(), suppress=False)
        await cp.call(
            call201.StatusNotification(
                timestamp=TS, connector_status="Occupied", evse_id=1, connector_id=1
            ),
            suppress=False,
        )

        body = (await api.get("/stations/LIB-201")).json()
        assert body["connected"] is True
        assert body["ocpp_version"] == protocol
        assert (body["vendor"], body["model"], body["serial_number"], body["boot_reason"]) == (
            "Vendor",
            "Model",
            "S1",
            "PowerUp",
        )
        assert body["evses"] == [
            {
                "evse_id": 1,
                "connectors": [
                    {**body["evses"][0]["connectors"][0], "connector_id": 1, "status": "Occupied"}
                ],
            }
        ]

        request = {
            "getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
            ]
        }
        response = await api.post("/stations/LIB-201/ocpp/GetVariables", json=request)
        assert response.status_code == 200, response.text
        assert response.json()["response"] == {
            "getVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "attributeValue": "300",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        }
