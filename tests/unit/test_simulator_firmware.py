"""The simulated station's firmware update: its answer, the download (bytes checked),
the status notifications per version, the reboot into the new version, and a download
that keeps failing."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx

from ampyre.simulator import messages as m
from ampyre.simulator.firmware import FirmwareUpdater

IMAGE = b"ampyre-firmware from-image-3.1\n" + b"x" * 1000


class Harness:
    def __init__(self, protocol: str, handler: Any) -> None:
        self.state = m.StationState(protocol=protocol, station_id="CP")
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.rebooted = asyncio.Event()
        self.fetches = 0

        async def call(action: str, payload: dict[str, Any]) -> dict[str, Any]:
            self.sent.append((action, payload))
            return {}

        def counting(request: httpx.Request) -> httpx.Response:
            self.fetches += 1
            response: httpx.Response = handler(request)
            return response

        self.updater = FirmwareUpdater(
            protocol, self.state, call, self.rebooted.set, step_delay=0,
            transport=httpx.MockTransport(counting),
        )  # fmt: skip

    def statuses(self) -> list[str]:
        return [p["status"] for _, p in self.sent]


def _serve(request: httpx.Request) -> httpx.Response:
    headers = {"X-Firmware-SHA256": hashlib.sha256(IMAGE).hexdigest()}
    return httpx.Response(200, content=IMAGE, headers=headers)


async def test_2x_update_reports_by_request_id_and_reboots_into_the_new_version() -> None:
    h = Harness("ocpp2.0.1", _serve)
    payload = {
        "requestId": 9,
        "firmware": {
            "location": "http://csms/firmware/t",
            "retrieveDateTime": "2020-01-01T00:00:00Z",
        },
    }
    answer, start = h.updater.answer("UpdateFirmware", payload)
    assert answer == {"status": "Accepted"} and start
    h.updater.start()
    await asyncio.wait_for(h.rebooted.wait(), 5)
    assert h.statuses() == ["Downloading", "Downloaded", "Installing", "InstallRebooting"]
    assert all(p["requestId"] == 9 for _, p in h.sent)
    assert h.updater.downloaded == IMAGE
    assert h.state.firmware_version == "from-image-3.1"  # no version header: the image's
    assert (
        m.boot_notification("ocpp2.0.1", "CP", h.state.firmware_version)["chargingStation"][
            "firmwareVersion"
        ]
        == "from-image-3.1"
    )
    assert h.updater.installed_pending  # the next boot says reason FirmwareUpdate
    await h.updater.booted()
    assert h.statuses()[-1] == "Installed" and not h.updater.installed_pending
    await h.updater.booted()  # only once
    assert h.statuses().count("Installed") == 1


async def test_16_update_has_no_status_and_no_request_id() -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"image", headers={"X-Firmware-Version": "v16-2"})

    h = Harness("ocpp1.6", serve)
    answer, start = h.updater.answer(
        "UpdateFirmware", {"location": "http://csms/f", "retrieveDate": "2020-01-01T00:00:00Z"}
    )
    assert answer == {} and start
    h.updater.start()
    await asyncio.wait_for(h.rebooted.wait(), 5)
    assert h.statuses() == ["Downloading", "Downloaded", "Installing"]
    assert all(a == "FirmwareStatusNotification" and "requestId" not in p for a, p in h.sent)
    assert h.state.firmware_version == "v16-2"


async def test_a_corrupt_download_is_retried_then_fails() -> None:
    def corrupt(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"broken", headers={"X-Firmware-SHA256": "0" * 64})

    h = Harness("ocpp2.1", corrupt)
    payload = {
        "requestId": 3,
        "retries": 1,
        "retryInterval": 0,
        "firmware": {"location": "http://csms/f", "retrieveDateTime": "2020-01-01T00:00:00Z"},
    }
    h.updater.answer("UpdateFirmware", payload)
    h.updater.start()
    for _ in range(100):
        if "DownloadFailed" in h.statuses():
            break
        await asyncio.sleep(0.01)
    assert h.statuses() == ["Downloading", "Downloading", "DownloadFailed"]
    assert h.fetches == 2 and not h.rebooted.is_set()
    assert h.state.firmware_version == m.FIRMWARE_VERSION


async def test_a_second_request_cancels_the_first() -> None:
    h = Harness("ocpp2.0.1", _serve)
    later = {
        "requestId": 1,
        "firmware": {"location": "http://csms/f", "retrieveDateTime": "2999-01-01T00:00:00Z"},
    }
    h.updater.answer("UpdateFirmware", later)
    h.updater.start()
    await asyncio.sleep(0)
    answer, _ = h.updater.answer("UpdateFirmware", {**later, "requestId": 2})
    assert answer == {"status": "AcceptedCanceled"}  # OCPP 2.x UpdateFirmwareStatusEnumType
    await h.updater.close()
