"""Transaction routes over fakes: roles, filters, error mapping of remote start/stop."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fakes import FakeRouter
from tx_fakes import FakeAuth, FakeTxStore

from ampyre.adapters.memory import MemoryStore
from ampyre.api import ApiDeps, create_api
from ampyre.config import Settings
from ampyre.domain.models import Role
from ampyre.domain.transactions import EventKind, TransactionEvent
from ampyre.metrics import Metrics
from ampyre.protocol.commands import OcppStationCommands
from ampyre.services.commands import CallOutcome, CommandTimeout, InvalidPayload
from ampyre.services.stations import StationService
from ampyre.services.tokens import TokenService
from ampyre.services.transactions import TransactionService

T0 = datetime(2025, 1, 1, 10, tzinfo=UTC)


class Env:
    def __init__(self) -> None:
        self.router = FakeRouter({"CP1": "ocpp2.0.1"}, CallOutcome(True, {"status": "Accepted"}))
        self.store = FakeTxStore()
        self.svc = TransactionService(
            self.store,
            FakeAuth(),  # type: ignore[arg-type]
            OcppStationCommands(self.router),
            Settings(remote_start_wait=0),
        )
        self.secrets: dict[Role, str] = {}


@pytest.fixture
async def env() -> AsyncIterator[
    tuple[Env, httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient]
]:
    e = Env()
    store = MemoryStore()
    stations, tokens = StationService(store), TokenService(store)
    await stations.create("CP1")
    await stations.create("CP2")
    op, _ = await tokens.create("ops", Role.OPERATOR)
    viewer, _ = await tokens.create("look", Role.VIEWER)
    deps = ApiDeps(
        settings=Settings(),
        store=store,
        stations=stations,
        tokens=tokens,
        commands=e.router,
        metrics=Metrics(),
        transactions=e.svc,
    )
    bare = ApiDeps(
        settings=Settings(),
        store=store,
        stations=stations,
        tokens=tokens,
        commands=e.router,
        metrics=Metrics(),
    )

    def client(app: Any, secret: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app),
            base_url="http://test/api/v1",
            headers={"Authorization": f"Bearer {secret}"},
        )

    async with (
        client(create_api(deps), op) as c_op,
        client(create_api(deps), viewer) as c_view,
        client(create_api(bare), op) as c_bare,
    ):
        yield e, c_op, c_view, c_bare


async def _tx(e: Env, tx_id: str, token: str = "T", at: datetime = T0) -> int:
    recorded = await e.svc.record(
        TransactionEvent(
            station_id="CP1",
            kind=EventKind.STARTED,
            timestamp=at,
            received_at=at,
            transaction_id=tx_id,
            event_key="seq:0",
            seq_no=0,
            id_token=token,
        )
    )
    return recorded.stored.id


async def test_reads_and_filters(env: Any) -> None:
    e, _, view, _ = env
    a = await _tx(e, "A", "T1", T0)
    await _tx(e, "B", "T2", datetime(2025, 2, 1, tzinfo=UTC))
    r = await view.get("/transactions", params={"id_token": "T1"})
    assert r.status_code == 200 and [t["id"] for t in r.json()["items"]] == [a]
    r = await view.get("/transactions", params={"started_from": "2025-01-15T00:00:00Z"})
    assert [t["transaction_id"] for t in r.json()["items"]] == ["B"]
    r = await view.get("/transactions", params={"status": "active", "limit": 1})
    assert r.json()["total"] == 2 and len(r.json()["items"]) == 1
    assert (await view.get("/transactions", params={"status": "weird"})).status_code == 422
    body = (await view.get(f"/transactions/{a}")).json()
    assert body["auth_status"] == "Accepted" and body["energy_wh"] is None
    assert (await view.get("/transactions/999")).status_code == 404
    assert (await view.get("/transactions/999/events")).status_code == 404
    assert (await view.get(f"/transactions/{a}/meter-values")).json()["total"] == 0
    # A viewer may not start or stop.
    assert (
        await view.post("/stations/CP1/remote-start", json={"id_token": "X"})
    ).status_code == 403
    assert (await view.post(f"/transactions/{a}/stop")).status_code == 403


async def test_without_the_service_answers_503(env: Any) -> None:
    _, _, _, bare = env
    assert (await bare.get("/transactions")).status_code == 503
    assert (
        await bare.post("/stations/CP1/remote-start", json={"id_token": "X"})
    ).status_code == 503


async def test_remote_start_errors(env: Any) -> None:
    e, op, _, _ = env
    r = await op.post("/stations/CP1/remote-start", json={"id_token": "X", "wait": 0})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "accepted",
        "remote_start_id": 1,
        "response": {"status": "Accepted"},
        "transaction": None,
    }
    assert (await op.post("/stations/CP1/remote-start", json={"id_token": ""})).status_code == 422
    assert (
        await op.post("/stations/CP1/remote-start", json={"id_token": "X", "evse_id": 0})
    ).status_code == 422
    assert (
        await op.post("/stations/CP1/remote-start", json={"id_token": "X", "x": 1})
    ).status_code == 422
    assert (await op.post("/stations/NOPE/remote-start", json={"id_token": "X"})).status_code == 404
    r = await op.post("/stations/CP2/remote-start", json={"id_token": "X"})
    assert r.status_code == 409
    e.router.answer = CommandTimeout("slow")
    assert (await op.post("/stations/CP1/remote-start", json={"id_token": "X"})).status_code == 504
    e.router.answer = InvalidPayload("too long", "FormatViolation", "idToken.idToken")
    r = await op.post("/stations/CP1/remote-start", json={"id_token": "X" * 40})
    assert r.status_code == 422 and r.json()["error_code"] == "FormatViolation"
    e.router.answer = CallOutcome(False, error_code="NotImplemented", error_description="no")
    r = await op.post("/stations/CP1/remote-start", json={"id_token": "X"})
    assert r.status_code == 502 and r.json()["error_code"] == "NotImplemented"
    # Only the accepted start still waits for its transaction (until TTL or matched).
    assert [p.remote_start_id for p in e.svc.pending.waiting()] == [1]


async def test_remote_stop_errors(env: Any) -> None:
    e, op, _, _ = env
    pk = await _tx(e, "A")
    r = await op.post("/stations/CP1/remote-stop", json={"transaction_id": pk})
    assert r.status_code == 200 and r.json()["transaction_id"] == pk
    assert e.router.calls[-1][1:3] == ("RequestStopTransaction", {"transactionId": "A"})
    assert (
        await op.post("/stations/CP2/remote-stop", json={"transaction_id": pk})
    ).status_code == 404
    assert (
        await op.post("/stations/CP1/remote-stop", json={"transaction_id": 0})
    ).status_code == 422
    e.router.versions.clear()
    assert (await op.post(f"/transactions/{pk}/stop")).status_code == 409
