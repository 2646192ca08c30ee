"""The EventBus: a wake-up for outbox consumers, never a carrier of events."""

from __future__ import annotations

import logging

import pytest

from ampyre.services.events import EventBus


def test_notify_wakes_every_subscriber_and_survives_a_failing_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    woken: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    bus.subscribe("a", lambda: woken.append("a"))
    bus.subscribe("broken", broken)
    bus.subscribe("b", lambda: woken.append("b"))
    with caplog.at_level(logging.ERROR):
        bus.notify()
    assert woken == ["a", "b"]
    assert "outbox consumer broken: wake-up failed" in caplog.text
    bus.unsubscribe("a")
    bus.unsubscribe("never-subscribed")
    bus.notify()
    assert woken == ["a", "b", "b"]
    assert bus.notified == 2
