"""`ampyre serve --workers N`: N `serve` processes on this machine sharing the OCPP and
HTTP ports (SO_REUSEPORT), each a node of the cluster with its own open-file limit.

The parent only supervises: it starts the workers (node ids `<node>-w1` ... `-wN`),
restarts one that dies (a crash, kill -9) after a second, and on SIGINT/SIGTERM stops
them all (SIGTERM, then SIGKILL after the grace period). A worker that fails at once
(bad settings, database or bus unreachable) stops the whole set with its exit code:
restarting it would fail the same way.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from ampyre.config import ConfigError, Settings

log = logging.getLogger(__name__)
RESTART_DELAY = 1.0
EARLY_EXIT = 5.0  # a worker ending within this many seconds of its start failed to start


def check(settings: Settings) -> None:
    """Refuse a set of workers that cannot work, before starting any."""
    if settings.database_url.startswith("sqlite"):
        raise ConfigError(
            "--workers needs PostgreSQL: SQLite serves one process only "
            "(AMPYRE_DATABASE_URL=postgresql+asyncpg://...)"
        )
    if not settings.bus_url.lower().startswith(("nats://", "tls://")):
        raise ConfigError(
            "--workers needs a bus between the processes: AMPYRE_BUS_URL=nats://host:4222"
        )
    if settings.ocpp_port == 0 or settings.http_port == 0:
        raise ConfigError("--workers needs fixed ports (0 would give each worker its own)")


def worker_argv(argv: list[str]) -> list[str]:
    """The parent's `serve` arguments without --workers and --node-id (each worker is
    single and gets its own node id through the environment, which a flag would
    override)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in _OWN:
            skip = True
            continue
        if arg.split("=", 1)[0] in _OWN and "=" in arg:
            continue
        out.append(arg)
    return out


_OWN = frozenset({"--workers", "--node-id"})


class Supervisor:
    def __init__(self, settings: Settings, argv: list[str]) -> None:
        self._count = settings.workers
        self._base = settings.node_id or socket.gethostname()
        self._grace = settings.shutdown_grace + 5.0
        self._argv = [sys.executable, "-m", "ampyre.cli", *worker_argv(argv)]
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._started: dict[int, float] = {}
        self._stopping = False

    def node_id(self, index: int) -> str:
        return f"{self._base}-w{index}"

    def _spawn(self, index: int) -> None:
        env = dict(os.environ)
        env.update(AMPYRE_WORKERS="1", AMPYRE_REUSE_PORT="true", AMPYRE_NODE_ID=self.node_id(index))
        self._procs[index] = subprocess.Popen(self._argv, env=env)
        self._started[index] = time.monotonic()
        log.info("worker %s started (pid %d)", self.node_id(index), self._procs[index].pid)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        for index in range(1, self._count + 1):
            self._spawn(index)
        code = 0
        restart_at: dict[int, float] = {}
        while not self._stopping:
            time.sleep(0.2)
            now = time.monotonic()
            for index, proc in list(self._procs.items()):
                status = proc.poll()
                if status is None or index in restart_at:
                    continue
                if now - self._started[index] < EARLY_EXIT and status != 0:
                    log.error(
                        "worker %s failed at start (exit %d); stopping all",
                        self.node_id(index),
                        status,
                    )
                    code = status if status > 0 else 1
                    self._stopping = True
                    break
                log.warning("worker %s ended (exit %d); restarting it", self.node_id(index), status)
                restart_at[index] = now + RESTART_DELAY
            for index, when in list(restart_at.items()):
                if not self._stopping and now >= when:
                    del restart_at[index]
                    self._spawn(index)
        self._stop_all()
        return code

    def _stop_all(self) -> None:
        live = [p for p in self._procs.values() if p.poll() is None]
        for proc in live:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self._grace
        for proc in live:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in time; killing it", proc.pid)
                proc.kill()
                proc.wait()


def run(settings: Settings, argv: list[str]) -> int:
    check(settings)
    return Supervisor(settings, argv).run()
