"""The OCPI 2.2.1 credentials handshake between two real Ampyre servers (one on SQLite or
PostgreSQL, the other on SQLite): one registers with the other through the REST API
(token A -> B -> C), in both directions; then the credentials update (PUT) toward the
other side, the unregister (DELETE), and what a wrong token A or a second POST get."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ampyre.adapters.db.migrate import migrate
from ampyre.domain.ocpi import PartnerStatus

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer


@pytest.fixture
async def pair(start_server: StartServer, store_url: str, tmp_path: Path) -> tuple[Server, Server]:
    """Ampyre "cpo" (NL/AMP, CPO and eMSP roles) on the parametrized database, and a
    second one, "emsp" (DE/EMP, eMSP only), on a SQLite database of its own."""
    other = f"sqlite+aiosqlite:///{tmp_path / 'partner.db'}"
    await migrate(other)
    cpo = await start_server(store_url, ocpi_push_poll_interval=0.2)
    emsp = await start_server(
        other,
        ocpi_country_code="DE",
        ocpi_party_id="EMP",
        ocpi_business_name="Partner eMSP",
        ocpi_roles=["EMSP"],
        pki_dir=str(tmp_path / "pki2"),
    )
    return cpo, emsp


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _ocpi(server: Server, token: str | None, *, raw: bool = False) -> httpx.AsyncClient:
    headers = {}
    if token is not None:
        value = token if raw else base64.b64encode(token.encode()).decode()
        headers["Authorization"] = f"Token {value}"
    client = httpx.AsyncClient(base_url=f"{server.http_url}/ocpi", headers=headers, timeout=10)
    server._clients.append(client)
    return client


async def _register(initiator: Server, receiver: Server, name: str = "peer") -> tuple[int, int]:
    """The receiver makes a partner (token A); the initiator is given it and registers.
    (partner id at the initiator, partner id at the receiver)"""
    created = await _ok(await receiver.api().post("/ocpi/partners", json={"name": name}), 201)
    assert created["status"] == "PENDING" and created["token_a"]
    versions = created["our_versions_url"]
    assert versions == f"{receiver.http_url}/ocpi/versions"
    mine = await _ok(
        await initiator.api().post(
            "/ocpi/partners",
            json={"name": name, "versions_url": versions, "token": created["token_a"]},
        ),
        201,
    )
    registered = await _ok(await initiator.api().post(f"/ocpi/partners/{mine['id']}/register"))
    assert registered["status"] == "REGISTERED", registered
    return mine["id"], created["id"]


@pytest.mark.parametrize("direction", ["cpo-registers", "emsp-registers"])
async def test_handshake_both_ways(pair: tuple[Server, Server], direction: str) -> None:
    cpo, emsp = pair
    initiator, receiver = (cpo, emsp) if direction == "cpo-registers" else (emsp, cpo)
    at_initiator, at_receiver = await _register(initiator, receiver)

    # Both sides registered, each knowing the other's roles, version and endpoints.
    seen_by_emsp = await _ok(
        await emsp.api().get(f"/ocpi/partners/{at_initiator if initiator is emsp else at_receiver}")
    )
    seen_by_cpo = await _ok(
        await cpo.api().get(f"/ocpi/partners/{at_initiator if initiator is cpo else at_receiver}")
    )
    for seen in (seen_by_emsp, seen_by_cpo):
        assert seen["status"] == "REGISTERED"
        assert seen["version"] == "2.2.1"
        assert seen["registered_at"] is not None and seen["last_error"] is None
    assert {(r["role"], r["country_code"], r["party_id"]) for r in seen_by_emsp["roles"]} == {
        ("CPO", "NL", "AMP"),
        ("EMSP", "NL", "AMP"),
    }
    assert seen_by_emsp["roles"][0]["name"] == "Ampyre"
    assert [(r["role"], r["country_code"], r["party_id"]) for r in seen_by_cpo["roles"]] == [
        ("EMSP", "DE", "EMP")
    ]
    cred_urls = {e["url"] for e in seen_by_cpo["endpoints"] if e["identifier"] == "credentials"}
    assert cred_urls == {f"{emsp.http_url}/ocpi/2.2.1/credentials"}
    # The eMSP-only server lists no CPO module.
    assert all("/ocpi/cpo/" not in e["url"] for e in seen_by_cpo["endpoints"])

    # The tokens each side now holds open the other's modules; token A is gone.
    cpo_side = await cpo.app.roaming.partners.get(seen_by_cpo["id"])
    emsp_side = await emsp.app.roaming.partners.get(seen_by_emsp["id"])
    assert cpo_side is not None and emsp_side is not None
    assert cpo_side.token_out and emsp_side.token_out
    assert cpo_side.token_out != emsp_side.token_out
    got = await _ok(await _ocpi(emsp, cpo_side.token_out).get("/2.2.1/credentials"))
    assert got["status_code"] == 1000
    assert got["data"]["token"] == cpo_side.token_out
    assert got["data"]["roles"][0]["party_id"] == "EMP"
    assert (await _ocpi(cpo, emsp_side.token_out, raw=True).get("/versions")).status_code == 200

    # A second registration with the same (registered) token: 405 (credentials 7.2.2).
    again = await _ocpi(cpo, emsp_side.token_out).post(
        "/2.2.1/credentials", json=_credentials("whatever", emsp)
    )
    assert again.status_code == 405, again.text
    assert again.json()["status_code"] == 2000

    # Both exchange logs show the handshake: the initiator's calls, the receiver's view.
    out = await _ok(await initiator.api().get(f"/ocpi/partners/{at_initiator}/exchanges"))
    calls = [(x["direction"], x["method"], x["url"].rsplit("/ocpi", 1)[-1]) for x in out["items"]]
    assert ("out", "GET", "/versions") in calls
    assert ("out", "GET", "/2.2.1/details") in calls
    assert ("out", "POST", "/2.2.1/credentials") in calls
    posted = next(x for x in out["items"] if (x["direction"], x["method"]) == ("out", "POST"))
    assert posted["http_status"] == 200 and posted["status_code"] == 1000
    assert '"token":"***"' in posted["request_body"]  # tokens never reach the log
    assert '"token":"***"' in posted["response_body"]
    inbound = await _ok(await receiver.api().get(f"/ocpi/partners/{at_receiver}/exchanges"))
    assert ("in", "POST", "/ocpi/2.2.1/credentials") in {
        (x["direction"], x["method"], x["url"]) for x in inbound["items"]
    }


async def test_update_and_unregister(pair: tuple[Server, Server]) -> None:
    cpo, emsp = pair
    at_emsp, at_cpo = await _register(emsp, cpo)
    before_cpo = await cpo.app.roaming.partners.get(at_cpo)
    before_emsp = await emsp.app.roaming.partners.get(at_emsp)
    assert before_cpo is not None and before_emsp is not None
    assert before_emsp.token_out is not None and before_cpo.token_out is not None

    # The CPO renews the connection (PUT toward the eMSP): new tokens both ways.
    renewed = await _ok(await cpo.api().put(f"/ocpi/partners/{at_cpo}/credentials"))
    assert renewed["status"] == "REGISTERED"
    after_cpo = await cpo.app.roaming.partners.get(at_cpo)
    after_emsp = await emsp.app.roaming.partners.get(at_emsp)
    assert after_cpo is not None and after_emsp is not None
    assert after_cpo.token_out not in (None, before_cpo.token_out)
    assert after_emsp.token_out not in (None, before_emsp.token_out)
    assert after_emsp.status is PartnerStatus.REGISTERED
    old = await _ocpi(cpo, before_emsp.token_out).get("/2.2.1/credentials")
    assert old.status_code == 401 and old.json()["status_code"] == 2001
    assert (await _ocpi(cpo, after_emsp.token_out).get("/2.2.1/credentials")).status_code == 200

    # A credentials update from a party that is not registered: 405.
    pending = await _ok(await cpo.api().post("/ocpi/partners", json={"name": "later"}), 201)
    put = await _ocpi(cpo, pending["token_a"]).put(
        "/2.2.1/credentials", json=_credentials("t", emsp)
    )
    assert put.status_code == 405 and put.json()["status_code"] == 2000

    # The eMSP deletes the CPO: the CPO is told (credentials DELETE) and stops.
    await _ok(await emsp.api().delete(f"/ocpi/partners/{at_emsp}"), 204)
    assert (await emsp.api().get(f"/ocpi/partners/{at_emsp}")).status_code == 404
    gone = await cpo.app.roaming.partners.get(at_cpo)
    assert gone is not None and gone.status is PartnerStatus.UNREGISTERED
    assert (await _ocpi(cpo, after_emsp.token_out).get("/versions")).status_code == 401
    shown = await _ok(await cpo.api().get(f"/ocpi/partners/{at_cpo}"))
    assert shown["status"] == "UNREGISTERED" and shown["has_token"] is False


async def test_failed_handshakes(pair: tuple[Server, Server]) -> None:
    cpo, emsp = pair
    created = await _ok(await cpo.api().post("/ocpi/partners", json={"name": "x"}), 201)
    wrong = await _ok(
        await emsp.api().post(
            "/ocpi/partners",
            json={
                "name": "cpo",
                "versions_url": created["our_versions_url"],
                "token": "not-the-token-a",
            },
        ),
        201,
    )
    failed = await emsp.api().post(f"/ocpi/partners/{wrong['id']}/register")
    assert failed.status_code == 502, failed.text
    problem = failed.json()
    assert problem["ocpi_status"] == 3001 and "HTTP 401" in problem["detail"]
    kept = await _ok(await emsp.api().get(f"/ocpi/partners/{wrong['id']}"))
    assert kept["status"] == "PENDING" and kept["last_error"].startswith("3001")

    # Unreachable partner: 3001 as well, after the client's retries.
    nowhere = await _ok(
        await emsp.api().post(
            "/ocpi/partners",
            json={"name": "gone", "versions_url": "http://127.0.0.1:9/ocpi/versions", "token": "a"},
        ),
        201,
    )
    failed = await emsp.api().post(f"/ocpi/partners/{nowhere['id']}/register")
    assert failed.status_code == 502 and failed.json()["ocpi_status"] == 3001

    # Registering without their URL and token, or twice: 409.
    bare = await _ok(await emsp.api().post("/ocpi/partners", json={"name": "bare"}), 201)
    assert (await emsp.api().post(f"/ocpi/partners/{bare['id']}/register")).status_code == 409
    at_emsp, _ = await _register(emsp, cpo, "ok")
    assert (await emsp.api().post(f"/ocpi/partners/{at_emsp}/register")).status_code == 409
    assert (await emsp.api().post(f"/ocpi/partners/{at_emsp}/token-a")).status_code == 409

    # The first token A of "x" still works after the failed attempt; a new one replaces it.
    assert (await _ocpi(cpo, created["token_a"]).get("/versions")).status_code == 200
    fresh = await _ok(await cpo.api().post(f"/ocpi/partners/{created['id']}/token-a"))
    assert (await _ocpi(cpo, created["token_a"]).get("/versions")).status_code == 401
    assert (await _ocpi(cpo, fresh["token_a"]).get("/versions")).status_code == 200
    # Token A opens versions, details and credentials only.
    assert (await _ocpi(cpo, fresh["token_a"]).get("/2.2.1/details")).status_code == 200
    blocked = await _ocpi(cpo, fresh["token_a"]).get("/cpo/2.2.1/locations")
    assert blocked.status_code in (401, 404)


def _credentials(token: str, server: Server) -> dict[str, Any]:
    return {
        "token": token,
        "url": f"{server.http_url}/ocpi/versions",
        "roles": [
            {
                "role": "EMSP",
                "party_id": "EMP",
                "country_code": "DE",
                "business_details": {"name": "Partner eMSP"},
            }
        ],
    }


async def test_operator_routes_identity_patch_and_push_queue(pair: tuple[Server, Server]) -> None:
    cpo, emsp = pair
    me = await _ok(await cpo.api().get("/ocpi/identity"))
    assert me == {
        "country_code": "NL",
        "party_id": "AMP",
        "business_name": "Ampyre",
        "website": None,
        "roles": ["CPO", "EMSP"],
        "versions_url": f"{cpo.http_url}/ocpi/versions",
    }
    at_cpo_of_emsp, _ = await _register(cpo, emsp)
    renamed = await _ok(
        await cpo.api().patch(f"/ocpi/partners/{at_cpo_of_emsp}", json={"name": "Renamed"})
    )
    assert renamed["name"] == "Renamed" and renamed["status"] == "REGISTERED"
    refused = await cpo.api().patch(
        f"/ocpi/partners/{at_cpo_of_emsp}", json={"versions_url": "https://x/versions"}
    )
    assert refused.status_code == 409
    bad = await cpo.api().post("/ocpi/partners", json={"name": "x", "versions_url": "ftp://x"})
    assert bad.status_code == 422
    listed = await _ok(await cpo.api().get("/ocpi/partners", params={"limit": 1}))
    assert listed["total"] == 1 and listed["items"][0]["id"] == at_cpo_of_emsp

    # A push the partner refuses (an unknown module path: HTTP 404) fails at once and
    # shows up in the queue; the operator retries it, then drops it.
    partner = await cpo.app.roaming.partners.get(at_cpo_of_emsp)
    assert partner is not None
    url = f"{emsp.http_url}/ocpi/emsp/2.2.1/nothing-here/NL/AMP/1"
    await cpo.app.roaming.push.enqueue(partner.id, "PUT", url, {"id": "1"}, "test:1")

    async def failed() -> list[Any]:
        page = await _ok(await cpo.api().get("/ocpi/push-queue", params={"status": "failed"}))
        return list(page["items"])

    for _ in range(100):
        if await failed():
            break
        await asyncio.sleep(0.1)
    (item,) = await failed()
    assert (item["url"], item["attempts"], item["last_http_status"]) == (url, 1, 404)
    assert item["body"] == {"id": "1"} and item["object_key"] == "test:1"
    shown = await _ok(await cpo.api().get(f"/ocpi/partners/{partner.id}"))
    assert shown["failed_pushes"] == 1
    retried = await _ok(await cpo.api().post(f"/ocpi/push-queue/{item['id']}/retry"))
    assert retried["attempts"] == 0 and retried["status"] == "pending"
    for _ in range(100):
        if await failed():
            break
        await asyncio.sleep(0.1)
    await _ok(await cpo.api().delete(f"/ocpi/push-queue/{item['id']}"), 204)
    assert (await cpo.api().delete(f"/ocpi/push-queue/{item['id']}")).status_code == 404
    assert (await cpo.api().post(f"/ocpi/push-queue/{item['id']}/retry")).status_code == 404
    everything = await _ok(await cpo.api().get("/ocpi/exchanges", params={"limit": 500}))
    assert any(x["url"] == url and x["http_status"] == 404 for x in everything["items"])
