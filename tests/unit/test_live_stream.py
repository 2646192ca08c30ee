"""GET /api/v1/stream against the app (streamed in process): the live hub's fan-out,
replay with Last-Event-ID, reset, stats, keep-alive, slow clients, the cap, clean-up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from asgi_stream import StreamingASGITransport, sse_events
from fakes import FakeRouter

from ampyre.adapters.memory import MemoryStore
from ampyre.api import ApiDeps, create_api, sse
from ampyre.config import Settings
from ampyre.domain.events import OutboxEvent
from ampyre.domain.models import Role, Station, StatusReport
from ampyre.metrics import Metrics
from ampyre.services.events import EventBus
from ampyre.services.live import LiveHub
from ampyre.services.stations import StationService
from ampyre.services.tokens import TokenService

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Source:
    """The hub's StreamSource over the memory store's outbox."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def events_after(self, position: int, limit: int) -> list[OutboxEvent]:
        return await self.store.events_after(position, limit)

    async def outbox_head(self) -> int:
        return max((e.id for e in self.store.outbox_events), default=0)

    async def outbox_floor(self) -> int | None:
        return min((e.id for e in self.store.outbox_events), default=None)


class Env:
    def __init__(self, max_clients: int = 5, queue_size: int = 50, window: int = 1000) -> None:
        self.store = MemoryStore()
        self.tokens = TokenService(self.store)
        self.frames = 0.0
        self.hub = LiveHub(
            Source(self.store),
            EventBus(),
            self.counts,
            lambda: self.frames,
            max_clients=max_clients,
            queue_size=queue_size,
            stats_every=3600,  # tests call tick()
            poll_every=0.02,
        )
        deps = ApiDeps(
            settings=Settings(),
            store=self.store,
            stations=StationService(self.store),
            tokens=self.tokens,
            commands=FakeRouter(),
            metrics=Metrics(),
            live=self.hub,
        )
        self.app = create_api(deps)
        self.transport = StreamingASGITransport(self.app, window=window)
        self.secret = ""

    async def counts(self) -> tuple[int, int]:
        return 3, 1

    async def setup(self) -> None:
        self.secret, _ = await self.tokens.create("viewer", Role.VIEWER)
        await self.store.create_station(Station(id="CP-1"))
        await self.hub.start()

    def client(self, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self.transport,
            base_url="http://test",
            headers={"Authorization": f"Bearer {self.secret}", **headers},
            timeout=5,
        )

    async def status(self, status: str = "Available", connector: int = 1) -> None:
        await self.store.record_status(
            [StatusReport("CP-1", connector, connector, status, T0, T0, error_code="NoError")]
        )


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    e = Env()
    await e.setup()
    yield e
    await e.hub.close()


async def next_event(events: AsyncIterator[dict[str, Any]], name: str) -> dict[str, Any]:
    async with asyncio.timeout(5):
        async for event in events:
            if event.get("event") == name:
                return event
    raise AssertionError(f"stream ended before {name}")


async def wait_for(condition: Any) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_events_reach_every_stream_with_outbox_ids(env: Env) -> None:
    async with (
        env.client() as c1,
        env.client() as c2,
        c1.stream("GET", "/api/v1/stream") as r1,
        c2.stream("GET", "/api/v1/stream") as r2,
    ):
        assert r1.status_code == 200
        assert r1.headers["content-type"].startswith("text/event-stream")
        assert r1.headers["cache-control"] == "no-store"
        e1, e2 = sse_events(r1), sse_events(r2)
        ready = await next_event(e1, "ready")
        assert json.loads(ready["data"]) == {"position": 0, "replayed": 0}
        assert ready["id"] == "0"
        await next_event(e2, "ready")
        assert env.hub.clients == 2
        await env.status("Charging")
        for events in (e1, e2):
            got = await next_event(events, "station.status_changed")
            body = json.loads(got["data"])
            assert got["id"] == str(body["id"]) == str(env.store.outbox_events[-1].id)
            assert body["type"] == "station.status_changed"
            assert body["station_id"] == "CP-1"
            assert body["data"]["status"] == "Charging"
            assert body["data"]["connector_id"] == 1
    await wait_for(lambda: env.hub.clients == 0)  # closed streams are cleaned up


async def test_stats_are_computed_once_per_tick_for_all_streams(env: Env) -> None:
    calls = 0

    async def counts() -> tuple[int, int]:
        nonlocal calls
        calls += 1
        return 7, 2

    env.hub._counts = counts
    async with (
        env.client() as c1,
        env.client() as c2,
        c1.stream("GET", "/api/v1/stream") as r1,
        c2.stream("GET", "/api/v1/stream") as r2,
    ):
        e1, e2 = sse_events(r1), sse_events(r2)
        await next_event(e1, "ready")
        await next_event(e2, "ready")
        await env.hub.tick()  # first measurement
        env.frames += 1000
        await asyncio.sleep(0.1)
        await env.hub.tick()
        assert calls == 2  # once per tick, not per stream
        for events in (e1, e2):
            await next_event(events, "stats")
            event = await next_event(events, "stats")
            assert "id" not in event  # no id: Last-Event-ID stays an outbox position
            stats = json.loads(event["data"])
            assert set(stats) == {
                "messages_per_second",
                "connected_stations",
                "active_transactions",
            }
            assert stats["connected_stations"] == 7
            assert stats["active_transactions"] == 2
            assert stats["messages_per_second"] > 100  # 1000 frames in ~0.1 s


async def test_no_counts_without_streams(env: Env) -> None:
    calls = 0

    async def counts() -> tuple[int, int]:
        nonlocal calls
        calls += 1
        return 0, 0

    env.hub._counts = counts
    await env.hub.tick()
    assert calls == 0


async def test_keep_alive_comment_when_silent(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "KEEPALIVE", 0.05)
    async with env.client() as client, client.stream("GET", "/api/v1/stream") as r:
        events = sse_events(r)
        async with asyncio.timeout(5):
            async for event in events:
                if "comment" in event:
                    assert event["comment"] == "keep-alive"
                    break


async def test_stream_ends_at_its_maximum_age(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "MAX_AGE", 0.1)
    async with env.client() as client, client.stream("GET", "/api/v1/stream") as r:
        async with asyncio.timeout(5):
            body = [e async for e in sse_events(r)]
    assert [e.get("event") for e in body if "event" in e] == ["ready"]
    await wait_for(lambda: env.hub.clients == 0)


async def test_reconnect_with_last_event_id_replays_what_was_missed(env: Env) -> None:
    async with env.client() as client:
        async with client.stream("GET", "/api/v1/stream") as r:
            events = sse_events(r)
            await next_event(events, "ready")
            await env.status("Preparing")
            first = await next_event(events, "station.status_changed")
        # Disconnected: two more happen meanwhile, read by the hub for the other stream.
        async with client.stream("GET", "/api/v1/stream") as other:
            await next_event(sse_events(other), "ready")
            await env.status("Charging")
            await env.status("Finishing")
            head = env.store.outbox_events[-1].id
            await wait_for(lambda: env.hub.position == head)
        async with client.stream(
            "GET", "/api/v1/stream", headers={"Last-Event-ID": first["id"]}
        ) as r:
            events = sse_events(r)
            missed = [await next_event(events, "station.status_changed") for _ in range(2)]
            assert [json.loads(m["data"])["data"]["status"] for m in missed] == [
                "Charging",
                "Finishing",
            ]
            assert [int(m["id"]) for m in missed] == [head - 1, head]
            ready = await next_event(events, "ready")
            assert json.loads(ready["data"]) == {"position": head, "replayed": 2}


async def test_reset_when_the_missed_events_are_gone(env: Env) -> None:
    for status in ("Preparing", "Charging", "Finishing"):
        await env.status(status)
    # The hub started before these; it sees them once a stream is open.
    async with env.client() as client:
        async with client.stream("GET", "/api/v1/stream") as r:
            await next_event(sse_events(r), "ready")
            await wait_for(lambda: env.hub.position == 3)
        env.store.outbox_events = env.store.outbox_events[2:]  # pruned: 1 and 2 are gone
        for last in ("1", "not-a-number"):
            async with client.stream("GET", "/api/v1/stream", headers={"Last-Event-ID": last}) as r:
                events = sse_events(r)
                reset = await next_event(events, "reset")
                assert json.loads(reset["data"]) == {"position": 3}
                assert json.loads((await next_event(events, "ready"))["data"])["replayed"] == 0
        # Still there (2 was pruned but everything after it is stored): a replay.
        async with client.stream("GET", "/api/v1/stream", headers={"Last-Event-ID": "2"}) as r:
            ready = await next_event(sse_events(r), "ready")
            assert json.loads(ready["data"]) == {"position": 3, "replayed": 1}


async def test_a_slow_stream_is_dropped() -> None:
    env = Env(queue_size=3, window=1)
    await env.setup()
    try:
        async with env.client() as client, client.stream("GET", "/api/v1/stream") as r:
            # Not reading: the app's sends wait, its queue fills up.
            for i in range(20):
                await env.status("Charging" if i % 2 else "Available")
            await wait_for(lambda: env.hub.dropped_total == 1)
            assert env.hub.clients == 0
            async with asyncio.timeout(5):
                [e async for e in sse_events(r)]  # the stream ends; the browser reconnects
    finally:
        await env.hub.close()


async def test_cap_on_streams_answers_503() -> None:
    env = Env(max_clients=1)
    await env.setup()
    try:
        async with env.client() as client, client.stream("GET", "/api/v1/stream") as r:
            await next_event(sse_events(r), "ready")
            second = await client.get("/api/v1/stream")
            assert second.status_code == 503
            assert second.headers["content-type"].startswith("application/problem+json")
            assert second.json()["type"].endswith("too-many-streams")
            assert second.headers["retry-after"]
        await wait_for(lambda: env.hub.clients == 0)
        async with env.client() as client, client.stream("GET", "/api/v1/stream") as r:
            assert r.status_code == 200  # a slot again
    finally:
        await env.hub.close()


async def test_stream_needs_a_token_and_a_started_hub(env: Env) -> None:
    transport = httpx.ASGITransport(env.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
        assert (await anonymous.get("/api/v1/stream")).status_code == 401
    await env.hub.close()
    async with env.client() as client:
        r = await client.get("/api/v1/stream")
        assert r.status_code == 503
        assert r.json()["type"].endswith("not-available")


async def test_hub_close_ends_open_streams(env: Env) -> None:
    async with env.client() as client, client.stream("GET", "/api/v1/stream") as r:
        events = sse_events(r)
        await next_event(events, "ready")
        await env.hub.close()
        async with asyncio.timeout(5):
            [e async for e in events]
