"""Dashboard sign-in over REST: sessions, the cookie as an alternative to bearer tokens,
CSRF on writes, lockout, cross-site sign-in, and the admin-only /users resource."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from argon2 import PasswordHasher
from fakes import FakeRouter

from ampyre.adapters.memory import MemoryStore
from ampyre.api import ApiDeps, create_api
from ampyre.config import Settings
from ampyre.domain.models import Role
from ampyre.metrics import Metrics
from ampyre.services.operator_audit import OperatorAction
from ampyre.services.stations import StationService
from ampyre.services.tokens import TokenService
from ampyre.services.users import UserService

PASSWORD = "correct horse battery"
PROBLEM = "application/problem+json"
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # tests only


class Audit:
    def __init__(self) -> None:
        self.actions: list[OperatorAction] = []

    async def record(self, action: OperatorAction) -> None:
        self.actions.append(action)


class Env:
    def __init__(self) -> None:
        self.store = MemoryStore()
        settings = Settings(login_max_failures=3)
        self.tokens = TokenService(self.store)
        self.users = UserService(self.store, settings, hasher=FAST)
        self.audit = Audit()
        deps = ApiDeps(
            settings=settings,
            store=self.store,
            stations=StationService(self.store),
            tokens=self.tokens,
            commands=FakeRouter(versions={"CP1": "ocpp1.6"}),
            metrics=Metrics(),
            operator_audit=self.audit,  # type: ignore[arg-type]
            users=self.users,
        )
        self.app = create_api(deps)

    def client(self, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(self.app), base_url="http://test", headers=headers
        )

    async def sign_in(self, name: str) -> tuple[httpx.AsyncClient, str]:
        """A (not yet opened) client holding the session cookie, and the CSRF token."""
        async with self.client() as c:
            body = {"username": name, "password": PASSWORD}
            answer = await c.post("/api/v1/session", json=body)
            assert answer.status_code == 200, answer.text
            secret = c.cookies["ampyre_session"]
        client = self.client()
        client.cookies.set("ampyre_session", secret)
        return client, answer.json()["csrf_token"]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    e = Env()
    for role in Role:
        await e.users.create(role.value, role, PASSWORD)
    await StationService(e.store).create("CP1")
    yield e


async def test_sign_in_sets_a_strict_http_only_cookie(env: Env) -> None:
    async with env.client() as c:
        r = await c.post("/api/v1/session", json={"username": "Operator", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["user"]["name"] == "operator" and body["user"]["role"] == "operator"
    assert isinstance(body["user"]["id"], int) and len(body["csrf_token"]) >= 32
    assert body["expires_at"]
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("ampyre_session=")
    for part in ("HttpOnly", "SameSite=strict", "Path=/"):
        assert part.lower() in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http here
    assert r.headers["cache-control"] == "no-store"
    # Only a hash of the secret is stored.
    secret = cookie.split(";")[0].split("=", 1)[1]
    assert secret not in env.store.user_sessions
    assert all(secret not in s.csrf_token for s in env.store.user_sessions.values())


async def test_secure_cookie_over_https(env: Env) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(env.app), base_url="https://test"
    ) as c:
        r = await c.post("/api/v1/session", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 200 and "secure" in r.headers["set-cookie"].lower()


async def test_bad_credentials_are_one_401_for_unknown_user_and_wrong_password(env: Env) -> None:
    async with env.client() as c:
        wrong = await c.post("/api/v1/session", json={"username": "admin", "password": "x" * 12})
        unknown = await c.post("/api/v1/session", json={"username": "nobody", "password": "x"})
        bad_name = await c.post("/api/v1/session", json={"username": "a b", "password": "x"})
    for r in (wrong, unknown, bad_name):
        assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
        assert r.json()["detail"] == "unknown user name or wrong password"
        assert "set-cookie" not in r.headers
    async with env.client() as c:
        empty = await c.post("/api/v1/session", json={"username": "admin"})
    assert empty.status_code == 422


async def test_session_get_and_cookie_auth_on_reads(env: Env) -> None:
    client, csrf = await env.sign_in("viewer")
    async with client:
        me = await client.get("/api/v1/session")
        assert me.status_code == 200
        assert me.json()["user"]["role"] == "viewer" and me.json()["csrf_token"] == csrf
        stations = await client.get("/api/v1/stations")
        assert stations.status_code == 200 and stations.json()["total"] == 1
        # Admin-only reads stay refused for a viewer.
        assert (await client.get("/api/v1/tokens")).status_code == 403
        assert (await client.get("/api/v1/users")).status_code == 403
    async with env.client() as anonymous:
        assert (await anonymous.get("/api/v1/session")).status_code == 401
        assert (await anonymous.get("/api/v1/stations")).status_code == 401
        forged = await anonymous.get(
            "/api/v1/stations", headers={"Cookie": "ampyre_session=not-a-session"}
        )
        assert forged.status_code == 401


async def test_cookie_writes_need_the_csrf_token(env: Env) -> None:
    client, csrf = await env.sign_in("admin")
    body = {"name": "script", "role": "viewer"}
    async with client:
        missing = await client.post("/api/v1/tokens", json=body)
        wrong = await client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": "nope"})
        for r in (missing, wrong):
            assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
            assert r.json()["type"].endswith(":csrf")
        assert env.store.tokens == {}  # nothing was created
        ok = await client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 201, ok.text
    # The audit trail names the user.
    assert [(a.token_name, a.role, a.status_code) for a in env.audit.actions] == [
        ("user:admin", "admin", 201)
    ]
    assert env.audit.actions[0].token_id is None


async def test_bearer_callers_need_no_csrf_token(env: Env) -> None:
    secret, _ = await env.tokens.create("script", Role.ADMIN)
    async with env.client(Authorization=f"Bearer {secret}") as c:
        r = await c.post("/api/v1/tokens", json={"name": "another", "role": "viewer"})
    assert r.status_code == 201
    assert env.audit.actions[-1].token_name == "script"


async def test_viewer_cookie_cannot_send_commands(env: Env) -> None:
    client, csrf = await env.sign_in("viewer")
    async with client:
        r = await client.post(
            "/api/v1/stations/CP1/ocpp/Reset", json={"type": "Soft"}, headers={"X-CSRF-Token": csrf}
        )
    assert r.status_code == 403 and r.json()["type"].endswith(":forbidden")
    assert env.audit.actions[-1].token_name == "user:viewer"  # role refusals are recorded


async def test_sign_out_revokes_the_session_and_clears_the_cookie(env: Env) -> None:
    client, csrf = await env.sign_in("operator")
    async with client:
        cookie = client.cookies.get("ampyre_session")
        assert (await client.delete("/api/v1/session")).status_code == 403  # no CSRF token
        out = await client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 204
        assert "ampyre_session=" in out.headers["set-cookie"]
        assert "max-age=0" in out.headers["set-cookie"].lower()
    assert env.store.user_sessions == {}
    async with env.client(Cookie=f"ampyre_session={cookie}") as replay:
        assert (await replay.get("/api/v1/stations")).status_code == 401
        assert (await replay.get("/api/v1/session")).status_code == 401


async def test_lockout_answers_429_with_retry_after(env: Env) -> None:
    async with env.client() as c:
        bad = {"username": "operator", "password": "wrong password!"}
        assert (await c.post("/api/v1/session", json=bad)).status_code == 401
        assert (await c.post("/api/v1/session", json=bad)).status_code == 401
        locking = await c.post("/api/v1/session", json=bad)  # the third (limit 3)
        good = await c.post("/api/v1/session", json={"username": "operator", "password": PASSWORD})
    for r in (locking, good):
        assert r.status_code == 429 and r.headers["content-type"] == PROBLEM
        assert 1 <= int(r.headers["retry-after"]) <= 900
        assert r.json()["type"].endswith(":locked")
    # An admin's new password lifts the lock.
    client, csrf = await env.sign_in("admin")
    user = await env.users.find("operator")
    async with client:
        r = await client.patch(
            f"/api/v1/users/{user.id}",
            json={"password": PASSWORD},
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status_code == 200 and r.json()["locked_until"] is None
    await env.sign_in("operator")


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
async def test_cross_site_sign_in_is_refused(env: Env, headers: dict[str, str]) -> None:
    async with env.client() as c:
        r = await c.post(
            "/api/v1/session", json={"username": "admin", "password": PASSWORD}, headers=headers
        )
    assert r.status_code == 403 and r.json()["type"].endswith(":cross-site")
    assert "set-cookie" not in r.headers


async def test_same_origin_sign_in_is_accepted(env: Env) -> None:
    async with env.client() as c:
        r = await c.post(
            "/api/v1/session",
            json={"username": "admin", "password": PASSWORD},
            headers={"Origin": "http://test", "Sec-Fetch-Site": "same-origin"},
        )
    assert r.status_code == 200


async def test_change_own_password(env: Env) -> None:
    client, csrf = await env.sign_in("operator")
    other, _ = await env.sign_in("operator")
    new = "a much better passphrase"
    h = {"X-CSRF-Token": csrf}
    async with client, other:
        wrong = await client.post(
            "/api/v1/session/password",
            json={"current_password": "not it at all", "new_password": new},
            headers=h,
        )
        assert wrong.status_code == 403
        short = await client.post(
            "/api/v1/session/password",
            json={"current_password": PASSWORD, "new_password": "short"},
            headers=h,
        )
        assert short.status_code == 422
        ok = await client.post(
            "/api/v1/session/password",
            json={"current_password": PASSWORD, "new_password": new},
            headers=h,
        )
        assert ok.status_code == 204
        assert (await client.get("/api/v1/session")).status_code == 200  # this one stays
        assert (await other.get("/api/v1/session")).status_code == 401  # the others end
    # The password went to the audit trail masked.
    summaries = [a.summary or "" for a in env.audit.actions]
    assert all(PASSWORD not in s and new not in s for s in summaries)
    secret, _ = await env.tokens.create("script", Role.ADMIN)
    async with env.client(Authorization=f"Bearer {secret}") as bearer:
        r = await bearer.post(
            "/api/v1/session/password",
            json={"current_password": PASSWORD, "new_password": new},
        )
    assert r.status_code == 400 and r.json()["type"].endswith(":session-required")


async def test_users_resource_for_admins(env: Env) -> None:
    client, csrf = await env.sign_in("admin")
    h = {"X-CSRF-Token": csrf}
    async with client:
        listed = await client.get("/api/v1/users")
        assert listed.status_code == 200 and listed.json()["total"] == 3
        assert all(
            "password" not in str(u) and "hash" not in str(u) for u in listed.json()["items"]
        )
        created = await client.post(
            "/api/v1/users",
            json={"name": "Erin", "role": "viewer", "password": PASSWORD},
            headers=h,
        )
        assert created.status_code == 201, created.text
        erin = created.json()
        assert created.headers["location"] == f"/api/v1/users/{erin['id']}"
        assert set(erin) == {
            "id", "name", "role", "disabled", "locked_until", "created_at", "updated_at",
            "last_login_at",
        }  # fmt: skip
        dup = await client.post(
            "/api/v1/users",
            json={"name": "erin", "role": "viewer", "password": PASSWORD},
            headers=h,
        )
        assert dup.status_code == 409
        weak = await client.post(
            "/api/v1/users", json={"name": "fred", "role": "viewer", "password": "short"}, headers=h
        )
        assert weak.status_code == 422 and "12" in weak.json()["detail"]
        erin_client, _ = await env.sign_in("erin")
        async with erin_client:
            disabled = await client.patch(
                f"/api/v1/users/{erin['id']}", json={"disabled": True}, headers=h
            )
            assert disabled.status_code == 200 and disabled.json()["disabled"] is True
            assert (await erin_client.get("/api/v1/stations")).status_code == 401
        promoted = await client.patch(
            f"/api/v1/users/{erin['id']}", json={"role": "operator"}, headers=h
        )
        assert promoted.json()["role"] == "operator"
        assert (await client.get(f"/api/v1/users/{erin['id']}")).status_code == 200
        assert (await client.delete(f"/api/v1/users/{erin['id']}", headers=h)).status_code == 204
        assert (await client.get(f"/api/v1/users/{erin['id']}")).status_code == 404
        assert (await client.delete(f"/api/v1/users/{erin['id']}", headers=h)).status_code == 404
        # The last admin stays.
        me = (await client.get("/api/v1/session")).json()["user"]["id"]
        demote = await client.patch(f"/api/v1/users/{me}", json={"role": "viewer"}, headers=h)
        assert demote.status_code == 409 and demote.json()["type"].endswith(":last-admin")
        assert (await client.delete(f"/api/v1/users/{me}", headers=h)).status_code == 409
        unknown = await client.patch("/api/v1/users/4242", json={"disabled": True}, headers=h)
        assert unknown.status_code == 404
        extra = await client.patch(f"/api/v1/users/{me}", json={"name": "x"}, headers=h)
        assert extra.status_code == 422


async def test_a_role_change_applies_to_live_sessions(env: Env) -> None:
    client, _ = await env.sign_in("viewer")
    viewer = await env.users.find("viewer")
    assert viewer.id is not None
    async with client:
        assert (await client.get("/api/v1/tokens")).status_code == 403
        await env.users.update(viewer.id, role=Role.ADMIN)
        assert (await client.get("/api/v1/tokens")).status_code == 200
