"""Firmware end to end through the REST API against a real Ampyre and simulated stations
of each OCPP version (SQLite and PostgreSQL): upload a file, update one station, the
station downloads it from Ampyre's URL, reports its progress, reboots and boots with the
new version; a rollout across several stations in batches, one of which fails; upload
limits, unknown download tokens and traversal attempts."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from polling import until as _until

from ampyre.adapters.db.outbox import OutboxSql
from ampyre.simulator import run_simulation
from ampyre.simulator.station import SimulatedStation

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

IMAGE = b"ampyre-firmware sim-2.0\n" + bytes(range(256)) * 64


@pytest.fixture
async def ampyre(start_server: StartServer, store_url: str, tmp_path: Path) -> Server:
    return await start_server(
        store_url,
        firmware_dir=str(tmp_path / "fw"),
        rollout_tick=0.2,
        firmware_upload_max=64 * 1024,
    )


async def _upload(api: httpx.AsyncClient, version: str = "sim-2.0") -> dict[str, Any]:
    r = await api.post(
        "/firmware",
        params={"version": version, "filename": "sim.bin", "vendor": "Ampyre"},
        content=IMAGE,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def _station(api: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    r = await api.get(f"/stations/{sid}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
async def test_firmware_update_of_one_station(ampyre: Server, protocol: str) -> None:
    api = ampyre.api()
    prefix = "FW" + protocol.removeprefix("ocpp").replace(".", "") + "-"
    sid = f"{prefix}00001"
    await ampyre.create_station(sid, registration_status="Accepted")
    file = await _upload(api)
    assert file["sha256"] == hashlib.sha256(IMAGE).hexdigest() and file["size"] == len(IMAGE)
    # The download URL serves the bytes without a bearer token.
    async with httpx.AsyncClient() as anonymous:
        got = await anonymous.get(file["download_url"])
    assert got.status_code == 200 and got.content == IMAGE
    assert got.headers["x-firmware-version"] == "sim-2.0"

    # Not connected: 409 at once, nothing stored.
    r = await api.post(f"/stations/{sid}/firmware", json={"file_id": file["id"]})
    assert r.status_code == 409, r.text
    assert (await api.get(f"/stations/{sid}/firmware-updates")).json()["total"] == 0

    stop = asyncio.Event()
    stations: list[SimulatedStation] = []
    sim = asyncio.create_task(
        run_simulation(
            f"{ampyre.ws_url}/ocpp", 1, protocol, prefix=prefix, stop=stop,
            status_change_interval=0, seed=3, stations_out=stations,
        )
    )  # fmt: skip
    try:

        async def booted() -> bool:
            # Connected is recorded at the handshake, the firmware version at the boot
            # that follows: wait for the boot.
            s = await _station(api, sid)
            return bool(s["connected"]) and s["firmware_version"] is not None

        await _until("the station booted", booted)
        assert (await _station(api, sid))["firmware_version"] == "ampyre-sim-1.0"
        stations[0].firmware.step_delay = 0.05
        r = await api.post(
            f"/stations/{sid}/firmware",
            json={"file_id": file["id"], "retries": 2, "retry_interval": 1},
        )
        assert r.status_code == 200, r.text
        update = r.json()
        assert update["state"] == "in_progress" and update["target_version"] == "sim-2.0"

        async def installed() -> bool:
            u = (await api.get(f"/firmware-updates/{update['id']}")).json()
            return bool(u["state"] == "installed")

        await _until("the update installed", installed)
        s = await _station(api, sid)
        assert s["firmware_version"] == "sim-2.0"  # booted with the new firmware
        if protocol != "ocpp1.6":
            assert s["boot_reason"] == "FirmwareUpdate"
        assert stations[0].firmware.downloaded == IMAGE  # the bytes arrived
        u = (await api.get(f"/firmware-updates/{update['id']}")).json()
        steps = [h["status"] for h in u["history"]]
        for status in ("Downloading", "Downloaded", "Installing"):
            assert status in steps, steps
        if protocol != "ocpp1.6":
            assert "InstallRebooting" in steps  # matched by requestId
        listed = (await api.get(f"/stations/{sid}/firmware-updates")).json()
        assert listed["total"] == 1 and listed["items"][0]["id"] == update["id"]
        # The notifications stay in the station's report history too.
        reports = (await api.get(f"/stations/{sid}/reports")).json()
        assert any(x["action"] == "FirmwareStatusNotification" for x in reports["items"])
        # Each step went to the outbox (webhooks, dashboard stream) with its data.
        events = await OutboxSql(ampyre.app.store.db).events_after(0, 1000)
        mine = [e.data for e in events if e.type == "firmware.status_changed"]
        assert mine[-1]["state"] == "installed" and mine[-1]["update_id"] == update["id"]
        # The operator's request is in the audit trail.
        audit = (await api.get("/audit", params={"limit": 50})).json()
        assert any(e["target"].endswith(f"/stations/{sid}/firmware") for e in audit["items"])
    finally:
        stop.set()
        await sim


async def test_firmware_timeout_leaves_update_timed_out(ampyre: Server) -> None:
    """A station that does not answer: 504, and the update stays visible as timed_out."""
    api = ampyre.api()
    sid = "FWSILENT-1"
    await ampyre.create_station(sid, registration_status="Accepted")
    file = await _upload(api)
    import websockets

    async with websockets.connect(ampyre.station_url(sid), subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        await ws.send(
            '[2,"b1","BootNotification",{"chargingStation":{"model":"M","vendorName":"V"},'
            '"reason":"PowerUp"}]'
        )
        await ws.recv()
        r = await api.post(
            f"/stations/{sid}/firmware", json={"file_id": file["id"], "timeout": 0.5}
        )
        assert r.status_code == 504, r.text
        listed = (await api.get(f"/stations/{sid}/firmware-updates")).json()
        assert listed["items"][0]["state"] == "timed_out"


async def test_firmware_rollout_in_batches_with_a_failure(ampyre: Server) -> None:
    api = ampyre.api()
    prefix = "FWRO-"
    ids = [f"{prefix}{n:05d}" for n in range(1, 4)]
    for sid in ids:
        await ampyre.create_station(sid, registration_status="Accepted")
    offline = "FWRO-OFFLINE"
    await ampyre.create_station(offline, registration_status="Accepted")
    file = await _upload(api, "sim-3.0")
    stop = asyncio.Event()
    stations: list[SimulatedStation] = []
    sim = asyncio.create_task(
        run_simulation(
            f"{ampyre.ws_url}/ocpp", 3, "ocpp2.0.1", prefix=prefix, stop=stop,
            status_change_interval=0, seed=4, stations_out=stations,
        )
    )  # fmt: skip
    try:

        async def all_online() -> bool:
            page = (await api.get("/stations", params={"limit": 50})).json()
            return sum(1 for s in page["items"] if s["connected"]) == 3

        await _until("the stations online", all_online)
        for st in stations:
            st.firmware.step_delay = 0.02
        r = await api.post(
            "/rollouts",
            json={
                "file_id": file["id"],
                "name": "to 3.0",
                "targets": {"station_ids": [*ids, offline]},
                "batch_size": 2,
                "pause_seconds": 0.2,
                "abort_threshold": 2,
            },
        )
        assert r.status_code == 201, r.text
        rollout = r.json()
        # The leader is woken at once: the first batch may already be on its way.
        counts = rollout["counts"]
        assert sum(counts.values()) == 4 and len(rollout["stations"]) == 4, counts
        assert set(counts) <= {"pending", "sending", "in_progress"}, counts
        assert counts.get("pending", 0) >= 2, counts  # batches of 2: the second waits

        async def finished() -> bool:
            x = (await api.get(f"/rollouts/{rollout['id']}")).json()
            return bool(x["state"] in ("finished", "aborted"))

        await _until("the rollout finished", finished, timeout=40)
        done = (await api.get(f"/rollouts/{rollout['id']}")).json()
        assert done["state"] == "finished", done
        assert done["counts"] == {"installed": 3, "failed": 1}, done["counts"]
        assert done["batches_sent"] == 2
        by_station = {u["station_id"]: u for u in done["stations"]}
        assert by_station[offline]["state"] == "failed"
        for sid in ids:
            assert (await _station(api, sid))["firmware_version"] == "sim-3.0"
        # A rollout that is over cannot be paused.
        r = await api.post(f"/rollouts/{rollout['id']}/pause")
        assert r.status_code == 409
        listed = (await api.get("/rollouts")).json()
        assert listed["total"] == 1 and listed["items"][0]["counts"]["installed"] == 3
        # The file is in use by the rollout.
        assert (await api.delete(f"/firmware/{file['id']}")).status_code == 409
    finally:
        stop.set()
        await sim


async def test_rollout_aborts_at_threshold(ampyre: Server) -> None:
    api = ampyre.api()
    ids = [f"FWAB-{n}" for n in range(1, 5)]
    for sid in ids:
        await ampyre.create_station(sid, registration_status="Accepted")
    file = await _upload(api)
    r = await api.post(
        "/rollouts",
        json={
            "file_id": file["id"],
            "targets": {"station_ids": ids},
            "batch_size": 2,
            "abort_threshold": 2,
        },
    )
    assert r.status_code == 201, r.text
    rid = r.json()["id"]

    async def aborted() -> bool:
        return bool((await api.get(f"/rollouts/{rid}")).json()["state"] == "aborted")

    await _until("the rollout aborted", aborted)
    done = (await api.get(f"/rollouts/{rid}")).json()
    # The first batch failed (offline stations); the rest was never sent.
    assert done["counts"] == {"failed": 2, "cancelled": 2}, done
    assert "threshold" in done["detail"]


async def test_upload_limits_tokens_and_traversal(ampyre: Server) -> None:
    api = ampyre.api()
    too_big = b"x" * (64 * 1024 + 1)
    r = await api.post("/firmware", params={"version": "big"}, content=too_big)
    assert r.status_code == 413, r.text
    # Larger than AMPYRE_MAX_BODY_SIZE would allow elsewhere is fine here: 60 KiB < 64 KiB.
    r = await api.post("/firmware", params={"version": "ok"}, content=b"y" * 60 * 1024)
    assert r.status_code == 201, r.text
    r = await api.post("/firmware", params={"version": "empty"}, content=b"")
    assert r.status_code == 422
    r = await api.post("/firmware", params={"version": "v" * 51}, content=b"z")
    assert r.status_code == 422
    r = await api.post("/firmware", content=b"z")  # version missing
    assert r.status_code == 422
    async with httpx.AsyncClient(base_url=ampyre.http_url) as anonymous:
        for path in (
            "/firmware/unknown-token-0123456789abcdef",
            "/firmware/..%2F..%2Fetc%2Fpasswd",
            "/firmware/../../etc/passwd",
            "/firmware/%2e%2e%2fampyre.db",
        ):
            got = await anonymous.get(path)
            assert got.status_code == 404, (path, got.status_code)
        # The listing needs a token; the download does not.
        assert (await anonymous.get("/api/v1/firmware")).status_code == 401
    assert (await api.get("/firmware/999999")).status_code == 404
    assert (await api.get("/firmware-updates/2147483648")).status_code == 422
    r = await api.post("/rollouts", json={"file_id": 1, "targets": {}})
    assert r.status_code == 422
    r = await api.post("/rollouts", json={"file_id": 1, "targets": {"vendor": "nobody"}})
    assert r.status_code == 422


async def test_rollout_goes_on_after_a_restart(
    start_server: StartServer, store_url: str, tmp_path: Path
) -> None:
    settings = {"firmware_dir": str(tmp_path / "fw"), "rollout_tick": 0.2}
    first = await start_server(store_url, **settings)
    api = first.api()
    ids = [f"FWRS-{n}" for n in range(1, 4)]
    for sid in ids:
        await first.create_station(sid, registration_status="Accepted")
    file = await _upload(api)
    r = await api.post(
        "/rollouts",
        json={
            "file_id": file["id"],
            "targets": {"station_ids": ids},
            "batch_size": 1,
            "pause_seconds": 1.5,
            "abort_threshold": 0,
        },
    )
    assert r.status_code == 201, r.text
    rid = r.json()["id"]

    async def first_batch_done() -> bool:
        counts = (await api.get(f"/rollouts/{rid}")).json()["counts"]
        return bool(counts.get("failed") == 1)

    await _until("the first batch", first_batch_done)
    await first.shutdown()  # in the pause between batches

    second = await start_server(store_url, **settings)
    api = second.api()

    async def finished() -> bool:
        return bool((await api.get(f"/rollouts/{rid}")).json()["state"] == "finished")

    await _until("the rollout finished after the restart", finished)
    done = (await api.get(f"/rollouts/{rid}")).json()
    # Every station got exactly one attempt (offline: failed), none twice.
    assert done["counts"] == {"failed": 3} and done["batches_sent"] == 3
    assert all(
        len([h for h in u["history"] if h["status"] == "NotConnected"]) == 1
        for u in done["stations"]
    )


async def test_rollout_input_is_bounded(ampyre: Server) -> None:
    api = ampyre.api()
    file = await _upload(api)
    for body in (
        {"file_id": file["id"], "targets": {"station_ids": ["x" * 256]}},
        {"file_id": file["id"], "targets": {"vendor": "A"}, "batch_size": 0},
        {"file_id": file["id"], "targets": {"vendor": "A"}, "pause_seconds": -1},
        {"file_id": file["id"], "targets": {"vendor": "A"}, "abort_threshold": 2**31},
        {"file_id": 2**31, "targets": {"vendor": "A"}},
    ):
        r = await api.post("/rollouts", json=body)
        assert r.status_code == 422, (body, r.text)
    r = await api.post("/stations/NOPE/firmware", json={"file_id": file["id"]})
    assert r.status_code == 404
    assert (await api.post("/rollouts/999/pause")).status_code == 404
