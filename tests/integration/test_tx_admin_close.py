"""Stale transactions and their administrative close through REST; meter values of
events that name no EVSE; the id token of a 2.x remote start whose Started event leaves
it out. A real Ampyre on SQLite and PostgreSQL, raw OCPP-J stations, a webhook receiver."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
from test_transactions_review import Raw, ev201, mv16, start16, station, stop16, ts, wait_gone
from test_webhooks_api import Receiver

if TYPE_CHECKING:
    from conftest import Server, StartServer


async def _token(server: Server, name: str, role: str) -> httpx.AsyncClient:
    api = server.api()
    r = await api.post("/tokens", json={"name": name, "role": role})
    assert r.status_code == 201, r.text
    client = server.api()
    client.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return client


async def _until(check: Any, what: str) -> None:
    for _ in range(250):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(what)


async def test_a_stale_transaction_is_closed_by_an_operator_and_a_later_stop_wins(
    store_url: str, start_server: StartServer
) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        server = await start_server(store_url, webhook_retry_base=0.05)
        admin = server.api()
        hook = await admin.post(
            "/webhooks", json={"url": receiver.url, "event_types": ["transaction.ended"]}
        )
        assert hook.status_code == 201, hook.text
        operator = await _token(server, "night-shift", "operator")
        viewer = await _token(server, "watcher", "viewer")

        async with station(server, "GONE") as cp:
            started = await cp.ok("StartTransaction", start16(ts(0), 1000, connector=2))
            tx_id = started["transactionId"]
            await cp.ok("MeterValues", mv16(tx_id, ts(10), {"value": "1500"}, connector=2))
            [tx] = (await admin.get("/transactions", params={"station_id": "GONE"})).json()["items"]
            pk = tx["id"]
            assert (tx["stale"], tx["station_connected"]) == (False, True)
            # A live transaction is stopped through its station, not closed here.
            r = await operator.post(f"/transactions/{pk}/close", json={"reason": "x"})
            assert r.status_code == 409 and "not-stale" in r.json()["type"], r.text
            only_stale = await admin.get("/transactions", params={"stale": "true"})
            assert only_stale.json()["total"] == 0
        await wait_gone(server, "GONE")

        async def offline() -> bool:
            got = (await admin.get(f"/transactions/{pk}")).json()
            return got["station_connected"] is False

        await _until(offline, "the station still counts as connected")
        got = (await admin.get(f"/transactions/{pk}")).json()
        assert got["stale"] is True and got["status"] == "active"
        stale = (await admin.get("/transactions", params={"stale": "true"})).json()
        assert [t["id"] for t in stale["items"]] == [pk] and stale["total"] == 1
        fresh = (await admin.get("/transactions", params={"stale": "false"})).json()
        assert fresh["total"] == 0

        # Operator role or above; a reason is required.
        r = await viewer.post(f"/transactions/{pk}/close", json={"reason": "gone"})
        assert r.status_code == 403, r.text
        r = await operator.post(f"/transactions/{pk}/close", json={})
        assert r.status_code == 422, r.text
        r = await operator.post("/transactions/999999/close", json={"reason": "gone"})
        assert r.status_code == 404, r.text

        r = await operator.post(
            f"/transactions/{pk}/close", json={"reason": "station replaced by a new unit"}
        )
        assert r.status_code == 200, r.text
        closed = r.json()
        assert closed["status"] == "ended" and closed["stale"] is False
        assert closed["stop_reason"] == "ClosedByOperator"
        assert closed["closed_by"] == "night-shift"
        assert closed["close_reason"] == "station replaced by a new unit"
        assert closed["closed_at"] is not None and closed["ended_at"] == closed["closed_at"]
        assert (closed["meter_stop_wh"], closed["energy_wh"]) == (1500, 500)
        r = await operator.post(f"/transactions/{pk}/close", json={"reason": "again"})
        assert r.status_code == 409 and "not-active" in r.json()["type"], r.text

        async def delivered() -> bool:
            return len(receiver.requests) >= 1

        await _until(delivered, "no transaction.ended webhook")
        body = receiver.requests[0].json()
        assert body["type"] == "transaction.ended"
        data = body["data"]
        assert data["id"] == pk and data["closed_administratively"] is True
        assert (data["closed_by"], data["close_reason"]) == (
            "night-shift",
            "station replaced by a new unit",
        )
        assert (data["stop_reason"], data["energy_wh"]) == ("ClosedByOperator", 500)

        # The station comes back and reports the real stop: its end wins, the record of
        # the close stays; the stop's readings land on the transaction's connector.
        async with station(server, "GONE", create=False) as cp:
            stop = stop16(
                tx_id,
                ts(40),
                1800,
                reason="EVDisconnected",
                transactionData=[
                    {"timestamp": ts(30), "sampledValue": [{"value": "1700"}]},
                ],
            )
            assert await cp.ok("StopTransaction", stop) == {}
        final = (await admin.get(f"/transactions/{pk}")).json()
        assert final["stop_reason"] == "EVDisconnected"
        assert final["ended_at"].startswith(ts(40)[:16])
        assert (final["meter_stop_wh"], final["energy_wh"]) == (1800, 800)
        assert final["closed_by"] == "night-shift"
        values = (await admin.get(f"/transactions/{pk}/meter-values")).json()["items"]
        assert len(values) == 4  # meterStart, the sample, transactionData, meterStop
        assert {(v["evse_id"], v["connector_id"]) for v in values} == {(2, 2)}
    finally:
        await receiver.close()


async def test_201_values_without_evse_are_under_the_transactions_evse_in_any_order(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    api = server.api()
    async with station(server, "EVSE3", protocol="ocpp2.0.1") as cp:
        # An Updated without `evse` arrives before the Started that names EVSE 3.
        await cp.ok("TransactionEvent", ev201("Updated", 1, ts(10), wh=2000))
        await cp.ok(
            "TransactionEvent",
            ev201(
                "Started",
                0,
                ts(0),
                wh=1000,
                evse={"id": 3, "connectorId": 1},
                triggerReason="CablePluggedIn",
            ),
        )
        await cp.ok(
            "TransactionEvent",
            ev201("Ended", 2, ts(20), wh=2500, info={"stoppedReason": "EVDisconnected"}),
        )
    [tx] = (await api.get("/transactions", params={"station_id": "EVSE3"})).json()["items"]
    assert (tx["evse_id"], tx["connector_id"], tx["energy_wh"]) == (3, 1, 1500)
    values = (await api.get(f"/transactions/{tx['id']}/meter-values")).json()["items"]
    assert [v["si_value"] for v in values] == [1000, 2000, 2500]
    assert {(v["evse_id"], v["connector_id"]) for v in values} == {(3, 1)}


async def test_201_remote_start_gives_the_token_when_started_leaves_it_out(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    api = server.api()
    asked: list[dict[str, Any]] = []

    def on_call(raw: Raw, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if action == "RequestStartTransaction":
            asked.append(payload)
            return {"status": "Accepted"}
        return {}

    async with station(server, "RS201", protocol="ocpp2.0.1", on_call=on_call) as cp:
        r = await api.post(
            "/stations/RS201/remote-start",
            json={"id_token": "DRIVER-7", "id_token_type": "eMAID", "evse_id": 1, "wait": 0},
        )
        assert r.status_code == 200, r.text
        remote_start_id = r.json()["remote_start_id"]
        assert asked and asked[0]["remoteStartId"] == remote_start_id
        started = ev201(
            "Started",
            0,
            ts(0),
            tx_id="RS-1",
            wh=0,
            evse={"id": 1, "connectorId": 1},
            triggerReason="RemoteStart",
            info={"remoteStartId": remote_start_id},
        )
        # No idToken sent, so no idTokenInfo answered.
        assert await cp.ok("TransactionEvent", started) == {}
    page = (await api.get("/transactions", params={"remote_start_id": remote_start_id})).json()
    [tx] = page["items"]
    assert (tx["transaction_id"], tx["id_token"], tx["id_token_type"]) == (
        "RS-1",
        "DRIVER-7",
        "eMAID",
    )
