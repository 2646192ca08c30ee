"""The shipped Alembic migrations on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from ampyre.adapters.db.engine import create_engine
from ampyre.adapters.db.migrate import current_revision, downgrade, head_revision, migrate
from ampyre.adapters.db.store import SqlStore
from ampyre.adapters.db.tables import metadata
from ampyre.config import Settings
from ampyre.domain.models import Station
from ampyre.services.ports import SchemaNotCurrent

APP_TABLES = {t.name for t in metadata.sorted_tables}


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            names: list[str] = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    finally:
        await engine.dispose()
    return set(names)


async def _check(url: str) -> None:
    store = SqlStore(Settings(database_url=url))
    try:
        await store.check_schema()
    finally:
        await store.close()


async def test_head_revision_is_latest() -> None:
    assert head_revision() == "0003_outbox"


async def test_migrate_empty_database(empty_db_url: str) -> None:
    assert await current_revision(empty_db_url) is None
    with pytest.raises(SchemaNotCurrent) as info:
        await _check(empty_db_url)
    message = str(info.value)
    assert "is not migrated (revision none, expected 0003_outbox)" in message
    assert "run `ampyre migrate`" in message

    await migrate(empty_db_url)

    assert await current_revision(empty_db_url) == head_revision()
    assert await _tables(empty_db_url) >= APP_TABLES
    await _check(empty_db_url)


async def test_migrate_twice_is_a_noop(store_url: str) -> None:
    store = SqlStore(Settings(database_url=store_url))
    await store.create_station(Station(id="CS-KEEP"))
    await store.close()

    await migrate(store_url)

    assert await current_revision(store_url) == head_revision()
    store = SqlStore(Settings(database_url=store_url))
    try:
        assert await store.get_station("CS-KEEP") is not None
    finally:
        await store.close()


async def test_downgrade_to_base(store_url: str) -> None:
    await downgrade(store_url, "base")

    assert await current_revision(store_url) is None
    assert not APP_TABLES & await _tables(store_url)
    with pytest.raises(SchemaNotCurrent):
        await _check(store_url)

    await migrate(store_url)  # and back up again
    await _check(store_url)


async def test_newer_database_is_refused(store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        await engine.dispose()

    with pytest.raises(SchemaNotCurrent) as info:
        await _check(store_url)
    assert "is newer than this Ampyre (revision 9999, expected 0003_outbox)" in str(info.value)


async def test_migrated_schema_matches_tables(store_url: str) -> None:
    """The hand-written migration and tables.py describe the same schema."""

    def diff(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    engine = create_engine(store_url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []


async def test_migrate_creates_sqlite_directory(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'deeper' / 'ampyre.db'}"

    await migrate(url)

    assert (tmp_path / "var" / "deeper" / "ampyre.db").is_file()
    assert await current_revision(url) == head_revision()
