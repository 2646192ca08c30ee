"""The OCPI exchange log in SQL (SQLite and PostgreSQL): batched writes, newest first per
partner, pruning after ocpi_exchange_retention_days (by the leader only), a full queue
dropping instead of waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from ampyre.adapters.db.database import Database
from ampyre.adapters.db.ocpi import OcpiSql
from ampyre.config import Settings
from ampyre.services import ocpi_exchanges
from ampyre.services.ocpi_exchanges import ExchangeLog
from ampyre.services.ocpi_port import Exchange

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


def exchange(partner_id: int | None, at: datetime, url: str = "https://p/x") -> Exchange:
    return Exchange(
        partner_id=partner_id,
        direction="out",
        method="GET",
        url=url,
        http_status=200,
        status_code=1000,
        duration_ms=3,
        error=None,
        request_id="r" * 80,  # clipped to the column
        correlation_id="c",
        request_body=None,
        response_body='{"data":[]}',
        created_at=at,
    )


@pytest.fixture
async def sql(store_url: str) -> AsyncIterator[OcpiSql]:
    db = Database(Settings(database_url=store_url))
    yield OcpiSql(db)
    await db.dispose()


async def test_log_lists_and_prunes(sql: OcpiSql) -> None:
    log = ExchangeLog(sql, Settings(ocpi_exchange_retention_days=30), clock=lambda: NOW)
    log.record(exchange(1, NOW - timedelta(days=31), "https://p/old"))
    log.record(exchange(1, NOW - timedelta(days=1), "https://p/a"))
    log.record(exchange(2, NOW, "https://p/b"))
    log.record(exchange(1, NOW, "https://p/c"))
    page = await log.list(1, 10, 0)  # flushes first
    assert [x.url for x in page.items] == ["https://p/c", "https://p/a", "https://p/old"]
    assert page.total == 3 and page.items[0].request_id == "r" * 64
    assert (await log.list(None, 2, 0)).total == 4
    assert await log.prune() == 1
    assert [x.url for x in (await log.list(1, 10, 0)).items] == ["https://p/c", "https://p/a"]


async def test_the_loop_flushes_and_only_the_leader_prunes(sql: OcpiSql) -> None:
    follower = ExchangeLog(sql, Settings(), leads=lambda: False, clock=lambda: NOW)
    await sql.add_exchanges([exchange(1, NOW - timedelta(days=60))])
    await follower.start()
    await asyncio.sleep(0.3)  # its first round
    follower.record(exchange(1, NOW))
    await follower.close()  # the last flush
    assert (await sql.list_exchanges(1, 10, 0)).total == 2  # nothing pruned
    leader = ExchangeLog(sql, Settings(), leads=lambda: True, clock=lambda: NOW)
    await leader.start()
    await asyncio.sleep(0.3)
    await leader.close()
    page = await sql.list_exchanges(1, 10, 0)
    assert page.total == 1 and page.items[0].created_at == NOW


async def test_a_full_queue_drops(sql: OcpiSql, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocpi_exchanges, "QUEUE_MAX", 3)
    log = ExchangeLog(sql, Settings(), clock=lambda: NOW)
    for _ in range(5):
        log.record(exchange(1, NOW))
    await log.flush()
    assert log.dropped == 2
    assert (await sql.list_exchanges(None, 10, 0)).total == 3
