"""REST id tokens (/api/v1/id-tokens): CRUD, validation, roles, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer


@pytest.fixture
async def srv(store_url: str, start_server: StartServer) -> Server:
    # store_url first: the server stops before its database is dropped.
    return await start_server(store_url)


async def _client_with_role(server: Server, role: str) -> httpx.AsyncClient:
    admin = server.api()
    created = await admin.post("/tokens", json={"name": f"{role}-client", "role": role})
    assert created.status_code == 201, created.text
    client = server.api()
    client.headers["Authorization"] = f"Bearer {created.json()['token']}"
    return client


async def test_id_token_crud(srv: Server) -> None:
    api = srv.api()
    body = {
        "id_token": "04A2B3C4",
        "type": "ISO14443",
        "expires_at": "2030-01-01T00:00:00",
        "group_id": "FLEET-1",
        "restrictions": [{"station_id": "CP-1", "evse_id": 2}, {"station_id": "CP-2"}],
        "description": "driver card",
    }
    created = await api.post("/id-tokens", json=body)
    assert created.status_code == 201, created.text
    token = created.json()
    assert created.headers["Location"] == f"/api/v1/id-tokens/{token['id']}"
    assert token["status"] == "accepted"
    assert token["expires_at"] in ("2030-01-01T00:00:00Z", "2030-01-01T00:00:00+00:00")
    assert token["restrictions"] == [
        {"station_id": "CP-1", "evse_id": 2},
        {"station_id": "CP-2", "evse_id": None},
    ]
    assert token["ocpp16_usable"] is True

    got = await api.get(f"/id-tokens/{token['id']}")
    assert got.status_code == 200 and got.json() == token

    duplicate = await api.post("/id-tokens", json={"id_token": "04A2B3C4", "type": "ISO14443"})
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"].startswith("application/problem+json")
    assert duplicate.json()["type"] == "urn:ampyre:problem:id-token-exists"
    # The same value with another type is another token.
    central = await api.post("/id-tokens", json={"id_token": "04A2B3C4", "type": "Central"})
    assert central.status_code == 201

    patched = await api.patch(
        f"/id-tokens/{token['id']}", json={"status": "blocked", "group_id": None}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "blocked"
    assert patched.json()["group_id"] is None
    assert patched.json()["description"] == "driver card"  # left out: kept
    assert patched.json()["restrictions"] == token["restrictions"]

    clash = await api.patch(f"/id-tokens/{central.json()['id']}", json={"type": "ISO14443"})
    assert clash.status_code == 409

    deleted = await api.delete(f"/id-tokens/{token['id']}")
    assert deleted.status_code == 204
    assert (await api.delete(f"/id-tokens/{token['id']}")).status_code == 404
    missing = await api.get(f"/id-tokens/{token['id']}")
    assert missing.status_code == 404
    assert missing.json()["type"] == "urn:ampyre:problem:id-token-not-found"
    assert (await api.patch("/id-tokens/999999", json={"status": "blocked"})).status_code == 404


async def test_id_token_list_and_search(srv: Server) -> None:
    api = srv.api()
    for value in ("CARD-001", "card-002", "KEY-9", "A" * 30):
        assert (await api.post("/id-tokens", json={"id_token": value})).status_code == 201
    page = (await api.get("/id-tokens", params={"limit": 2})).json()
    assert page["total"] == 4 and page["limit"] == 2 and page["offset"] == 0
    assert [t["id_token"] for t in page["items"]] == ["CARD-001", "card-002"]
    page = (await api.get("/id-tokens", params={"limit": 2, "offset": 2})).json()
    assert [t["id_token"] for t in page["items"]] == ["KEY-9", "A" * 30]
    assert page["items"][1]["ocpp16_usable"] is False  # longer than a 1.6 idTag
    page = (await api.get("/id-tokens", params={"search": "Card"})).json()
    assert page["total"] == 2
    assert (await api.get("/id-tokens", params={"limit": 0})).status_code == 422


BAD_BODIES: list[dict[str, object]] = [
    {},
    {"id_token": ""},
    {"id_token": "x" * 256},
    {"id_token": " padded"},
    {"id_token": "tab\there"},
    {"id_token": "X", "type": "RFID"},
    {"id_token": "X", "status": "active"},
    {"id_token": "X", "restrictions": [{"station_id": ""}]},
    {"id_token": "X", "restrictions": [{"station_id": "CP", "evse_id": -1}]},
    {"id_token": "X", "group_id": ""},
    {"id_token": "X", "unknown": 1},
    {"id_token": "X", "description": "d" * 501},
]


async def test_id_token_bad_input(srv: Server) -> None:
    api = srv.api()
    for body in BAD_BODIES:
        response = await api.post("/id-tokens", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"]
    assert (await api.get("/id-tokens")).json()["total"] == 0  # nothing stored


async def test_id_token_patch_bad_input(srv: Server) -> None:
    api = srv.api()
    token = (await api.post("/id-tokens", json={"id_token": "T1"})).json()
    for body in ({"status": None}, {"id_token": None}, {"type": "Nope"}, {"id_token": " x"}):
        response = await api.patch(f"/id-tokens/{token['id']}", json=body)
        assert response.status_code == 422, (body, response.text)
    assert (await api.get(f"/id-tokens/{token['id']}")).json() == token  # unchanged


async def test_id_token_roles(srv: Server) -> None:
    viewer = await _client_with_role(srv, "viewer")
    operator = await _client_with_role(srv, "operator")
    assert (await viewer.get("/id-tokens")).status_code == 200
    assert (await viewer.post("/id-tokens", json={"id_token": "V"})).status_code == 403
    created = await operator.post("/id-tokens", json={"id_token": "O"})
    assert created.status_code == 201
    token_id = created.json()["id"]
    assert (await viewer.get(f"/id-tokens/{token_id}")).status_code == 200
    assert (await viewer.patch(f"/id-tokens/{token_id}", json={})).status_code == 403
    assert (await viewer.delete(f"/id-tokens/{token_id}")).status_code == 403
    assert (await operator.delete(f"/id-tokens/{token_id}")).status_code == 204
    # Reading the stored local list is a read; asking the station (live) is a command.
    await srv.create_station("CP-R")
    assert (await viewer.get("/stations/CP-R/local-list")).status_code == 200
    live = await viewer.get("/stations/CP-R/local-list", params={"live": "true"})
    assert live.status_code == 403
    live = await operator.get("/stations/CP-R/local-list", params={"live": "true"})
    assert live.status_code == 200 and live.json()["live_status"] == "not_connected"
    assert (await viewer.get("/reservations")).status_code == 200
    anonymous = httpx.AsyncClient(base_url=f"{srv.http_url}/api/v1")
    async with anonymous:
        assert (await anonymous.get("/id-tokens")).status_code == 401
