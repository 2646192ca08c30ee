"""Retention of alerts (SQLite and PostgreSQL): only alerts cleared before the cut-off
are deleted, in batches; open and acknowledged alerts stay however old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from ampyre.adapters.db import alerts as alerts_module
from ampyre.adapters.db import tables as t
from ampyre.adapters.db.alerts import AlertsSql
from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.models import Station

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _alert(n: int, state: str, cleared_at: datetime | None) -> dict[str, object]:
    return {
        "station_id": "CS-AR",
        "source": "status_notification",
        "code": f"GroundFailure-{n}",
        "severity": 2,
        "state": state,
        "first_seen": T0,
        "last_seen": T0,
        "cleared_at": cleared_at,
    }


async def test_only_old_cleared_alerts_are_pruned(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlStore(Settings(database_url=store_url))
    await store.start()
    try:
        await store.create_station(Station(id="CS-AR"))
        rows = [_alert(n, "cleared", T0 + timedelta(days=n)) for n in range(5)]
        rows += [_alert(10, "open", None), _alert(11, "acknowledged", None)]
        async with store.db.tx() as conn:
            await conn.execute(sa.insert(t.alerts), rows)
        repo = AlertsSql(store.db, store.writer, store.stations)
        # Batches of 2: the loop goes on until a batch is short.
        monkeypatch.setattr(alerts_module, "PRUNE_CHUNK", 2)
        assert await repo.prune_cleared(T0 + timedelta(days=3)) == 3
        async with store.db.read() as conn:
            left = (await conn.execute(sa.select(t.alerts.c.code, t.alerts.c.state))).all()
        assert sorted(left) == [
            ("GroundFailure-10", "open"),
            ("GroundFailure-11", "acknowledged"),
            ("GroundFailure-3", "cleared"),
            ("GroundFailure-4", "cleared"),
        ]
        assert await repo.prune_cleared(T0) == 0
    finally:
        await store.close()
