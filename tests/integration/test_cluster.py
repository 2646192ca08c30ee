"""Several nodes in one test process, on PostgreSQL and NATS (issue 16): commands through
any node reach the node that holds the station, a station that moves closes its older
connection, a remote start waits across nodes, id-token changes reach every node's cache,
dead nodes' leases are claimed once, one node leads, `GET /nodes` shows them all."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from ampyre.domain.nodes import NodeInfo
from ampyre.services.clock import utcnow
from ampyre.simulator.station import Counters, SimulatedStation

if TYPE_CHECKING:
    from conftest import Server, StartServer

pytestmark = [pytest.mark.postgres, pytest.mark.nats]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def nodes(
    pg_url: str, nats_url: str, bus_prefix: str, start_server: StartServer
) -> Callable[..., Awaitable[Server]]:
    # pg_url first: set up before the servers, so dropped only after they stopped.
    async def start(node_id: str, **extra: Any) -> Server:
        return await start_server(
            pg_url,
            node_id=node_id,
            bus_url=nats_url,
            bus_prefix=bus_prefix,
            node_lease=2.0,
            node_renew_interval=0.25,
            directory_resync=1.0,
            auto_register=True,
            **extra,
        )

    return start


async def _station(api: httpx.AsyncClient, station_id: str) -> dict[str, Any]:
    r = await api.get(f"/stations/{station_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _simulated(server: Server, station_id: str, protocol: str = "ocpp1.6") -> SimulatedStation:
    return SimulatedStation(
        station_id=station_id, url=f"{server.ws_url}/ocpp", protocol=protocol, counters=Counters()
    )


async def _run(station: SimulatedStation) -> asyncio.Task[None]:
    task = asyncio.create_task(station.run())

    async def booted() -> bool:
        return station.booted

    await eventually(booted)
    return task


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_commands_through_any_node_reach_the_station(
    nodes: Callable[..., Awaitable[Server]],
) -> None:
    a = await nodes("node-a")
    b = await nodes("node-b")
    sim = _simulated(a, "CL-ROUTE")
    task = await _run(sim)
    try:
        api_b = b.api()

        async def seen_on_a() -> bool:
            s = await _station(api_b, "CL-ROUTE")
            return bool(s["connected"]) and s["connected_node"] == "node-a"

        await eventually(seen_on_a)
        assert (await _station(api_b, "CL-ROUTE"))["ocpp_version"] == "ocpp1.6"
        # The raw command and a typed one, both through B to the socket on A.
        r = await api_b.post(
            "/stations/CL-ROUTE/ocpp/TriggerMessage", json={"requestedMessage": "Heartbeat"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "accepted"
        r = await api_b.post("/stations/CL-ROUTE/ocpp/TriggerMessage", json={"bogus": 1})
        assert r.status_code == 422, r.text  # refused by the schema on A, nothing sent
        r = await api_b.post("/stations/CL-ROUTE/ocpp/NoSuchAction", json={})
        assert r.status_code == 400, r.text
        r = await api_b.post(
            "/stations/NOWHERE/ocpp/TriggerMessage", json={"requestedMessage": "Heartbeat"}
        )
        assert r.status_code in (404, 409), r.text
        # A station that moves to B: A closes the older connection, commands follow it.
        old = await connect(f"{a.ws_url}/ocpp/CL-MOVE", subprotocols=[Subprotocol("ocpp1.6")])
        await asyncio.sleep(0.3)
        moved = _simulated(b, "CL-MOVE")
        moved_task = await _run(moved)
        try:
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(5):
                    await old.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
            assert "node-b" in closed.value.rcvd.reason
            api_a = a.api()

            async def on_b() -> bool:
                s = await _station(api_a, "CL-MOVE")
                return bool(s["connected"]) and s["connected_node"] == "node-b"

            await eventually(on_b)
            r = await api_a.post(
                "/stations/CL-MOVE/ocpp/TriggerMessage", json={"requestedMessage": "Heartbeat"}
            )
            assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
        finally:
            await _stop(moved_task)
            await old.close()
    finally:
        await _stop(task)

    async def gone() -> bool:
        r = await api_b.post(
            "/stations/CL-ROUTE/ocpp/TriggerMessage", json={"requestedMessage": "Heartbeat"}
        )
        return r.status_code == 409

    await eventually(gone)


async def test_remote_start_through_one_node_waits_for_the_transaction_on_another(
    nodes: Callable[..., Awaitable[Server]],
) -> None:
    a = await nodes("node-a")
    b = await nodes("node-b")
    api_a, api_b = a.api(), b.api()
    r = await api_a.post(
        "/id-tokens", json={"id_token": "CLUSTER-T1", "type": "ISO14443", "status": "accepted"}
    )
    assert r.status_code == 201, r.text
    for protocol, sid in (("ocpp1.6", "CL-RS16"), ("ocpp2.0.1", "CL-RS201")):
        sim = _simulated(b, sid, protocol)
        task = await _run(sim)
        try:

            async def known() -> bool:
                return bool((await _station(api_a, sid))["connected"])  # noqa: B023

            await eventually(known)
            r = await api_a.post(
                f"/stations/{sid}/remote-start", json={"id_token": "CLUSTER-T1", "evse_id": 1}
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["status"] == "accepted", body
            tx = body["transaction"]
            assert tx is not None, body  # the StartTransaction/Started arrived on B
            assert tx["station_id"] == sid and tx["id_token"] == "CLUSTER-T1"
            assert tx["remote_start_id"] == body["remote_start_id"]
            r = await api_b.post(f"/transactions/{tx['id']}/stop")
            assert r.status_code == 200, r.text
        finally:
            await _stop(task)


async def test_id_token_changes_reach_every_nodes_cache(
    nodes: Callable[..., Awaitable[Server]],
) -> None:
    a = await nodes("node-a")
    b = await nodes("node-b")
    api_a = a.api()
    r = await api_a.post(
        "/id-tokens", json={"id_token": "CLUSTER-T2", "type": "ISO14443", "status": "accepted"}
    )
    assert r.status_code == 201, r.text
    token_pk = r.json()["id"]
    auth_b = b.app.auth
    assert auth_b is not None
    decision = await auth_b.authorize("CL-AUTH", "CLUSTER-T2", None)
    assert decision.status.value == "Accepted"  # and now remembered on B for 5 s
    r = await api_a.patch(f"/id-tokens/{token_pk}", json={"status": "blocked"})
    assert r.status_code == 200, r.text

    async def blocked_on_b() -> bool:
        return (await auth_b.authorize("CL-AUTH", "CLUSTER-T2", None)).status.value == "Blocked"

    await eventually(blocked_on_b, timeout=2.0)  # well within the cache's 5 s


async def test_a_dead_nodes_lease_is_claimed_once_and_its_stations_released(
    nodes: Callable[..., Awaitable[Server]],
) -> None:
    a = await nodes("node-a")
    b = await nodes("node-b")
    store = a.app.store
    # What a node killed with -9 leaves: stations recorded on it, and its lease row
    # (written last: a lease that could expire while the stations were still being
    # recorded would be claimed with only some of them, which a real node never does).
    for sid in ("CL-DEAD-1", "CL-DEAD-2"):
        await a.create_station(sid)
        await store.record_connection(sid, True, utcnow(), "ocpp1.6", "node-dead", "10.0.0.9")
    now = utcnow()
    await a.app.cluster._store.renew_node(
        NodeInfo("node-dead", now - timedelta(minutes=5), now, stations=2)
    )
    # Renewed just now, it cannot be claimed for a lease (2 s): it is listed.
    assert "node-dead" in {n.node_id for n in await a.app.cluster._store.list_nodes()}
    api = a.api()

    async def released() -> bool:
        r = await api.get("/nodes")
        ids = {n["node_id"] for n in r.json()["items"]}
        s1 = await store.get_station("CL-DEAD-1")
        return "node-dead" not in ids and s1 is not None and not s1.connected

    await eventually(released, timeout=8.0)
    s2 = await store.get_station("CL-DEAD-2")
    assert s2 is not None and (s2.connected, s2.connected_node) == (False, None)
    r = await api.get("/nodes")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["clustered"] is True
    items = {n["node_id"]: n for n in body["items"]}
    assert set(items) == {"node-a", "node-b"}
    assert [n["leader"] for n in items.values()].count(True) == 1
    assert items["node-a"]["leader"]  # started first
    assert items["node-a"]["this_node"] and not items["node-b"]["this_node"]
    assert all(n["alive"] and n["lease_age_s"] < 2.0 for n in items.values())
    # The leader steps down with its node: B takes over within a lease.
    await a.shutdown()

    async def b_leads() -> bool:
        return b.app.cluster.leader

    await eventually(b_leads, timeout=5.0)
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{b.http_url}/readyz")
    assert r.status_code == 200 and set(r.json()["checks"].values()) == {"ok"}, r.text


async def test_live_events_of_every_node_reach_every_stream(
    nodes: Callable[..., Awaitable[Server]],
) -> None:
    a = await nodes("node-a")
    b = await nodes("node-b")
    sub = b.app.live.subscribe()  # a dashboard stream open on B
    try:
        sim = _simulated(a, "CL-LIVE")  # a station on A
        task = await _run(sim)
        try:
            async with asyncio.timeout(10):
                while True:
                    message = await sub.queue.get()
                    if message.event == "station.connected":
                        assert message.data["station_id"] == "CL-LIVE"
                        break
        finally:
            await _stop(task)
    finally:
        b.app.live.unsubscribe(sub)
