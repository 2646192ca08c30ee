"""Dashboard users end to end: a real server with AMPYRE_BOOTSTRAP_ADMIN_PASSWORD on
SQLite and PostgreSQL (sign in, cookie reads and writes, audit trail, sign out), and the
`ampyre user` commands as a subprocess."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from ampyre.adapters.db.migrate import migrate
from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.models import Role
from ampyre.services.users import InvalidCredentials, UserService

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import StartServer

ADMIN_PASSWORD = "bootstrap admin password"
AMPYRE = Path(sys.executable).with_name("ampyre")


async def test_sign_in_with_the_bootstrap_admin(start_server: StartServer, store_url: str) -> None:
    server = await start_server(store_url, bootstrap_admin_password=ADMIN_PASSWORD)
    async with httpx.AsyncClient(base_url=f"{server.http_url}/api/v1", timeout=10) as c:
        r = await c.post("/session", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        csrf = r.json()["csrf_token"]
        assert r.json()["user"]["role"] == "admin"
        assert (await c.get("/stations")).status_code == 200
        refused = await c.post("/stations", json={"id": "CP-X"})
        assert refused.status_code == 403 and refused.json()["type"].endswith(":csrf")
        made = await c.post("/stations", json={"id": "CP-X"}, headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201, made.text
        created = await c.post(
            "/users",
            json={"name": "olga", "role": "operator", "password": "olga's long password"},
            headers={"X-CSRF-Token": csrf},
        )
        assert created.status_code == 201, created.text
        trail = await c.get("/audit")
        assert trail.status_code == 200
        names = {e["token_name"] for e in trail.json()["items"]}
        assert names == {"user:admin"}
        assert "olga's long password" not in trail.text
        out = await c.delete("/session", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 204
        assert (await c.get("/stations")).status_code == 401
    # A restart with the same setting keeps the user (and the password).
    users = server.app.users
    again = await users.ensure_bootstrap_admin(ADMIN_PASSWORD)
    assert again.role is Role.ADMIN and len(await users.list()) == 2


def _ampyre(url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMPYRE_")} | {
        "AMPYRE_DATABASE_URL": url,
        "AMPYRE_LOG_LEVEL": "WARNING",
    }
    command = [str(AMPYRE)] if AMPYRE.exists() else [sys.executable, "-m", "ampyre"]
    return subprocess.run(
        [*command, *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_user_commands(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'users.db'}"
    await migrate(url)

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return _ampyre(url, "user", *args, stdin=stdin)

    made = await asyncio.to_thread(
        run, "create", "--role", "admin", "Root", stdin="root password 1\n"
    )
    assert made.returncode == 0, made.stderr
    assert "'Root' created, role admin" in made.stdout
    weak = await asyncio.to_thread(run, "create", "--role", "viewer", "vic", stdin="short\n")
    assert weak.returncode == 2 and "12" in weak.stderr
    dup = await asyncio.to_thread(run, "create", "--role", "viewer", "root", stdin="x" * 12)
    assert dup.returncode == 1 and "exists" in dup.stderr
    none = await asyncio.to_thread(run, "create", "--role", "viewer", "vic")
    assert none.returncode == 2 and "no password" in none.stderr
    bad_role = await asyncio.to_thread(run, "create", "--role", "root", "vic", stdin="x" * 12)
    assert bad_role.returncode == 2
    made = await asyncio.to_thread(
        run, "create", "--role", "viewer", "vic", stdin="vic's password\n"
    )
    assert made.returncode == 0, made.stderr
    listed = await asyncio.to_thread(run, "list")
    assert listed.returncode == 0
    rows = listed.stdout.splitlines()
    assert rows[0].split()[:4] == ["ID", "NAME", "ROLE", "STATE"]
    assert [r.split()[1:4] for r in rows[1:]] == [
        ["Root", "admin", "active"],
        ["vic", "viewer", "active"],
    ]
    changed = await asyncio.to_thread(run, "set-password", "VIC", stdin="vic's new password\n")
    assert changed.returncode == 0, changed.stderr
    last = await asyncio.to_thread(run, "delete", "root")
    assert last.returncode == 1 and "last enabled admin" in last.stderr
    unknown = await asyncio.to_thread(run, "delete", "nobody")
    assert unknown.returncode == 1 and "no user named" in unknown.stderr

    settings = Settings(database_url=url)
    store = SqlStore(settings)
    await store.start()
    try:
        users = UserService(store, settings)
        assert (await users.login("vic", "vic's new password")).user.role is Role.VIEWER
        with pytest.raises(InvalidCredentials):
            await users.login("vic", "vic's password")
        assert (await users.find("root")).password_hash.startswith("$argon2id$")
    finally:
        await store.close()
    gone = await asyncio.to_thread(run, "delete", "vic")
    assert gone.returncode == 0 and "deleted" in gone.stdout
