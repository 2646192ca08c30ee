"""What the browser tests drive: a real `ampyre serve` in a subprocess, simulated stations
(`ampyre simulate` subprocesses), a hand-rolled hostile station, and a bulk seed of
stations for the scale test. Every wait is bounded; every process is killed at teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from websockets.sync.client import ClientConnection, connect

from ampyre.adapters.db import tables

ADMIN_PASSWORD = "browser-admin-password-0123"
BOOTSTRAP_TOKEN = "browser-test-bootstrap-token-0123456789abcdef"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def free_port() -> int:
    """A port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], timeout: float, what: str, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(step)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL: only the process we started, by its pid."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _clean_env() -> dict[str, str]:
    # Settings of the developer's shell (AMPYRE_*) must not leak into the server under test.
    return {k: v for k, v in os.environ.items() if not k.startswith("AMPYRE_")}


def _ampyre(*args: str) -> list[str]:
    return [sys.executable, "-m", "ampyre", *args]


@dataclass
class Simulation:
    """One `ampyre simulate` subprocess."""

    proc: subprocess.Popen[bytes]
    log: Path
    station_ids: list[str]

    def stop(self) -> None:
        _stop(self.proc)


@dataclass
class AmpyreServer:
    """`ampyre migrate` + `ampyre serve` on a SQLite file in `workdir`."""

    workdir: Path
    http_port: int = field(default_factory=free_port)
    ocpp_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    simulations: list[Simulation] = field(default_factory=list)
    _client: httpx.Client | None = None

    @property
    def database_path(self) -> Path:
        return self.workdir / "ampyre.db"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}/ocpp"

    @property
    def log(self) -> Path:
        return self.workdir / "serve.log"

    def env(self) -> dict[str, str]:
        return {
            **_clean_env(),
            "AMPYRE_DATABASE_URL": f"sqlite+aiosqlite:///{self.database_path}",
            "AMPYRE_HOST": "127.0.0.1",
            "AMPYRE_HTTP_PORT": str(self.http_port),
            "AMPYRE_OCPP_PORT": str(self.ocpp_port),
            "AMPYRE_AUTO_REGISTER": "true",
            "AMPYRE_BOOTSTRAP_TOKEN": BOOTSTRAP_TOKEN,
            "AMPYRE_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "AMPYRE_LOG_LEVEL": "WARNING",
            "AMPYRE_SQLITE_SYNCHRONOUS": "NORMAL",
            "AMPYRE_SHUTDOWN_GRACE": "2",
            "AMPYRE_CALL_TIMEOUT": "10",
            "AMPYRE_NODE_ID": "browser-tests",
            "AMPYRE_FIRMWARE_DIR": str(self.workdir / "firmware"),
            "AMPYRE_PKI_DIR": str(self.workdir / "pki"),  # never the checkout's var/pki
            "AMPYRE_ROLLOUT_TICK": "0.5",
        }

    def migrate(self) -> None:
        subprocess.run(
            _ampyre("migrate"), env=self.env(), check=True, capture_output=True, timeout=60
        )

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                _ampyre("serve"), env=self.env(), stdout=out, stderr=subprocess.STDOUT
            )

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"ampyre serve exited:\n{_tail(self.log)}")
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, START_TIMEOUT, "ampyre serve to be ready")

    def stop(self) -> None:
        for sim in self.simulations:
            sim.stop()
        self.simulations.clear()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.proc is not None:
            _stop(self.proc)

    # ------------------------------------------------------------------ REST set-up

    @property
    def api(self) -> httpx.Client:
        """The REST API with the bootstrap (admin) token."""
        if self._client is None:
            self._client = httpx.Client(
                base_url=f"{self.url}/api/v1",
                headers={"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"},
                timeout=15,
            )
        return self._client

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.api.request(method, path, **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    def create_id_tokens(self, *values: str, **fields: Any) -> list[dict[str, Any]]:
        return [
            self.call("POST", "/id-tokens", 201, json={"id_token": v, **fields}) for v in values
        ]

    def create_user(self, name: str, role: str, password: str) -> dict[str, Any]:
        body = {"name": name, "role": role, "password": password}
        result: dict[str, Any] = self.call("POST", "/users", 201, json=body)
        return result

    def station(self, station_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/stations/{station_id}")
        return result

    def active_transactions(self, station_id: str) -> list[dict[str, Any]]:
        page = self.call(
            "GET", "/transactions", params={"station_id": station_id, "status": "active"}
        )
        items: list[dict[str, Any]] = page["items"]
        return items

    def active_transaction(self, station_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """The station's active transaction, waiting (bounded) for one to start."""
        found: list[dict[str, Any]] = []

        def active() -> bool:
            found[:] = self.active_transactions(station_id)
            return bool(found)

        wait_until(active, timeout, f"an active transaction at {station_id}")
        return found[0]

    # ------------------------------------------------------------------ stations

    def simulate(
        self,
        prefix: str,
        stations: int,
        *,
        protocol: str = "ocpp1.6",
        id_tokens: tuple[str, ...] = (),
        sessions: bool = True,
        meter_interval: float = 2.0,
        session_duration: float = 600.0,
        idle_time: float = 1.0,
    ) -> Simulation:
        """Start `stations` simulated stations PREFIX00001...; stopped at teardown."""
        args = [
            "simulate",
            "--url",
            self.ws_url,
            "--stations",
            str(stations),
            "--protocol",
            protocol,
            "--prefix",
            prefix,
            "--sessions" if sessions else "--no-sessions",
            "--meter-interval",
            str(meter_interval),
            "--session-duration",
            str(session_duration),
            "--idle-time",
            str(idle_time),
            "--status-change-interval",
            "100000",  # no random status flapping: the tests watch specific changes
            "--seed",
            "14",
        ]
        if id_tokens:
            args += ["--id-tokens", ",".join(id_tokens)]
        log = self.workdir / f"simulate-{prefix}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                _ampyre(*args), env=_clean_env(), stdout=out, stderr=subprocess.STDOUT
            )
        sim = Simulation(proc, log, [f"{prefix}{i:05d}" for i in range(1, stations + 1)])
        self.simulations.append(sim)
        return sim

    def wait_connected(self, station_ids: list[str], timeout: float = 20.0) -> None:
        def all_connected() -> bool:
            for sid in station_ids:
                r = self.api.get(f"/stations/{sid}")
                if r.status_code != 200 or not r.json().get("connected"):
                    return False
            return True

        wait_until(all_connected, timeout, f"stations {station_ids} to connect")


def seed_stations(database: Path, count: int, prefix: str = "SEED-") -> None:
    """`count` stations with two connectors each, written straight into a migrated SQLite
    database before the server starts (the REST API would take minutes for 20,000).
    Every 50th has a Faulted connector, every 7th is Charging, the rest Available."""
    now = datetime.now(UTC)
    vendors = ("Alfen", "ABB", "Wallbox", "Keba", "Zaptec")
    stations = [
        {
            "id": f"{prefix}{i:06d}",
            "registration_status": "Accepted",
            "ocpp_version": "ocpp1.6" if i % 3 else "ocpp2.0.1",
            "vendor": vendors[i % len(vendors)],
            "model": f"Model {i % 11}",
            "firmware_version": f"1.{i % 9}.{i % 4}",
            "connected": False,
            "last_seen": now,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    connectors = [
        {
            "station_id": f"{prefix}{i:06d}",
            "evse_id": c,
            "connector_id": 1,
            "status": "Faulted"
            if i % 50 == 0 and c == 1
            else "Charging"
            if i % 7 == 0
            else "Available",
            "error_code": "NoError",
            "status_timestamp": now,
            "updated_at": now,
        }
        for i in range(count)
        for c in (1, 2)
    ]
    # The project's table definitions write the columns in the format the server reads.
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as conn:
            conn.execute(tables.stations.insert(), stations)
            conn.execute(tables.connectors.insert(), connectors)
    finally:
        engine.dispose()


class HostileStation:
    """A hand-rolled OCPP station (no simulator) whose strings are markup: what an attacker
    who controls a station would send. It stays connected until closed."""

    def __init__(self, ws_url: str, station_id: str, protocol: str) -> None:
        self.station_id = station_id
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(f"{ws_url}/{station_id}", subprotocols=[protocol], open_timeout=10)  # type: ignore[list-item]
        )
        self._lock = threading.Lock()

    def call(self, action: str, payload: dict[str, Any]) -> Any:
        """Send a CALL and return its CALLRESULT payload; answer the CSMS's own calls
        (NotImplemented) while waiting."""
        message_id = uuid.uuid4().hex
        with self._lock:
            self.ws.send(json.dumps([2, message_id, action, payload]))
            deadline = time.monotonic() + 10
            while True:
                frame = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
                if frame[0] == 2:
                    self.ws.send(json.dumps([4, frame[1], "NotImplemented", "", {}]))
                    continue
                if frame[1] != message_id:
                    continue
                if frame[0] != 3:
                    raise AssertionError(f"{action} was refused: {frame}")
                return frame[2]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stack.close()


@contextlib.contextmanager
def running_server(
    workdir: Path, before_start: Callable[[AmpyreServer], None] | None = None
) -> Iterator[AmpyreServer]:
    server = AmpyreServer(workdir)
    try:
        server.migrate()
        if before_start is not None:
            before_start(server)
        server.start()
        yield server
    finally:
        server.stop()
