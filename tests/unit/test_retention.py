"""The retention service: each table by its own setting, 0 keeps everything, a failing
table does not stop the others."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ampyre.adapters.memory import MemoryStore
from ampyre.config import ConfigError, Settings, load_settings
from ampyre.domain.models import MessageLogEntry, Station, StationReport, StatusReport
from ampyre.services.retention import RetentionPolicy, RetentionService

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _entry(action: str, age: timedelta) -> MessageLogEntry:
    return MessageLogEntry("CS1", "in", 2, action + str(age), action, "[]", NOW - age)


async def _filled() -> MemoryStore:
    store = MemoryStore()
    await store.create_station(Station(id="CS1"))
    store.log_messages(
        [
            _entry(action, timedelta(hours=h))
            for action in ("Heartbeat", "MeterValues")
            for h in (1, 30, 24 * 8)
        ]
    )
    await store.record_status(
        [StatusReport("CS1", 1, 1, "Available", None, NOW - timedelta(days=d)) for d in (1, 100)]
    )
    await store.record_reports(
        [StationReport("CS1", "NotifyReport", {}, NOW - timedelta(days=d)) for d in (1, 100)]
    )
    return store


async def test_defaults_prune_each_table_by_its_own_age() -> None:
    store = await _filled()
    policy = RetentionPolicy.from_settings(Settings())
    assert policy == RetentionPolicy(
        timedelta(days=7), timedelta(hours=24), timedelta(days=90), timedelta(days=90)
    )
    deleted = await RetentionService(store, policy, clock=lambda: NOW).run_once()
    assert deleted == {
        "message-log entries": 2,  # both 8 days old
        "Heartbeat message-log entries": 1,  # 30 h old
        "status-history rows": 1,
        "station reports": 1,
        "outbox events": 0,  # the status events were written just now, at commit time
    }
    left = sorted((m.action, NOW - m.created_at) for m in store.messages)
    assert left == [
        ("Heartbeat", timedelta(hours=1)),
        ("MeterValues", timedelta(hours=1)),
        ("MeterValues", timedelta(hours=30)),
    ]


async def test_zero_keeps_everything() -> None:
    store = await _filled()
    settings = Settings(
        message_log_retention_days=0,
        message_log_heartbeat_retention_hours=0,
        status_history_retention_days=0,
        station_reports_retention_days=0,
    )
    policy = RetentionPolicy.from_settings(settings)
    # The outbox always has a retention (AMPYRE_OUTBOX_RETENTION_DAYS >= 1): its
    # consumers read it within seconds, and deliveries keep their own copy.
    assert await RetentionService(store, policy, clock=lambda: NOW).run_once() == {
        "outbox events": 0
    }
    assert len(store.messages) == 6


async def test_heartbeats_kept_as_long_as_the_log_when_not_shorter() -> None:
    store = await _filled()
    policy = RetentionPolicy(messages=timedelta(hours=20), heartbeats=timedelta(hours=24))
    deleted = await RetentionService(store, policy, clock=lambda: NOW).run_once()
    assert "Heartbeat message-log entries" not in deleted
    assert deleted["message-log entries"] == 4
    # Heartbeats alone (the log kept forever).
    store = await _filled()
    policy = RetentionPolicy(messages=None, heartbeats=timedelta(hours=24))
    deleted = await RetentionService(store, policy, clock=lambda: NOW).run_once()
    assert deleted["Heartbeat message-log entries"] == 2


async def test_a_failing_table_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    store = await _filled()

    async def broken(older_than: datetime) -> int:
        raise RuntimeError("database unavailable")

    store.prune_status_history = broken  # type: ignore[method-assign]
    deleted = await RetentionService(store, RetentionPolicy(), clock=lambda: NOW).run_once()
    assert "status-history rows" not in deleted
    assert deleted["station reports"] == 1
    assert "pruning status-history rows failed" in caplog.text


async def test_runs_in_the_background_until_closed() -> None:
    store = await _filled()
    service = RetentionService(store, RetentionPolicy(), clock=lambda: NOW, interval=0.01)
    service.start()
    for _ in range(100):
        if len(store.messages) == 3:
            break
        await asyncio.sleep(0.01)
    await service.close()
    assert len(store.messages) == 3


def test_negative_retention_is_refused() -> None:
    with pytest.raises(ConfigError, match="AMPYRE_STATUS_HISTORY_RETENTION_DAYS"):
        load_settings(environ={"AMPYRE_STATUS_HISTORY_RETENTION_DAYS": "-1"})
    s = load_settings(environ={"AMPYRE_MESSAGE_LOG_HEARTBEAT_RETENTION_HOURS": "6"})
    assert RetentionPolicy.from_settings(s).heartbeats == timedelta(hours=6)


async def test_transaction_data_only_when_configured() -> None:
    store = await _filled()
    assert RetentionPolicy.from_settings(Settings()).transaction_data is None
    policy = RetentionPolicy.from_settings(Settings(transaction_data_retention_days=400))
    assert policy.transaction_data == timedelta(days=400)
    deleted = await RetentionService(store, policy, clock=lambda: NOW).run_once()
    assert deleted["meter values and events of ended transactions"] == 0


async def test_cleared_alerts_by_their_own_age() -> None:
    asked: list[datetime] = []

    async def prune_alerts(older_than: datetime) -> int:
        asked.append(older_than)
        return 3

    store = await _filled()
    deleted = await RetentionService(
        store, RetentionPolicy(), clock=lambda: NOW, prune_alerts=prune_alerts
    ).run_once()
    assert deleted["cleared alerts"] == 3 and asked == [NOW - timedelta(days=90)]
    s = load_settings(environ={"AMPYRE_ALERT_RETENTION_DAYS": "0"})
    asked.clear()
    await RetentionService(
        store, RetentionPolicy.from_settings(s), clock=lambda: NOW, prune_alerts=prune_alerts
    ).run_once()
    assert asked == []  # 0 keeps them
    with pytest.raises(ConfigError, match="AMPYRE_ALERT_RETENTION_DAYS"):
        load_settings(environ={"AMPYRE_ALERT_RETENTION_DAYS": "-1"})


async def test_security_events_by_their_own_age() -> None:
    asked: list[datetime] = []

    async def prune(older_than: datetime) -> int:
        asked.append(older_than)
        return 2

    store = await _filled()
    deleted = await RetentionService(
        store, RetentionPolicy(), clock=lambda: NOW, prune_security_events=prune
    ).run_once()
    assert deleted["security events"] == 2 and asked == [NOW - timedelta(days=365)]
    s = load_settings(environ={"AMPYRE_SECURITY_EVENT_RETENTION_DAYS": "0"})
    asked.clear()
    await RetentionService(
        store, RetentionPolicy.from_settings(s), clock=lambda: NOW, prune_security_events=prune
    ).run_once()
    assert asked == []  # 0 keeps them
    with pytest.raises(ConfigError, match="AMPYRE_SECURITY_EVENT_RETENTION_DAYS"):
        load_settings(environ={"AMPYRE_SECURITY_EVENT_RETENTION_DAYS": "-1"})
