"""Firmware updates against independent stations written with the `ocpp` PyPI library
(strict schema validation both ways): Ampyre's UpdateFirmware as 1.6 and 2.0.1 see it,
the download from the URL it gives, and the station's notifications by requestId."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
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

if TYPE_CHECKING:
    from conftest import Server, StartServer

IMAGE = b"library firmware image " * 100


class Station16(ChargePoint16):
    asked: asyncio.Queue[dict[str, Any]]

    @on(Action16.update_firmware)
    async def on_update_firmware(self, **kwargs: Any) -> result16.UpdateFirmware:
        self.asked.put_nowait(kwargs)
        return result16.UpdateFirmware()


class Station201(ChargePoint201):
    asked: asyncio.Queue[dict[str, Any]]

    @on(Action201.update_firmware)
    async def on_update_firmware(self, **kwargs: Any) -> result201.UpdateFirmware:
        self.asked.put_nowait(kwargs)
        return result201.UpdateFirmware(status="Accepted")


@asynccontextmanager
async def running(
    cp_class: type[Any], server: Server, station_id: str, protocol: str
) -> AsyncIterator[Any]:
    async with connect(
        server.station_url(station_id), subprotocols=[Subprotocol(protocol)], open_timeout=5
    ) as ws:
        cp = cp_class(station_id, ws, response_timeout=5)
        cp.asked = asyncio.Queue()
        task = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def ampyre(start_server: StartServer, sqlite_url: str, tmp_path: Path) -> Server:
    return await start_server(sqlite_url, firmware_dir=str(tmp_path / "fw"))


async def _file(api: httpx.AsyncClient) -> dict[str, Any]:
    r = await api.post("/firmware", params={"version": "lib-2"}, content=IMAGE)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def _update(api: httpx.AsyncClient, sid: str, file_id: int) -> asyncio.Task[httpx.Response]:
    return asyncio.create_task(
        api.post(
            f"/stations/{sid}/firmware",
            json={
                "file_id": file_id,
                "retries": 2,
                "retry_interval": 5,
                "install_at": "2030-01-01T00:00:00Z",
            },
        )
    )


async def test_ocpp16_library_station_updates(ampyre: Server) -> None:
    api = ampyre.api()
    await ampyre.create_station("LIBFW-16")
    file = await _file(api)
    async with running(Station16, ampyre, "LIBFW-16", "ocpp1.6") as cp:
        await cp.call(call16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        reply = await _update(api, "LIBFW-16", file["id"])
        asked = await asyncio.wait_for(cp.asked.get(), 5)
        update = (await reply).json()
        assert update["state"] == "in_progress", update
        assert asked["location"] == file["download_url"]
        assert asked["retries"] == 2 and asked["retry_interval"] == 5 and asked["retrieve_date"]
        async with httpx.AsyncClient() as client:
            assert (await client.get(asked["location"])).content == IMAGE
        for status in ("Downloading", "Downloaded", "Installing", "Installed"):
            await cp.call(call16.FirmwareStatusNotification(status=status))
    got = (await api.get(f"/firmware-updates/{update['id']}")).json()
    assert got["state"] == "installed" and got["status"] == "Installed"


async def test_ocpp201_library_station_updates(ampyre: Server) -> None:
    api = ampyre.api()
    await ampyre.create_station("LIBFW-201")
    file = await _file(api)
    async with running(Station201, ampyre, "LIBFW-201", "ocpp2.0.1") as cp:
        await cp.call(
            call201.BootNotification(
                charging_station={"model": "M", "vendor_name": "V", "firmware_version": "lib-1"},
                reason="PowerUp",
            )
        )
        reply = await _update(api, "LIBFW-201", file["id"])
        asked = await asyncio.wait_for(cp.asked.get(), 5)
        update = (await reply).json()
        assert update["state"] == "in_progress", update
        assert asked["request_id"] == update["id"]
        assert asked["firmware"]["location"] == file["download_url"]
        assert asked["firmware"]["install_date_time"].startswith("2030-01-01T00:00:00")
        for status in ("Downloading", "Downloaded", "InstallScheduled", "Installing"):
            await cp.call(
                call201.FirmwareStatusNotification(status=status, request_id=asked["request_id"])
            )
        await cp.call(
            call201.FirmwareStatusNotification(
                status="InstallVerificationFailed", request_id=asked["request_id"]
            )
        )
    got = (await api.get(f"/firmware-updates/{update['id']}")).json()
    assert got["state"] == "failed" and "InstallVerificationFailed" in got["detail"]
