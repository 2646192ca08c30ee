"""Remote operations through the REST API (issue 17 part 3): DataTransfer to a station of
each version (the simulator's echo extension, unknown vendors and message ids, 1.6's
string-only data), 2.x GetTransactionStatus, and a ChangeAvailability answered
Scheduled followed until the station reports it applied (an `ocpp`-library station)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from ocpp.routing import on
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from polling import station_connected as _connected
from polling import until as _until
from test_ocpp_lib_clients import running

from ampyre.simulator import run_simulation
from ampyre.simulator.messages import SIM_VENDOR

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer


@pytest.fixture
async def ampyre(start_server: StartServer, store_url: str) -> Server:
    return await start_server(store_url)


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
async def test_data_transfer_and_transaction_status(ampyre: Server, protocol: str) -> None:
    api = ampyre.api()
    prefix = "DT" + protocol.removeprefix("ocpp").replace(".", "") + "-"
    sid = f"{prefix}00001"
    await ampyre.create_station(sid, registration_status="Accepted")
    r = await api.post(f"/stations/{sid}/data-transfer", json={"vendor_id": SIM_VENDOR})
    assert r.status_code == 409, r.text
    stop = asyncio.Event()
    sim = asyncio.create_task(
        run_simulation(
            f"{ampyre.ws_url}/ocpp", 1, protocol, prefix=prefix, stop=stop,
            status_change_interval=0, seed=3,
        )
    )  # fmt: skip
    v16 = protocol == "ocpp1.6"
    try:
        await _until("the station online", lambda: _connected(api, sid))
        post = lambda body: api.post(f"/stations/{sid}/data-transfer", json=body)  # noqa: E731
        r = await post({"vendor_id": SIM_VENDOR, "message_id": "echo", "data": "hi"})
        assert r.json() == {"status": "accepted", "response": {"status": "Accepted", "data": "hi"}}
        r = await post({"vendor_id": SIM_VENDOR, "message_id": "nope"})
        assert r.json()["status"] == "unknownmessageid", r.text
        r = await post({"vendor_id": "com.other"})
        assert r.json()["status"] == "unknownvendorid", r.text
        r = await post({"vendor_id": SIM_VENDOR, "message_id": "echo", "data": {"n": [1, 2]}})
        if v16:  # 1.6 data is a string: nothing sent
            assert r.status_code == 422 and r.json()["ocpp_version"] == "ocpp1.6", r.text
        else:
            assert r.json()["response"]["data"] == {"n": [1, 2]}, r.text
        r = await post({"vendor_id": ""})
        assert r.status_code == 422, r.text

        r = await api.post(f"/stations/{sid}/transaction-status", json={})
        if v16:
            assert r.status_code == 422, r.text
        else:
            assert r.status_code == 200, r.text
            assert r.json()["messages_in_queue"] is False
            r = await api.post(
                f"/stations/{sid}/transaction-status", json={"transaction_id": "no-such-tx"}
            )
            assert r.json()["ongoing"] is False, r.text
    finally:
        stop.set()
        await sim


class BusyStation(ChargePoint201):
    """Answers ChangeAvailability Scheduled, as a station with a transaction running."""

    @on(Action201.change_availability)
    async def on_change_availability(self, operational_status: str, **kw: Any) -> Any:
        self.asked = (operational_status, kw.get("evse"))
        return result201.ChangeAvailability(status="Scheduled")


async def test_scheduled_availability_is_followed_until_applied(server: Server) -> None:
    api = server.api()
    await server.create_station("LIB-AVAIL")
    async with running(BusyStation, server, "LIB-AVAIL", "ocpp2.0.1") as cp:
        await cp.call(
            call201.BootNotification(
                charging_station={"vendor_name": "V", "model": "M"}, reason="PowerUp"
            ),
            suppress=False,
        )

        async def status(connector: int, value: str) -> None:
            await cp.call(
                call201.StatusNotification(
                    timestamp=datetime.now(UTC).isoformat(),
                    connector_status=value,
                    evse_id=1,
                    connector_id=connector,
                ),
                suppress=False,
            )

        await status(1, "Occupied")
        await status(2, "Available")
        r = await api.post(
            "/stations/LIB-AVAIL/availability", json={"operative": False, "evse_id": 1}
        )
        assert r.json()["status"] == "scheduled", r.text
        assert cp.asked == ("Inoperative", {"id": 1})

        async def changes() -> list[dict[str, Any]]:
            body = (await api.get("/stations/LIB-AVAIL/availability-changes")).json()
            items: list[dict[str, Any]] = body["items"]
            return items

        (change,) = await changes()
        assert (change["state"], change["evse_id"], change["operative"]) == (
            "scheduled",
            1,
            False,
        )
        await status(1, "Unavailable")  # the transaction ended; connector 2 not yet
        assert (await changes())[0]["state"] == "scheduled"
        await status(2, "Unavailable")
        (change,) = await changes()
        assert change["state"] == "applied" and change["applied_at"] is not None


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_network_profile(ampyre: Server, protocol: str) -> None:
    api = ampyre.api()
    prefix = "NP" + protocol.removeprefix("ocpp").replace(".", "") + "-"
    sid = f"{prefix}00001"
    await ampyre.create_station(sid, registration_status="Accepted")
    stop = asyncio.Event()
    sim = asyncio.create_task(
        run_simulation(
            f"{ampyre.ws_url}/ocpp", 1, protocol, prefix=prefix, stop=stop,
            status_change_interval=0, seed=3,
        )
    )  # fmt: skip
    profile = {
        "configuration_slot": 1,
        "csms_url": "wss://csms.example.net/ocpp",
        "security_profile": 2,
        "vpn": {"server": "vpn", "user": "u", "password": "pw", "key": "k", "type": "IKEv2"},
    }
    try:
        await _until("the station online", lambda: _connected(api, sid))
        r = await api.post(f"/stations/{sid}/network-profile", json=profile)
        if protocol == "ocpp1.6":
            assert r.status_code == 422 and r.json()["ocpp_version"] == "ocpp1.6", r.text
            return
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "accepted"
        # The station has slots 0..2 only: its Rejected is kept as well.
        r = await api.post(
            f"/stations/{sid}/network-profile", json={**profile, "configuration_slot": 7}
        )
        assert r.json()["status"] == "rejected", r.text
        # Checked before sending: a TLS profile needs wss://, 2.1 fields are 2.1's.
        for wrong in (
            {"csms_url": "ws://csms.example.net/ocpp"},
            {"identity": "someone"},
            {"security_profile": 4},
            {"csms_url": "wss:///no-host"},
        ):
            r = await api.post(f"/stations/{sid}/network-profile", json={**profile, **wrong})
            assert r.status_code == 422, (wrong, r.text)
        # The station's slot priority comes from its configuration once read.
        await api.post(
            f"/stations/{sid}/configuration/get",
            json={
                "variables": [
                    {"component": "OCPPCommCtrlr", "variable": "NetworkConfigurationPriority"}
                ]
            },
        )
        body = (await api.get(f"/stations/{sid}/network-profiles")).json()
        assert [(i["configuration_slot"], i["status"]) for i in body["items"]] == [
            (7, "rejected"),
            (1, "accepted"),
        ]
        assert body["items"][1]["profile"]["vpn"]["password"] == "***"
        assert body["priority"] == "0"
    finally:
        stop.set()
        await sim
