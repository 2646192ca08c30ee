"""Webhook deliveries under load: every delivery reaches the receiver once per attempt, and
the recorded attempt count is the number of POSTs the receiver got (defect 2.4)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import StartServer

FAST = {"webhook_retry_base": 0.05, "webhook_max_attempts": 3, "webhook_timeout": 2.0}
SECRET = "whsec_integration-0123456789"


class CountingReceiver:
    """HTTP/1.1 on 127.0.0.1: counts POSTs per X-Ampyre-Delivery; answers 200 (or the
    next of `answers`) and closes the connection."""

    def __init__(self) -> None:
        self.posts: Counter[int] = Counter()
        self.answers: list[int] = []
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=512)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode("latin-1")
            headers = {}
            for line in head.split("\r\n")[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            delivery = int(headers["x-ampyre-delivery"])
            assert json.loads(body)["id"] == delivery
            self.posts[delivery] += 1
            code = self.answers.pop(0) if self.answers else 200
            writer.write(
                f"HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[CountingReceiver]:
    r = CountingReceiver()
    await r.start()
    yield r
    await r.close()


async def wait_until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polling state owned by other tasks
            await asyncio.sleep(0.05)


async def all_deliveries(api: Any, hook_id: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = await api.get(
            f"/webhooks/{hook_id}/deliveries", params={"limit": 500, "offset": len(items)}
        )
        assert page.status_code == 200, page.text
        batch = page.json()["items"]
        items.extend(batch)
        if not batch:
            return items


async def test_hundreds_of_deliveries_are_each_posted_once(
    start_server: StartServer, store_url: str, receiver: CountingReceiver
) -> None:
    server = await start_server(store_url, **FAST)
    api = server.api()
    response = await api.post("/webhooks", json={"url": receiver.url, "secret": SECRET})
    assert response.status_code == 201, response.text
    hook_id = response.json()["id"]
    count = 400
    for n in range(count):
        await server.app.webhooks.ping(hook_id)
        if n % 50 == 0:
            await asyncio.sleep(0.01)
    await wait_until(lambda: len(receiver.posts) == count)
    async with asyncio.timeout(60):
        while True:
            deliveries = await all_deliveries(api, hook_id)
            if all(d["status"] == "delivered" for d in deliveries):
                break
            await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # a duplicate would arrive about now
    assert len(deliveries) == count
    twice = {d: n for d, n in receiver.posts.items() if n != 1}
    assert twice == {}, f"{len(twice)} deliveries posted more than once"
    assert {d["id"]: d["attempts"] for d in deliveries} == dict(receiver.posts)
