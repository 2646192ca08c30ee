"""Password rotation and security profile upgrades through the API (issue 19), against
simulated stations that obey them: tracked until the station reconnects with the new
credentials; the old password and the lower profile are refused afterwards."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.conftest import Server, StartServer
from tests.integration.polling import until
from tests.integration.test_security_profiles import (
    _basic,
    client_tls,
    refused,
    tls_server,
    write_cert,
)

from ampyre.adapters.pki import LocalPki
from ampyre.simulator.connection_security import ConnectionSecurity
from ampyre.simulator.station import Counters, SimulatedStation

PASSWORD = "first-password-0123456"


@contextlib.asynccontextmanager
async def running(station: SimulatedStation) -> AsyncIterator[SimulatedStation]:
    task = asyncio.create_task(station.run())
    try:
        await until(f"{station.station_id} booted", _true(lambda: station.booted))
        yield station
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _logged(api: httpx.AsyncClient, station_id: str) -> bool:
    page = (await api.get("/messages", params={"station_id": station_id, "limit": 200})).json()
    return any(m["action"] == "ChangeConfiguration" for m in page["items"])


def _true(check: Any) -> Any:
    async def wrapped() -> bool:
        return bool(check())

    return wrapped


async def security(api: httpx.AsyncClient, station_id: str) -> dict[str, Any]:
    r = await api.get(f"/stations/{station_id}/security")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def completed(api: httpx.AsyncClient, station_id: str, change_id: int) -> None:
    async def done() -> bool:
        data = await security(api, station_id)
        return any(c["id"] == change_id and c["status"] == "completed" for c in data["history"])

    await until(f"change {change_id} of {station_id} completed", done)


def station(
    server: Server, station_id: str, protocol: str, sec: ConnectionSecurity
) -> SimulatedStation:
    sim = SimulatedStation(
        station_id=station_id,
        url=f"{server.ws_url}/ocpp",
        protocol=protocol,
        counters=Counters(),
        password=sec.password,
    )
    sim.conn.configure(sec)
    return sim


async def test_v201_rotation_then_upgrade_to_profile_3(
    start_server: StartServer,
    sqlite_url: str,
    pki_dir: Path,
    local_pki: LocalPki,
    tmp_path: Path,
) -> None:
    server = await tls_server(start_server, sqlite_url, pki_dir)
    api = server.api()
    await server.create_station("ROT-201", password=PASSWORD, security_profile=2)
    cert, key = write_cert(tmp_path, "rot", local_pki.issue_station_certificate("ROT-201"))
    tls_url = f"wss://127.0.0.1:{server.app.gateway.tls_port}/ocpp"
    sec = ConnectionSecurity(
        profile=2,
        password=PASSWORD,
        cert=str(cert),
        key=str(key),
        ca=str(pki_dir / "csms-root.pem"),
        tls_url=tls_url,
    )
    sim = station(server, "ROT-201", "ocpp2.0.1", sec)
    async with running(sim):
        data = await security(api, "ROT-201")
        assert (data["configured_profile"], data["connection_profile"]) == (2, 2)
        assert data["tls_url"] == tls_url
        # Rotation: a generated password, returned once, pending until the station uses it.
        r = await api.post("/stations/ROT-201/security/password", json={})
        assert r.status_code == 200, r.text
        new_password = r.json()["password"]
        assert r.json()["change"]["status"] in ("accepted", "completed")
        assert len(new_password) == 32
        await completed(api, "ROT-201", r.json()["change"]["id"])
        assert sim.conn.password == new_password.encode()
        assert not (await security(api, "ROT-201"))["pending_password"]
        old = {"Authorization": _basic("ROT-201", PASSWORD)}
        wss = f"{tls_url}/ROT-201"
        assert await refused(wss, ssl=client_tls(pki_dir), additional_headers=old) == 401
        # Upgrade to profile 3: SetNetworkProfile, priority, Reset; completed on reconnect.
        r = await api.post("/stations/ROT-201/security/profile", json={"profile": 3})
        assert r.status_code == 200, r.text
        assert r.json()["change"]["status"] in ("accepted", "completed"), r.text
        await completed(api, "ROT-201", r.json()["change"]["id"])
        data = await security(api, "ROT-201")
        assert (data["configured_profile"], data["connection_profile"]) == (3, 3)
        # Lower profiles are downgrades now.
        new = {"Authorization": _basic("ROT-201", new_password)}
        assert await refused(wss, ssl=client_tls(pki_dir), additional_headers=new) == 403
        # Not higher: refused before anything is sent.
        r = await api.post("/stations/ROT-201/security/profile", json={"profile": 2})
        assert r.status_code == 422


async def test_v16_rotation_then_upgrade_to_profile_2(
    start_server: StartServer, store_url: str, pki_dir: Path
) -> None:
    server = await tls_server(start_server, store_url, pki_dir)
    api = server.api()
    await server.create_station("ROT-16", password=PASSWORD)
    tls_url = f"wss://127.0.0.1:{server.app.gateway.tls_port}/ocpp"
    sec = ConnectionSecurity(
        profile=1, password=PASSWORD, ca=str(pki_dir / "csms-root.pem"), tls_url=tls_url
    )
    # Not connected yet: nothing to send; unknown stations and profiles.
    assert (await api.post("/stations/ROT-16/security/password", json={})).status_code == 409
    r = await api.post("/stations/NOPE/security/profile", json={"profile": 2})
    assert r.status_code == 404
    r = await api.post("/stations/ROT-16/security/profile", json={"profile": 7})
    assert r.status_code == 422
    assert (await security(api, "ROT-16"))["configured_profile"] is None
    sim = station(server, "ROT-16", "ocpp1.6", sec)
    async with running(sim):
        assert (await security(api, "ROT-16"))["connection_profile"] == 1
        # A password of the wrong size for 1.6 (AuthorizationKey: 16..20 bytes).
        r = await api.post("/stations/ROT-16/security/password", json={"password": "x" * 30})
        assert r.status_code == 422
        chosen = "rotated-pass-16-20"
        r = await api.post("/stations/ROT-16/security/password", json={"password": chosen})
        assert r.status_code == 200, r.text
        assert r.json()["password"] == chosen
        await completed(api, "ROT-16", r.json()["change"]["id"])
        assert sim.conn.password == chosen.encode()
        # Neither the message log nor the operator audit trail keeps it (nor its hex).
        await until("the ChangeConfiguration logged", lambda: _logged(api, "ROT-16"))
        for path in ("/messages?station_id=ROT-16&limit=200", "/audit?station_id=ROT-16"):
            text = (await api.get(path)).text
            assert chosen not in text and chosen.encode().hex() not in text.lower(), path
        r = await api.post("/stations/ROT-16/security/profile", json={"profile": 2})
        assert r.status_code == 200, r.text
        await completed(api, "ROT-16", r.json()["change"]["id"])
        data = await security(api, "ROT-16")
        assert (data["configured_profile"], data["connection_profile"]) == (2, 2)
        plain = {"Authorization": _basic("ROT-16", chosen)}
        assert await refused(server.station_url("ROT-16"), additional_headers=plain) == 403


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
