"""Webhook deliveries under load: every delivery reaches the receiver once per attempt, and
the recorded attempt count is the number of POSTs the receiver got (defect 2.4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest
from webhook_receiver import CountingReceiver

if TYPE_CHECKING:
    from conftest import StartServer

FAST = {"webhook_retry_base": 0.05, "webhook_max_attempts": 3, "webhook_timeout": 2.0}
SECRET = "whsec_integration-0123456789"


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
    # A generous attempt timeout: the receiver shares the test's event loop, and one stall
    # of that loop longer than FAST's 2 s failed an attempt whose connection the receiver
    # had accepted but not read (a correct retry, but one attempt more than posts).
    server = await start_server(store_url, **{**FAST, "webhook_timeout": 15.0})
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
