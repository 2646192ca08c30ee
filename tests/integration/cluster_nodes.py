"""`ampyre serve` processes for the cluster tests: started with the CLI as an operator
would, on PostgreSQL and NATS, stopped (or killed) by the test; their output goes to
files next to the test's other temporary files and is shown when a start fails."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TOKEN = "cluster-test-admin-token-0123456789abcdef"
READY_TIMEOUT = 40.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cluster_env(database_url: str, nats_url: str, prefix: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMPYRE_")}
    env.update(
        AMPYRE_DATABASE_URL=database_url,
        AMPYRE_BUS_URL=nats_url,
        AMPYRE_BUS_PREFIX=prefix,
        AMPYRE_HOST="127.0.0.1",
        AMPYRE_AUTO_REGISTER="true",
        AMPYRE_BOOTSTRAP_TOKEN=TOKEN,
        AMPYRE_NODE_LEASE="3",
        AMPYRE_NODE_RENEW_INTERVAL="0.5",
        AMPYRE_DIRECTORY_RESYNC="2",
        AMPYRE_LOG_LEVEL="WARNING",
        AMPYRE_SHUTDOWN_GRACE="3",
        AMPYRE_CALL_TIMEOUT="5",
        **extra,
    )
    return env


@dataclass
class NodeProcess:
    name: str
    http_port: int
    proc: subprocess.Popen[bytes]
    log: Path
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def api(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            base_url=f"{self.http_url}/api/v1",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=15.0,
        )
        self.clients.append(client)
        return client

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    async def ready(self, timeout: float = READY_TIMEOUT) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"{self.name} exited: {self.output()}")
                try:
                    if (await client.get(f"{self.http_url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if loop.time() > deadline:
                    raise AssertionError(f"{self.name} not ready in time: {self.output()}")
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    async def stop(self) -> int:
        for client in self.clients:
            await client.aclose()
        self.clients.clear()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


def start_node(
    name: str, env: dict[str, str], logs: Path, *args: str, **settings: Any
) -> NodeProcess:
    """`python -m ampyre.cli serve` with `env` plus AMPYRE_<KEY> for each setting."""
    http_port = int(settings.pop("http_port", 0)) or free_port()
    while str(http_port) == env.get("AMPYRE_OCPP_PORT"):
        http_port = free_port()
    node_env = dict(env)
    node_env["AMPYRE_HTTP_PORT"] = str(http_port)
    for key, value in settings.items():
        node_env[f"AMPYRE_{key.upper()}"] = str(value)
    log = logs / f"{name}.log"
    out = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ampyre.cli", "serve", *args],
        env=node_env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    out.close()
    return NodeProcess(name, http_port, proc, log)
