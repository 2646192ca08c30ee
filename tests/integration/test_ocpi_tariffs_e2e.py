"""OCPI Tariffs between two real Ampyre servers (issue 20, H2): a CPO (NL/AMP, on the
parametrized database) and an eMSP (DE/EMP, SQLite) registered with each other. The
CPO's tariffs are pushed to the eMSP as they are created, changed and deleted (PUT /
DELETE), and served to it by GET with pagination; then the eMSP's receiver interface
against bad input: tokens, malformed bodies, a body naming another tariff, over-long
ids, unknown tariffs, another party's URL."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from polling import until

from ampyre.adapters.db.migrate import migrate

if TYPE_CHECKING:
    from conftest import Server, StartServer


@pytest.fixture
async def pair(start_server: StartServer, store_url: str, tmp_path: Path) -> tuple[Server, Server]:
    other = f"sqlite+aiosqlite:///{tmp_path / 'emsp.db'}"
    await migrate(other)
    cpo = await start_server(store_url, ocpi_push_poll_interval=0.2, ocpi_push_backoff=0.2)
    emsp = await start_server(
        other,
        ocpi_country_code="DE",
        ocpi_party_id="EMP",
        ocpi_business_name="Partner eMSP",
        ocpi_roles=["EMSP"],
        pki_dir=str(tmp_path / "pki2"),
    )
    return cpo, emsp


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def ocpi(server: Server, token: str | None) -> httpx.AsyncClient:
    headers = {}
    if token is not None:
        headers["Authorization"] = "Token " + base64.b64encode(token.encode()).decode()
    client = httpx.AsyncClient(base_url=f"{server.http_url}/ocpi", headers=headers, timeout=10)
    server._clients.append(client)
    return client


async def register(cpo: Server, emsp: Server) -> tuple[str, str]:
    """The eMSP registers with the CPO. (the token the eMSP presents at the CPO, the
    token the CPO presents at the eMSP)"""
    created = await ok(await cpo.api().post("/ocpi/partners", json={"name": "emsp"}), 201)
    mine = await ok(
        await emsp.api().post(
            "/ocpi/partners",
            json={
                "name": "cpo",
                "versions_url": f"{cpo.http_url}/ocpi/versions",
                "token": created["token_a"],
            },
        ),
        201,
    )
    registered = await ok(await emsp.api().post(f"/ocpi/partners/{mine['id']}/register"))
    assert registered["status"] == "REGISTERED", registered
    at_emsp = await emsp.app.roaming.partners.get(mine["id"])
    at_cpo = await cpo.app.roaming.partners.get(created["id"])
    assert at_emsp is not None and at_emsp.token_out
    assert at_cpo is not None and at_cpo.token_out
    return at_emsp.token_out, at_cpo.token_out


def tariff_body(tariff_id: str, price: float) -> dict[str, Any]:
    return {
        "id": tariff_id,
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": price, "vat": 21, "step_size": 1}]}
        ],
        "tariff_alt_text": [{"language": "en", "text": f"{price} per kWh"}],
    }


async def test_tariffs_pushed_and_pulled(pair: tuple[Server, Server]) -> None:
    cpo, emsp = pair
    emsp_token, _ = await register(cpo, emsp)
    await ok(await cpo.api().post("/tariffs", json=tariff_body("T1", 0.25)), 201)
    await ok(await cpo.api().post("/tariffs", json=tariff_body("T2", 0.35)), 201)

    async def received() -> dict[str, dict[str, Any]]:
        page = await ok(await emsp.api().get("/ocpi/received/tariffs"))
        return {item["tariff"]["id"]: item["tariff"] for item in page["items"]}

    async def both_arrived() -> bool:
        return set(await received()) == {"T1", "T2"}

    await until("both tariffs at the eMSP", both_arrived)
    got = (await received())["T1"]
    assert (got["country_code"], got["party_id"]) == ("NL", "AMP")
    assert got["elements"][0]["price_components"][0]["price"] == 0.25
    assert got["tariff_alt_text"] == [{"language": "en", "text": "0.25 per kWh"}]

    # A change is pushed again (PUT of the whole object); a deletion as DELETE.
    await ok(await cpo.api().put("/tariffs/T1", json=tariff_body("T1", 0.30)))

    async def changed() -> bool:
        t1 = (await received()).get("T1")
        return t1 is not None and t1["elements"][0]["price_components"][0]["price"] == 0.3

    await until("the changed tariff at the eMSP", changed)
    assert (await cpo.api().delete("/tariffs/T2")).status_code == 204

    async def deleted() -> bool:
        return set(await received()) == {"T1"}

    await until("the deletion at the eMSP", deleted)

    # Pull model: the eMSP GETs the CPO's tariffs, paginated, filtered by last_updated.
    client = ocpi(cpo, emsp_token)
    first = await client.get("/cpo/2.2.1/tariffs", params={"limit": 1})
    page = await ok(first)
    assert page["status_code"] == 1000 and [t["id"] for t in page["data"]] == ["T1"]
    assert first.headers["X-Total-Count"] == "1" and first.headers["X-Limit"] == "1"
    assert "Link" not in first.headers
    await ok(await cpo.api().post("/tariffs", json=tariff_body("T3", 0.1)), 201)
    first = await client.get("/cpo/2.2.1/tariffs", params={"limit": 1})
    assert first.headers["X-Total-Count"] == "2" and 'rel="next"' in first.headers["Link"]
    following = first.headers["Link"].split(">")[0].lstrip("<")
    second = await ok(await client.get(following))
    assert [t["id"] for t in second["data"]] == ["T3"]
    later = await ok(
        await client.get("/cpo/2.2.1/tariffs", params={"date_from": "2999-01-01T00:00:00Z"})
    )
    assert later["data"] == []
    assert (await ocpi(cpo, "wrong").get("/cpo/2.2.1/tariffs")).status_code == 401
    bad_date = await ocpi(cpo, emsp_token).get(
        "/cpo/2.2.1/tariffs", params={"date_from": "yesterday"}
    )
    assert bad_date.status_code == 400 and bad_date.json()["status_code"] == 2001

    # The details list both interfaces.
    details = await ok(await client.get("/2.2.1/details"))
    endpoints = {(e["identifier"], e["role"]): e["url"] for e in details["data"]["endpoints"]}
    assert endpoints[("tariffs", "SENDER")].endswith("/ocpi/cpo/2.2.1/tariffs")
    assert endpoints[("tariffs", "RECEIVER")].endswith("/ocpi/emsp/2.2.1/tariffs")


async def test_emsp_tariff_receiver_refuses_bad_input(pair: tuple[Server, Server]) -> None:
    cpo, emsp = pair
    _, cpo_token = await register(cpo, emsp)
    client = ocpi(emsp, cpo_token)
    url = "/emsp/2.2.1/tariffs/NL/AMP/T9"
    good = {
        "country_code": "NL",
        "party_id": "AMP",
        "id": "T9",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "TIME", "price": 2, "step_size": 60}]}],
        "last_updated": "2026-03-01T12:00:00Z",
    }

    async def status(response: httpx.Response, http: int, code: int) -> None:
        assert response.status_code == http, response.text
        assert response.json()["status_code"] == code, response.text

    # Unknown or missing token: 401.
    for bad in (ocpi(emsp, "not-a-token"), ocpi(emsp, None)):
        assert (await bad.put(url, json=good)).status_code == 401
    # Unknown tariff: 2004.
    await status(await client.get(url), 404, 2004)
    await status(await client.delete(url), 404, 2004)
    # Created (201), then replaced (200); CiString: any case finds it.
    await status(await client.put(url, json=good), 201, 1000)
    await status(await client.put(url, json={**good, "currency": "USD"}), 200, 1000)
    found = await ok(await client.get("/emsp/2.2.1/tariffs/nl/amp/t9"))
    assert found["data"]["currency"] == "USD" and found["data"]["id"] == "T9"
    # Malformed bodies and fields: 2001 with HTTP 400.
    for bad_body in (
        {**good, "id": "T8"},  # not the URL's
        {**good, "currency": "euros"},
        {**good, "elements": []},
        {**good, "elements": [{"price_components": [{"type": "GAS", "price": 1}]}]},
        {**good, "last_updated": "soon"},
        {**good, "tariff_alt_url": "x" * 300},
        {k: v for k, v in good.items() if k != "currency"},
        [good],
    ):
        await status(await client.put(url, json=bad_body), 400, 2001)
    raw = await client.put(url, content=b"{nope", headers={"content-type": "application/json"})
    await status(raw, 400, 2001)
    # Over-long id in the URL, and a party that is not the caller's.
    await status(await client.get("/emsp/2.2.1/tariffs/NL/AMP/" + "x" * 37), 400, 2001)
    await status(await client.put("/emsp/2.2.1/tariffs/DE/XYZ/T9", json=good), 404, 2001)
    # Deleted: gone.
    await status(await client.delete(url), 200, 1000)
    await status(await client.get(url), 404, 2004)
    received = await ok(await emsp.api().get("/ocpi/received/tariffs"))
    assert received["total"] == 0
