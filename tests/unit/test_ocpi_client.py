"""The outgoing OCPI client: headers (Base64 token, request/correlation ids, routing),
retries with backoff on network errors and HTTP 5xx/408/429 (Retry-After), no retry on
other answers, following Link headers, and every try in the exchange log."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ampyre.adapters.ocpi.client import HttpOcpiClient, next_link
from ampyre.config import Settings
from ampyre.domain.models import Page
from ampyre.domain.ocpi import OcpiRole, Partner, PartnerStatus, PartyRole
from ampyre.services.ocpi_exchanges import ExchangeLog
from ampyre.services.ocpi_partners import OcpiIdentity
from ampyre.services.ocpi_port import Exchange, OcpiCallFailed

NOW = datetime(2026, 3, 1, tzinfo=UTC)
PARTNER = Partner(
    7,
    "emsp",
    PartnerStatus.REGISTERED,
    "https://e/versions",
    "2.2.1",
    (),
    (PartyRole(OcpiRole.EMSP, "DE", "EMP"), PartyRole(OcpiRole.CPO, "DE", "CPX")),
    NOW,
    NOW,
    token_out="their-token-c",
)


class Exchanges:
    def __init__(self) -> None:
        self.rows: list[Exchange] = []

    async def add_exchanges(self, exchanges: Sequence[Exchange]) -> None:
        self.rows.extend(exchanges)

    async def list_exchanges(self, partner_id: int | None, limit: int, offset: int) -> Page:
        return Page(list(reversed(self.rows)), len(self.rows), limit, offset)

    async def prune_exchanges(self, older_than: datetime) -> int:
        return 0


def envelope(data: Any = None, status: int = 1000) -> dict[str, Any]:
    return {"data": data, "status_code": status, "timestamp": "2026-03-01T00:00:00Z"}


class Env:
    def __init__(self, handler: Callable[[httpx.Request], httpx.Response], **settings: Any):
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        self.settings = Settings(ocpi_exchange_body_max=200, **settings)
        self.store = Exchanges()
        self.log = ExchangeLog(self.store, self.settings)
        identity = OcpiIdentity(self.settings, lambda: "https://cpo.example")
        self.client = HttpOcpiClient(
            self.settings, identity, self.log, transport=httpx.MockTransport(record), sleep=sleep
        )

    async def logged(self) -> list[Exchange]:
        await self.log.flush()
        return self.store.rows


async def test_headers_and_body() -> None:
    env = Env(lambda r: httpx.Response(200, json=envelope({"ok": True})))
    reply = await env.client.request(
        PARTNER,
        "PUT",
        "https://e/ocpi/emsp/2.2.1/tariffs/NL/AMP/T1",
        body={"price": Decimal("0.2500"), "at": NOW},
    )
    assert reply.ok and reply.data == {"ok": True} and reply.status_code == 1000
    sent = env.requests[0]
    assert sent.headers["authorization"] == "Token " + base64.b64encode(b"their-token-c").decode()
    assert sent.headers["content-type"] == "application/json"
    assert len(sent.headers["x-request-id"]) == 36 and len(sent.headers["x-correlation-id"]) == 36
    # From our first role's party, to the partner's party of the opposite role.
    assert (sent.headers["ocpi-from-country-code"], sent.headers["ocpi-from-party-id"]) == (
        "NL",
        "AMP",
    )
    assert (sent.headers["ocpi-to-country-code"], sent.headers["ocpi-to-party-id"]) == ("DE", "EMP")
    assert json.loads(sent.content) == {"price": 0.25, "at": "2026-03-01T00:00:00Z"}
    # Acting as eMSP: to their CPO party.
    await env.client.request(PARTNER, "GET", "https://e/x", party_role=OcpiRole.EMSP)
    assert env.requests[1].headers["ocpi-to-party-id"] == "CPX"
    assert "content-type" not in env.requests[1].headers
    # Configuration modules: no routing headers.
    await env.client.call("token-a", "GET", "https://e/versions")
    assert "ocpi-from-party-id" not in env.requests[2].headers
    assert (
        env.requests[2].headers["authorization"] == "Token " + base64.b64encode(b"token-a").decode()
    )


async def test_retries_5xx_with_backoff_then_answers() -> None:
    answers = iter(
        [httpx.Response(503), httpx.Response(502), httpx.Response(200, json=envelope([]))]
    )
    env = Env(lambda r: next(answers))
    reply = await env.client.request(PARTNER, "GET", "https://e/list")
    assert reply.ok
    assert env.sleeps == [0.5, 1.0]  # ocpi_client_backoff doubling
    ids = {r.headers["x-request-id"] for r in env.requests}
    assert len(ids) == 3  # a new request id per try ...
    assert len({r.headers["x-correlation-id"] for r in env.requests}) == 1  # ... one correlation
    logged = await env.logged()
    assert [x.http_status for x in logged] == [503, 502, 200]
    assert all(x.partner_id == 7 and x.direction == "out" for x in logged)


async def test_network_errors_exhaust_the_attempts() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    env = Env(fail, ocpi_client_attempts=4, ocpi_client_backoff=0.25)
    with pytest.raises(OcpiCallFailed) as info:
        await env.client.request(PARTNER, "POST", "https://e/cdrs", body={"id": "1"})
    assert "ConnectError" in info.value.message and info.value.http_status is None
    assert env.sleeps == [0.25, 0.5, 1.0]
    logged = await env.logged()
    assert len(logged) == 4 and all(x.http_status is None and x.error for x in logged)


async def test_5xx_to_the_end_raises_with_the_status() -> None:
    env = Env(lambda r: httpx.Response(500, json=envelope(None, 3000)))
    with pytest.raises(OcpiCallFailed) as info:
        await env.client.request(PARTNER, "GET", "https://e/x")
    assert (info.value.http_status, info.value.status_code) == (500, 3000)
    assert len(env.requests) == 3


async def test_client_errors_are_not_retried() -> None:
    env = Env(lambda r: httpx.Response(404, json=envelope(None, 2004)))
    reply = await env.client.request(PARTNER, "GET", "https://e/x")
    assert not reply.ok and (reply.http_status, reply.status_code) == (404, 2004)
    assert len(env.requests) == 1 and env.sleeps == []
    refused = Env(lambda r: httpx.Response(200, json=envelope(None, 2001)))
    reply = await refused.client.request(PARTNER, "PUT", "https://e/x", body={})
    assert not reply.ok and reply.status_code == 2001 and len(refused.requests) == 1
    junk = Env(lambda r: httpx.Response(200, text="<html>hello</html>"))
    reply = await junk.client.request(PARTNER, "GET", "https://e/x")
    assert not reply.ok and reply.status_code is None and reply.http_status == 200


async def test_retry_after_and_single_attempts() -> None:
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json=envelope())]
    )
    env = Env(lambda r: next(answers))
    assert (await env.client.request(PARTNER, "GET", "https://e/x")).ok
    assert env.sleeps == [3.0]
    once = Env(lambda r: httpx.Response(503))
    with pytest.raises(OcpiCallFailed):
        await once.client.request(PARTNER, "POST", "https://e/x", attempts=1, timeout=2.0)
    assert len(once.requests) == 1 and once.sleeps == []


async def test_no_token_no_call() -> None:
    env = Env(lambda r: httpx.Response(200, json=envelope()))
    bare = Partner(1, "x", PartnerStatus.PENDING, None, None, (), (), NOW, NOW)
    with pytest.raises(OcpiCallFailed):
        await env.client.request(bare, "GET", "https://e/x")
    assert env.requests == []


async def test_get_all_follows_link_headers() -> None:
    pages = {
        "0": (["a", "b"], '<https://e/list?offset=2&limit=2>; rel="next"'),
        "2": (["c", "d"], '<https://e/list?offset=4&limit=2>; rel="next"'),
        "4": (["e"], None),
    }

    def serve(request: httpx.Request) -> httpx.Response:
        data, link = pages[request.url.params.get("offset", "0")]
        headers = {"Link": link} if link else {}
        return httpx.Response(200, json=envelope([{"id": x} for x in data]), headers=headers)

    env = Env(serve)
    got = [
        item["id"]
        async for item in env.client.get_all(
            PARTNER, "https://e/list", {"date_from": "2026-01-01T00:00:00Z"}
        )
    ]
    assert got == ["a", "b", "c", "d", "e"]
    assert env.requests[0].url.params["date_from"] == "2026-01-01T00:00:00Z"
    assert str(env.requests[1].url) == "https://e/list?offset=2&limit=2"

    loop = Env(
        lambda r: httpx.Response(
            200, json=envelope([{"id": 1}]), headers={"Link": '<https://e/list>; rel="next"'}
        )
    )
    assert [i async for i in loop.client.get_all(PARTNER, "https://e/list")] == [{"id": 1}]
    assert len(loop.requests) == 1  # a Link back to a page already read ends the walk

    broken = Env(lambda r: httpx.Response(200, json=envelope(None, 2001)))
    with pytest.raises(OcpiCallFailed):
        [i async for i in broken.client.get_all(PARTNER, "https://e/list")]


def test_next_link_parsing() -> None:
    assert next_link('<https://e/a?offset=1>; rel="next"') == "https://e/a?offset=1"
    assert next_link('<https://e/p>; rel="prev", <https://e/n>; rel=next') == "https://e/n"
    assert next_link('<https://e/p>; rel="prev"') is None
    assert next_link(None) is None


async def test_log_masks_tokens_and_clips_bodies() -> None:
    env = Env(
        lambda r: httpx.Response(200, json=envelope({"token": "their-new-token", "url": "u"}))
    )
    await env.client.call(
        "token-a", "POST", "https://e/credentials", body={"token": "our-token-b", "pad": "x" * 500}
    )
    (logged,) = await env.logged()
    assert logged.request_body is not None and logged.response_body is not None
    assert "our-token-b" not in logged.request_body and '"token":"***"' in logged.request_body
    assert "their-new-token" not in logged.response_body
    assert len(logged.request_body) <= 203 and logged.request_body.endswith("...")
