"""The load generator's two WebSocket clients (picows when installed, websockets) measure
the same things: round trips, latency from the intended send time, error answers and
CSMS-initiated calls."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from ampyre.simulator import loadgen
from ampyre.simulator.loadgen import LoadConfig, resolve_client, run_load

PROTOCOLS: Any = ["ocpp1.6", "ocpp2.0.1"]
CLIENTS = ["websockets", "picows"] if loadgen.picows_installed() else ["websockets"]


def test_client_choice(monkeypatch: Any) -> None:
    assert resolve_client("websockets", "closed") == "websockets"
    assert resolve_client("auto", "transactions") == "websockets"
    assert resolve_client("picows", "transactions") == "websockets"
    monkeypatch.setattr(loadgen, "picows_installed", lambda: False)
    assert resolve_client("auto", "closed") == "websockets"
    with pytest.raises(ValueError, match="picows is not installed"):
        resolve_client("picows", "paced")
    with pytest.raises(ValueError, match="unknown client"):
        resolve_client("aiohttp", "closed")
    monkeypatch.setattr(loadgen, "picows_installed", lambda: True)
    assert resolve_client("auto", "idle") == "picows"


def _server(delay: float = 0.0, csms_call_every: int = 0, error_on: str = "") -> Any:
    """A CSMS stand-in: answers every CALL after ``delay``; every n-th CALL is preceded by
    a CSMS-initiated ClearCache (whose answer it checks); ``error_on`` actions get a
    CALLERROR."""
    seen = {"calls": 0, "csms_answers": 0, "bad": 0}

    def dumps(frame: list[Any]) -> str:
        return json.dumps(frame, separators=(",", ":"))  # compact, as CSMSs send

    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            if msg[0] == 3:
                ok = msg[1].startswith("csms") and msg[2] == {"status": "Accepted"}
                seen["csms_answers" if ok else "bad"] += 1
                continue
            seen["calls"] += 1
            if msg[2] == "BootNotification":
                body = {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 60}
                await ws.send(dumps([3, msg[1], body]))
                continue
            if csms_call_every and seen["calls"] % csms_call_every == 0:
                await ws.send(dumps([2, f"csms{seen['calls']}", "ClearCache", {}]))
            if delay:
                await asyncio.sleep(delay)
            if msg[2] == error_on:
                await ws.send(dumps([4, msg[1], "InternalError", "", {}]))
            else:
                await ws.send(dumps([3, msg[1], {"currentTime": "2026-01-01T00:00:00Z"}]))

    return handler, seen


@pytest.mark.parametrize("client", CLIENTS)
async def test_closed_loop_with_csms_calls_and_error_answers(client: str) -> None:
    handler, seen = _server(csms_call_every=7, error_on="StatusNotification")
    async with serve(handler, "127.0.0.1", 0, subprotocols=PROTOCOLS, compression=None) as srv:
        port = next(iter(srv.sockets)).getsockname()[1]
        result = await run_load(
            LoadConfig(
                url=f"ws://127.0.0.1:{port}/ocpp",
                protocol="ocpp1.6",
                stations=5,
                warmup=0.1,
                duration=0.6,
                client=client,
            )
        )
    assert result.client == client
    assert result.connected == 5 and result.boot_accepted == 5
    assert result.msgs > 50
    assert result.csms_calls > 0 and seen["csms_answers"] == result.csms_calls
    assert seen["bad"] == 0
    # every 5th CALL is a StatusNotification, answered with a CALLERROR here
    assert result.error_kinds["reply:InternalError"] == result.errors
    assert 0.1 < result.errors / result.msgs_total < 0.3
    assert result.served >= result.msgs


@pytest.mark.parametrize("client", CLIENTS)
async def test_paced_latency_is_measured_from_the_intended_send_time(client: str) -> None:
    handler, _seen = _server(delay=0.02)
    async with serve(handler, "127.0.0.1", 0, subprotocols=PROTOCOLS, compression=None) as srv:
        port = next(iter(srv.sockets)).getsockname()[1]
        result = await run_load(
            LoadConfig(
                url=f"ws://127.0.0.1:{port}/ocpp",
                protocol="ocpp2.0.1",
                stations=4,
                mode="paced",
                rate=100.0,  # 25/s per station: one every 40 ms, answered after 20 ms
                warmup=0.2,
                duration=1.0,
                client=client,
            )
        )
    summary = result.summary()
    assert result.errors == 0
    assert 80 <= result.served <= 110  # ~100 offered in the 1 s window
    assert summary["p50_ms"] is not None and summary["p50_ms"] >= 20.0


@pytest.mark.parametrize("client", CLIENTS)
async def test_an_overloaded_server_shows_its_backlog(client: str) -> None:
    handler, _seen = _server(delay=0.05)  # can serve 20/s per station, 50/s are offered
    async with serve(handler, "127.0.0.1", 0, subprotocols=PROTOCOLS, compression=None) as srv:
        port = next(iter(srv.sockets)).getsockname()[1]
        result = await run_load(
            LoadConfig(
                url=f"ws://127.0.0.1:{port}/ocpp",
                protocol="ocpp1.6",
                stations=2,
                mode="paced",
                rate=100.0,
                warmup=0.2,
                duration=1.0,
                client=client,
            )
        )
    summary = result.summary()
    assert result.served < 60  # ~40 of the 100 offered
    assert summary["p99_ms"] is not None and summary["p99_ms"] > 200.0  # queued behind


@pytest.mark.parametrize("client", CLIENTS)
async def test_idle_stations_whose_next_heartbeat_is_after_the_end_are_done(client: str) -> None:
    handler, _seen = _server()
    async with serve(handler, "127.0.0.1", 0, subprotocols=PROTOCOLS, compression=None) as srv:
        port = next(iter(srv.sockets)).getsockname()[1]
        result = await run_load(
            LoadConfig(
                url=f"ws://127.0.0.1:{port}/ocpp",
                protocol="ocpp1.6",
                stations=20,
                mode="idle",
                heartbeat_interval=10.0,  # most stations' first heartbeat is after the end
                warmup=0.1,
                duration=0.5,
                client=client,
            )
        )
    assert result.connected == 20
    assert result.errors == 0, result.error_kinds
    assert 0 < result.msgs < 10
