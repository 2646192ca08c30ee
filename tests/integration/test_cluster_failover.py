"""Issue 16's proof: three `ampyre serve` processes on PostgreSQL and NATS sharing one
OCPP port (as behind a load balancer), simulated 1.6 and 2.0.1 stations charging across
them; the node holding the most stations is killed with SIGKILL mid-transaction. Its
stations reconnect to the other two and resend what was not acknowledged; nothing
acknowledged is lost or stored twice; commands reach the moved stations within seconds;
the dead node's lease is claimed and `GET /nodes` no longer lists it.

And `serve --workers`: two worker processes sharing both ports, each a node; refused
with a clear message on SQLite."""

from __future__ import annotations

import asyncio
import collections
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from cluster_nodes import cluster_env, free_port, start_node

from ampyre.simulator import run_simulation
from ampyre.simulator.session import SessionConfig
from ampyre.simulator.station import SimulatedStation

pytestmark = [pytest.mark.postgres, pytest.mark.nats]

TOKENS = tuple(f"FO-TOKEN-{i:02d}" for i in range(40))
STATIONS_PER_VERSION = 12
ACK_TIMEOUT = 30.0


async def _eventually(check: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.1)


async def _stations(api: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    r = await api.get("/stations", params={"limit": 500})
    assert r.status_code == 200, r.text
    return {s["id"]: s for s in r.json()["items"]}


async def _all_pages(api: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        r = await api.get(path, params={**params, "limit": 200, "offset": len(out)})
        assert r.status_code == 200, r.text
        page = r.json()
        out += page["items"]
        if len(out) >= page["total"] or not page["items"]:
            return out


async def test_a_killed_node_loses_nothing_acknowledged(
    pg_url: str, nats_url: str, bus_prefix: str, tmp_path: Path
) -> None:
    ocpp_port = free_port()
    env = cluster_env(pg_url, nats_url, bus_prefix, AMPYRE_OCPP_PORT=str(ocpp_port))
    env["AMPYRE_REUSE_PORT"] = "true"  # one OCPP port for all three, as behind a balancer
    nodes = [start_node(f"fo-{n}", env, tmp_path, node_id=f"fo-{n}") for n in "abc"]
    stop = asyncio.Event()
    sims: list[asyncio.Task[Any]] = []
    stations: list[SimulatedStation] = []
    try:
        for node in nodes:
            await node.ready()
        api = nodes[0].api()
        for token in TOKENS:
            r = await api.post(
                "/id-tokens", json={"id_token": token, "type": "ISO14443", "status": "accepted"}
            )
            assert r.status_code == 201, r.text
        config = SessionConfig(
            id_tokens=TOKENS, meter_interval=0.25, session_duration=2.5, idle_time=0.3
        )
        url = f"ws://127.0.0.1:{ocpp_port}/ocpp"
        for protocol, prefix in (("ocpp1.6", "FO16-"), ("ocpp2.0.1", "FO201-")):
            sims.append(
                asyncio.create_task(
                    run_simulation(
                        url, STATIONS_PER_VERSION, protocol, prefix=prefix, stop=stop,
                        sessions=config, seed=16, stations_out=stations,
                    )
                )
            )  # fmt: skip
        total = 2 * STATIONS_PER_VERSION

        async def all_connected() -> bool:
            found = await _stations(api)
            return sum(1 for s in found.values() if s["connected"]) == total

        await _eventually(all_connected, 30, "all stations connected")
        await asyncio.sleep(3.0)  # sessions under way on every node
        held = collections.Counter(
            s["connected_node"] for s in (await _stations(api)).values() if s["connected"]
        )
        victim_id, victim_count = held.most_common(1)[0]
        assert victim_count > 0
        victim = next(n for n in nodes if n.name == victim_id)
        moved = sorted(
            sid for sid, s in (await _stations(api)).items() if s["connected_node"] == victim_id
        )
        active_before = sum(len(st.active) for st in stations)
        victim.kill()  # kill -9, mid-transaction
        survivors = [n for n in nodes if n is not victim]
        api = survivors[0].api()

        async def moved_over() -> bool:
            found = await _stations(api)
            return all(
                found[sid]["connected"] and found[sid]["connected_node"] != victim_id
                for sid in moved
            )

        await _eventually(moved_over, 15, f"{len(moved)} stations of {victim_id} reconnected")
        # Commands reach the moved stations through either survivor.
        for i, sid in enumerate(moved[:6]):
            via = survivors[i % 2].api()
            r = await via.post(
                f"/stations/{sid}/ocpp/TriggerMessage", json={"requestedMessage": "Heartbeat"}
            )
            assert r.status_code == 200 and r.json()["status"] == "accepted", r.text

        async def lease_claimed() -> bool:
            r = await api.get("/nodes")
            return victim_id not in {n["node_id"] for n in r.json()["items"]}

        await _eventually(lease_claimed, 10, f"{victim_id}'s lease claimed")
        r = await api.get("/nodes")
        live = r.json()["items"]
        assert sorted(n["node_id"] for n in live) == sorted(n.name for n in survivors)
        assert [n["leader"] for n in live].count(True) == 1
        await asyncio.sleep(2.0)  # more sessions after the move
        finished = [(st, s) for st in stations for s in st.completed]
        for _ in range(int(ACK_TIMEOUT / 0.1)):
            if not any(q.session is s for st, s in finished for q in st.outbox):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("stops not acknowledged in time")
    finally:
        stop.set()
        reports = await asyncio.gather(*sims, return_exceptions=True)
    for report in reports:
        assert not isinstance(report, BaseException), report
        assert report.call_errors == 0 and report.sessions_rejected == 0, report
        assert report.tx_messages_discarded == 0, report
    assert active_before > 0
    # What the stations had acknowledged is stored, once.
    checked = 0
    for station in stations:
        recorded = {
            t["transaction_id"]: t
            for t in await _all_pages(api, "/transactions", station_id=station.station_id)
        }
        for session in station.completed:
            if any(q.session is session for q in station.outbox):
                continue  # cut off by the simulation's stop, not acknowledged
            tx = recorded[str(session.transaction_id)]
            assert tx["status"] == "ended", tx
            assert tx["meter_start_wh"] == session.meter_start
            assert tx["meter_stop_wh"] == session.meter_stop
            assert tx["energy_wh"] == session.meter_stop - session.meter_start
            values = await _all_pages(api, f"/transactions/{tx['id']}/meter-values")
            keys = [
                (v["timestamp"], v["measurand"], v["phase"], v["location"], v["context"])
                for v in values
            ]
            assert len(keys) == len(set(keys)), f"duplicate meter values in {tx['id']}"
            checked += 1
        for session in station.active.values():
            if session.transaction_id is not None:  # its start was acknowledged
                assert str(session.transaction_id) in recorded
    assert checked >= STATIONS_PER_VERSION
    for node in nodes:
        code = await node.stop()
        if node is not victim:
            assert code == 0, node.output()


async def test_serve_workers_share_the_ports_as_nodes(
    pg_url: str, nats_url: str, bus_prefix: str, tmp_path: Path
) -> None:
    ocpp_port, http_port = free_port(), free_port()
    while http_port == ocpp_port:
        http_port = free_port()
    env = cluster_env(pg_url, nats_url, bus_prefix, AMPYRE_OCPP_PORT=str(ocpp_port))
    parent = start_node(
        "workers", env, tmp_path, "--workers", "2", "--node-id", "wk", http_port=http_port
    )
    try:
        await parent.ready()
        api = parent.api()

        async def both() -> bool:
            r = await api.get("/nodes")
            return {n["node_id"] for n in r.json()["items"]} == {"wk-w1", "wk-w2"}

        await _eventually(both, 20, "two worker nodes")
        # Stations land on either worker through the one port; commands reach each.
        stop = asyncio.Event()
        sim = asyncio.create_task(
            run_simulation(
                f"ws://127.0.0.1:{ocpp_port}/ocpp", 8, "ocpp1.6", prefix="WK-", stop=stop
            )
        )
        try:

            async def connected() -> bool:
                found = await _stations(api)
                return sum(1 for s in found.values() if s["connected"]) == 8

            await _eventually(connected, 20, "8 stations connected")
            for sid in (f"WK-{i:05d}" for i in range(1, 9)):
                r = await api.post(
                    f"/stations/{sid}/ocpp/TriggerMessage", json={"requestedMessage": "Heartbeat"}
                )
                assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
        finally:
            stop.set()
            await sim
    finally:
        code = await parent.stop()
    assert code == 0, parent.output()


def test_serve_workers_refuses_sqlite(tmp_path: Path) -> None:
    env = cluster_env(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", "nats://127.0.0.1:4222", "x")
    done = subprocess.run(
        [sys.executable, "-m", "ampyre.cli", "serve", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "SQLite serves one process only" in done.stderr
