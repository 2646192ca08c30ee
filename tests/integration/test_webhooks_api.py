"""Webhooks end to end: a real Ampyre, a real HTTP receiver on 127.0.0.1, real stations."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from ampyre.services.webhook_rules import verify_signature

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

FAST = {"webhook_retry_base": 0.05, "webhook_max_attempts": 3, "webhook_timeout": 2.0}
SECRET = "whsec_integration-0123456789"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class Receiver:
    """A minimal HTTP/1.1 server: records each request, answers with the next status of
    `answers` (200 when empty), then closes the connection."""

    answers: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hooks/ampyre"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Received(method, path, headers, body, time.monotonic()))
            code = self.answers.pop(0) if self.answers else 200
            writer.write(
                f"HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.close()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/nobody-listens"


async def wait_until(predicate: Callable[[], bool], timeout: float = 8.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polling state owned by other tasks
            await asyncio.sleep(0.02)


async def wait_for_deliveries(
    api: httpx.AsyncClient, hook_id: int, status: str, count: int = 1, timeout: float = 8.0
) -> list[dict[str, Any]]:
    async with asyncio.timeout(timeout):
        while True:
            response = await api.get(f"/webhooks/{hook_id}/deliveries", params={"status": status})
            assert response.status_code == 200, response.text
            items: list[dict[str, Any]] = response.json()["items"]
            if len(items) >= count:
                return items
            await asyncio.sleep(0.05)


async def connect_station(server: Server, station_id: str) -> None:
    """Connect with OCPP 1.6 and hang up once the server has registered the socket."""
    async with connect(
        server.station_url(station_id),
        subprotocols=[Subprotocol("ocpp1.6")],
        open_timeout=5,
        close_timeout=2,
    ):
        await wait_until(lambda: server.app.registry.ocpp_version(station_id) is not None)


async def create_hook(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post("/webhooks", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


# end to end -----------------------------------------------------------------------------
async def test_a_connecting_station_produces_a_signed_event(
    start_server: StartServer, sqlite_url: str, receiver: Receiver
) -> None:
    server = await start_server(sqlite_url, **FAST)
    api = server.api()
    response = await api.post(
        "/webhooks", json={"url": receiver.url, "event_types": ["station.connected"]}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/api/v1/webhooks/{created['id']}"
    assert response.headers["cache-control"] == "no-store"
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) >= 40
    assert created["has_secret"] is True

    await server.create_station("CP-WH1")
    await connect_station(server, "CP-WH1")
    await wait_until(lambda: len(receiver.requests) == 1)
    request = receiver.requests[0]
    assert request.method == "POST"
    assert request.path == "/hooks/ampyre"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-ampyre-event"] == "station.connected"
    assert abs(int(request.headers["x-ampyre-timestamp"]) - time.time()) < 60
    assert verify_signature(
        secret,
        request.headers["x-ampyre-timestamp"],
        request.body,
        request.headers["x-ampyre-signature"],
    )
    assert not verify_signature(
        "whsec_wrong-secret-0123456789",
        request.headers["x-ampyre-timestamp"],
        request.body,
        request.headers["x-ampyre-signature"],
    )
    body = request.json()
    assert body["type"] == "station.connected"
    assert body["station_id"] == "CP-WH1"
    assert body["data"] == {"ocpp_version": "ocpp1.6"}
    assert body["created_at"].endswith("Z")
    assert str(body["id"]) == request.headers["x-ampyre-delivery"]

    [delivery] = await wait_for_deliveries(api, created["id"], "delivered")
    assert delivery["id"] == body["id"]
    assert delivery["event_type"] == "station.connected"
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] == 200
    assert delivery["last_error"] is None
    assert delivery["next_attempt_at"] is None
    assert delivery["delivered_at"] is not None
    assert delivery["payload"] == body
    # station.disconnected is not subscribed to: nothing else arrives.
    await asyncio.sleep(0.2)
    assert len(receiver.requests) == 1
    listed = (await api.get(f"/webhooks/{created['id']}/deliveries")).json()
    assert listed["total"] == 1


async def test_a_failing_receiver_is_retried_with_backoff(
    start_server: StartServer, store_url: str, receiver: Receiver
) -> None:
    server = await start_server(store_url, auto_register=True, **FAST)
    api = server.api()
    hook = await create_hook(
        api, url=receiver.url, secret=SECRET, event_types=["station.connected"]
    )
    assert hook["secret"] is None  # supplied, so not echoed
    receiver.answers = [500]
    await connect_station(server, "CP-WH2")
    [delivery] = await wait_for_deliveries(api, hook["id"], "delivered")
    assert delivery["attempts"] == 2
    assert delivery["last_status_code"] == 200
    first, second = receiver.requests
    assert second.at - first.at >= 0.05 * 0.8 - 0.01  # the first backoff step
    assert first.body == second.body
    for request in receiver.requests:
        assert verify_signature(
            SECRET,
            request.headers["x-ampyre-timestamp"],
            request.body,
            request.headers["x-ampyre-signature"],
        )


async def test_an_unreachable_receiver_fails_then_can_be_retried(
    start_server: StartServer, sqlite_url: str, receiver: Receiver
) -> None:
    server = await start_server(sqlite_url, auto_register=True, **FAST)
    api = server.api()
    hook = await create_hook(api, url=_closed_port_url(), secret=SECRET)
    hook_id = hook["id"]
    await connect_station(server, "CP-WH3")
    failed = await wait_for_deliveries(api, hook_id, "failed", count=2)  # connect, disconnect
    for delivery in failed:
        assert delivery["attempts"] == 3
        assert delivery["last_status_code"] is None
        assert delivery["last_error"]
        assert delivery["next_attempt_at"] is None
    assert {d["event_type"] for d in failed} == {"station.connected", "station.disconnected"}
    pending = (await api.get(f"/webhooks/{hook_id}/deliveries?status=pending")).json()
    assert pending["total"] == 0

    # The receiver comes back: point the hook at it and re-queue one delivery.
    response = await api.patch(f"/webhooks/{hook_id}", json={"url": receiver.url})
    assert response.status_code == 200, response.text
    target = failed[0]
    response = await api.post(f"/webhooks/{hook_id}/deliveries/{target['id']}/retry")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    assert response.json()["attempts"] == 0
    await wait_until(lambda: len(receiver.requests) == 1)
    delivered = await wait_for_deliveries(api, hook_id, "delivered")
    assert [d["id"] for d in delivered] == [target["id"]]
    assert delivered[0]["attempts"] == 1
    # Only failed deliveries can be re-queued; unknown ones are 404.
    response = await api.post(f"/webhooks/{hook_id}/deliveries/{target['id']}/retry")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    response = await api.post(f"/webhooks/{hook_id}/deliveries/999999/retry")
    assert response.status_code == 404
    other = await create_hook(api, url=receiver.url, secret=SECRET)
    response = await api.post(f"/webhooks/{other['id']}/deliveries/{failed[1]['id']}/retry")
    assert response.status_code == 404


async def test_pending_deliveries_survive_a_restart(
    start_server: StartServer, sqlite_url: str, receiver: Receiver
) -> None:
    first = await start_server(
        sqlite_url, auto_register=True, **{**FAST, "webhook_max_attempts": 100}
    )
    api = first.api()
    hook = await create_hook(
        api, url=receiver.url, secret=SECRET, event_types=["station.connected"]
    )
    receiver.answers = [503] * 1000
    await connect_station(first, "CP-WH4")
    await wait_until(lambda: len(receiver.requests) >= 1)
    await first.shutdown()

    receiver.answers = []
    seen = len(receiver.requests)
    second = await start_server(sqlite_url, **FAST)
    [delivery] = await wait_for_deliveries(second.api(), hook["id"], "delivered")
    assert delivery["event_type"] == "station.connected"
    assert delivery["attempts"] >= 2
    assert len(receiver.requests) == seen + 1


async def test_deleting_a_webhook_stops_its_deliveries(server: Server, receiver: Receiver) -> None:
    api = server.api()
    hook = await create_hook(api, url=receiver.url, secret=SECRET)
    keep = await create_hook(api, url=receiver.url + "/kept", secret=SECRET)
    response = await api.delete(f"/webhooks/{hook['id']}")
    assert response.status_code == 204
    assert (await api.delete(f"/webhooks/{hook['id']}")).status_code == 404
    assert (await api.get(f"/webhooks/{hook['id']}")).status_code == 404
    assert (await api.get(f"/webhooks/{hook['id']}/deliveries")).status_code == 404
    await server.create_station("CP-WH5")
    await connect_station(server, "CP-WH5")
    await wait_for_deliveries(api, keep["id"], "delivered", count=2)
    assert {r.path for r in receiver.requests} == {"/hooks/ampyre/kept"}


async def test_ping_and_disable(server: Server, receiver: Receiver) -> None:
    api = server.api()
    hook = await create_hook(
        api, url=receiver.url, secret=SECRET, event_types=["transaction.ended"]
    )
    response = await api.post(f"/webhooks/{hook['id']}/ping")
    assert response.status_code == 202, response.text
    await wait_until(lambda: len(receiver.requests) == 1)
    ping = receiver.requests[0]
    assert ping.headers["x-ampyre-event"] == "webhook.ping"
    assert ping.json()["data"] == {"webhook_id": hook["id"]}
    assert (await api.post("/webhooks/424242/ping")).status_code == 404

    response = await api.patch(
        f"/webhooks/{hook['id']}", json={"enabled": False, "event_types": []}
    )
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert response.json()["event_types"] == []
    assert (await api.post(f"/webhooks/{hook['id']}/ping")).status_code == 409
    await server.create_station("CP-WH6")
    await connect_station(server, "CP-WH6")
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == 1
    assert (await api.get(f"/webhooks/{hook['id']}/deliveries")).json()["total"] == 1


# the REST resource ------------------------------------------------------------------------
async def test_crud_never_shows_the_secret(server: Server) -> None:
    api = server.api()
    hook = await create_hook(
        api,
        url="https://example.com/in",
        secret=SECRET,
        event_types=["transaction.started", "transaction.ended", "transaction.started"],
        enabled=False,
        description="billing",
    )
    assert hook["event_types"] == ["transaction.started", "transaction.ended"]
    assert hook["enabled"] is False and hook["description"] == "billing"
    got = (await api.get(f"/webhooks/{hook['id']}")).json()
    listed = (await api.get("/webhooks")).json()
    assert listed == {"items": [got], "total": 1, "limit": 50, "offset": 0}
    made = await create_hook(api, url="https://example.com/two", secret=SECRET)
    second = (await api.get(f"/webhooks/{made['id']}")).json()
    paged = (await api.get("/webhooks", params={"limit": 1, "offset": 1})).json()
    assert paged == {"items": [second], "total": 2, "limit": 1, "offset": 1}
    assert (await api.get("/webhooks", params={"limit": 0})).status_code == 422
    for shown in (got, listed["items"][0], paged["items"][0]):
        assert "secret" not in shown
        assert shown["has_secret"] is True
        assert SECRET not in json.dumps(shown)

    response = await api.patch(
        f"/webhooks/{hook['id']}", json={"description": None, "secret": "whsec_rotated-0123456789"}
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["description"] is None
    assert patched["url"] == "https://example.com/in"
    assert patched["event_types"] == ["transaction.started", "transaction.ended"]
    assert "secret" not in patched
    stored = await server.app.webhooks.get(hook["id"])
    assert stored.secret == "whsec_rotated-0123456789"


@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        ({"url": "ftp://example.com/"}, "url"),
        ({"url": "example.com/hook"}, "url"),
        ({"url": "http://"}, "url"),
        ({"url": "https://example.com/", "event_types": ["station.exploded"]}, "event_types"),
        ({"url": "https://example.com/", "event_types": "station.connected"}, "event_types"),
        ({"url": "https://example.com/", "secret": "short"}, "secret"),
        ({"url": "https://example.com/", "surprise": 1}, "surprise"),
        ({"url": "https://example.com/", "description": "x" * 501}, "description"),
        ({}, "url"),
    ],
)
async def test_create_rejects_bad_input(
    server: Server, body: dict[str, Any], field_name: str
) -> None:
    api = server.api()
    response = await api.post("/webhooks", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert any(field_name in e["loc"] for e in problem["errors"]), problem
    assert "short" not in json.dumps(problem["errors"])  # the secret is not echoed
    assert (await api.get("/webhooks")).json()["items"] == []


async def test_patch_and_lookups_reject_bad_input(server: Server) -> None:
    api = server.api()
    hook = await create_hook(api, url="https://example.com/", secret=SECRET)
    path = f"/webhooks/{hook['id']}"
    for body in (
        {"url": None},
        {"enabled": None},
        {"url": "gopher://example.com/"},
        {"event_types": ["nope"]},
        {"secret": "x"},
        {"other": True},
    ):
        response = await api.patch(path, json=body)
        assert response.status_code == 422, (body, response.text)
    assert (await api.patch("/webhooks/999", json={"enabled": True})).status_code == 404
    assert (await api.get("/webhooks/0")).status_code == 422
    assert (await api.get("/webhooks/abc")).status_code == 422
    assert (await api.get(f"{path}/deliveries", params={"status": "lost"})).status_code == 422
    assert (await api.get(f"{path}/deliveries", params={"limit": 0})).status_code == 422
    page = (await api.get(f"{path}/deliveries", params={"limit": 5, "offset": 2})).json()
    assert page == {"items": [], "total": 0, "limit": 5, "offset": 2}
    assert (await api.get(path)).json()["url"] == "https://example.com/"


async def test_only_admins_manage_webhooks(server: Server) -> None:
    api = server.api()
    response = await api.post("/tokens", json={"name": "ro", "role": "operator"})
    assert response.status_code == 201
    operator = response.json()["token"]
    async with httpx.AsyncClient(
        base_url=f"{server.http_url}/api/v1",
        headers={"Authorization": f"Bearer {operator}"},
        timeout=10.0,
    ) as client:
        assert (await client.get("/webhooks")).status_code == 403
        assert (await client.post("/webhooks", json={"url": "http://x.test/"})).status_code == 403
    async with httpx.AsyncClient(base_url=f"{server.http_url}/api/v1", timeout=10.0) as client:
        assert (await client.get("/webhooks")).status_code == 401
