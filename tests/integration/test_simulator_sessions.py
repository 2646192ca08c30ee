"""The simulator's charging sessions against a real Ampyre: RFID sessions with an offline
window in the middle, and remote start/stop through the REST API, checked through
`GET /api/v1/transactions` and `/transactions/{id}/meter-values` (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ampyre.simulator import run_simulation
from ampyre.simulator.session import Session, SessionConfig
from ampyre.simulator.station import SimulatedStation

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

TOKENS = ("SIMIT-01", "SIMIT-02", "SIMIT-03", "SIMIT-04")
REGISTER = "Energy.Active.Import.Register"
ACK_TIMEOUT = 30.0  # seconds for the simulated stations to deliver what they queued


def _queued(station: SimulatedStation, session: Session) -> bool:
    """Whether a message of the session still waits in the station's outbox (its stop is
    its last message, so False means the stop was acknowledged)."""
    return any(q.session is session for q in station.outbox)


async def _seed(api: httpx.AsyncClient, tokens: tuple[str, ...]) -> None:
    for token in tokens:
        r = await api.post(
            "/id-tokens", json={"id_token": token, "type": "ISO14443", "status": "accepted"}
        )
        assert r.status_code == 201, r.text


async def _transactions(api: httpx.AsyncClient, station_id: str) -> list[dict[str, Any]]:
    r = await api.get("/transactions", params={"station_id": station_id, "limit": 200})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def _meter_values(api: httpx.AsyncClient, pk: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        r = await api.get(
            f"/transactions/{pk}/meter-values", params={"limit": 200, "offset": len(out)}
        )
        assert r.status_code == 200, r.text
        page = r.json()
        out += page["items"]
        if len(out) >= page["total"] or not page["items"]:
            return out


@pytest.fixture
async def ampyre(start_server: StartServer, store_url: str) -> Server:
    return await start_server(store_url)


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_sessions_recorded_with_correct_energy(ampyre: Server, protocol: str) -> None:
    api = ampyre.api()
    await _seed(api, TOKENS)
    prefix = "SIM16-" if protocol == "ocpp1.6" else "SIM201-"
    for i in (1, 2):
        await ampyre.create_station(f"{prefix}{i:05d}", registration_status="Accepted")
    config = SessionConfig(
        id_tokens=TOKENS, meter_interval=0.3, session_duration=1.5, idle_time=0.2
    )
    stations: list[SimulatedStation] = []
    stop = asyncio.Event()
    sim = asyncio.create_task(
        run_simulation(
            f"{ampyre.ws_url}/ocpp", 2, protocol, prefix=prefix, stop=stop, sessions=config,
            offline_windows=((1.5, 1.5),), seed=7, stations_out=stations,
        )
    )  # fmt: skip
    try:
        await asyncio.sleep(6.0)  # sessions before, during and after the offline window
        # A session is in `completed` once its stop is queued; the station sends it when
        # its outbox gets there, which after the offline replay on a loaded machine can be
        # seconds later. Stopping the simulation then would drop it (queued_at_end), so
        # wait (bounded) until the CSMS acknowledged every message of these sessions.
        finished = [(station, session) for station in stations for session in station.completed]
        for _ in range(int(ACK_TIMEOUT / 0.05)):
            pending = [(st, s) for st, s in finished if _queued(st, s)]
            if not pending:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        report = await sim
    assert not pending, f"{len(pending)} stops not acknowledged in {ACK_TIMEOUT}s: {report}"
    assert report.call_errors == 0, report
    assert report.sessions_rejected == 0 and report.tx_messages_discarded == 0
    assert report.replayed > 0  # messages from the offline window went through
    checked = sampled = 0
    for station in stations:
        recorded = {t["transaction_id"]: t for t in await _transactions(api, station.station_id)}
        # Sessions that completed after the wait above may have been cut off by the stop.
        for session in (s for st, s in finished if st is station):
            assert session.transaction_id is not None
            tx = recorded[str(session.transaction_id)]
            assert tx["status"] == "ended", tx
            assert tx["id_token"] == session.id_token
            assert tx["meter_start_wh"] == session.meter_start
            assert tx["meter_stop_wh"] == session.meter_stop
            assert session.meter_start is not None and session.meter_stop is not None
            assert tx["energy_wh"] == session.meter_stop - session.meter_start
            assert tx["stop_reason"] == "Local"
            values = await _meter_values(api, tx["id"])
            # Two samples can share a timestamp (ms): among them no order is defined. The
            # timestamps are compared as times: RFC 3339 text leaves out a zero fraction
            # ("...:31Z" sorts after "...:31.100Z" as a string).
            registers = [
                v["si_value"]
                for v in sorted(
                    values,
                    key=lambda v: (datetime.fromisoformat(v["timestamp"]), v["si_value"]),
                )
                if v["measurand"] == REGISTER
            ]
            assert registers == sorted(registers)
            assert registers[0] >= session.meter_start and registers[-1] <= session.meter_stop
            # A session of 1.5 s on a loaded machine may end before its first periodic
            # sample (0.3 s timers run late); those that have samples carry them all.
            periodic = [v for v in values if v["context"] == "Sample.Periodic"]
            if periodic:
                measurands = {v["measurand"] for v in periodic}
                assert measurands >= {REGISTER, "Power.Active.Import", "SoC"}
                sampled += 1
            checked += 1
    assert checked >= 2 and sampled >= 1


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_remote_start_and_stop_through_the_api(ampyre: Server, protocol: str) -> None:
    api = ampyre.api()
    await _seed(api, ("REMOTE-01",))
    station_id = "REM16-00001" if protocol == "ocpp1.6" else "REM201-00001"
    await ampyre.create_station(station_id, registration_status="Accepted")
    config = SessionConfig(meter_interval=0.3, local_sessions=False)
    stop = asyncio.Event()
    sim = asyncio.create_task(
        run_simulation(
            f"{ampyre.ws_url}/ocpp", 1, protocol, prefix=station_id[:-5], stop=stop,
            sessions=config, seed=1,
        )
    )  # fmt: skip
    try:
        for _ in range(100):
            r = await api.get(f"/stations/{station_id}")
            if r.status_code == 200 and r.json().get("connected"):
                break
            await asyncio.sleep(0.05)
        # The token was seeded as an RFID card: say so (2.x; 1.6 has no type).
        body = {"evse_id": 2, "id_token": "REMOTE-01", "id_token_type": "ISO14443"}
        r = await api.post(f"/stations/{station_id}/remote-start", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "accepted"
        tx: dict[str, Any] | None = None
        for _ in range(100):
            items = await _transactions(api, station_id)
            if items and items[0]["status"] == "active" and (items[0]["energy_wh"] or 0) > 0:
                tx = items[0]
                break
            await asyncio.sleep(0.05)
        assert tx is not None, f"no remote-started transaction with energy: {items}"
        assert tx["id_token"] == "REMOTE-01"
        r = await api.post(f"/stations/{station_id}/remote-stop", json={"transaction_id": tx["id"]})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "accepted"
        for _ in range(100):
            got = (await api.get(f"/transactions/{tx['id']}")).json()
            if got["status"] == "ended":
                break
            await asyncio.sleep(0.05)
        assert got["status"] == "ended" and got["stop_reason"] == "Remote"
        assert got["energy_wh"] == got["meter_stop_wh"] - got["meter_start_wh"] > 0
    finally:
        stop.set()
        report = await asyncio.wait_for(sim, 10)
    assert report.remote_starts == 1 and report.remote_stops == 1
