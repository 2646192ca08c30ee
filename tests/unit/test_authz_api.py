"""The authorization routes without an AuthService (503) and their role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fakes import FakeRouter

from ampyre.adapters.memory import MemoryStore
from ampyre.api import ApiDeps, create_api
from ampyre.config import Settings
from ampyre.domain.models import Role
from ampyre.metrics import Metrics
from ampyre.services.stations import StationService
from ampyre.services.tokens import TokenService


async def _client(role: Role) -> tuple[httpx.AsyncClient, MemoryStore]:
    store = MemoryStore()
    stations, tokens = StationService(store), TokenService(store)
    await stations.create("CP1")
    secret, _ = await tokens.create("someone", role)
    app = create_api(
        ApiDeps(
            settings=Settings(),
            store=store,
            stations=stations,
            tokens=tokens,
            commands=FakeRouter({"CP1": "ocpp1.6"}),
            metrics=Metrics(),
            ready_checks=[],
        )
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app),
        base_url="http://test/api/v1",
        headers={"Authorization": f"Bearer {secret}"},
    )
    return client, store


@pytest.fixture
async def viewer() -> AsyncIterator[httpx.AsyncClient]:
    client, _ = await _client(Role.VIEWER)
    async with client:
        yield client


@pytest.fixture
async def operator() -> AsyncIterator[httpx.AsyncClient]:
    client, _ = await _client(Role.OPERATOR)
    async with client:
        yield client


async def test_without_auth_service_answers_503(operator: httpx.AsyncClient) -> None:
    for method, url, body in [
        ("GET", "/id-tokens", None),
        ("POST", "/id-tokens", {"id_token": "A"}),
        ("GET", "/reservations", None),
        ("POST", "/local-lists/push", {"all_connected": True}),
        ("GET", "/stations/CP1/local-list", None),
        ("POST", "/stations/CP1/clear-cache", None),
    ]:
        response = await operator.request(method, url, json=body)
        assert response.status_code == 503, (url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_viewer_cannot_write_or_command(viewer: httpx.AsyncClient) -> None:
    for method, url, body in [
        ("POST", "/id-tokens", {"id_token": "A"}),
        ("PATCH", "/id-tokens/1", {}),
        ("DELETE", "/id-tokens/1", None),
        ("POST", "/local-lists/push", {"all_connected": True}),
        ("POST", "/stations/CP1/clear-cache", None),
        ("POST", "/reservations", {}),
        ("DELETE", "/reservations/1", None),
    ]:
        response = await viewer.request(method, url, json=body)
        assert response.status_code == 403, (method, url, response.text)
