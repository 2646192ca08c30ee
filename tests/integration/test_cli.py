"""The `ampyre` command line, run as a real subprocess against a temporary SQLite file."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ampyre.adapters.db.migrate import head_revision
from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.models import Role
from ampyre.services.tokens import TokenService

AMPYRE = Path(sys.executable).with_name("ampyre")


def _run(
    url: str, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMPYRE_")} | {
        "AMPYRE_DATABASE_URL": url,
        "AMPYRE_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    command = [str(AMPYRE)] if AMPYRE.exists() else [sys.executable, "-m", "ampyre"]
    return subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"


async def test_migrate_then_token_create(db_url: str) -> None:
    migrated = await asyncio.to_thread(_run, db_url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert f"database at head: {head_revision()}" in migrated.stdout
    again = await asyncio.to_thread(_run, db_url, "migrate")  # idempotent
    assert again.returncode == 0, again.stderr

    created = await asyncio.to_thread(
        _run, db_url, "token", "create", "--role", "viewer", "--name", "x"
    )
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    assert len(lines) == 1  # stdout is exactly the token, for scripts
    token = lines[0].strip()
    assert len(token) >= 20
    assert "'x'" in created.stderr
    assert "viewer" in created.stderr
    assert "only once" in created.stderr

    store = SqlStore(Settings(database_url=db_url))
    await store.start()
    try:
        found = await TokenService(store).authenticate(token)
        assert found is not None
        assert (found.name, found.role) == ("x", Role.VIEWER)
    finally:
        await store.close()


def test_token_create_rejects_unknown_role(db_url: str) -> None:
    result = _run(db_url, "token", "create", "--role", "superuser", "--name", "x")
    assert result.returncode == 2
    assert "superuser" in result.stderr


def test_serve_refuses_unmigrated_database(db_url: str) -> None:
    result = _run(db_url, "serve", "--ocpp-port", "0", "--http-port", "0")
    assert result.returncode not in (0, None)
    assert "run `ampyre migrate`" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_reports_bad_configuration(db_url: str) -> None:
    result = _run(db_url, "serve", extra_env={"AMPYRE_OCPP_PORT": "ninety"})
    assert result.returncode == 2
    assert "AMPYRE_OCPP_PORT" in result.stderr
    assert "Traceback" not in result.stderr
