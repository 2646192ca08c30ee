"""A real Ampyre (gateway + REST API) on ephemeral ports for integration tests.

`start_server(url, **settings)` starts one against a migrated database and returns a
`Server` handle; every server started in a test is stopped (and awaited) at teardown.
`server` is the common case: SQLite, default settings for tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ampyre import bootstrap
from ampyre.bootstrap import App
from ampyre.config import Settings

TOKEN = "integration-test-admin-token-0123456789"
STARTUP_TIMEOUT = 15.0


@dataclass
class Server:
    ws_url: str  # ws://127.0.0.1:PORT (append /ocpp/{station_id})
    http_url: str  # http://127.0.0.1:PORT
    token: str
    app: App
    stop: asyncio.Event
    task: asyncio.Task[None]
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    def station_url(self, station_id: str, prefix: str = "/ocpp/") -> str:
        return f"{self.ws_url}{prefix}{station_id}"

    def api(self) -> httpx.AsyncClient:
        """An API client authenticated with the bootstrap (admin) token; closed at teardown."""
        client = httpx.AsyncClient(
            base_url=f"{self.http_url}/api/v1",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10.0,
        )
        self._clients.append(client)
        return client

    async def create_station(self, station_id: str, **body: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(
            base_url=f"{self.http_url}/api/v1",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10.0,
        ) as client:
            response = await client.post("/stations", json={"id": station_id, **body})
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    async def shutdown(self) -> None:
        for client in self._clients:
            await client.aclose()
        self._clients.clear()
        self.stop.set()
        await asyncio.wait_for(asyncio.shield(self.task), timeout=30)


StartServer = Callable[..., Awaitable[Server]]


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[StartServer]:
    started: list[Server] = []

    async def start(database_url: str, **overrides: Any) -> Server:
        values: dict[str, Any] = {
            "database_url": database_url,
            "host": "127.0.0.1",
            "ocpp_port": 0,
            "http_port": 0,
            "bootstrap_token": TOKEN,
            "node_id": "test-node",
            "log_level": "WARNING",
            "shutdown_grace": 3.0,
            "call_timeout": 5.0,
            "sqlite_synchronous": "NORMAL",
            # Never the checkout's var/pki (made by `make run`): a test has a PKI only
            # when it asks for one.
            "pki_dir": str(tmp_path / "pki"),
        }
        values.update(overrides)
        app = bootstrap.build(Settings(**values))
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(bootstrap.run(app, stop, ready), name="ampyre-under-test")
        ready_wait = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait(
            {task, ready_wait}, timeout=STARTUP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if ready_wait not in done:
            ready_wait.cancel()
            stop.set()
            if task in done:
                task.result()  # raises the start-up failure
            raise AssertionError("Ampyre did not become ready in time")
        server = Server(
            ws_url=f"ws://127.0.0.1:{app.gateway.port}",
            http_url=f"http://127.0.0.1:{app.http_port}",
            token=TOKEN,
            app=app,
            stop=stop,
            task=task,
        )
        started.append(server)
        return server

    yield start

    errors: list[BaseException] = []
    for server in reversed(started):
        try:
            await server.shutdown()
        except BaseException as exc:  # report after stopping the others
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
async def server(start_server: StartServer, sqlite_url: str) -> Server:
    return await start_server(sqlite_url)
