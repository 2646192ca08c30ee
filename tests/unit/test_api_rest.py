"""REST API: auth, station CRUD, pagination, problem+json errors, health, metrics, tokens."""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fakes import FakeRouter

from ampyre.adapters.memory import MemoryStore
from ampyre.api import ApiDeps, create_api
from ampyre.api.routes import health
from ampyre.config import Settings
from ampyre.domain.models import (
    Direction,
    MessageLogEntry,
    Page,
    Role,
    StationReport,
    StatusReport,
)
from ampyre.metrics import Metrics
from ampyre.services.commands import CallOutcome
from ampyre.services.ports import StoreUnavailable
from ampyre.services.secrets import verify_password
from ampyre.services.stations import StationService
from ampyre.services.tokens import TokenService

PROBLEM = "application/problem+json"
PASSWORD = "correct-horse-battery"  # 21 chars


class Env:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.router = FakeRouter()
        self.metrics = Metrics()
        self.stations = StationService(self.store)
        self.tokens = TokenService(self.store)
        self.ready_checks: list[Callable[[], Awaitable[None]]] = []
        self.deps = ApiDeps(
            settings=Settings(),
            store=self.store,
            stations=self.stations,
            tokens=self.tokens,
            commands=self.router,
            metrics=self.metrics,
            ready_checks=self.ready_checks,
        )
        self.app = create_api(self.deps)
        self.secret: dict[Role, str] = {}

    async def setup(self) -> None:
        for role in Role:
            self.secret[role], _ = await self.tokens.create(f"{role.value}-token", role)

    def client(self, role: Role | None = None, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.secret[role]}"} if role else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(self.app, **kwargs),
            base_url="http://test",
            headers=headers,
        )


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    e = Env()
    await e.setup()
    yield e


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert "detail" in body
    return body


# health, readiness, metrics ----------------------------------------------------------------
async def test_healthz_needs_no_token(env: Env) -> None:
    async with env.client() as c:
        r = await c.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_readyz_runs_checks(env: Env) -> None:
    calls: list[str] = []

    async def database() -> None:
        calls.append("db")

    env.ready_checks.append(database)
    async with env.client() as c:
        r = await c.get("/readyz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert calls == ["db"]


async def test_readyz_names_the_failed_check_without_details(env: Env) -> None:
    async def database() -> None:
        raise StoreUnavailable("connection refused to db.internal:5432")

    async def bus() -> None:
        return None

    env.ready_checks.extend([database, bus])
    async with env.client() as c:
        r = await c.get("/readyz")
    body = assert_problem(r, 503)
    failed = [name for name, result in body["checks"].items() if result != "ok"]
    assert len(failed) == 1 and failed[0].endswith("database")
    assert "database" in body["detail"]
    assert "db.internal" not in r.text  # unauthenticated: no internals


async def test_readyz_times_out_a_hanging_check(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    monkeypatch.setattr(health, "READY_CHECK_TIMEOUT", 0.01)

    async def hangs() -> None:
        await asyncio.sleep(10)

    env.ready_checks.append(hangs)
    async with env.client() as c:
        r = await c.get("/readyz")
    body = assert_problem(r, 503)
    assert "timeout" in body["checks"].values()


async def test_readyz_with_the_memory_store_ping(env: Env) -> None:
    env.ready_checks.append(env.store.ping)
    async with env.client() as c:
        r = await c.get("/readyz")
    assert r.status_code == 200


async def test_metrics_require_a_token_and_render_text(env: Env) -> None:
    env.metrics.message_in("ocpp1.6", "Heartbeat", 2)
    async with env.client() as c:
        assert_problem(await c.get("/metrics"), 401)
    async with env.client(Role.VIEWER) as c:
        r = await c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert 'ampyre_ocpp_messages_total{action="Heartbeat"' in r.text


# authentication and roles -----------------------------------------------------------------
async def test_missing_token_is_401_with_challenge(env: Env) -> None:
    async with env.client() as c:
        r = await c.get("/api/v1/stations")
    assert_problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer amp_nope", "Basic dXNlcjpwYXNz", "Bearer", "amp_x"])
async def test_bad_credentials_are_401(env: Env, header: str) -> None:
    async with env.client() as c:
        r = await c.get("/api/v1/stations", headers={"Authorization": header})
    assert_problem(r, 401)
    assert "Bearer" in r.headers["www-authenticate"]


async def test_revoked_token_is_401(env: Env) -> None:
    secret, token = await env.tokens.create("ci", Role.ADMIN)
    assert token.id is not None
    await env.tokens.revoke(token.id)
    async with env.client() as c:
        r = await c.get("/api/v1/stations", headers={"Authorization": f"Bearer {secret}"})
    assert_problem(r, 401)


ROLE_CASES = [
    # (method, path, json, minimum role)
    ("GET", "/api/v1/stations", None, Role.VIEWER),
    ("GET", "/api/v1/stations/CP1", None, Role.VIEWER),
    ("GET", "/api/v1/stations/CP1/status-history", None, Role.VIEWER),
    ("GET", "/api/v1/stations/CP1/reports", None, Role.VIEWER),
    ("GET", "/api/v1/messages", None, Role.VIEWER),
    ("GET", "/metrics", None, Role.VIEWER),
    ("POST", "/api/v1/stations/CP1/ocpp/Reset", {"type": "Soft"}, Role.OPERATOR),
    ("POST", "/api/v1/stations", {"id": "CP2"}, Role.ADMIN),
    ("PATCH", "/api/v1/stations/CP1", {"description": "x"}, Role.ADMIN),
    ("DELETE", "/api/v1/stations/CP1", None, Role.ADMIN),
    ("GET", "/api/v1/tokens", None, Role.ADMIN),
    ("POST", "/api/v1/tokens", {"name": "n", "role": "viewer"}, Role.ADMIN),
    ("DELETE", "/api/v1/tokens/999", None, Role.ADMIN),
]
RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@pytest.mark.parametrize(("method", "path", "body", "minimum"), ROLE_CASES)
@pytest.mark.parametrize("role", list(Role))
async def test_role_ladder(
    env: Env, method: str, path: str, body: Any, minimum: Role, role: Role
) -> None:
    await env.stations.create("CP1")
    env.router.versions["CP1"] = "ocpp1.6"
    env.router.answer = CallOutcome(ok=True, payload={"status": "Accepted"})
    async with env.client(role) as c:
        r = await c.request(method, path, json=body)
    if RANK[role] >= RANK[minimum]:
        assert r.status_code < 400 or r.status_code == 404, r.text
    else:
        body_ = assert_problem(r, 403)
        assert minimum.value in body_["detail"]


# stations CRUD ------------------------------------------------------------------------------
async def test_create_get_station(env: Env) -> None:
    async with env.client(Role.ADMIN) as c:
        r = await c.post(
            "/api/v1/stations",
            json={"id": "CP-0001", "password": PASSWORD, "description": "car park level 2"},
        )
        assert r.status_code == 201, r.text
        assert r.headers["location"] == "/api/v1/stations/CP-0001"
        created = r.json()
        r = await c.get(r.headers["location"])
    assert r.status_code == 200
    station = r.json()
    assert station == created
    assert station["id"] == "CP-0001"
    assert station["registration_status"] == "Accepted"
    assert station["has_password"] is True
    assert station["description"] == "car park level 2"
    assert station["connected"] is False
    assert station["evses"] == []
    assert "password_hash" not in station and "password" not in station
    assert PASSWORD not in r.text
    for key in (
        "ocpp_version",
        "connected_node",
        "remote_address",
        "last_seen",
        "last_boot",
        "vendor",
        "model",
        "serial_number",
        "firmware_version",
        "iccid",
        "imsi",
        "meter_type",
        "meter_serial_number",
        "boot_reason",
        "created_at",
        "updated_at",
    ):
        assert key in station
    stored = await env.store.get_station("CP-0001")
    assert stored is not None and verify_password(PASSWORD, stored.password_hash)


async def test_create_station_with_status_and_odd_id(env: Env) -> None:
    async with env.client(Role.ADMIN) as c:
        r = await c.post(
            "/api/v1/stations", json={"id": "a|b@c*d", "registration_status": "Pending"}
        )
        assert r.status_code == 201, r.text
        assert r.json()["registration_status"] == "Pending"
        assert r.json()["has_password"] is False
        r = await c.get(r.headers["location"])
        assert r.status_code == 200
        assert r.json()["id"] == "a|b@c*d"
        # ':' cannot be an HTTP Basic user name, so no station could connect with it.
        refused = await c.post("/api/v1/stations", json={"id": "a:b"})
        assert refused.status_code == 422, refused.text


async def test_create_duplicate_is_409(env: Env) -> None:
    async with env.client(Role.ADMIN) as c:
        assert (await c.post("/api/v1/stations", json={"id": "CP1"})).status_code == 201
        r = await c.post("/api/v1/stations", json={"id": "CP1"})
    assert_problem(r, 409)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "has space"}, "id"),
        ({"id": "slash/no"}, "id"),
        ({"id": ""}, "id"),
        ({"id": "x" * 49}, "id"),
        ({"id": "CP1", "password": "too-short"}, "password"),
        ({"id": "CP1", "password": "x" * 41}, "password"),
        ({"id": "CP1", "password": "sixteen chars ok but spaces"}, "password"),
        ({"id": "CP1", "registration_status": "Maybe"}, "registration_status"),
        ({"id": "CP1", "surprise": 1}, "surprise"),
        ({}, "id"),
    ],
)
async def test_create_invalid_is_422_with_field(env: Env, body: Any, field: str) -> None:
    async with env.client(Role.ADMIN) as c:
        r = await c.post("/api/v1/stations", json=body)
    problem = assert_problem(r, 422)
    assert any(e["loc"][-1] == field for e in problem["errors"]), problem
    if "password" in body:
        assert body["password"] not in r.text  # never echoed back
    assert await env.store.get_station("CP1") is None


async def test_patch_station(env: Env) -> None:
    await env.stations.create("CP1", password=PASSWORD, description="old")
    async with env.client(Role.ADMIN) as c:
        r = await c.patch("/api/v1/stations/CP1", json={"registration_status": "Rejected"})
        assert r.status_code == 200, r.text
        assert r.json()["registration_status"] == "Rejected"
        assert r.json()["description"] == "old"  # left as is
        assert r.json()["has_password"] is True

        r = await c.patch("/api/v1/stations/CP1", json={"description": None, "password": None})
        assert r.status_code == 200, r.text
        assert r.json()["description"] is None
        assert r.json()["has_password"] is False

        new_password = "another-password-1234"
        r = await c.patch("/api/v1/stations/CP1", json={"password": new_password})
        assert r.status_code == 200
        assert r.json()["has_password"] is True
        stored = await env.store.get_station("CP1")
        assert stored is not None and verify_password(new_password, stored.password_hash)

        assert_problem(await c.patch("/api/v1/stations/CP1", json={"password": "short"}), 422)
        assert_problem(await c.patch("/api/v1/stations/nope", json={"description": "x"}), 404)


async def test_delete_station(env: Env) -> None:
    await env.stations.create("CP1")
    env.router.versions["CP1"] = "ocpp1.6"  # connected
    async with env.client(Role.ADMIN) as c:
        r = await c.delete("/api/v1/stations/CP1")
        assert r.status_code == 204
        assert r.content == b""
        assert env.router.disconnected == ["CP1"]  # its socket is closed too
        assert_problem(await c.get("/api/v1/stations/CP1"), 404)
        assert_problem(await c.delete("/api/v1/stations/CP1"), 404)


async def test_unknown_station_is_404_problem(env: Env) -> None:
    async with env.client(Role.VIEWER) as c:
        for path in ("", "/status-history", "/reports"):
            body = assert_problem(await c.get(f"/api/v1/stations/ghost{path}"), 404)
            assert "ghost" in body["detail"]


async def test_list_stations_paginates(env: Env) -> None:
    for i in range(7):
        await env.stations.create(f"CP{i}")
    async with env.client(Role.VIEWER) as c:
        r = await c.get("/api/v1/stations")
        assert r.status_code == 200
        page = r.json()
        assert page["total"] == 7 and page["limit"] == 50 and page["offset"] == 0
        assert len(page["items"]) == 7

        r = await c.get("/api/v1/stations", params={"limit": 3, "offset": 5})
        page = r.json()
        assert page == {**page, "total": 7, "limit": 3, "offset": 5}
        assert len(page["items"]) == 2
        all_ids = {s["id"] for s in (await c.get("/api/v1/stations")).json()["items"]}
        assert all_ids == {f"CP{i}" for i in range(7)}

        for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "many"}):
            problem = assert_problem(await c.get("/api/v1/stations", params=bad), 422)
            assert problem["errors"][0]["loc"][0] == "query"

        assert (await c.get("/api/v1/stations", params={"limit": 500})).status_code == 200


async def test_station_shows_live_state_and_connectors(env: Env) -> None:
    await env.stations.create("CP1")
    now = datetime.now(UTC)
    await env.store.record_connection("CP1", True, now, "ocpp2.0.1", "node-a", "10.0.0.7")
    await env.store.record_status(
        [
            StatusReport("CP1", 1, 1, "Available", now, now),
            StatusReport("CP1", 2, 1, "Faulted", now, now, error_code="GroundFailure"),
            StatusReport("CP1", 1, 2, "Occupied", now, now, info="cable in"),
        ]
    )
    async with env.client(Role.VIEWER) as c:
        # The router knows no live socket: the store's flag is not trusted.
        station = (await c.get("/api/v1/stations/CP1")).json()
        assert station["connected"] is False
        env.router.versions["CP1"] = "ocpp2.0.1"
        station = (await c.get("/api/v1/stations/CP1")).json()
        listed = (await c.get("/api/v1/stations")).json()["items"][0]
    assert station["connected"] is True
    assert station["ocpp_version"] == "ocpp2.0.1"
    assert station["remote_address"] == "10.0.0.7"
    assert listed["connected"] is True
    assert [e["evse_id"] for e in station["evses"]] == [1, 2]
    evse1 = station["evses"][0]["connectors"]
    assert [(c["connector_id"], c["status"]) for c in evse1] == [(1, "Available"), (2, "Occupied")]
    assert evse1[1]["info"] == "cable in"
    faulted = station["evses"][1]["connectors"][0]
    assert faulted["status"] == "Faulted" and faulted["error_code"] == "GroundFailure"
    assert set(faulted) >= {
        "connector_id",
        "status",
        "error_code",
        "info",
        "vendor_error_code",
        "status_timestamp",
        "updated_at",
    }


async def test_status_history_and_reports(env: Env) -> None:
    await env.stations.create("CP1")
    t0 = datetime.now(UTC)
    await env.store.record_status(
        [
            StatusReport("CP1", 1, 1, "Available", t0, t0),
            StatusReport("CP1", 1, 1, "Charging", t0 + timedelta(1), t0 + timedelta(seconds=1)),
        ]
    )
    await env.store.record_reports(
        [StationReport("CP1", "NotifyEvent", {"seqNo": 0, "eventData": []}, t0, seq_no=0)]
    )
    async with env.client(Role.VIEWER) as c:
        history = (await c.get("/api/v1/stations/CP1/status-history")).json()
        assert history["total"] == 2
        assert {h["status"] for h in history["items"]} == {"Available", "Charging"}
        one = (await c.get("/api/v1/stations/CP1/status-history", params={"limit": 1})).json()
        assert one["total"] == 2 and len(one["items"]) == 1 and one["limit"] == 1
        reports = (await c.get("/api/v1/stations/CP1/reports")).json()
    assert reports["total"] == 1
    assert reports["items"][0]["action"] == "NotifyEvent"
    assert reports["items"][0]["payload"] == {"seqNo": 0, "eventData": []}


HB1 = '[2,"1","Heartbeat",{}]'
HB9 = '[2,"9","Heartbeat",{}]'


async def test_message_log(env: Env) -> None:
    await env.stations.create("CP1")
    await env.stations.create("CP2")
    now = datetime.now(UTC)
    env.store.log_messages(
        [
            MessageLogEntry(
                "CP1", Direction.IN, 2, "1", "Heartbeat", '[2,"1","Heartbeat",{}]', now
            ),
            MessageLogEntry("CP1", Direction.OUT, 3, "1", "Heartbeat", '[3,"1",{}]', now),
            MessageLogEntry(
                "CP2", Direction.IN, 2, "9", "Heartbeat", '[2,"9","Heartbeat",{}]', now
            ),
        ]
    )
    await _flush(env.store)
    async with env.client(Role.VIEWER) as c:
        everything = (await c.get("/api/v1/messages")).json()
        cp1 = (await c.get("/api/v1/messages", params={"station_id": "CP1"})).json()
        paged = (await c.get("/api/v1/messages", params={"limit": 1, "offset": 1})).json()
    assert everything["total"] == 3
    assert cp1["total"] == 2
    assert {m["station_id"] for m in cp1["items"]} == {"CP1"}
    first = next(m for m in cp1["items"] if m["direction"] == "in")
    assert first["payload"] == '[2,"1","Heartbeat",{}]'
    assert first["message_type"] == 2 and first["action"] == "Heartbeat"
    assert paged["total"] == 3 and len(paged["items"]) == 1 and paged["offset"] == 1


async def test_message_log_filters_by_action_and_direction(env: Env) -> None:
    await env.stations.create("CP1")
    now = datetime.now(UTC)
    env.store.log_messages(
        [
            MessageLogEntry("CP1", Direction.IN, 2, "1", "Heartbeat", HB1, now),
            MessageLogEntry("CP1", Direction.OUT, 3, "1", "Heartbeat", '[3,"1",{}]', now),
            MessageLogEntry("CP1", Direction.OUT, 2, "2", "Reset", '[2,"2","Reset",{}]', now),
            MessageLogEntry("CP1", Direction.IN, 3, "2", "Reset", '[3,"2",{}]', now),
        ]
    )
    await _flush(env.store)
    async with env.client(Role.VIEWER) as c:
        inbound = (await c.get("/api/v1/messages", params={"direction": "in"})).json()
        resets = (await c.get("/api/v1/messages", params={"action": "Reset"})).json()
        both = await c.get(
            "/api/v1/messages", params={"station_id": "CP1", "action": "Reset", "direction": "out"}
        )
        bad_direction = await c.get("/api/v1/messages", params={"direction": "sideways"})
        bad_action = await c.get("/api/v1/messages", params={"action": "Re set"})
    assert inbound["total"] == 2
    assert {(m["action"], m["message_type"]) for m in inbound["items"]} == {
        ("Heartbeat", 2),
        ("Reset", 3),
    }
    assert resets["total"] == 2 and {m["action"] for m in resets["items"]} == {"Reset"}
    assert [(m["unique_id"], m["message_type"]) for m in both.json()["items"]] == [("2", 2)]
    assert both.json()["total"] == 1
    assert_problem(bad_direction, 422)
    assert_problem(bad_action, 422)


async def _flush(store: Any) -> None:
    """The audit log is buffered; a store may need a nudge before reading it back."""
    flush = getattr(store, "flush", None)
    if flush is not None:
        result = flush()
        if hasattr(result, "__await__"):
            await result


# tokens -----------------------------------------------------------------------------------
async def test_token_lifecycle(env: Env) -> None:
    async with env.client(Role.ADMIN) as c:
        r = await c.post("/api/v1/tokens", json={"name": "grafana", "role": "viewer"})
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["token"].startswith("amp_")
        assert created["role"] == "viewer" and created["name"] == "grafana"
        assert created["revoked"] is False
        assert r.headers["cache-control"] == "no-store"

        page = (await c.get("/api/v1/tokens")).json()
        assert (page["total"], page["limit"], page["offset"]) == (4, 50, 0)
        listed = page["items"]
        assert {t["name"] for t in listed} >= {"grafana", "admin-token"}
        assert all("token" not in t and "token_hash" not in t for t in listed)
        assert created["token"] not in (await c.get("/api/v1/tokens")).text

        new = {"Authorization": f"Bearer {created['token']}"}
        assert (await c.get("/api/v1/stations", headers=new)).status_code == 200
        assert_problem(await c.post("/api/v1/stations", json={"id": "X"}, headers=new), 403)

        assert (await c.delete(f"/api/v1/tokens/{created['id']}")).status_code == 204
        assert_problem(await c.get("/api/v1/stations", headers=new), 401)
        items = (await c.get("/api/v1/tokens")).json()["items"]
        revoked = [t for t in items if t["id"] == created["id"]]
        assert len(revoked) == 1 and revoked[0]["revoked"] is True
        second = (await c.get("/api/v1/tokens", params={"limit": 1, "offset": 1})).json()
        assert [t["id"] for t in second["items"]] == [items[1]["id"]]
        assert second["total"] == 4

        assert_problem(await c.delete("/api/v1/tokens/424242"), 404)
        assert_problem(await c.post("/api/v1/tokens", json={"name": "x", "role": "root"}), 422)
        assert_problem(await c.post("/api/v1/tokens", json={"name": "", "role": "admin"}), 422)


# errors -----------------------------------------------------------------------------------
async def test_unknown_route_is_404_problem(env: Env) -> None:
    async with env.client(Role.ADMIN) as c:
        body = assert_problem(await c.get("/api/v1/nothing-here"), 404)
    assert body["title"] == "Not Found"
    assert body["instance"] == "/api/v1/nothing-here"


async def test_wrong_method_is_405_problem(env: Env) -> None:
    async with env.client(Role.ADMIN) as c:
        r = await c.put("/api/v1/stations", json={})
    assert_problem(r, 405)
    assert "GET" in r.headers["allow"] and "POST" in r.headers["allow"]


async def test_malformed_json_is_422_problem(env: Env) -> None:
    async with env.client(Role.ADMIN) as c:
        r = await c.post(
            "/api/v1/stations", content=b"{not json", headers={"content-type": "application/json"}
        )
    problem = assert_problem(r, 422)
    assert problem["errors"]


async def test_unexpected_exception_is_500_without_internals(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(limit: int = 50, offset: int = 0) -> Page:
        raise RuntimeError("secret internal detail at /srv/db")

    monkeypatch.setattr(env.stations, "list", explode)
    async with env.client(Role.VIEWER, raise_app_exceptions=False) as c:
        r = await c.get("/api/v1/stations")
    body = assert_problem(r, 500)
    assert "secret" not in r.text and "RuntimeError" not in r.text
    assert body["title"] == "Internal Server Error"


# OpenAPI ----------------------------------------------------------------------------------
async def test_openapi_and_docs(env: Env) -> None:
    async with env.client() as c:
        spec = (await c.get("/api/v1/openapi.json")).json()
        docs = await c.get("/api/v1/docs")
    assert docs.status_code == 200
    paths = spec["paths"]
    assert "/api/v1/stations/{station_id}/ocpp/{action}" in paths
    create = paths["/api/v1/stations"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "StationCreate"
    )
    assert "201" in create["responses"]
    assert PROBLEM in create["responses"]["409"]["content"]
    assert create["responses"]["422"]["content"][PROBLEM]["schema"]["$ref"].endswith(
        "ValidationProblem"
    )
    assert "StationOut" in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_database_outage_is_503_problem(env: Env) -> None:
    async with env.client(Role.VIEWER) as c:
        env.store.fail_reads = True
        r = await c.get("/api/v1/stations", headers={})
    # The token lookup itself reads the store: the outage surfaces before auth can decide.
    body = assert_problem(r, 503)
    assert r.headers["retry-after"] == "5"
    assert "simulated" not in body["detail"]
