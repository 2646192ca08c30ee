"""POST /stations/{id}/reset|availability|unlock|trigger, GET .../ocpp-actions and POST
.../ocpp/{action}/validate against a fake router: what is sent per version, every error
path (404, 409, 422, 502, 504, 403), and the operator audit trail entry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fakes import FakeRouter

from ampyre.adapters.memory import MemoryStore
from ampyre.api import ApiDeps, create_api
from ampyre.config import Settings
from ampyre.domain.models import Page, Role
from ampyre.metrics import Metrics
from ampyre.protocol.commands import OcppStationCommands
from ampyre.services.commands import CallOutcome, CommandTimeout
from ampyre.services.operator_audit import OperatorAction, OperatorActionFilter
from ampyre.services.station_control import StationControl
from ampyre.services.stations import StationService
from ampyre.services.tokens import TokenService

PROBLEM = "application/problem+json"
ACCEPTED = CallOutcome(ok=True, payload={"status": "Accepted"})


class FakeAudit:
    def __init__(self) -> None:
        self.actions: list[OperatorAction] = []

    async def record(self, action: OperatorAction) -> None:
        self.actions.append(action)

    async def list(self, where: OperatorActionFilter, limit: int, offset: int) -> Page:
        return Page(list(self.actions), len(self.actions), limit, offset)

    async def prune(self, older_than: datetime) -> int:
        return 0


class Env:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.router = FakeRouter({"CP16": "ocpp1.6", "CP201": "ocpp2.0.1", "CP21": "ocpp2.1"})
        self.router.answer = ACCEPTED
        self.audit = FakeAudit()
        self.tokens = TokenService(self.store)
        settings = Settings(call_timeout=9.0)
        self.deps = ApiDeps(
            settings=settings,
            store=self.store,
            stations=StationService(self.store),
            tokens=self.tokens,
            commands=self.router,
            metrics=Metrics(),
            operator_audit=self.audit,
            station_control=StationControl(OcppStationCommands(self.router), settings),
        )
        self.app = create_api(self.deps)
        self.secret: dict[Role, str] = {}

    def client(self, role: Role = Role.OPERATOR) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(self.app),
            base_url="http://test/api/v1",
            headers={"Authorization": f"Bearer {self.secret[role]}"},
        )

    def sent(self) -> list[tuple[str, dict[str, Any]]]:
        return [(action, payload) for _, action, payload, _ in self.router.calls]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    e = Env()
    for role in Role:
        e.secret[role], _ = await e.tokens.create(f"{role.value}-token", role)
    for sid in ("CP16", "CP201", "CP21", "OFF"):
        await e.deps.stations.create(sid)
    yield e


def problem(r: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    if slug is not None:
        assert body["type"] == f"urn:ampyre:problem:{slug}", body
    return body


async def test_each_command_per_version(env: Env) -> None:
    async with env.client() as c:
        for sid in ("CP16", "CP201"):
            r = await c.post(f"/stations/{sid}/reset", json={"kind": "hard"})
            assert r.json() == {"status": "accepted", "response": {"status": "Accepted"}}
            r = await c.post(f"/stations/{sid}/availability", json={"operative": False})
            assert r.status_code == 200, r.text
            r = await c.post(f"/stations/{sid}/unlock", json={"evse_id": 2, "connector_id": 2})
            assert r.status_code == 200, r.text
            body = {"message": "StatusNotification", "evse_id": 1}
            assert (await c.post(f"/stations/{sid}/trigger", json=body)).status_code == 200
        r = await c.post(
            "/stations/CP21/reset", json={"kind": "soft", "when": "on_idle", "evse_id": 1}
        )
        assert r.status_code == 200, r.text
        r = await c.post("/stations/CP21/trigger", json={"message": "SignV2G20Certificate"})
        assert r.status_code == 200, r.text
    assert env.sent() == [
        ("Reset", {"type": "Hard"}),
        ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}),
        ("UnlockConnector", {"connectorId": 2}),
        ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}),
        ("Reset", {"type": "Immediate"}),
        ("ChangeAvailability", {"operationalStatus": "Inoperative"}),
        ("UnlockConnector", {"evseId": 2, "connectorId": 2}),
        ("TriggerMessage", {"requestedMessage": "StatusNotification", "evse": {"id": 1}}),
        ("Reset", {"type": "OnIdle", "evseId": 1}),
        ("TriggerMessage", {"requestedMessage": "SignV2G20Certificate"}),
    ]
    assert {t for *_, t in env.router.calls} == {9.0}  # the server's call timeout


async def test_status_is_lower_case_and_the_payload_is_kept(env: Env) -> None:
    env.router.answer = CallOutcome(
        ok=True,
        payload={"status": "OngoingAuthorizedTransaction", "statusInfo": {"reasonCode": "X"}},
    )
    async with env.client() as c:
        r = await c.post(
            "/stations/CP201/unlock", json={"evse_id": 1, "connector_id": 1}, params={"timeout": 2}
        )
    assert r.json() == {
        "status": "ongoingauthorizedtransaction",
        "response": {"status": "OngoingAuthorizedTransaction", "statusInfo": {"reasonCode": "X"}},
    }
    assert env.router.calls[0][3] == 2.0


async def test_what_the_version_cannot_express_is_422_and_nothing_is_sent(env: Env) -> None:
    async with env.client() as c:
        body = problem(
            await c.post("/stations/CP16/reset", json={"kind": "soft", "evse_id": 1}),
            422,
            "not-in-version",
        )
        assert body["ocpp_version"] == "ocpp1.6" and "EVSE" in body["detail"]
        problem(
            await c.post("/stations/CP16/reset", json={"kind": "soft", "when": "on_idle"}),
            422,
            "not-in-version",
        )
        problem(
            await c.post("/stations/CP16/unlock", json={"evse_id": 2, "connector_id": 1}),
            422,
            "not-in-version",
        )
        body = problem(
            await c.post("/stations/CP16/trigger", json={"message": "LogStatusNotification"}),
            422,
            "trigger-not-supported",
        )
        assert "DiagnosticsStatusNotification" in body["supported"]
        assert "LogStatusNotification" not in body["supported"]
        body = problem(
            await c.post(
                "/stations/CP201/trigger", json={"message": "DiagnosticsStatusNotification"}
            ),
            422,
            "trigger-not-supported",
        )
        assert "LogStatusNotification" in body["supported"]
        problem(
            await c.post("/stations/CP201/trigger", json={"message": "SignV2G20Certificate"}),
            422,
            "trigger-not-supported",
        )
        # No version can do these.
        body = problem(
            await c.post("/stations/CP21/reset", json={"kind": "hard", "when": "on_idle"}),
            422,
            "validation-error",
        )
        assert body["errors"][0]["loc"] == ["body", "when"]
        problem(
            await c.post(
                "/stations/CP21/availability", json={"operative": True, "connector_id": 1}
            ),
            422,
            "validation-error",
        )
    assert env.router.calls == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("reset", {}),
        ("reset", {"kind": "medium"}),
        ("reset", {"kind": "soft", "when": "later"}),
        ("reset", {"kind": "soft", "evse_id": 0}),
        ("reset", {"kind": "soft", "evseId": 1}),
        ("availability", {"operative": "yes"}),
        ("availability", {"operative": True, "evse_id": 2**31}),
        ("unlock", {"evse_id": 1}),
        ("unlock", {"evse_id": 0, "connector_id": 1}),
        ("trigger", {"message": "StartTransaction"}),
        ("trigger", {"message": "Heartbeat", "connector_id": 0}),
    ],
)
async def test_bad_bodies_are_422(env: Env, path: str, body: dict[str, Any]) -> None:
    async with env.client() as c:
        problem(await c.post(f"/stations/CP201/{path}", json=body), 422)
    assert env.router.calls == []


async def test_no_answer_unknown_station_and_roles(env: Env) -> None:
    async with env.client() as c:
        problem(
            await c.post("/stations/OFF/reset", json={"kind": "soft"}), 409, "station-not-connected"
        )
        problem(await c.post("/stations/NOPE/reset", json={"kind": "soft"}), 404)
        problem(await c.post("/stations/NOPE/ocpp-actions"), 405)
        env.router.answer = CommandTimeout("slow")
        body = problem(
            await c.post("/stations/CP16/trigger", json={"message": "Heartbeat"}),
            504,
            "station-timeout",
        )
        assert "9 s" in body["detail"]
        env.router.answer = CallOutcome(
            ok=False, error_code="NotImplemented", error_description="no such thing"
        )
        body = problem(
            await c.post("/stations/CP201/availability", json={"operative": True}),
            502,
            "call-error",
        )
        assert body["error_code"] == "NotImplemented"
    async with env.client(Role.VIEWER) as c:
        problem(await c.post("/stations/CP16/reset", json={"kind": "soft"}), 403)
        assert (await c.get("/stations/CP16/ocpp-actions")).status_code == 200
        problem(await c.post("/stations/CP16/ocpp/Reset/validate", json={"type": "Soft"}), 403)


async def test_commands_are_in_the_operator_audit_trail(env: Env) -> None:
    async with env.client() as c:
        await c.post("/stations/CP201/reset", json={"kind": "soft", "when": "on_idle"})
        await c.post("/stations/CP16/reset", json={"kind": "soft", "evse_id": 1})
    ok, refused = env.audit.actions
    assert ok.target == "/api/v1/stations/CP201/reset" and ok.station_id == "CP201"
    assert (ok.status_code, ok.outcome, ok.token_name) == (200, "accepted", "operator-token")
    assert ok.summary == '{"kind":"soft","when":"on_idle"}'
    assert refused.status_code == 422 and "1.6" in (refused.outcome or "")


async def test_ocpp_actions_per_version(env: Env) -> None:
    async with env.client(Role.VIEWER) as c:
        v16 = (await c.get("/stations/CP16/ocpp-actions")).json()
        v21 = (await c.get("/stations/CP21/ocpp-actions")).json()
        offline = await c.get("/stations/OFF/ocpp-actions")
        forced = (await c.get("/stations/OFF/ocpp-actions", params={"version": "ocpp2.0.1"})).json()
        problem(await c.get("/stations/NOPE/ocpp-actions"), 404)
        problem(await c.get("/stations/CP16/ocpp-actions", params={"version": "ocpp3"}), 422)
    assert v16["ocpp_version"] == "ocpp1.6" and v16["connected"] is True
    assert {"Reset", "UnlockConnector", "GetConfiguration", "DataTransfer"} <= set(v16["actions"])
    assert not {"BootNotification", "GetVariables", "StartTransaction"} & set(v16["actions"])
    assert v16["actions"] == sorted(v16["actions"])
    assert v16["typed_endpoints"]["RemoteStartTransaction"] == (
        "POST /api/v1/stations/CP16/remote-start"
    )
    assert "RequestStartTransaction" not in v16["typed_endpoints"]
    assert "DiagnosticsStatusNotification" in v16["trigger_messages"]
    assert {"GetVariables", "RequestStartTransaction", "SetDERControl"} <= set(v21["actions"])
    assert "NotifyPeriodicEventStream" not in v21["actions"]  # SEND only
    assert "SignV2G20Certificate" in v21["trigger_messages"]
    problem(offline, 409, "ocpp-version-unknown")
    assert forced["ocpp_version"] == "ocpp2.0.1" and forced["connected"] is False
    assert "SetDERControl" not in forced["actions"]


async def test_validate_uses_the_raw_endpoint_rules_and_sends_nothing(env: Env) -> None:
    async with env.client() as c:
        r = await c.post("/stations/CP201/ocpp/Reset/validate", json={"type": "OnIdle"})
        assert r.json() == {"valid": True, "ocpp_version": "ocpp2.0.1"}
        body = problem(
            await c.post("/stations/CP16/ocpp/Reset/validate", json={"type": "OnIdle"}),
            422,
            "invalid-payload",
        )
        assert body["error_code"] == "PropertyConstraintViolation"
        assert body["errors"][0]["loc"] == ["body", "data", "type"]
        body = problem(
            await c.post("/stations/CP201/ocpp/Reset/validate", json={"type": "Soft", "x": 1}),
            422,
            "invalid-payload",
        )
        problem(
            await c.post("/stations/CP16/ocpp/GetVariables/validate", json={}),
            400,
            "unknown-action",
        )
        problem(
            await c.post("/stations/CP16/ocpp/BootNotification/validate", json={}),
            422,
            "station-initiated-action",
        )
        problem(
            await c.post("/stations/CP16/ocpp/SendLocalList/validate", json={}),
            409,
            "use-typed-endpoint",
        )
        problem(await c.post("/stations/NOPE/ocpp/Reset/validate", json={}), 404)
        # Never connected: the version must be given.
        problem(await c.post("/stations/OFF/ocpp/Reset/validate", json={}), 409)
        r = await c.post(
            "/stations/OFF/ocpp/Reset/validate",
            json={"type": "Hard"},
            params={"version": "ocpp1.6"},
        )
        assert r.json() == {"valid": True, "ocpp_version": "ocpp1.6"}
    assert env.router.calls == []
