"""The OCPI transport contract (OCPI 2.2.1 transport_and_format, status_codes, types):
the envelope, status codes 1000/2000/2001/2004/3000, HTTP 401 for unknown tokens, Base64
and raw tokens, token A only on versions/details/credentials, X-Request-ID and
X-Correlation-ID echoed or generated, routing headers, pagination headers, string
limits, and the exchange log of partners' requests. Against the OCPI app with a test
module and an in-memory partner store."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import pytest
from fakes import FakeRouter
from fastapi import APIRouter, Request
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Mount

from ampyre.adapters.memory import MemoryStore
from ampyre.api import ApiDeps, create_api
from ampyre.api.ocpi.app import ModuleSpec, create_ocpi_app
from ampyre.api.ocpi.auth import OcpiParty, require_party
from ampyre.api.ocpi.envelope import ocpi_response, unknown_object
from ampyre.api.ocpi.pagination import Paging, paged_response
from ampyre.api.ocpi.types import CiString, OcpiDateTime, OcpiModel, Price, String
from ampyre.config import ConfigError, Settings, load_settings
from ampyre.domain.models import Page
from ampyre.domain.ocpi import (
    Endpoint,
    InterfaceRole,
    OcpiRole,
    Partner,
    PartnerStatus,
    PartyRole,
)
from ampyre.metrics import Metrics
from ampyre.services.ocpi_exchanges import ExchangeLog
from ampyre.services.ocpi_partners import OcpiIdentity, PartnerService, token_hash
from ampyre.services.ocpi_port import Exchange, PartnerUpdate
from ampyre.services.ports import StoreUnavailable
from ampyre.services.stations import StationService
from ampyre.services.tokens import TokenService

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOKEN_C = "token-c-of-the-registered-partner"
TOKEN_A = "token-a-of-a-pending-partner"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class FakeOcpiStore:
    """PartnerStore and ExchangeStore in memory."""

    def __init__(self) -> None:
        self.partners: dict[int, Partner] = {}
        self.hashes: dict[int, tuple[str | None, str | None]] = {}
        self.exchanges: list[Exchange] = []
        self.down = False

    async def add_partner(
        self,
        name: str,
        versions_url: str | None,
        token_out: str | None,
        token_in_hash: str,
        now: datetime,
    ) -> Partner:
        pid = len(self.partners) + 1
        partner = Partner(
            pid,
            name,
            PartnerStatus.PENDING,
            versions_url,
            None,
            (),
            (),
            now,
            now,
            token_out=token_out,
        )
        self.partners[pid] = partner
        self.hashes[pid] = (token_in_hash, None)
        return partner

    async def get_partner(self, partner_id: int) -> Partner | None:
        return self.partners.get(partner_id)

    async def list_partners(self) -> list[Partner]:
        return list(self.partners.values())

    async def partner_by_token_hash(self, token_hash: str) -> tuple[Partner, bool] | None:
        if self.down:
            raise StoreUnavailable("database down")
        for pid, (current, following) in self.hashes.items():
            if token_hash in (current, following):
                return self.partners[pid], token_hash == current
        return None

    async def update_partner(
        self, partner_id: int, change: PartnerUpdate, now: datetime
    ) -> Partner | None:
        partner = self.partners[partner_id]
        if change.status is not None:
            partner = replace(partner, status=change.status)
        if change.roles is not None:
            partner = replace(partner, roles=change.roles)
        if change.endpoints is not None:
            partner = replace(partner, endpoints=change.endpoints)
        current, following = self.hashes[partner_id]
        self.hashes[partner_id] = (change.token_in_hash or current, following)
        self.partners[partner_id] = partner
        return partner

    async def delete_partner(self, partner_id: int) -> bool:
        return self.partners.pop(partner_id, None) is not None

    async def add_exchanges(self, exchanges: Sequence[Exchange]) -> None:
        self.exchanges.extend(exchanges)

    async def list_exchanges(self, partner_id: int | None, limit: int, offset: int) -> Page:
        found = [x for x in reversed(self.exchanges) if partner_id in (None, x.partner_id)]
        return Page(found[offset : offset + limit], len(found), limit, offset)

    async def prune_exchanges(self, older_than: datetime) -> int:
        return 0


class Thing(OcpiModel):
    """A Client Owned Object with the limits of the spec's types."""

    id: Annotated[str, CiString(36)]
    name: Annotated[str, String(10)]
    price: Price | None = None
    last_updated: OcpiDateTime


ITEMS = [{"id": str(i), "n": i} for i in range(7)]


def things_router() -> APIRouter:
    router = APIRouter()

    @router.get("")
    async def list_things(request: Request, partner: OcpiParty, query: Paging) -> Response:
        chosen = ITEMS[query.offset : query.offset + query.limit]
        return paged_response(request, chosen, len(ITEMS), query)

    @router.put("/{country_code}/{party_id}/{thing_id}")
    async def put_thing(
        partner: OcpiParty, country_code: str, party_id: str, thing_id: str, body: Thing
    ) -> Response:
        require_party(partner, country_code, party_id)
        if body.id != thing_id:
            raise unknown_object("thing")  # not what 4.1.6.1 says; only to see 2004 here
        return ocpi_response({"id": body.id, "price": body.price, "at": body.last_updated})

    @router.get("/{country_code}/{party_id}/{thing_id}")
    async def get_thing(
        partner: OcpiParty, country_code: str, party_id: str, thing_id: str
    ) -> Response:
        if thing_id == "boom":
            raise RuntimeError("a bug")
        if thing_id == "down":
            raise StoreUnavailable("gone")
        raise unknown_object("thing")

    return router


class Env:
    def __init__(self, **settings: Any) -> None:
        self.store = FakeOcpiStore()
        self.settings = Settings(ocpi_page_limit=5, **settings)
        memory = MemoryStore()
        self.identity = OcpiIdentity(self.settings, lambda: "https://cpo.example")
        self.partners = PartnerService(self.store, self.identity, clock=lambda: NOW)
        self.exchanges = ExchangeLog(self.store, self.settings)
        self.deps = ApiDeps(
            settings=self.settings,
            store=memory,
            stations=StationService(memory),
            tokens=TokenService(memory),
            commands=FakeRouter(),
            metrics=Metrics(),
            ocpi_partners=self.partners,
            ocpi_exchanges=self.exchanges,
        )
        self.modules = [
            ModuleSpec("things", InterfaceRole.SENDER, "cpo", things_router()),
            ModuleSpec("mirror", InterfaceRole.RECEIVER, "emsp", things_router()),
        ]
        # Mounted at /ocpi as create_api does.
        self.app = Starlette(routes=[Mount("/ocpi", app=create_ocpi_app(self.deps, self.modules))])

    async def setup(self) -> None:
        registered = await self.store.add_partner("emsp", None, "theirs", token_hash(TOKEN_C), NOW)
        await self.store.update_partner(
            registered.id,
            PartnerUpdate(
                status=PartnerStatus.REGISTERED,
                roles=(PartyRole(OcpiRole.EMSP, "DE", "EMP", "eMSP"),),
                endpoints=(Endpoint("credentials", InterfaceRole.RECEIVER, "https://e/c"),),
            ),
            NOW,
        )
        await self.store.add_partner("pending", None, None, token_hash(TOKEN_A), NOW)

    def client(self, token: str | None = TOKEN_C, *, raw: bool = False) -> httpx.AsyncClient:
        headers = {}
        if token is not None:
            value = token if raw else base64.b64encode(token.encode()).decode()
            headers["Authorization"] = f"Token {value}"
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(self.app, raise_app_exceptions=False),
            base_url="http://test/ocpi",
            headers=headers,
        )


@pytest.fixture
async def env() -> Env:
    made = Env()
    await made.setup()
    return made


def _error(r: httpx.Response, http: int, status: int) -> dict[str, Any]:
    assert r.status_code == http, r.text
    assert r.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = r.json()
    assert body["status_code"] == status, body
    assert "data" not in body
    assert TIMESTAMP.match(body["timestamp"])
    assert isinstance(body.get("status_message"), str)
    return body


async def test_envelope_of_versions_and_details(env: Env) -> None:
    async with env.client() as c:
        r = await c.get("/versions")
        details = await c.get("/2.2.1/details")
    assert r.status_code == 200
    body = r.json()
    assert body["status_code"] == 1000 and body["status_message"] == "Success"
    assert TIMESTAMP.match(body["timestamp"])
    assert body["data"] == [{"version": "2.2.1", "url": "https://cpo.example/ocpi/2.2.1/details"}]
    endpoints = details.json()["data"]["endpoints"]
    assert details.json()["data"]["version"] == "2.2.1"
    assert {
        "identifier": "credentials",
        "role": "SENDER",
        "url": "https://cpo.example/ocpi/2.2.1/credentials",
    } in endpoints
    assert {
        "identifier": "credentials",
        "role": "RECEIVER",
        "url": "https://cpo.example/ocpi/2.2.1/credentials",
    } in endpoints
    assert {
        "identifier": "things",
        "role": "SENDER",
        "url": "https://cpo.example/ocpi/cpo/2.2.1/things",
    } in endpoints
    assert {
        "identifier": "mirror",
        "role": "RECEIVER",
        "url": "https://cpo.example/ocpi/emsp/2.2.1/mirror",
    } in endpoints


async def test_unknown_missing_and_malformed_tokens_are_401(env: Env) -> None:
    async with env.client(token=None) as c:
        _error(await c.get("/versions"), 401, 2001)
        _error(await c.get("/cpo/2.2.1/things"), 401, 2001)
        _error(await c.get("/versions", headers={"Authorization": "Bearer " + TOKEN_C}), 401, 2001)
        _error(await c.get("/versions", headers={"Authorization": "Token"}), 401, 2001)
        _error(await c.get("/versions", headers={"Authorization": "Token " + "x" * 600}), 401, 2001)
    async with env.client(token="no-such-token") as c:
        _error(await c.get("/versions"), 401, 2001)
        _error(await c.get("/2.2.1/credentials"), 401, 2001)
    # The Base64 of a token is not the token.
    async with env.client(token=base64.b64encode(TOKEN_C.encode()).decode()) as c:
        _error(await c.get("/versions"), 401, 2001)


async def test_base64_and_raw_tokens_are_both_accepted(env: Env) -> None:
    for raw in (False, True):
        async with env.client(raw=raw) as c:
            assert (await c.get("/cpo/2.2.1/things")).status_code == 200
            assert (await c.get("/versions")).status_code == 200
    # The scheme is case-insensitive.
    async with env.client(token=None) as c:
        r = await c.get("/versions", headers={"Authorization": "token " + TOKEN_C})
        assert r.status_code == 200


async def test_token_a_opens_only_versions_details_and_credentials(env: Env) -> None:
    async with env.client(TOKEN_A) as c:
        assert (await c.get("/versions")).status_code == 200
        assert (await c.get("/2.2.1/details")).status_code == 200
        got = await c.get("/2.2.1/credentials")
        assert got.status_code == 200 and got.json()["data"]["token"] == TOKEN_A
        _error(await c.get("/cpo/2.2.1/things"), 401, 2001)
        _error(await c.put("/cpo/2.2.1/things/DE/EMP/1", json={}), 401, 2001)
        # PUT/DELETE credentials need a registration first (credentials 7.2.3, 7.2.4).
        _error(await c.delete("/2.2.1/credentials"), 405, 2000)


async def test_request_and_correlation_ids(env: Env) -> None:
    async with env.client() as c:
        given = await c.get(
            "/cpo/2.2.1/things", headers={"X-Request-ID": "req-1", "X-Correlation-ID": "cor-9"}
        )
        fresh = await c.get("/cpo/2.2.1/things")
        failed = await c.get("/cpo/2.2.1/things/DE/EMP/none", headers={"X-Request-ID": "req-2"})
        junk = await c.get("/versions", headers={"X-Request-ID": "a b\tc" + "x" * 100})
    assert given.headers["x-request-id"] == "req-1"
    assert given.headers["x-correlation-id"] == "cor-9"
    assert UUID.match(fresh.headers["x-request-id"])
    assert UUID.match(fresh.headers["x-correlation-id"])
    assert fresh.headers["x-request-id"] != fresh.headers["x-correlation-id"]
    assert failed.status_code == 404 and failed.headers["x-request-id"] == "req-2"
    assert UUID.match(junk.headers["x-request-id"])  # not echoed: not a header-safe id
    async with env.client(token="unknown") as c:
        refused = await c.get("/versions", headers={"X-Request-ID": "req-3"})
    assert refused.status_code == 401 and refused.headers["x-request-id"] == "req-3"


async def test_routing_headers_are_accepted_and_answered(env: Env) -> None:
    routed = {
        "OCPI-from-country-code": "DE",
        "OCPI-from-party-id": "EMP",
        "OCPI-to-country-code": "NL",
        "OCPI-to-party-id": "AMP",
    }
    async with env.client() as c:
        r = await c.get("/cpo/2.2.1/things", headers=routed)
        plain = await c.get("/cpo/2.2.1/things")
        versions = await c.get("/versions", headers=routed)
    assert r.status_code == 200
    assert (r.headers["ocpi-to-country-code"], r.headers["ocpi-to-party-id"]) == ("DE", "EMP")
    assert (r.headers["ocpi-from-country-code"], r.headers["ocpi-from-party-id"]) == ("NL", "AMP")
    assert plain.headers["ocpi-from-party-id"] == "AMP" and "ocpi-to-party-id" not in plain.headers
    # Configuration modules carry no routing headers (transport_and_format 4.1.5).
    assert versions.status_code == 200 and "ocpi-from-party-id" not in versions.headers


async def test_pagination_headers(env: Env) -> None:
    async with env.client() as c:
        first = await c.get(
            "/cpo/2.2.1/things", params={"limit": 3, "date_from": "2026-01-01T00:00:00Z"}
        )
        last = await c.get("/cpo/2.2.1/things", params={"offset": 6, "limit": 3})
        capped = await c.get("/cpo/2.2.1/things", params={"limit": 2000})
        default = await c.get("/cpo/2.2.1/things")
        bad_date = await c.get("/cpo/2.2.1/things", params={"date_to": "yesterday"})
        negative = await c.get("/cpo/2.2.1/things", params={"offset": -1})
        not_int = await c.get("/cpo/2.2.1/things", params={"limit": "ten"})
    assert first.json()["data"] == ITEMS[:3]
    assert first.headers["x-total-count"] == "7" and first.headers["x-limit"] == "3"
    link = first.headers["link"]
    assert link.startswith("<https://cpo.example/ocpi/cpo/2.2.1/things?") and link.endswith(
        '>; rel="next"'
    )
    assert "offset=3" in link and "limit=3" in link and "date_from=2026-01-01T00%3A00%3A00Z" in link
    assert last.json()["data"] == ITEMS[6:] and "link" not in last.headers
    assert last.headers["x-limit"] == "3" and last.headers["x-total-count"] == "7"
    # The server's cap (ocpi_page_limit = 5 here) wins over a larger limit, and is the default.
    assert capped.headers["x-limit"] == "5" and len(capped.json()["data"]) == 5
    assert "offset=5" in capped.headers["link"] and "limit=5" in capped.headers["link"]
    assert default.headers["x-limit"] == "5"
    _error(bad_date, 400, 2001)
    _error(negative, 400, 2001)
    _error(not_int, 400, 2001)


def _thing(**changes: Any) -> dict[str, Any]:
    body = {"id": "T1", "name": "thing", "last_updated": "2026-01-01T10:00:00Z"}
    body.update(changes)
    return body


async def test_bodies_and_field_limits(env: Env) -> None:
    url = "/cpo/2.2.1/things/DE/EMP/T1"
    async with env.client() as c:
        ok = await c.put(url, json=_thing(price={"excl_vat": 1.2345, "incl_vat": 1.5}))
        naive = await c.put(url, json=_thing(last_updated="2026-01-01T10:00:00.5"))
        too_long = await c.put(url, json=_thing(id="X" * 37))
        longest = await c.put(f"/cpo/2.2.1/things/DE/EMP/{'X' * 36}", json=_thing(id="X" * 36))
        name_long = await c.put(url, json=_thing(name="n" * 11))
        tab = await c.put(url, json=_thing(name="a\tb"))
        not_ascii = await c.put(url, json=_thing(id="Té"))
        utf8_ok = await c.put(url, json=_thing(name="Zürich"))
        missing = await c.put(url, json={"id": "T1", "name": "x"})
        bad_time = await c.put(url, json=_thing(last_updated="01/01/2026"))
        not_json = await c.put(
            url, content=b"{not json", headers={"Content-Type": "application/json"}
        )
        wrong_party = await c.put("/cpo/2.2.1/things/NL/XXX/T1", json=_thing())
        other_id = await c.put("/cpo/2.2.1/things/DE/EMP/T2", json=_thing())
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"] == {
        "id": "T1",
        "price": {"excl_vat": 1.2345, "incl_vat": 1.5},
        "at": "2026-01-01T10:00:00Z",
    }
    assert naive.json()["data"]["at"] == "2026-01-01T10:00:00.500Z"  # no designator: UTC
    assert longest.status_code == 200
    assert "id" in _error(too_long, 400, 2001)["status_message"]
    assert "name" in _error(name_long, 400, 2001)["status_message"]
    _error(tab, 400, 2001)
    _error(not_ascii, 400, 2001)
    assert utf8_ok.status_code == 200
    assert "last_updated" in _error(missing, 400, 2001)["status_message"]
    _error(bad_time, 400, 2001)
    _error(not_json, 400, 2001)
    _error(wrong_party, 404, 2001)
    _error(other_id, 404, 2004)


async def test_unknown_objects_routes_methods_and_failures(env: Env) -> None:
    async with env.client() as c:
        _error(await c.get("/cpo/2.2.1/things/DE/EMP/nothing"), 404, 2004)
        _error(await c.get("/cpo/2.2.1/nowhere"), 404, 2000)
        _error(await c.get("/2.1.1/details"), 404, 2000)
        _error(await c.delete("/cpo/2.2.1/things"), 405, 2000)
        _error(await c.get("/cpo/2.2.1/things/DE/EMP/boom"), 500, 3000)
        down = await c.get("/cpo/2.2.1/things/DE/EMP/down")
    _error(down, 503, 3000)
    assert down.headers["retry-after"] == "5"
    env.store.down = True
    env.partners.forget()
    async with env.client() as c:
        _error(await c.get("/versions"), 503, 3000)


async def test_modules_of_roles_we_do_not_take_are_not_served() -> None:
    env = Env(ocpi_roles=["EMSP"])
    await env.setup()
    async with env.client() as c:
        details = (await c.get("/2.2.1/details")).json()["data"]["endpoints"]
        assert {e["identifier"] for e in details} == {"credentials", "mirror"}
        _error(await c.get("/cpo/2.2.1/things"), 404, 2000)
        assert (await c.get("/emsp/2.2.1/mirror")).status_code == 200
        creds = (await c.get("/2.2.1/credentials")).json()["data"]
    assert [r["role"] for r in creds["roles"]] == ["EMSP"]
    assert creds["url"] == "https://cpo.example/ocpi/versions"
    assert creds["roles"][0] == {
        "role": "EMSP",
        "business_details": {"name": "Ampyre"},
        "party_id": "AMP",
        "country_code": "NL",
    }


async def test_credentials_post_is_validated(env: Env) -> None:
    good_role = {
        "role": "EMSP",
        "party_id": "EMP",
        "country_code": "DE",
        "business_details": {"name": "E"},
    }
    async with env.client(TOKEN_A) as c:
        cases = [
            {"token": "t" * 65, "url": "https://e/versions", "roles": [good_role]},
            {"token": "t", "url": "ftp://e/versions", "roles": [good_role]},
            {"token": "t", "url": "https://e/versions", "roles": []},
            {"token": "t", "url": "https://e/versions", "roles": [{**good_role, "role": "X"}]},
            {
                "token": "t",
                "url": "https://e/versions",
                "roles": [{**good_role, "party_id": "LONG"}],
            },
            {"token": "tok en\n", "url": "https://e/versions", "roles": [good_role]},
        ]
        for body in cases:
            _error(await c.post("/2.2.1/credentials", json=body), 400, 2001)
    async with env.client("unknown") as c:
        # Authentication comes before the body is looked at.
        _error(await c.post("/2.2.1/credentials", json={}), 401, 2001)


async def test_partner_requests_go_to_the_exchange_log(env: Env) -> None:
    async with env.client() as c:
        await c.get("/cpo/2.2.1/things", params={"limit": 1}, headers={"X-Request-ID": "r-1"})
        await c.get("/2.2.1/credentials")
    async with env.client("unknown") as c:
        await c.get("/versions")
    page = await env.exchanges.list(None, 10, 0)
    assert page.total == 2  # the unknown caller is not logged
    creds, things = page.items
    assert (things.direction, things.method, things.partner_id) == ("in", "GET", 1)
    assert things.url == "/ocpi/cpo/2.2.1/things?limit=1"
    assert (things.http_status, things.status_code, things.request_id) == (200, 1000, "r-1")
    assert things.response_body is not None and '"n":0' in things.response_body
    assert creds.response_body is not None and TOKEN_C not in creds.response_body
    assert '"token":"***"' in creds.response_body


async def test_mounted_in_the_rest_api(env: Env) -> None:
    api = create_api(env.deps)
    transport = httpx.ASGITransport(api)
    auth = {"Authorization": "Token " + base64.b64encode(TOKEN_C.encode()).decode()}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        assert (await c.get("/ocpi/versions", headers=auth)).status_code == 200
        details = await c.get("/ocpi/2.2.1/details", headers=auth)
        assert details.json()["data"]["endpoints"][0]["url"].startswith("https://cpo.example/")
        _error(await c.get("/ocpi/nowhere", headers=auth), 404, 2000)
        # The operator API is not the OCPI server: a bearer token there, problem+json.
        r = await c.get("/api/v1/ocpi/partners")
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert (await c.post("/api/v1/ocpi/partners", json={"name": "x"})).status_code == 401


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OCPI_COUNTRY_CODE", "NLD"),
        ("OCPI_COUNTRY_CODE", "1X"),
        ("OCPI_PARTY_ID", "AM"),
        ("OCPI_PARTY_ID", "A-B"),
        ("OCPI_ROLES", "CPO,HUB"),
        ("OCPI_ROLES", ""),
        ("OCPI_BASE_URL", "ftp://x/ocpi"),
        ("OCPI_PAGE_LIMIT", "0"),
        ("OCPI_CLIENT_ATTEMPTS", "0"),
        ("OCPI_PUSH_BACKOFF", "0"),
        ("OCPI_EXCHANGE_RETENTION_DAYS", "0"),
    ],
)
def test_ocpi_settings_are_checked(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(environ={f"AMPYRE_{name}": value})


def test_ocpi_settings_from_the_environment() -> None:
    s = load_settings(
        environ={"AMPYRE_OCPI_ROLES": "emsp", "AMPYRE_OCPI_BASE_URL": "https://x.example/ocpi/"}
    )
    identity = OcpiIdentity(s, lambda: "http://unused")
    assert identity.roles == (OcpiRole.EMSP,)
    assert identity.versions_url() == "https://x.example/ocpi/versions"
    assert identity.module_url("emsp", "tokens") == "https://x.example/ocpi/emsp/2.2.1/tokens"
