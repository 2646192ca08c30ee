"""The shipped Alembic migrations on SQLite and PostgreSQL."""

from __future__ import annotations

import warnings
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
    assert head_revision() == "0025_ocpi_tokens_commands"


async def test_migrate_empty_database(empty_db_url: str) -> None:
    assert await current_revision(empty_db_url) is None
    with pytest.raises(SchemaNotCurrent) as info:
        await _check(empty_db_url)
    message = str(info.value)
    assert f"is not migrated (revision none, expected {head_revision()})" in message
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
    expected = f"is newer than this Ampyre (revision 9999, expected {head_revision()})"
    assert expected in str(info.value)


async def test_migrated_schema_matches_tables(store_url: str) -> None:
    """The hand-written migration and tables.py describe the same schema."""

    def diff(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        with warnings.catch_warnings():
            # SQLite cannot reflect expression indexes (lower(id_token)): checked below.
            warnings.filterwarnings(
                "ignore", "Skipped unsupported reflection of expression-based index"
            )
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expr")
            return list(compare_metadata(context, metadata))

    def expression_indexes(conn: Connection) -> dict[str, str]:
        if conn.dialect.name == "sqlite":
            rows = conn.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type='index'"))
        else:
            rows = conn.execute(sa.text("SELECT indexname, indexdef FROM pg_indexes"))
        return {str(name): str(sql) for name, sql in rows if sql and "lower(" in sql}

    engine = create_engine(store_url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
            indexes = await conn.run_sync(expression_indexes)
    finally:
        await engine.dispose()
    assert differences == []
    assert set(indexes) >= {"uq_id_tokens_lower_id_token_type", "ix_transactions_lower_id_token"}
    assert "UNIQUE" in indexes["uq_id_tokens_lower_id_token_type"].upper()


async def test_migrate_creates_sqlite_directory(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'deeper' / 'ampyre.db'}"

    await migrate(url)

    assert (tmp_path / "var" / "deeper" / "ampyre.db").is_file()
    assert await current_revision(url) == head_revision()


async def test_0003_merges_id_tokens_that_differ_only_in_case(
    empty_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await migrate(empty_db_url, "0002")
    rows = [
        (1, "NEWCOMER-0002", "ISO14443", "accepted", "first"),
        (2, "Newcomer-0002", "ISO14443", "blocked", "blocked under another spelling"),
        (3, "newcomer-0002", "ISO14443", "expired", None),
        (4, "newcomer-0002", "Central", "accepted", "another type: kept"),
        (5, "OTHER", "ISO14443", "accepted", None),
    ]
    engine = create_engine(empty_db_url)
    try:
        async with engine.begin() as conn:
            for pk, value, type_, status, description in rows:
                await conn.execute(
                    sa.text(
                        "INSERT INTO id_tokens (id, id_token, type, status, restrictions,"
                        " description, created_at, updated_at) VALUES (:id, :v, :t, :s, '[]',"
                        " :d, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"id": pk, "v": value, "t": type_, "s": status, "d": description},
                )
        caplog.set_level("WARNING", logger="alembic.runtime.migration")
        await migrate(empty_db_url)
        async with engine.connect() as conn:
            left = (
                await conn.execute(
                    sa.text("SELECT id, id_token, type, status FROM id_tokens ORDER BY id")
                )
            ).all()
    finally:
        await engine.dispose()
    # The oldest row stays, with the most restrictive status of its spellings.
    assert [tuple(r) for r in left] == [
        (1, "NEWCOMER-0002", "ISO14443", "blocked"),
        (4, "newcomer-0002", "Central", "accepted"),
        (5, "OTHER", "ISO14443", "accepted"),
    ]
    merged = [r.getMessage() for r in caplog.records if "only in case" in r.getMessage()]
    assert len(merged) == 2
    assert "'Newcomer-0002'" in merged[0] and "blocked under another spelling" in merged[0]

    await downgrade(empty_db_url, "0002")  # and back: the merged rows stay merged
    assert await current_revision(empty_db_url) == "0002"
