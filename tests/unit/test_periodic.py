"""services/periodic.py: the background loop that most services share."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ampyre.services.periodic import Periodic
from ampyre.services.ports import StoreUnavailable

log = logging.getLogger("test-periodic")


async def _until(check: object, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # type: ignore[operator]  # noqa: ASYNC110 - the loop under test sets it
            await asyncio.sleep(0.005)


async def test_steps_every_interval_and_stops_on_close() -> None:
    calls: list[float] = []

    async def step() -> None:
        calls.append(asyncio.get_running_loop().time())

    loop = Periodic("t", step, 0.02, log=log)
    loop.start()
    loop.start()  # a second start keeps the one task
    await _until(lambda: len(calls) >= 3)
    assert loop.running
    await loop.close()
    assert not loop.running
    seen = len(calls)
    await asyncio.sleep(0.06)
    assert len(calls) == seen
    assert calls[2] - calls[1] >= 0.015


async def test_a_failing_step_is_logged_and_the_loop_goes_on(caplog: object) -> None:
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StoreUnavailable("database down")
        if calls == 2:
            raise RuntimeError("boom")

    loop = Periodic("flaky", step, 0.01, log=log)
    with caplog.at_level(logging.WARNING, logger="test-periodic"):  # type: ignore[attr-defined]
        loop.start()
        await _until(lambda: calls >= 3)
        await loop.close()
    text = caplog.text  # type: ignore[attr-defined]
    assert "flaky: database down; will retry" in text
    assert "flaky failed; will retry" in text and "boom" in text


async def test_wake_runs_the_next_step_at_once_and_first_wait_waits() -> None:
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1

    loop = Periodic("t", step, 30.0, log=log, first_wait=True)
    loop.start()
    await asyncio.sleep(0.05)
    assert calls == 0  # waits one (long) interval first
    loop.wake()
    await _until(lambda: calls == 1)
    loop.wake()
    await _until(lambda: calls == 2)
    await loop.close()


async def test_a_step_with_more_to_do_runs_again_at_once() -> None:
    left = 5

    async def step() -> bool:
        nonlocal left
        left -= 1
        return left > 0

    loop = Periodic("t", step, 30.0, log=log)
    loop.start()
    await _until(lambda: left == 0)
    await loop.close()


async def test_only_the_leader_steps_the_others_follow() -> None:
    leading = False
    steps = follows = 0

    async def step() -> None:
        nonlocal steps
        steps += 1

    def follow() -> None:
        nonlocal follows
        follows += 1

    interval = [0.01]
    loop = Periodic("t", step, lambda: interval[0], log=log, leads=lambda: leading, follow=follow)
    loop.start()
    await _until(lambda: follows >= 2)
    assert steps == 0
    leading = True
    await _until(lambda: steps >= 2)
    await loop.close()


async def test_settle_makes_one_step_of_a_burst_of_wakes() -> None:
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1

    loop = Periodic("t", step, 30.0, log=log, first_wait=True, settle=0.05)
    loop.start()
    await asyncio.sleep(0)
    for _ in range(5):
        loop.wake()
        await asyncio.sleep(0.005)
    await _until(lambda: calls == 1)
    await asyncio.sleep(0.1)
    assert calls == 1
    await loop.close()


async def test_close_just_after_a_wake_still_stops_the_loop() -> None:
    # The live hub is woken by every commit; at shutdown a wake and close() meet.
    steps = 0

    async def step() -> None:
        nonlocal steps
        steps += 1

    loop = Periodic("t", step, 30.0, log=log, first_wait=True)
    loop.start()
    await asyncio.sleep(0.01)
    task = loop._task
    assert task is not None
    closing = asyncio.ensure_future(loop.close())  # cancels the loop at the next turn,
    loop.wake()  # the very turn its event is set
    done, _ = await asyncio.wait({closing}, timeout=2)
    assert closing in done, "close() hangs: the loop's cancellation was lost"
    assert task.cancelled()
    assert steps == 0


async def test_a_closer_that_is_cancelled_is_not_kept_waiting() -> None:
    async def step() -> None:
        pass

    loop = Periodic("t", step, 30.0, log=log)
    loop.start()
    await asyncio.sleep(0.01)
    closing = asyncio.ensure_future(loop.close())
    await asyncio.sleep(0)
    closing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await closing
    assert closing.cancelled()
