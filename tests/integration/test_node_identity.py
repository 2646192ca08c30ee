"""A node alone (SQLite, in-process bus): its lease and `GET /nodes`; what `serve` refuses
at start-up: a second live node on one SQLite file, a node id another running process
uses."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from ampyre.adapters.db.nodes import NodesSql
from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.models import Station
from ampyre.domain.nodes import NodeInfo
from ampyre.services.clock import utcnow
from ampyre.services.ports import StartupRefused

if TYPE_CHECKING:
    from conftest import StartServer


async def _lease(url: str, node: NodeInfo) -> None:
    store = SqlStore(Settings(database_url=url))
    await store.start()
    try:
        await NodesSql(store.db, store.stations).renew_node(node)
    finally:
        await store.close()


async def _connected(url: str, station_id: str, node: str) -> None:
    store = SqlStore(Settings(database_url=url))
    await store.start()
    try:
        await store.create_station(Station(id=station_id))
        await store.record_connection(station_id, True, utcnow(), "ocpp1.6", node, "10.0.0.1")
    finally:
        await store.close()


async def _station_node(url: str, station_id: str) -> str | None:
    store = SqlStore(Settings(database_url=url))
    await store.start()
    try:
        station = await store.get_station(station_id)
    finally:
        await store.close()
    assert station is not None
    return station.connected_node


async def test_a_single_node_lists_itself_as_the_leader(
    start_server: StartServer, sqlite_url: str
) -> None:
    server = await start_server(sqlite_url, node_id="solo")
    r = await server.api().get("/nodes")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["clustered"] is False and body["total"] == 1
    (node,) = body["items"]
    assert node["node_id"] == "solo" and node["leader"] and node["this_node"] and node["alive"]
    assert node["address"].startswith("127.0.0.1:") and node["pid"] > 0


async def test_sqlite_refuses_a_second_live_node(
    start_server: StartServer, sqlite_url: str
) -> None:
    now = utcnow()
    await _lease(sqlite_url, NodeInfo("other-node", now - timedelta(minutes=1), now, pid=1))
    with pytest.raises(StartupRefused, match="SQLite serves one process only"):
        await start_server(sqlite_url, node_id="second")


async def test_a_node_id_in_use_by_a_running_process_is_refused(
    start_server: StartServer, sqlite_url: str
) -> None:
    # A process whose command line says ampyre, holding the lease of the id we ask for.
    other = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(60)", "ampyre"
    )
    try:
        now = utcnow()
        await _lease(sqlite_url, NodeInfo("host-1", now, now, pid=other.pid))
        await _connected(sqlite_url, "ITS-STATION", "host-1")
        with pytest.raises(StartupRefused, match="in use by a running process"):
            await start_server(sqlite_url, node_id="host-1")
        # Refused before writing anything in that node's name: its station stays its own.
        assert await _station_node(sqlite_url, "ITS-STATION") == "host-1"
    finally:
        other.kill()
        await other.wait()
    # Its process gone (a kill -9, then a restart within the lease): the node starts.
    server = await start_server(sqlite_url, node_id="host-1")
    assert server.app.cluster.leader


async def test_workers_starting_together_share_the_bootstrap_token(store_url: str) -> None:
    # `serve --workers 2` starts two processes at once, each making sure the token exists.
    from ampyre.services.tokens import TokenService

    stores = [SqlStore(Settings(database_url=store_url)) for _ in range(2)]
    for store in stores:
        await store.start()
    try:
        made = await asyncio.gather(
            *(TokenService(s).ensure_bootstrap("bootstrap-token-0123456789") for s in stores)
        )
        assert made[0].id == made[1].id
        assert len(await stores[0].list_api_tokens()) == 1
    finally:
        for store in stores:
            await store.close()
