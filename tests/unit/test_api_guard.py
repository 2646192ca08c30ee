"""REST hardening: body size limit, writes refused before their body is read, 64-bit bounds
on integer parameters, the operator audit trail, API tokens' last use, offline docs."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fakes import FakeRouter

from ampyre.adapters.memory import MemoryStore
from ampyre.api import ApiDeps, create_api
from ampyre.api.body_limit import DRAIN_FACTOR
from ampyre.config import Settings
from ampyre.domain.models import Page, Role
from ampyre.metrics import Metrics
from ampyre.services.commands import CallOutcome
from ampyre.services.operator_audit import OperatorAction, OperatorActionFilter
from ampyre.services.stations import StationService
from ampyre.services.tokens import LAST_USED_EVERY, TokenService

PROBLEM = "application/problem+json"
MAX_BODY = 4096
HUGE = "99999999999999999999"  # beyond 64 bits


class FakeAudit:
    def __init__(self) -> None:
        self.actions: list[OperatorAction] = []

    async def record(self, action: OperatorAction) -> None:
        self.actions.append(action)

    async def list(self, where: OperatorActionFilter, limit: int, offset: int) -> Page:
        items = [a for a in reversed(self.actions) if where.station_id in (None, a.station_id)]
        return Page(items[offset : offset + limit], len(items), limit, offset)

    async def prune(self, older_than: datetime) -> int:
        return 0


class FakeUsage:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.writes: list[tuple[int, datetime]] = []

    async def touch_api_token(self, token_id: int, at: datetime) -> None:
        self.writes.append((token_id, at))
        self.store.tokens[token_id].last_used_at = at


class Env:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.router = FakeRouter(versions={"CP1": "ocpp1.6"})
        self.audit = FakeAudit()
        self.usage = FakeUsage(self.store)
        self.now = 1000.0
        self.tokens = TokenService(self.store, self.usage, clock=lambda: self.now)
        self.deps = ApiDeps(
            settings=Settings(max_body_size=MAX_BODY),
            store=self.store,
            stations=StationService(self.store),
            tokens=self.tokens,
            commands=self.router,
            metrics=Metrics(),
            operator_audit=self.audit,
        )
        self.app = create_api(self.deps)
        self.secret: dict[Role, str] = {}

    def client(self, role: Role | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.secret[role]}"} if role else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(self.app), base_url="http://test", headers=headers
        )


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    e = Env()
    for role in Role:
        e.secret[role], _ = await e.tokens.create(f"{role.value}-token", role)
    await e.deps.stations.create("CP1")
    yield e


async def _asgi(
    env: Env, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
) -> tuple[int, dict[str, Any], int]:
    """Call the app directly; returns (status, body, how many body chunks it read)."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < len(chunks):
            read += 1
            return {
                "type": "http.request",
                "body": chunks[read - 1],
                "more_body": read < len(chunks),
            }
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    await env.app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    content_type = dict(start["headers"]).get(b"content-type", b"").decode()
    parsed = json.loads(body) if "json" in content_type else {}
    return start["status"], parsed, read


# body size -------------------------------------------------------------------------------
async def test_declared_body_over_the_limit_is_413_unread(env: Env) -> None:
    auth = {"Authorization": f"Bearer {env.secret[Role.ADMIN]}"}
    headers = {**auth, "Content-Type": "application/json", "Content-Length": "104857600"}
    status, body, read = await _asgi(env, "POST", "/api/v1/stations", headers, [b"{}"])
    assert status == 413
    assert body["type"] == "urn:ampyre:problem:body-too-large"
    assert "AMPYRE_MAX_BODY_SIZE" in body["detail"]
    assert read == 0


async def test_chunked_body_is_counted_and_cut_at_the_limit(env: Env) -> None:
    auth = {"Authorization": f"Bearer {env.secret[Role.ADMIN]}"}
    chunks = [b"x" * 1024] * 100  # no Content-Length: 100 KiB in 1 KiB pieces
    status, _, read = await _asgi(
        env, "POST", "/api/v1/stations", {**auth, "Content-Type": "application/json"}, chunks
    )
    assert status == 413
    # Counted up to the limit, then the rest is read and dropped within its bound (so a
    # client that sends everything first still reads the 413), never the whole 100 KiB.
    assert read == MAX_BODY // 1024 + 1 + DRAIN_FACTOR * MAX_BODY // 1024 < len(chunks)
    assert [a.status_code for a in env.audit.actions] == [413]


async def test_body_at_the_limit_is_accepted(env: Env) -> None:
    description = "d" * 400
    async with env.client(Role.ADMIN) as c:
        r = await c.post("/api/v1/stations", json={"id": "CP2", "description": description})
    assert r.status_code == 201, r.text


async def test_also_a_get_with_a_huge_declared_body_is_refused(env: Env) -> None:
    headers = {"Content-Length": str(MAX_BODY + 1)}
    status, _, read = await _asgi(env, "GET", "/healthz", headers, [b""])
    assert (status, read) == (413, 0)


# writes refused before the body is read -----------------------------------------------------
@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        (None, "/api/v1/stations", 401),
        (Role.VIEWER, "/api/v1/stations", 403),
        (Role.OPERATOR, "/api/v1/stations", 403),
        (None, "/api/v1/stations/CP1/ocpp/Reset", 401),
        (Role.VIEWER, "/api/v1/stations/CP1/ocpp/Reset", 403),
        (Role.OPERATOR, "/api/v1/tokens", 403),
    ],
)
async def test_write_without_the_role_is_refused_unread(
    env: Env, role: Role | None, path: str, status: int
) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": "10"}
    if role is not None:
        headers["Authorization"] = f"Bearer {env.secret[role]}"
    got, body, read = await _asgi(env, "POST", path, headers, [b'{"id":"X"}'])
    assert (got, read) == (status, 0)
    assert body["status"] == status
    # Refusals for want of a role are in the trail; those without a token are not.
    recorded = [(a.token_name, a.status_code) for a in env.audit.actions]
    assert recorded == ([] if role is None else [(f"{role.value}-token", 403)])


async def test_bad_bearer_on_write_is_401_with_challenge(env: Env) -> None:
    async with env.client() as c:
        r = await c.delete("/api/v1/stations/CP1", headers={"Authorization": "Bearer amp_nope"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)
    assert "invalid_token" in r.headers["www-authenticate"]
    assert await env.deps.stations.require("CP1")


# integers beyond 64 bits ------------------------------------------------------------------
def _int_params(env: Env) -> list[tuple[str, str, str, str]]:
    """(method, path template, param name, 'path'|'query') of every integer parameter."""
    out: list[tuple[str, str, str, str]] = []
    for path, item in env.app.openapi()["paths"].items():
        for method, operation in item.items():
            for param in operation.get("parameters", []):
                schema = param.get("schema", {})
                types = [schema.get("type")] + [s.get("type") for s in schema.get("anyOf", [])]
                if "integer" in types:
                    out.append((method.upper(), path, param["name"], param["in"]))
    return out


async def test_every_integer_parameter_refuses_more_than_64_bits(env: Env) -> None:
    cases = _int_params(env)
    assert len(cases) >= 6  # offset everywhere, ids of tokens/transactions/webhooks...
    async with env.client(Role.ADMIN) as c:
        for method, template, name, kind in cases:
            path = template
            query: dict[str, str] = {}
            for param in re.findall(r"{(\w+)}", template):
                path = path.replace(f"{{{param}}}", HUGE if param == name else "1")
            if kind == "query":
                query[name] = HUGE
            r = await c.request(method, path, params=query, json={} if method != "GET" else None)
            assert r.status_code == 422, (method, template, name, r.text)
            locs = [e["loc"] for e in r.json()["errors"]]
            assert [kind, name] in locs, (template, name, locs)


async def test_the_largest_offset_is_accepted(env: Env) -> None:
    async with env.client(Role.VIEWER) as c:
        ok = await c.get("/api/v1/messages", params={"offset": 2**63 - 1})
        too_big = await c.get("/api/v1/messages", params={"offset": 2**63})
    assert ok.status_code == 200 and ok.json()["items"] == []
    assert too_big.status_code == 422


# operator audit trail ---------------------------------------------------------------------
async def test_writes_are_recorded_with_secrets_masked(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="ampyre.audit.operator")
    env.router.answer = CallOutcome(ok=True, payload={"status": "Accepted"})
    async with env.client(Role.ADMIN) as c:
        created = await c.post(
            "/api/v1/stations", json={"id": "CP9", "password": "correct-horse-battery"}
        )
        assert created.status_code == 201
        command = await c.post(
            "/api/v1/stations/CP1/ocpp/ChangeConfiguration",
            json={"key": "AuthorizationKey", "value": "0011223344556677"},
        )
        assert command.status_code == 200
        assert (await c.get("/api/v1/stations")).status_code == 200  # reads: not recorded
        missing = await c.delete("/api/v1/stations/NOPE")
        assert missing.status_code == 404
    first, second, third = env.audit.actions
    assert (first.token_name, first.role, first.method) == ("admin-token", "admin", "POST")
    assert (first.target, first.station_id, first.status_code) == ("/api/v1/stations", "CP9", 201)
    assert first.summary is not None and "correct-horse" not in first.summary
    assert json.loads(first.summary) == {"id": "CP9", "password": "***"}
    assert second.station_id == "CP1" and second.outcome == "accepted"
    assert second.summary is not None and "0011223344556677" not in second.summary
    assert json.loads(second.summary) == {"key": "AuthorizationKey", "value": "***"}
    assert (third.status_code, third.station_id) == (404, "NOPE")
    assert third.outcome and "NOPE" in third.outcome
    # The station got the real value; only the trail is masked.
    assert env.router.calls[0][2] == {"key": "AuthorizationKey", "value": "0011223344556677"}
    lines = [r for r in caplog.records if r.name == "ampyre.audit.operator"]
    assert len(lines) == 3
    assert "admin-token (admin) POST /api/v1/stations -> 201" in lines[0].getMessage()
    assert lines[1].__dict__["station_id"] == "CP1"
    assert "0011223344556677" not in caplog.text


async def test_audit_endpoint_is_admin_only_and_paginated(env: Env) -> None:
    async with env.client(Role.ADMIN) as c:
        for i in range(3):
            assert (await c.post("/api/v1/stations", json={"id": f"S{i}"})).status_code == 201
        page = (await c.get("/api/v1/audit", params={"limit": 2})).json()
        assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
        assert [a["station_id"] for a in page["items"]] == ["S2", "S1"]
        only = (await c.get("/api/v1/audit", params={"station_id": "S0"})).json()
        assert [a["target"] for a in only["items"]] == ["/api/v1/stations"]
    async with env.client(Role.OPERATOR) as c:
        assert (await c.get("/api/v1/audit")).status_code == 403


# last use of API tokens -------------------------------------------------------------------
async def test_last_used_at_is_written_at_most_once_a_minute(env: Env) -> None:
    admin_id = next(t.id for t in env.store.tokens.values() if t.role is Role.ADMIN)
    async with env.client(Role.ADMIN) as c:
        for _ in range(5):
            assert (await c.get("/api/v1/stations")).status_code == 200
        assert [w[0] for w in env.usage.writes] == [admin_id]
        env.now += LAST_USED_EVERY + 1
        await c.get("/api/v1/stations")
        assert [w[0] for w in env.usage.writes] == [admin_id, admin_id]
        listed = (await c.get("/api/v1/tokens")).json()["items"]
    mine = next(t for t in listed if t["id"] == admin_id)
    assert datetime.fromisoformat(mine["last_used_at"]) == env.usage.writes[-1][1]
    never = next(t for t in listed if t["name"] == "viewer-token")
    assert never["last_used_at"] is None


async def test_a_recent_last_use_from_elsewhere_is_not_rewritten(env: Env) -> None:
    token = next(t for t in env.store.tokens.values() if t.role is Role.VIEWER)
    token.last_used_at = datetime.now(UTC)
    assert await env.tokens.authenticate(env.secret[Role.VIEWER]) is not None
    assert env.usage.writes == []


# offline docs -----------------------------------------------------------------------------
async def test_docs_page_uses_no_outside_host_and_its_assets_are_served(env: Env) -> None:
    async with env.client() as c:
        page = await c.get("/api/v1/docs")
        assert page.status_code == 200
        html = page.text
        assert "SwaggerUIBundle" in html
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.IGNORECASE)
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert {a.rsplit("/", 1)[-1] for a in assets} == {
            "swagger-ui-bundle.js",
            "swagger-ui.css",
            "favicon.png",
        }
        for asset in assets:
            assert asset.startswith("/api/v1/docs/assets/")
            r = await c.get(asset)
            assert r.status_code == 200 and len(r.content) > 1000, asset
        js = await c.get("/api/v1/docs/assets/swagger-ui-bundle.js")
        assert "javascript" in js.headers["content-type"]
        assert "SwaggerUIBundle" in js.text
        assert (await c.get("/api/v1/openapi.json")).status_code == 200


def _write_routes(env: Env) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in env.app.openapi()["paths"].items()
        for method in item
        if method.upper() in {"POST", "PUT", "PATCH", "DELETE"}
    ]


# The authorization matrix of writes: the caller's own session needs any role, these need
# an operator, every other write an admin.
VIEWER_WRITES = re.compile(
    r"^/api/v1/session(/password)?$"
    r"|^/api/v1/tariffs/preview$"  # prices a made-up session, writes nothing
)
OPERATOR_WRITES = re.compile(
    r"^/api/v1/(id-tokens|local-lists|reservations|transactions/[^/]+/(stop|close)"
    r"|stations/[^/]+/(ocpp/|clear-cache|remote-start|remote-stop"
    r"|reset|availability|unlock|trigger|data-transfer|transaction-status|network-profile"
    r"|configuration))"
    r"|^/api/v1/configuration/bulk$"  # configuration across stations
    r"|^/api/v1/(stations/[^/]+/firmware$|rollouts)"  # firmware updates and rollouts
    r"|^/api/v1/alerts/[^/]+/acknowledge$"  # alerts and variable monitoring
    r"|^/api/v1/stations/[^/]+/(monitors|monitoring-base|monitoring-level|monitoring-report)"
    r"|^/api/v1/stations/[^/]+/(logs|display-messages)"  # logs, display messages
    r"|^/api/v1/customer-information$"  # customer information requests
    r"|^/api/v1/stations/[^/]+/charging-profile(s/clear|s/refresh)?$"  # charging profiles
    r"|^/api/v1/sites"  # sites and the balancer
    r"|^/api/v1/stations/[^/]+/security/(password|profile)$"  # rotation, upgrade
    r"|^/api/v1/stations/[^/]+/(certificates|extended-trigger)"  # certificates
    r"|^/api/v1/pki/certificates/[^/]+/revoke$"  # revocation
    r"|^/api/v1/ocpi/push-queue"  # OCPI push queue: retry / delete a queued request
    r"|^/api/v1/tariffs"  # tariffs
    r"|^/api/v1/locations"  # OCPI locations, stations, EVSE/connector attributes, push
    r"|^/api/v1/ocpi/received/locations/pull$"  # fetch a partner's locations now
    r"|^/api/v1/cdrs/[^/]+/credit$"  # credit CDR (and re-issue)
    r"|^/api/v1/ocpi/partners/[^/]+/(commands|tokens/pull)$"  # OCPI commands, token pull
    r"|^/api/v1/ocpi/published/tokens/sync$"  # push our tokens to CPOs
    r"|^/api/v1/stations/[^/]+/tariffs/(default|query|clear)$"  # 2.1 tariffs
    r"|^/api/v1/transactions/[^/]+/tariff$"  # 2.1 ChangeTransactionTariff
)
ORDER = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]


async def test_every_write_route_refuses_exactly_the_roles_below_its_own(env: Env) -> None:
    routes = _write_routes(env)
    assert len(routes) >= 15
    for method, template in routes:
        path = re.sub(r"{\w+}", "999", template)  # 999: no such token to revoke
        needed = Role.OPERATOR if OPERATOR_WRITES.match(path) else Role.ADMIN
        needed = Role.VIEWER if VIEWER_WRITES.match(path) else needed
        for role in Role:
            async with env.client(role) as c:
                r = await c.request(method, path, json={})
            refused = ORDER.index(role) < ORDER.index(needed)
            assert (r.status_code == 403) == refused, (method, template, role, r.text)
            assert r.status_code != 401
