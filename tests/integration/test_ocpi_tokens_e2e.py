"""OCPI 2.2.1 tokens between two real Ampyre servers (issue 20, H5): the eMSP (DE/EMP)
registers with the CPO (NL/AMP, on SQLite or PostgreSQL); the eMSP's id tokens are
pushed to the CPO and an OCPP station at the CPO is answered from them (whitelist), by
real-time authorization at the eMSP (whitelist NEVER), by the configured fallback when
the eMSP answers too late, and as blocked once the eMSP blocks the card. Also the
Receiver and Sender interfaces' contract: the envelope, 401 for a bad token, 2001 for
malformed bodies, over-long fields and mismatches, 404 / 2004 for unknown tokens."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from ocpp.v16 import call as call16
from polling import until
from test_ocpp_lib_clients import Station16, running

from ampyre.adapters.db.migrate import migrate

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

FAST = {
    "ocpi_push_poll_interval": 0.1,
    "ocpi_push_backoff": 0.2,
    "ocpi_token_sync_interval": 0.2,
}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def ocpi(server: Server, token: str | None, *, raw: bool = False) -> httpx.AsyncClient:
    headers = {}
    if token is not None:
        value = token if raw else base64.b64encode(token.encode()).decode()
        headers["Authorization"] = f"Token {value}"
    client = httpx.AsyncClient(base_url=f"{server.http_url}/ocpi", headers=headers, timeout=10)
    server._clients.append(client)
    return client


async def register(initiator: Server, receiver: Server) -> tuple[int, int]:
    """(partner id at the initiator, at the receiver)."""
    created = await ok(await receiver.api().post("/ocpi/partners", json={"name": "peer"}), 201)
    mine = await ok(
        await initiator.api().post(
            "/ocpi/partners",
            json={
                "name": "peer",
                "versions_url": created["our_versions_url"],
                "token": created["token_a"],
            },
        ),
        201,
    )
    registered = await ok(await initiator.api().post(f"/ocpi/partners/{mine['id']}/register"))
    assert registered["status"] == "REGISTERED", registered
    return mine["id"], created["id"]


class Pair:
    def __init__(self, cpo: Server, emsp: Server, at_emsp: int, at_cpo: int) -> None:
        self.cpo, self.emsp = cpo, emsp
        self.cpo_partner_at_emsp, self.emsp_partner_at_cpo = at_emsp, at_cpo

    async def emsp_token(self) -> str:
        """The credentials token the eMSP presents to the CPO."""
        partner = await self.emsp.app.roaming.partners.get(self.cpo_partner_at_emsp)
        assert partner is not None and partner.token_out
        return partner.token_out

    async def cpo_token(self) -> str:
        partner = await self.cpo.app.roaming.partners.get(self.emsp_partner_at_cpo)
        assert partner is not None and partner.token_out
        return partner.token_out

    async def held(self, uid: str) -> dict[str, Any] | None:
        page = await ok(await self.cpo.api().get("/ocpi/received/tokens", params={"uid": uid}))
        found = [i for i in page["items"] if i["token"]["uid"] == uid]
        return found[0] if found else None


@pytest.fixture
async def pair(start_server: StartServer, store_url: str, tmp_path: Path) -> Pair:
    other = f"sqlite+aiosqlite:///{tmp_path / 'emsp.db'}"
    await migrate(other)
    cpo = await start_server(
        store_url,
        ocpi_realtime_auth_timeout=0.5,
        ocpi_realtime_auth_cache=0.0,
        **FAST,
    )
    emsp = await start_server(
        other,
        ocpi_country_code="DE",
        ocpi_party_id="EMP",
        ocpi_business_name="Partner eMSP",
        ocpi_roles=["EMSP"],
        pki_dir=str(tmp_path / "pki2"),
        **FAST,
    )
    at_emsp, at_cpo = await register(emsp, cpo)
    return Pair(cpo, emsp, at_emsp, at_cpo)


@asynccontextmanager
async def station(server: Server, station_id: str) -> AsyncIterator[Any]:
    await server.create_station(station_id, registration_status="Accepted")
    async with running(Station16, server, station_id, "ocpp1.6") as cp:
        await cp.call(
            call16.BootNotification(charge_point_vendor="V", charge_point_model="M"),
            suppress=False,
        )
        yield cp


async def authorize(cp: Any, id_tag: str) -> str:
    answer = await cp.call(call16.Authorize(id_tag=id_tag), suppress=False)
    return str(answer.id_tag_info["status"])


async def test_roaming_token_authorizes_at_the_cpo(pair: Pair) -> None:
    cpo, emsp = pair.cpo, pair.emsp
    card = await ok(
        await emsp.api().post("/id-tokens", json={"id_token": "ROAM0001", "group_id": "FAM"}),
        201,
    )

    # Published and pushed to the CPO.
    await until("the token at the CPO", lambda: _has(pair, "ROAM0001"))
    held = await pair.held("ROAM0001")
    assert held is not None and held["source"] == "push"
    assert held["token"] | {"last_updated": "-"} == {
        "country_code": "DE",
        "party_id": "EMP",
        "uid": "ROAM0001",
        "type": "RFID",
        "contract_id": "ROAM0001",
        "issuer": "Partner eMSP",
        "group_id": "FAM",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "-",
    }
    published = await ok(await emsp.api().get("/ocpi/published/tokens"))
    assert [t["uid"] for t in published["items"]] == ["ROAM0001"]

    async with station(cpo, "ROAM-CS1") as cp:
        # Whitelisted: the CPO decides from the pushed token; unknown cards stay unknown.
        assert await authorize(cp, "roam0001") == "Accepted"  # id tokens: any case
        assert await authorize(cp, "NOSUCHCARD") == "Invalid"
        auths = await ok(await cpo.api().get("/ocpi/authorizations"))
        assert auths["items"][0]["kind"] == "whitelist"
        assert auths["items"][0]["outcome"] == "Accepted"

        # The eMSP wants real-time authorization: whitelist NEVER, pushed again.
        emsp.app.settings.ocpi_token_whitelist = "NEVER"
        synced = await ok(await emsp.api().post("/ocpi/published/tokens/sync"))
        assert synced["count"] == 1
        await until("NEVER at the CPO", lambda: _whitelist(pair, "ROAM0001", "NEVER"))
        assert await authorize(cp, "ROAM0001") == "Accepted"
        asked = (await ok(await cpo.api().get("/ocpi/authorizations")))["items"][0]
        assert (asked["kind"], asked["allowed"], asked["station_id"]) == (
            "realtime",
            "ALLOWED",
            "ROAM-CS1",
        )
        answered = (await ok(await emsp.api().get("/ocpi/authorizations")))["items"][0]
        assert answered["kind"] == "answered" and answered["allowed"] == "ALLOWED"
        assert asked["authorization_reference"] == answered["authorization_reference"]
        assert asked["authorization_reference"]

        # The eMSP answers too late: the fallback decides, within the timeout (0.5 s).
        publisher = emsp.app.roaming.token_publisher
        real_answer = publisher.answer

        async def slow(*args: Any) -> Any:
            await asyncio.sleep(3)
            return await real_answer(*args)

        publisher.answer = slow  # type: ignore[method-assign]
        try:
            started = time.monotonic()
            assert await authorize(cp, "ROAM0001") == "Invalid"  # fallback: reject
            assert time.monotonic() - started < 2.0
            late = (await ok(await cpo.api().get("/ocpi/authorizations")))["items"][0]
            assert late["allowed"] is None and "fallback reject" in late["reason"]
            cpo.app.settings.ocpi_realtime_auth_fallback = "accept"
            assert await authorize(cp, "ROAM0001") == "Accepted"
        finally:
            publisher.answer = real_answer  # type: ignore[method-assign]
            cpo.app.settings.ocpi_realtime_auth_fallback = "reject"

        # The eMSP blocks the card: real-time says BLOCKED, and valid=false is pushed.
        await ok(await emsp.api().patch(f"/id-tokens/{card['id']}", json={"status": "blocked"}))
        assert await authorize(cp, "ROAM0001") == "Blocked"
        await until("valid=false at the CPO", lambda: _valid(pair, "ROAM0001", False))

        # A deleted id token stays published, invalid (OCPI tokens are never deleted).
        await ok(await emsp.api().delete(f"/id-tokens/{card['id']}"), 204)
        await ok(await emsp.api().post("/ocpi/published/tokens/sync"))
        published = await ok(await emsp.api().get("/ocpi/published/tokens"))
        assert [(t["uid"], t["valid"]) for t in published["items"]] == [("ROAM0001", False)]


async def _has(pair: Pair, uid: str) -> bool:
    return await pair.held(uid) is not None


async def _whitelist(pair: Pair, uid: str, whitelist: str) -> bool:
    held = await pair.held(uid)
    return held is not None and held["token"]["whitelist"] == whitelist


async def _valid(pair: Pair, uid: str, valid: bool) -> bool:
    held = await pair.held(uid)
    return held is not None and held["token"]["valid"] is valid


def token_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "EMP",
        "uid": "PUSHED01",
        "type": "RFID",
        "contract_id": "DE-EMP-C1",
        "issuer": "Partner",
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": "2026-01-01T00:00:00Z",
    }
    body.update(changes)
    return body


async def test_tokens_receiver_contract(pair: Pair) -> None:
    client = ocpi(pair.cpo, await pair.emsp_token())
    url = "/cpo/2.2.1/tokens/DE/EMP/PUSHED01"

    async def envelope(response: httpx.Response, http: int, code: int) -> dict[str, Any]:
        assert response.status_code == http, response.text
        body: dict[str, Any] = response.json()
        assert body["status_code"] == code, body
        assert body["timestamp"].endswith("Z")
        return body

    await envelope(await client.get(url), 404, 2004)
    later = "2026-01-02T00:00:00Z"
    await envelope(await client.patch(url, json={"valid": False, "last_updated": later}), 404, 2004)
    put = await envelope(await client.put(url, json=token_body()), 200, 1000)
    assert put["data"] is None
    got = await envelope(await client.get(url), 200, 1000)
    assert got["data"]["uid"] == "PUSHED01" and got["data"]["whitelist"] == "ALWAYS"
    got = await envelope(await client.get("/cpo/2.2.1/tokens/de/emp/pushed01?type=RFID"), 200, 1000)
    assert got["data"]["uid"] == "PUSHED01"
    await envelope(await client.get(url + "?type=APP_USER"), 404, 2004)
    await envelope(await client.get(url + "?type=CARD"), 400, 2001)

    # PATCH: last_updated is required; the identity cannot change.
    await envelope(await client.patch(url, json={"valid": False}), 400, 2001)
    await envelope(
        await client.patch(url, json={"uid": "OTHER", "last_updated": "2026-01-02T00:00:00Z"}),
        400,
        2001,
    )
    await envelope(
        await client.patch(url, json={"valid": False, "last_updated": "2026-01-02T00:00:00Z"}),
        200,
        1000,
    )
    assert (await client.get(url)).json()["data"]["valid"] is False

    # Malformed and over-long bodies, and tokens that do not match their URL.
    await envelope(await client.put(url, content=b"{not json"), 400, 2001)
    await envelope(await client.put(url, json=[1, 2]), 400, 2001)
    await envelope(await client.put(url, json=token_body(issuer="I" * 65)), 400, 2001)
    await envelope(await client.put(url, json=token_body(contract_id="C" * 37)), 400, 2001)
    await envelope(await client.put(url, json=token_body(whitelist="SOMETIMES")), 400, 2001)
    await envelope(await client.put(url, json=token_body(uid="OTHER")), 400, 2001)
    await envelope(await client.put(url, json=token_body(type="APP_USER")), 400, 2001)
    long_url = "/cpo/2.2.1/tokens/DE/EMP/" + "U" * 37
    await envelope(await client.put(long_url, json=token_body()), 400, 2001)
    # Not the caller's party: 404 (transport_and_format: Client Owned Objects).
    await envelope(
        await client.put("/cpo/2.2.1/tokens/NL/AMP/PUSHED01", json=token_body()), 404, 2001
    )
    # Bad credentials.
    await envelope(await ocpi(pair.cpo, "wrong-token").get(url), 401, 2001)
    await envelope(await ocpi(pair.cpo, None).get(url), 401, 2001)
    raw = await ocpi(pair.cpo, await pair.emsp_token(), raw=True).get(url)
    assert raw.status_code == 200


async def test_tokens_sender_contract(pair: Pair) -> None:
    emsp = pair.emsp
    for n in range(3):
        await ok(await emsp.api().post("/id-tokens", json={"id_token": f"LIST{n}"}), 201)
    await ok(await emsp.api().post("/id-tokens", json={"id_token": "APP1", "type": "Central"}), 201)
    await ok(await emsp.api().post("/id-tokens", json={"id_token": "L" * 40}), 201)  # too long
    await ok(await emsp.api().post("/ocpi/published/tokens/sync"))
    client = ocpi(emsp, await pair.cpo_token())

    first = await client.get("/emsp/2.2.1/tokens", params={"limit": 2})
    assert first.status_code == 200 and first.json()["status_code"] == 1000
    assert first.headers["X-Total-Count"] == "4" and first.headers["X-Limit"] == "2"
    assert 'rel="next"' in first.headers["Link"]
    rest = await client.get("/emsp/2.2.1/tokens/", params={"offset": 2, "limit": 2})
    uids = [t["uid"] for t in first.json()["data"] + rest.json()["data"]]
    assert sorted(uids) == ["APP1", "LIST0", "LIST1", "LIST2"]
    assert "Link" not in rest.headers
    app = next(t for t in first.json()["data"] + rest.json()["data"] if t["uid"] == "APP1")
    assert (app["type"], app["whitelist"]) == ("APP_USER", "NEVER")
    future = await client.get("/emsp/2.2.1/tokens", params={"date_from": "2099-01-01T00:00:00Z"})
    assert future.json()["data"] == [] and future.headers["X-Total-Count"] == "0"

    # Real-time authorization: with and without LocationReferences; unknown: 404 / 2004.
    answer = await client.post(
        "/emsp/2.2.1/tokens/LIST1/authorize",
        json={"location_id": "LOC1", "evse_uids": ["CS1*1"]},
    )
    data = answer.json()["data"]
    assert data["allowed"] == "ALLOWED" and data["token"]["uid"] == "LIST1"
    assert data["location"] == {"location_id": "LOC1", "evse_uids": ["CS1*1"]}
    assert len(data["authorization_reference"]) <= 36
    plain = (await client.post("/emsp/2.2.1/tokens/LIST1/authorize?type=RFID")).json()
    assert plain["data"]["allowed"] == "ALLOWED" and "location" not in plain["data"]
    unknown = await client.post("/emsp/2.2.1/tokens/NOPE/authorize")
    assert unknown.status_code == 404 and unknown.json()["status_code"] == 2004
    assert "data" not in unknown.json()
    wrong_type = await client.post("/emsp/2.2.1/tokens/LIST1/authorize?type=APP_USER")
    assert wrong_type.status_code == 404
    bad = await client.post("/emsp/2.2.1/tokens/LIST1/authorize", json={"evse_uids": []})
    assert bad.status_code == 400 and bad.json()["status_code"] == 2001
    assert (await ocpi(emsp, "nope").get("/emsp/2.2.1/tokens")).status_code == 401

    # The CPO pulls the whole list (mod_tokens 12.1.2 Pull model) on demand.
    cpo_api = pair.cpo.api()
    pulled = await ok(await cpo_api.post(f"/ocpi/partners/{pair.emsp_partner_at_cpo}/tokens/pull"))
    assert pulled["count"] == 4
    held = await ok(await cpo_api.get("/ocpi/received/tokens", params={"party_id": "EMP"}))
    assert sorted(i["token"]["uid"] for i in held["items"]) == ["APP1", "LIST0", "LIST1", "LIST2"]
    one = await ok(await cpo_api.get(f"/ocpi/received/tokens/{held['items'][0]['id']}"))
    assert one["partner_id"] == pair.emsp_partner_at_cpo
    missing = await cpo_api.post("/ocpi/partners/999/tokens/pull")
    assert missing.status_code == 404
