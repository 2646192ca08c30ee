"""The dashboard's reads with 20,000 stations on SQLite: a few statements each, served by
the 0009 indexes. Times are printed (run with -s), not asserted: a shared CI machine's
timing says little; the number of statements and the query plans are what is checked."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.dashboard import DashboardSql
from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.dashboard import StationQuery, StationSort, StationState
from ampyre.services.dashboard import utc_day_start

STATIONS = 20_000
NOW = datetime.now(UTC)


@pytest.fixture
async def big(sqlite_url: str) -> AsyncIterator[SqlStore]:
    store = SqlStore(Settings(database_url=sqlite_url, sqlite_synchronous="OFF"))
    await store.start()
    stations, connectors, history, transactions = [], [], [], []
    for i in range(STATIONS):
        sid = f"CP-{i:05d}"
        stations.append(
            {
                "id": sid,
                "registration_status": "Accepted",
                "vendor": f"Vendor{i % 37}",
                "model": f"Model {i % 11}",
                "firmware_version": f"{i % 5}.0",
                "ocpp_version": "ocpp1.6" if i % 2 else "ocpp2.0.1",
                "connected": i % 3 == 0,
                "last_seen": NOW - timedelta(seconds=i),
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
        for c in (1, 2):
            status = (
                "Faulted" if i % 50 == 0 and c == 1 else "Charging" if i % 10 == 1 else "Available"
            )
            connectors.append(
                {
                    "station_id": sid,
                    "evse_id": c,
                    "connector_id": c,
                    "status": status,
                    "error_code": "NoError",
                    "updated_at": NOW,
                }
            )
            for k in range(2):
                history.append(
                    {
                        "station_id": sid,
                        "evse_id": c,
                        "connector_id": c,
                        "status": status if k else "Available",
                        "error_code": "NoError",
                        "received_at": NOW - timedelta(minutes=k),
                    }
                )
        if i % 10 == 3:
            transactions.append(
                {
                    "station_id": sid,
                    "transaction_id": f"T{i}",
                    "status": "active",
                    "started_at": NOW - timedelta(minutes=30),
                    "meter_start_wh": 1000.0,
                    "meter_start_at": NOW - timedelta(minutes=30),
                    "meter_stop_wh": 1500.0,
                    "meter_stop_at": NOW,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
    async with store._tx() as conn:
        await conn.execute(sa.insert(t.stations), stations)
        await conn.execute(sa.insert(t.connectors), connectors)
        await conn.execute(sa.insert(t.status_history), history)
        await conn.execute(sa.insert(t.transactions), transactions)
        await conn.exec_driver_sql("ANALYZE")
    yield store
    await store.close()


class Statements:
    def __init__(self, store: SqlStore) -> None:
        self.seen: list[str] = []
        sa.event.listen(store.engine.sync_engine, "before_cursor_execute", self._on)

    def _on(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen.append(statement)

    def take(self) -> list[str]:
        seen, self.seen = self.seen, []
        return [s for s in seen if not s.upper().startswith(("BEGIN", "PRAGMA"))]


async def _timed(label: str, call: Any) -> Any:
    start = time.perf_counter()
    result = await call
    print(f"{label}: {1000 * (time.perf_counter() - start):.1f} ms")
    return result


async def test_overview_and_station_list_with_20000_stations(big: SqlStore) -> None:
    dashboard = DashboardSql(big.db)
    statements = Statements(big)
    await dashboard.overview(utc_day_start(NOW), 20)  # warm the pool and caches
    statements.take()

    overview = await _timed("overview", dashboard.overview(utc_day_start(NOW), 20))
    assert len(statements.take()) == 2  # counts + energy in one, alerts in one
    assert overview.stations.total == STATIONS
    assert overview.stations.online == len(range(0, STATIONS, 3))
    assert overview.stations.faulted == STATIONS // 50
    assert overview.active_transactions == STATIONS // 10
    assert overview.energy_today_wh == pytest.approx(500.0 * (STATIONS // 10))
    assert len(overview.alerts) == 20 and all(a.status == "Faulted" for a in overview.alerts)
    # charging: connector Charging (i % 10 == 1) or an active transaction (i % 10 == 3)
    assert overview.stations.charging == 2 * (STATIONS // 10)

    for label, query in (
        ("stations by id", StationQuery()),
        ("search 'vendor3'", StationQuery(q="vendor3")),
        ("sort -last_seen", StationQuery(sort=StationSort.LAST_SEEN, descending=True)),
        ("sort vendor", StationQuery(sort=StationSort.VENDOR)),
        ("state faulted", StationQuery(state=StationState.FAULTED)),
        ("state charging", StationQuery(state=StationState.CHARGING)),
        ("state online + search", StationQuery(q="model 1", state=StationState.ONLINE)),
    ):
        page = await _timed(label, big.list_stations(50, 0, query))
        assert len(statements.take()) == 2  # count + page
        assert len(page.items) == 50
    faulted = await big.list_stations(500, 0, StationQuery(state=StationState.FAULTED))
    assert faulted.total == overview.stations.faulted
    charging = await big.list_stations(1, 0, StationQuery(state=StationState.CHARGING))
    assert charging.total == overview.stations.charging
    live = await _timed("live counts", dashboard.live_counts())
    assert live == (overview.stations.online, overview.active_transactions)


async def _plan(store: SqlStore, sql: str) -> str:
    async with store._tx() as conn:
        rows = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")).all()
    return " | ".join(str(r[-1]) for r in rows)


async def test_query_plans_use_the_dashboard_indexes(big: SqlStore) -> None:
    alerts = await _plan(
        big,
        f"SELECT * FROM status_history WHERE {t.ALERT_WHERE} ORDER BY received_at DESC LIMIT 20",
    )
    assert "ix_status_history_alerts" in alerts
    faulted = await _plan(
        big, "SELECT count(DISTINCT station_id) FROM connectors WHERE status = 'Faulted'"
    )
    assert "ix_connectors_status_station_id" in faulted
    active = await _plan(big, "SELECT station_id FROM transactions WHERE status = 'active'")
    assert "ix_transactions_status_station_id" in active
