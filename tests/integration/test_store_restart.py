"""Issue 13, defect 2.14: `stations.connected` must not stay true after kill -9 or an
outage. A node that starts marks the connections it held as closed; other nodes'
connections are left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.models import Station

if TYPE_CHECKING:
    from conftest import StartServer

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def _connect(store: SqlStore, station_id: str, node: str) -> None:
    await store.record_connection(station_id, True, T0, "ocpp1.6", node, "10.0.0.1")


async def test_release_node_disconnects_only_that_nodes_stations(store_url: str) -> None:
    store = SqlStore(Settings(database_url=store_url))
    await store.start()
    try:
        for sid in ("A1", "A2", "B1", "OFF"):
            await store.create_station(Station(id=sid))
        await _connect(store, "A1", "node-a")
        await _connect(store, "A2", "node-a")
        await _connect(store, "B1", "node-b")
        released = await store.release_node("node-a", T0 + timedelta(minutes=1))
        assert released == ["A1", "A2"]
        for sid, connected, node in (
            ("A1", False, None),
            ("A2", False, None),
            ("B1", True, "node-b"),
            ("OFF", False, None),
        ):
            station = await store.get_station(sid)
            assert station is not None
            assert (station.connected, station.connected_node) == (connected, node), sid
            if sid == "A1":
                assert station.last_seen == T0  # kept: when it was last heard from
        assert await store.release_node("node-a", T0) == []
    finally:
        await store.close()


async def test_a_node_that_starts_closes_what_it_held_before_a_crash(
    store_url: str, start_server: StartServer
) -> None:
    # What a node killed with -9 leaves behind: stations still marked connected to it.
    store = SqlStore(Settings(database_url=store_url))
    await store.start()
    for sid in ("MINE", "OTHER"):
        await store.create_station(Station(id=sid))
    await _connect(store, "MINE", "crashed-node")
    await _connect(store, "OTHER", "live-node")
    await store.close()

    server = await start_server(store_url, node_id="crashed-node")
    # The REST API shows the live registry; the table is what other nodes and reports see.
    mine = await server.app.store.get_station("MINE")
    other = await server.app.store.get_station("OTHER")
    assert mine is not None and (mine.connected, mine.connected_node) == (False, None)
    assert other is not None and (other.connected, other.connected_node) == (True, "live-node")
