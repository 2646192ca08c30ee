"""Shared fixtures. Database fixtures give every test its own database:

* `sqlite_url` / `pg_url`: a fresh, migrated database (SQLite file in tmp_path; a uniquely
  named PostgreSQL database, dropped afterwards). `store_url` runs a test on both.
* `empty_sqlite_url` / `empty_pg_url` / `empty_db_url`: the same, not migrated.

PostgreSQL is expected at 127.0.0.1:5432 with trust auth (override the server with
AMPYRE_TEST_PG_ADMIN_URL, an asyncpg URL of a database we may connect to in order to
create others). Unreachable: the test is skipped, or fails when CI=true.

* `nats_url`: NATS at 127.0.0.1:4222 (override with AMPYRE_TEST_NATS_URL), skipped or
  failing the same way; `bus_prefix`: a subject prefix of the test's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NoReturn

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from ampyre.adapters.db.migrate import migrate
from fastapi_adapters import share_type_adapters

NATS_URL = os.environ.get("AMPYRE_TEST_NATS_URL", "nats://127.0.0.1:4222")
PG_ADMIN_URL = os.environ.get(
    "AMPYRE_TEST_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


async def _pg_admin() -> asyncpg.Connection:
    url = make_url(PG_ADMIN_URL)
    try:
        conn: asyncpg.Connection = await asyncpg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            database=url.database or "postgres",
            timeout=5,
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        _unreachable(
            f"PostgreSQL not reachable at {url.render_as_string(hide_password=True)}: {exc}",
            "PostgreSQL",
        )
    return conn


def _unreachable(reason: str, service: str) -> NoReturn:
    """Skip the test, or fail it when CI=true (where the service must be there)."""
    if _on_ci():
        pytest.fail(f"{reason} (CI=true: {service} tests are mandatory)")
    pytest.skip(reason)


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'ampyre.db'}"


# One migrated SQLite file per test process, copied for each test that wants a migrated
# SQLite database (a copy takes milliseconds; running every migration half a second).
_SQLITE_TEMPLATE: list[Path] = []


async def _migrated_sqlite(factory: pytest.TempPathFactory) -> Path:
    if not _SQLITE_TEMPLATE:
        path = factory.mktemp("sqlite-template") / "ampyre.db"
        await migrate(f"sqlite+aiosqlite:///{path}")
        _SQLITE_TEMPLATE.append(path)
    return _SQLITE_TEMPLATE[0]


@pytest.fixture
async def sqlite_url(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh SQLite database at the schema's head revision."""
    template = await _migrated_sqlite(tmp_path_factory)
    path = tmp_path / "ampyre.db"
    # SQLite's backup API: a consistent copy whatever the journal mode left behind.
    with (
        contextlib.closing(sqlite3.connect(template)) as source,
        contextlib.closing(sqlite3.connect(path)) as target,
    ):
        source.backup(target)
    return f"sqlite+aiosqlite:///{path}"


def _pg_database_url(name: str) -> str:
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def _pg_database(template: str | None = None) -> AsyncIterator[str]:
    """A new database (a copy of `template`, else empty), dropped afterwards."""
    admin = await _pg_admin()
    name = f"ampyre_test_{uuid.uuid4().hex[:16]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    try:
        await admin.execute(f'CREATE DATABASE "{name}"{copy}')
    except BaseException:
        await admin.close()
        raise
    try:
        yield _pg_database_url(name)
    finally:
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# One migrated database per test process, copied for each test that wants a migrated
# PostgreSQL database (a copy takes a fraction of running every migration again);
# dropped when the session ends (pytest_sessionfinish).
_PG_TEMPLATE: list[str] = []


async def _migrated_template() -> str:
    if not _PG_TEMPLATE:  # tests of one process run one at a time
        admin = await _pg_admin()
        name = f"ampyre_template_{uuid.uuid4().hex[:16]}"
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                await migrate(_pg_database_url(name))
            except BaseException:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                raise
        finally:
            await admin.close()
        _PG_TEMPLATE.append(name)
    return _PG_TEMPLATE[0]


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _PG_TEMPLATE:
        return

    async def drop() -> None:
        admin = await _pg_admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{_PG_TEMPLATE[0]}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(drop())


@pytest.fixture
async def empty_pg_url() -> AsyncIterator[str]:
    async for url in _pg_database():
        yield url


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database at the schema's head revision."""
    template = await _migrated_template()
    async for url in _pg_database(template):
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database URL, once per supported backend."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, never migrated database URL, once per supported backend."""
    name = "empty_sqlite_url" if request.param == "sqlite" else "empty_pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
async def nats_url() -> str:
    """The test NATS server's URL, after checking that it answers."""
    url = make_url(NATS_URL.replace("nats://", "nats+x://", 1))
    host, port = url.host or "127.0.0.1", url.port or 4222
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        writer.close()
        await writer.wait_closed()
    except (OSError, TimeoutError) as exc:
        _unreachable(f"NATS not reachable at {host}:{port}: {exc}", "NATS")
    return NATS_URL


@pytest.fixture
def bus_prefix() -> str:
    """Subjects of this test only (tests share the NATS server)."""
    return f"test-{uuid.uuid4().hex[:12]}"


def pytest_configure(config: pytest.Config) -> None:
    share_type_adapters()  # tests/fastapi_adapters.py: a second off each app built


# `pki_dir` / `local_pki`: the built-in PKI, made once per session (tests/pki_fixtures.py).
pytest_plugins = ["pki_fixtures"]
