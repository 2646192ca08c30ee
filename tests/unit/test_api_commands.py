"""POST /api/v1/stations/{id}/ocpp/{action}: every outcome of the OCPP passthrough."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fakes import FakeRouter

from ampyre.adapters.memory import MemoryStore
from ampyre.api import ApiDeps, create_api
from ampyre.config import Settings
from ampyre.domain.models import Role
from ampyre.metrics import Metrics
from ampyre.services.commands import (
    CallOutcome,
    CommandTimeout,
    InvalidPayload,
    StationNotConnected,
    UnknownAction,
)
from ampyre.services.stations import StationService
from ampyre.services.tokens import TokenService

PROBLEM = "application/problem+json"
URL = "/api/v1/stations/CP1/ocpp/Reset"


@pytest.fixture
async def router() -> FakeRouter:
    return FakeRouter({"CP1": "ocpp2.0.1"}, CallOutcome(ok=True, payload={"status": "Accepted"}))


@pytest.fixture
async def client(router: FakeRouter) -> AsyncIterator[httpx.AsyncClient]:
    store = MemoryStore()
    stations, tokens = StationService(store), TokenService(store)
    await stations.create("CP1")
    secret, _ = await tokens.create("ops", Role.OPERATOR)
    app = create_api(
        ApiDeps(
            settings=Settings(call_timeout=12.5),
            store=store,
            stations=stations,
            tokens=tokens,
            commands=router,
            metrics=Metrics(),
            ready_checks=[],
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {secret}"},
    ) as c:
        yield c


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["type"] and body["title"]
    return body


async def test_callresult_is_200_with_status_and_response(
    client: httpx.AsyncClient, router: FakeRouter
) -> None:
    router.answer = CallOutcome(ok=True, payload={"status": "Scheduled", "statusInfo": {}})
    r = await client.post(URL, json={"type": "OnIdle"})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "scheduled",
        "response": {"status": "Scheduled", "statusInfo": {}},
    }
    assert router.calls == [("CP1", "Reset", {"type": "OnIdle"}, 12.5)]  # default timeout


async def test_reply_without_status_is_ok(client: httpx.AsyncClient, router: FakeRouter) -> None:
    router.answer = CallOutcome(ok=True, payload={"configurationKey": []})
    r = await client.post("/api/v1/stations/CP1/ocpp/GetConfiguration")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "response": {"configurationKey": []}}
    assert router.calls[0][2] == {}  # no body: empty payload


async def test_timeout_query_is_passed_and_bounded(
    client: httpx.AsyncClient, router: FakeRouter
) -> None:
    assert (await client.post(URL, params={"timeout": 2.5}, json={})).status_code == 200
    assert router.calls[-1][3] == 2.5
    assert (await client.post(URL, params={"timeout": 300}, json={})).status_code == 200
    for bad in ("0", "-1", "301", "soon"):
        body = problem(await client.post(URL, params={"timeout": bad}, json={}), 422)
        assert body["errors"][0]["loc"] == ["query", "timeout"]
    assert len(router.calls) == 2


async def test_callerror_is_502(client: httpx.AsyncClient, router: FakeRouter) -> None:
    router.answer = CallOutcome(
        ok=False,
        error_code="NotSupported",
        error_description="Reset OnIdle not supported",
        error_details={"hint": "use Immediate"},
    )
    body = problem(await client.post(URL, json={"type": "OnIdle"}), 502)
    assert body["error_code"] == "NotSupported"
    assert body["error_description"] == "Reset OnIdle not supported"
    assert body["error_details"] == {"hint": "use Immediate"}
    assert "NotSupported" in body["detail"]


async def test_not_connected_is_409(client: httpx.AsyncClient, router: FakeRouter) -> None:
    router.answer = StationNotConnected("CP1")
    body = problem(await client.post(URL, json={}), 409)
    assert body["type"].endswith("station-not-connected")


async def test_timeout_is_504(client: httpx.AsyncClient, router: FakeRouter) -> None:
    router.answer = CommandTimeout("no answer")
    body = problem(await client.post(URL, params={"timeout": 1}, json={}), 504)
    assert "1 s" in body["detail"]


async def test_invalid_payload_is_422_with_schema_error(
    client: httpx.AsyncClient, router: FakeRouter
) -> None:
    router.answer = InvalidPayload(
        "data.type must be one of ['Immediate', 'OnIdle']",
        error_code="PropertyConstraintViolation",
        path="type",
    )
    body = problem(await client.post(URL, json={"type": "Later"}), 422)
    assert body["error_code"] == "PropertyConstraintViolation"
    assert body["path"] == "type"
    assert body["errors"][0]["loc"] == ["body", "type"]


async def test_unknown_action_is_400(client: httpx.AsyncClient, router: FakeRouter) -> None:
    router.answer = UnknownAction("ChangeConfiguration")
    body = problem(await client.post("/api/v1/stations/CP1/ocpp/ChangeConfiguration"), 400)
    assert "ChangeConfiguration" in body["detail"]
    assert body["ocpp_version"] == "ocpp2.0.1"


async def test_unknown_station_is_404(client: httpx.AsyncClient, router: FakeRouter) -> None:
    problem(await client.post("/api/v1/stations/ghost/ocpp/Reset", json={}), 404)
    assert router.calls == []


@pytest.mark.parametrize("body", [b"[1, 2]", b'"Soft"', b"{bad json"])
async def test_payload_must_be_a_json_object(
    client: httpx.AsyncClient, router: FakeRouter, body: bytes
) -> None:
    r = await client.post(URL, content=body, headers={"content-type": "application/json"})
    problem(r, 422)
    assert router.calls == []


async def test_malformed_action_name_is_422(client: httpx.AsyncClient, router: FakeRouter) -> None:
    problem(await client.post("/api/v1/stations/CP1/ocpp/Re-set", json={}), 422)
    assert router.calls == []


@pytest.mark.parametrize(
    ("action", "endpoint"),
    [
        ("SendLocalList", "POST /api/v1/local-lists/push"),
        ("ReserveNow", "POST /api/v1/reservations"),
        ("CancelReservation", "DELETE /api/v1/reservations/{reservation_id}"),
        ("RemoteStartTransaction", "POST /api/v1/stations/CP1/remote-start"),
        ("RequestStartTransaction", "POST /api/v1/stations/CP1/remote-start"),
        ("SetChargingProfile", "POST /api/v1/stations/CP1/charging-profile"),
        ("ClearChargingProfile", "POST /api/v1/stations/CP1/charging-profiles/clear"),
        ("GetChargingProfiles", "POST /api/v1/stations/CP1/charging-profiles/refresh"),
    ],
)
async def test_actions_with_state_go_through_their_typed_endpoint(
    client: httpx.AsyncClient, router: FakeRouter, action: str, endpoint: str
) -> None:
    body = problem(await client.post(f"/api/v1/stations/CP1/ocpp/{action}", json={}), 409)
    assert body["typed_endpoint"] == endpoint and body["action"] == action
    assert endpoint in body["detail"]
    assert router.calls == []


@pytest.mark.parametrize(
    "action",
    ["BootNotification", "Heartbeat", "StatusNotification", "TransactionEvent", "StopTransaction"],
)
async def test_station_initiated_actions_are_refused(
    client: httpx.AsyncClient, router: FakeRouter, action: str
) -> None:
    body = problem(await client.post(f"/api/v1/stations/CP1/ocpp/{action}", json={}), 422)
    assert body["action"] == action and "station" in body["detail"]
    assert router.calls == []


@pytest.mark.parametrize("action", ["DataTransfer", "ClearCache", "RequestStopTransaction"])
async def test_other_commands_still_pass_through(
    client: httpx.AsyncClient, router: FakeRouter, action: str
) -> None:
    r = await client.post(f"/api/v1/stations/CP1/ocpp/{action}", json={})
    assert r.status_code == 200, r.text
    assert [c[1] for c in router.calls] == [action]
