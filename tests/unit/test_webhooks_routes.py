"""Webhook routes without a webhook service (503) and their OpenAPI description."""

import httpx
from fakes import FakeRouter

from ampyre.adapters.memory import MemoryStore
from ampyre.api import ApiDeps, create_api
from ampyre.config import Settings
from ampyre.domain.models import Role
from ampyre.metrics import Metrics
from ampyre.services.stations import StationService
from ampyre.services.tokens import TokenService


async def _client() -> httpx.AsyncClient:
    store = MemoryStore()
    tokens = TokenService(store)
    secret, _ = await tokens.create("admin", Role.ADMIN)
    app = create_api(
        ApiDeps(
            settings=Settings(),
            store=store,
            stations=StationService(store),
            tokens=tokens,
            commands=FakeRouter(),
            metrics=Metrics(),
        )
    )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app),
        base_url="http://test/api/v1",
        headers={"Authorization": f"Bearer {secret}"},
    )


async def test_routes_answer_503_without_the_service() -> None:
    async with await _client() as client:
        for method, path in [
            ("GET", "/webhooks"),
            ("GET", "/webhooks/1"),
            ("DELETE", "/webhooks/1"),
            ("GET", "/webhooks/1/deliveries"),
            ("POST", "/webhooks/1/ping"),
            ("POST", "/webhooks/1/deliveries/1/retry"),
        ]:
            response = await client.request(method, path)
            assert response.status_code == 503, (method, path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        response = await client.post("/webhooks", json={"url": "https://example.com/"})
        assert response.status_code == 503


async def test_the_openapi_document_describes_the_webhook_routes() -> None:
    async with await _client() as client:
        spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert set(paths["/api/v1/webhooks"]) == {"get", "post"}
    assert set(paths["/api/v1/webhooks/{webhook_id}"]) == {"get", "patch", "delete"}
    assert "X-Ampyre-Signature" in paths["/api/v1/webhooks"]["post"]["description"]
    deliveries = paths["/api/v1/webhooks/{webhook_id}/deliveries"]["get"]
    assert "status" in {p["name"] for p in deliveries["parameters"]}
    assert "post" in paths["/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"]
    assert "post" in paths["/api/v1/webhooks/{webhook_id}/ping"]
    created = spec["components"]["schemas"]["WebhookCreated"]
    assert "secret" in created["properties"]
    assert "secret" not in spec["components"]["schemas"]["WebhookOut"]["properties"]
