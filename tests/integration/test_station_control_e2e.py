"""Reset, change availability, unlock and trigger through the REST API against a real
Ampyre and a simulated station of each OCPP version: the station's answer comes back, the
station does what it said (status notifications, a reboot with a new BootNotification),
what its version cannot express is refused, every command is in the operator audit
trail, and an offline station is 409 (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from polling import until as _until

from ampyre.simulator import run_simulation

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer


@pytest.fixture
async def ampyre(start_server: StartServer, store_url: str) -> Server:
    return await start_server(store_url)


async def _station(api: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    r = await api.get(f"/stations/{sid}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _status(station: dict[str, Any], evse: int) -> str | None:
    for e in station["evses"]:
        if e["evse_id"] == evse:
            return str(e["connectors"][0]["status"])
    return None


async def _history_total(api: httpx.AsyncClient, sid: str) -> int:
    r = await api.get(f"/stations/{sid}/status-history", params={"limit": 1})
    return int(r.json()["total"])


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
async def test_station_commands_end_to_end(ampyre: Server, protocol: str) -> None:
    api = ampyre.api()
    prefix = "CMD" + protocol.removeprefix("ocpp").replace(".", "") + "-"
    sid = f"{prefix}00001"
    await ampyre.create_station(sid, registration_status="Accepted")
    stop = asyncio.Event()
    sim = asyncio.create_task(
        run_simulation(
            f"{ampyre.ws_url}/ocpp", 1, protocol, prefix=prefix, stop=stop,
            status_change_interval=0, seed=5,
        )
    )  # fmt: skip
    v16 = protocol == "ocpp1.6"
    try:

        async def ready() -> bool:
            s = await _station(api, sid)
            return bool(s["connected"]) and _status(s, 1) == "Available"

        await _until("the station online", ready)
        first_boot = (await _station(api, sid))["last_boot"]

        # The raw command's helpers.
        listed = (await api.get(f"/stations/{sid}/ocpp-actions")).json()
        assert listed["ocpp_version"] == protocol and "UnlockConnector" in listed["actions"]
        valid = {"type": "Soft"} if v16 else {"type": "OnIdle", "evseId": 1}
        r = await api.post(f"/stations/{sid}/ocpp/Reset/validate", json=valid)
        assert r.json() == {"valid": True, "ocpp_version": protocol}

        # TriggerMessage: accepted, then the status arrives.
        seen = await _history_total(api, sid)
        r = await api.post(
            f"/stations/{sid}/trigger",
            json={"message": "StatusNotification", "evse_id": 1, "connector_id": 1},
        )
        assert r.json() == {"status": "accepted", "response": {"status": "Accepted"}}

        async def reported() -> bool:
            return await _history_total(api, sid) > seen

        await _until("the triggered status", reported)

        # ChangeAvailability of EVSE 1, then of the whole station.
        r = await api.post(f"/stations/{sid}/availability", json={"operative": False, "evse_id": 1})
        assert r.status_code == 200 and r.json()["status"] == "accepted", r.text

        async def evse1_is(status: str) -> bool:
            return _status(await _station(api, sid), 1) == status

        await _until("EVSE 1 Unavailable", lambda: evse1_is("Unavailable"))
        assert _status(await _station(api, sid), 2) == "Available"
        r = await api.post(f"/stations/{sid}/availability", json={"operative": True})
        assert r.json()["status"] == "accepted", r.text
        await _until("EVSE 1 Available", lambda: evse1_is("Available"))

        # UnlockConnector (1.6: connector 1 is EVSE 1, connector 1).
        r = await api.post(f"/stations/{sid}/unlock", json={"evse_id": 1, "connector_id": 1})
        assert r.json() == {"status": "unlocked", "response": {"status": "Unlocked"}}

        # What this version cannot express: 422, nothing sent.
        if v16:
            r = await api.post(f"/stations/{sid}/reset", json={"kind": "soft", "evse_id": 1})
            assert r.status_code == 422 and r.json()["ocpp_version"] == "ocpp1.6", r.text
            r = await api.post(f"/stations/{sid}/trigger", json={"message": "TransactionEvent"})
        else:
            r = await api.post(
                f"/stations/{sid}/trigger", json={"message": "DiagnosticsStatusNotification"}
            )
        assert r.status_code == 422 and r.json()["supported"], r.text

        # Reset: accepted, the station goes down and boots again.
        body = {"kind": "hard"} if v16 else {"kind": "soft", "when": "on_idle"}
        r = await api.post(f"/stations/{sid}/reset", json=body)
        assert r.json() == {"status": "accepted", "response": {"status": "Accepted"}}

        async def rebooted() -> bool:
            s = await _station(api, sid)
            return bool(s["connected"]) and s["last_boot"] != first_boot

        await _until("the reboot", rebooted)
    finally:
        stop.set()
        await sim

    async def offline() -> bool:
        return not (await _station(api, sid))["connected"]

    await _until("the station offline", offline)
    r = await api.post(f"/stations/{sid}/reset", json={"kind": "soft"})
    assert r.status_code == 409 and r.json()["type"].endswith("station-not-connected"), r.text

    # The trail is written after the answer has gone out: wait for the last entry.
    trail: list[tuple[str, int, str]] = []

    async def refused_reset_recorded() -> bool:
        r = await api.get("/audit", params={"station_id": sid, "limit": 100})
        trail[:] = [
            (a["target"].rsplit("/", 1)[-1], a["status_code"], a["outcome"])
            for a in r.json()["items"]
        ]
        return any(t[0] == "reset" and t[1] == 409 for t in trail)

    await _until("the refused reset in the audit trail", refused_reset_recorded)
    assert ("trigger", 200, "accepted") in trail
    assert ("availability", 200, "accepted") in trail
    assert ("unlock", 200, "unlocked") in trail
    assert ("reset", 200, "accepted") in trail
