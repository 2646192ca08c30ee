"""/metrics shows the durable write path (adapters/db/writer.py, issue 15): how long each
group commit took, and its writes by outcome, end to end on a running server."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import StartServer


async def test_metrics_show_the_group_commits(start_server: StartServer, store_url: str) -> None:
    server = await start_server(store_url)
    await server.create_station("CP-GC")
    async with connect(
        server.station_url("CP-GC"), subprotocols=[Subprotocol("ocpp1.6")], open_timeout=5
    ) as ws:
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        await ws.send(json.dumps([2, "s1", "StatusNotification", status]))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert reply == [3, "s1", {}]  # answered once its status row was committed
    text = (await server.api().get(f"{server.http_url}/metrics")).text
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("ampyre_db_group_commit")
    }
    assert values["ampyre_db_group_commit_seconds_count"] >= 1
    assert values["ampyre_db_group_commit_seconds_sum"] > 0
    assert values['ampyre_db_group_commit_ops_total{outcome="committed"}'] >= 1
    assert 'ampyre_db_group_commit_ops_total{outcome="failed"}' not in values
