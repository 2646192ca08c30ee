"""Servers under test: start one pinned to CPU 0, wait until ready, stop it."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench import proc

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SERVER_CPU = 0
TARGETS = ("echo", "echo-asyncio", "echo-picows", "ocpp-lib", "ampyre")
# `ampyre serve --workers 2` (PostgreSQL and NATS): the scale-out scenarios only.
WORKERS_TARGET = "ampyre-workers2"
NATS_URL = os.environ.get("AMPYRE_BENCH_NATS_URL", "nats://127.0.0.1:4222")
REFERENCE_TARGETS = ("echo", "echo-asyncio", "echo-picows", "ocpp-lib")
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for children: no proxies, project sources importable."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


@dataclass
class Server:
    target: str
    db: str
    url: str  # base ws:// URL; the station id is appended
    proc: subprocess.Popen[bytes]
    log_path: Path
    cleanup: list[str] = field(default_factory=list)  # postgres databases to drop
    tmpdir: tempfile.TemporaryDirectory[str] | None = None
    http_url: str | None = None  # ampyre: REST API base (http://127.0.0.1:PORT)
    api_token: str | None = None  # ampyre: admin bearer token (AMPYRE_BOOTSTRAP_TOKEN)
    database_url: str | None = None  # ampyre: the bench database

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        proc.stop_process(self.proc)
        for dbname in self.cleanup:
            with contextlib.suppress(Exception):
                psql(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        self.cleanup.clear()
        if self.tmpdir is not None:
            self.tmpdir.cleanup()
            self.tmpdir = None


def ampyre_available() -> str | None:
    """None when `ampyre serve` can be used, else the reason it cannot."""
    exe = VENV_BIN / "ampyre"
    if not exe.exists():
        return f"{exe} not found (pip install -e . first)"
    try:
        out = subprocess.run(
            [str(exe), "serve", "--help"],
            capture_output=True,
            timeout=60,
            env=child_env(),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`ampyre serve --help` failed: {exc}"
    if out.returncode != 0:
        return f"`ampyre serve --help` exited {out.returncode}: {out.stderr.decode()[-300:]}"
    return None


def picows_available() -> str | None:
    """None when the picows echo can run, else the reason it cannot. picows is only in
    the `bench` extra (`make bench` installs it), so `make test` does not need it."""
    try:
        import picows  # noqa: F401
    except ImportError as exc:
        return f"picows is not installed ({exc}); pip install -e '.[bench]' (make bench does)"
    return None


def nats_unavailable() -> str | None:
    """None when the bench NATS server answers, else why not."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(NATS_URL)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 4222), 5):
            return None
    except OSError as exc:
        return f"NATS not reachable at {NATS_URL} ({exc})"


def psql(sql: str) -> None:
    exe = shutil.which("psql")
    if exe is None:
        raise RuntimeError("psql not found; needed to create the PostgreSQL bench database")
    subprocess.run(
        [exe, PG_ADMIN_DSN, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
        check=True,
        capture_output=True,
        timeout=60,
    )


@contextlib.contextmanager
def scratch_database(db: str, name: str) -> Iterator[str]:
    """The URL of a fresh, empty database of kind `db` (sqlite or postgres) for one offline
    measurement (`bench.audit_size`, `bench.path_cost`), removed afterwards."""
    if db == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"ampyre-{name}-") as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/{name}.db"
        return
    dbname = f"ampyre_{name}_{os.getpid()}_{int(time.time())}"
    psql(f'CREATE DATABASE "{dbname}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{dbname}"
    finally:
        psql(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def _spawn(cmd: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        p = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
            start_new_session=True,  # own process group: stop_process kills it whole
        )
    proc.pin(p.pid, SERVER_CPU)
    return p


def start(
    target: str,
    db: str,
    log_dir: Path,
    ready_timeout: float = 90.0,
    extra_env: dict[str, str] | None = None,
) -> Server:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"server-{target}-{db}-{int(time.time())}.log"
    py = sys.executable
    reference = {
        "echo": ["bench.ref_echo"],
        "echo-asyncio": ["bench.ref_echo", "--no-uvloop"],
        "echo-picows": ["bench.ref_echo_picows"],
        "ocpp-lib": ["bench.ref_ocpp_lib"],
    }.get(target)
    if reference is not None:
        port = proc.free_port()
        cmd = [py, "-m", *reference, "--port", str(port)]
        p = _spawn(cmd, child_env(), log_path)
        server = Server(target, "-", f"ws://127.0.0.1:{port}/ocpp", p, log_path)
        try:
            proc.wait_tcp(port, ready_timeout, p)
        except BaseException:
            server.stop()
            raise
        return server
    if target == "ampyre":
        return _start_ampyre(db, log_path, ready_timeout, extra_env)
    if target == WORKERS_TARGET:
        env = {**(extra_env or {}), **cluster_env(), "AMPYRE_WORKERS": "2"}
        server = _start_ampyre(db, log_path, ready_timeout, env)
        server.target = target
        return server
    raise ValueError(f"unknown target {target!r}")


def cluster_env() -> dict[str, str]:
    """A bus of the run's own (NATS subjects under a prefix no other run uses)."""
    return {"AMPYRE_BUS_URL": NATS_URL, "AMPYRE_BUS_PREFIX": f"bench-{os.getpid()}"}


def _start_ampyre(
    db: str, log_path: Path, ready_timeout: float, extra_env: dict[str, str] | None
) -> Server:
    ocpp_port, http_port = proc.free_port(), proc.free_port()
    while http_port == ocpp_port:  # a port freed by the first call may come back
        http_port = proc.free_port()
    tmpdir: tempfile.TemporaryDirectory[str] | None = None
    cleanup: list[str] = []
    if db == "sqlite":
        tmpdir = tempfile.TemporaryDirectory(prefix="ampyre-bench-")
        database_url = f"sqlite+aiosqlite:///{tmpdir.name}/bench.db"
    elif db == "postgres":
        dbname = f"ampyre_bench_{os.getpid()}_{int(time.time())}"
        psql(f'CREATE DATABASE "{dbname}"')
        cleanup.append(dbname)
        database_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{dbname}"
    else:
        raise ValueError(f"unknown db {db!r}")
    api_token = "bench_" + secrets.token_urlsafe(24)
    env = child_env(
        {
            "AMPYRE_DATABASE_URL": database_url,
            "AMPYRE_BOOTSTRAP_TOKEN": api_token,
            "AMPYRE_AUTO_REGISTER": "true",
            "AMPYRE_HOST": "127.0.0.1",
            "AMPYRE_OCPP_PORT": str(ocpp_port),
            "AMPYRE_HTTP_PORT": str(http_port),
        }
    )
    env.update(extra_env or {})
    exe = str(VENV_BIN / "ampyre")
    try:
        migrate = subprocess.run(
            [exe, "migrate"], env=env, cwd=ROOT, capture_output=True, timeout=180, check=False
        )
        if migrate.returncode != 0:
            raise RuntimeError(
                f"`ampyre migrate` exited {migrate.returncode}: {migrate.stderr.decode()[-500:]}"
            )
    except BaseException:
        for dbname in cleanup:
            with contextlib.suppress(Exception):
                psql(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        if tmpdir is not None:
            tmpdir.cleanup()
        raise
    p = _spawn([exe, "serve"], env, log_path)
    server = Server(
        "ampyre",
        db,
        f"ws://127.0.0.1:{ocpp_port}/ocpp",
        p,
        log_path,
        cleanup,
        tmpdir,
        http_url=f"http://127.0.0.1:{http_port}",
        api_token=api_token,
        database_url=database_url,
    )
    try:
        proc.wait_http_ok(f"http://127.0.0.1:{http_port}/healthz", ready_timeout, p)
        proc.wait_tcp(ocpp_port, ready_timeout, p)
    except BaseException:
        server.stop()
        raise
    return server


def count_rows(server: Server, table: str) -> int | None:
    """Rows of ``table`` in an ampyre target's database (None when it cannot be read).

    SQLite is read with the standard library (WAL: readers do not block the server's
    writer); PostgreSQL through psql, so the work happens in PostgreSQL, not here.
    """
    url = server.database_url
    if url is None or not table.isidentifier():
        return None
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[1]
            with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
                return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        psql = shutil.which("psql")
        if psql is None:
            return None
        dsn = "postgresql://" + url.split("://", 1)[1]
        out = subprocess.run(
            [psql, dsn, "-At", "-c", f"SELECT count(*) FROM {table}"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return int(out.stdout.decode().strip())
    except (OSError, sqlite3.Error, subprocess.SubprocessError, ValueError, IndexError):
        return None


def _sql_scalar(database_url: str | None, sqlite_sql: str, pg_sql: str) -> int | None:
    """One integer from an ampyre database, read beside the running server (None when it
    cannot be read): SQLite with the standard library (WAL: readers do not block the
    writer), PostgreSQL through psql so that the work happens in PostgreSQL."""
    if database_url is None:
        return None
    try:
        if database_url.startswith("sqlite"):
            path = database_url.split("///", 1)[1]
            with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
                value = conn.execute(sqlite_sql).fetchone()[0]
                return None if value is None else int(value)
        psql_exe = shutil.which("psql")
        if psql_exe is None:
            return None
        dsn = "postgresql://" + database_url.split("://", 1)[1]
        out = subprocess.run(
            [psql_exe, dsn, "-At", "-c", pg_sql], check=True, capture_output=True, timeout=60
        )
        return int(out.stdout.decode().strip())
    except (OSError, sqlite3.Error, subprocess.SubprocessError, ValueError, IndexError):
        return None


def audit_log_bytes(database_url: str | None) -> int | None:
    """Bytes of the audit log (message_log with its indexes; TOAST on PostgreSQL)."""
    return _sql_scalar(
        database_url,
        "SELECT sum(pgsize) FROM dbstat WHERE name IN "
        "(SELECT name FROM sqlite_master WHERE tbl_name = 'message_log')",
        "SELECT pg_total_relation_size('message_log')",
    )


def database_bytes(database_url: str | None) -> int | None:
    """Bytes in use by the whole database (SQLite: pages in use, WAL not counted)."""
    return _sql_scalar(
        database_url,
        "SELECT sum(pgsize) FROM dbstat",
        "SELECT pg_database_size(current_database())",
    )


def audited_frames(server: Server) -> int | None:
    """Frames in the audit log as the REST API counts them (`total` of GET /messages):
    the same on every storage layout."""
    if server.http_url is None or server.api_token is None:
        return None
    req = urllib.request.Request(
        f"{server.http_url}/api/v1/messages?limit=1",
        headers={"Authorization": f"Bearer {server.api_token}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return int(json.loads(resp.read())["total"])
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return None


def audit_dropped(server: Server) -> int | None:
    """Audit-log frames the server dropped so far (`ampyre_audit_log_dropped_total` of
    /metrics): frames logged faster than they are written overflow its bounded buffer."""
    if server.http_url is None or server.api_token is None:
        return None
    req = urllib.request.Request(
        f"{server.http_url}/metrics", headers={"Authorization": f"Bearer {server.api_token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            text = resp.read().decode()
    except (urllib.error.URLError, OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        if line.startswith("ampyre_audit_log_dropped_total "):
            return int(float(line.split()[1]))
    return None


def audit_sample(server: Server) -> tuple[float, int | None, int | None, int | None]:
    """(monotonic time, audited frames, audit-log bytes, database bytes) of an ampyre
    target, for growth over a measured window."""
    at = time.monotonic()
    return (
        at,
        audited_frames(server),
        audit_log_bytes(server.database_url),
        database_bytes(server.database_url),
    )


def seed_id_tokens(server: Server, tokens: list[str]) -> list[str]:
    """Create accepted id tokens through the REST API; returns problems (empty: done).
    A token that exists already (409) is fine."""
    problems: list[str] = []
    if server.http_url is None or server.api_token is None:
        return ["not an ampyre target"]
    for token in tokens:
        body = json.dumps({"id_token": token, "type": "ISO14443", "status": "accepted"})
        req = urllib.request.Request(
            f"{server.http_url}/api/v1/id-tokens",
            data=body.encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {server.api_token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                problems.append(f"POST /api/v1/id-tokens {token}: HTTP {exc.code}")
        except (urllib.error.URLError, OSError) as exc:
            problems.append(f"POST /api/v1/id-tokens {token}: {exc}")
    return problems
