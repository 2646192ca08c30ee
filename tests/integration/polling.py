"""Waiting in end-to-end tests: poll a condition until it holds, or fail saying what was
awaited (a station coming online, a report completing, a rollout finishing...)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx


async def until(
    what: str,
    check: Callable[[], Awaitable[bool]],
    timeout: float = 20.0,
    interval: float = 0.05,
) -> None:
    for _ in range(max(1, int(timeout / interval))):
        if await check():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


async def station_connected(api: httpx.AsyncClient, station_id: str) -> bool:
    r = await api.get(f"/stations/{station_id}")
    return r.status_code == 200 and bool(r.json()["connected"])
