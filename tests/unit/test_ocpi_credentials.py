"""The credentials handshake's decisions with a scripted partner (OCPI 2.2.1 credentials
7.1.4-7.1.5, status_codes 5.3): no common version (3002), no credentials endpoint (3003),
their API failing (3001), their refusal passed on, a malformed answer; token B valid
only while it is offered; the Credentials object we send."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from ampyre.config import Settings
from ampyre.domain.ocpi import Partner, PartnerStatus
from ampyre.services.ocpi_credentials import (
    OcpiCredentials,
    RegistrationFailed,
    parse_credentials,
    parse_endpoints,
)
from ampyre.services.ocpi_partners import OcpiIdentity, PartnerConflict, PartnerService
from ampyre.services.ocpi_port import OcpiCallFailed, OcpiReply, PartnerUpdate

NOW = datetime(2026, 3, 1, tzinfo=UTC)
VERSIONS = "https://partner/ocpi/versions"
DETAILS = "https://partner/ocpi/2.2.1"
CREDS = "https://partner/ocpi/2.2.1/credentials"


class Store:
    """PartnerStore in memory, applying PartnerUpdate as the SQL store does."""

    def __init__(self) -> None:
        self.partners: dict[int, Partner] = {}
        self.hashes: dict[int, dict[str, str | None]] = {}

    async def add_partner(
        self,
        name: str,
        versions_url: str | None,
        token_out: str | None,
        token_in_hash: str,
        now: datetime,
    ) -> Partner:
        pid = len(self.partners) + 1
        self.partners[pid] = Partner(
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
        self.hashes[pid] = {"token_in_hash": token_in_hash, "token_in_next_hash": None}
        return self.partners[pid]

    async def get_partner(self, partner_id: int) -> Partner | None:
        return self.partners.get(partner_id)

    async def list_partners(self) -> list[Partner]:
        return list(self.partners.values())

    async def partner_by_token_hash(self, token_hash: str) -> tuple[Partner, bool] | None:
        for pid, h in self.hashes.items():
            if token_hash in h.values():
                return self.partners[pid], h["token_in_hash"] == token_hash
        return None

    async def update_partner(
        self, partner_id: int, change: PartnerUpdate, now: datetime
    ) -> Partner | None:
        partner = self.partners[partner_id]
        values: dict[str, Any] = {}
        for f in (
            "name",
            "status",
            "versions_url",
            "version",
            "endpoints",
            "roles",
            "registered_at",
            "token_out",
            "last_error",
        ):
            if getattr(change, f) is not None:
                values[f] = getattr(change, f)
        for f in ("token_in_hash", "token_in_next_hash"):
            if getattr(change, f) is not None:
                self.hashes[partner_id][f] = getattr(change, f)
        for f in change.clear:
            if f in self.hashes[partner_id]:
                self.hashes[partner_id][f] = None
            else:
                values[f] = () if f in ("endpoints", "roles") else None
        self.partners[partner_id] = dataclasses.replace(partner, **values)
        return self.partners[partner_id]

    async def delete_partner(self, partner_id: int) -> bool:
        return self.partners.pop(partner_id, None) is not None


def reply(data: Any, status: int = 1000, http: int = 200) -> OcpiReply:
    return OcpiReply(http, status, None, data)


def details(*endpoints: tuple[str, str, str]) -> OcpiReply:
    return reply(
        {
            "version": "2.2.1",
            "endpoints": [{"identifier": i, "role": r, "url": u} for i, r, u in endpoints],
        }
    )


GOOD_DETAILS = details(
    ("credentials", "SENDER", CREDS), ("locations", "RECEIVER", "https://partner/l")
)


def their_credentials(token: str = "token-c") -> dict[str, Any]:
    return {
        "token": token,
        "url": VERSIONS,
        "roles": [
            {
                "role": "EMSP",
                "party_id": "emp",
                "country_code": "de",
                "business_details": {"name": "Partner"},
            }
        ],
    }


class Client:
    def __init__(self, answers: Mapping[tuple[str, str], Any]) -> None:
        self.answers = dict(answers)
        self.calls: list[tuple[str, str, str, Any]] = []
        self.during_post: Any = None

    async def call(
        self,
        token: str,
        method: str,
        url: str,
        *,
        body: object = None,
        partner_id: int | None = None,
    ) -> OcpiReply:
        self.calls.append((token, method, url, body))
        if method == "POST" and self.during_post is not None:
            await self.during_post(body)
        answer = self.answers[(method, url)]
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, OcpiReply)
        return answer

    async def request(self, *a: Any, **k: Any) -> OcpiReply:
        raise NotImplementedError

    def get_all(self, *a: Any, **k: Any) -> Any:
        raise NotImplementedError


class Env:
    def __init__(self, answers: Mapping[tuple[str, str], Any]) -> None:
        self.store = Store()
        identity = OcpiIdentity(Settings(), lambda: "https://cpo.example")
        self.partners = PartnerService(self.store, identity, clock=lambda: NOW)
        self.client = Client(answers)
        self.credentials = OcpiCredentials(self.partners, self.client)

    async def pending(self) -> tuple[Partner, str]:
        partner, token_a = await self.partners.create("p", VERSIONS, "their-token-a")
        return partner, token_a


def answers(**overrides: Any) -> dict[tuple[str, str], Any]:
    base: dict[tuple[str, str], Any] = {
        ("GET", VERSIONS): reply(
            [
                {"version": "2.1.1", "url": "https://partner/211"},
                {"version": "2.2.1", "url": DETAILS},
            ]
        ),
        ("GET", DETAILS): GOOD_DETAILS,
        ("POST", CREDS): reply(their_credentials()),
        ("PUT", CREDS): reply(their_credentials("token-c2")),
        ("DELETE", CREDS): reply(None),
    }
    for key, value in overrides.items():
        method, what = key.split("_", 1)
        base[(method.upper(), {"versions": VERSIONS, "details": DETAILS, "creds": CREDS}[what])] = (
            value
        )
    return base


async def test_register_sends_our_credentials_and_keeps_theirs() -> None:
    env = Env(answers())
    partner, token_a = await env.pending()
    seen: dict[str, Any] = {}

    async def partner_checks_token_b(body: Any) -> None:
        # During the POST, token B opens our versions (not yet the modules); A still works.
        match = await env.partners.by_token(body["token"])
        seen["b"] = match is not None and not match.full
        seen["a"] = await env.partners.by_token(token_a) is not None

    env.client.during_post = partner_checks_token_b
    done = await env.credentials.register(partner.id)
    assert seen == {"b": True, "a": True}
    assert done.status is PartnerStatus.REGISTERED and done.version == "2.2.1"
    assert done.token_out == "token-c"
    assert [(r.role.value, r.country_code, r.party_id) for r in done.roles] == [
        ("EMSP", "DE", "EMP")
    ]
    assert {e.identifier for e in done.endpoints} == {"credentials", "locations"}
    token, method, url, body = env.client.calls[2]
    assert (token, method, url) == ("their-token-a", "POST", CREDS)
    assert body["url"] == "https://cpo.example/ocpi/versions"
    assert [r["role"] for r in body["roles"]] == ["CPO", "EMSP"]
    assert body["roles"][0]["business_details"] == {"name": "Ampyre"}
    assert len(body["token"]) >= 40 and body["token"].isascii()
    # Token B is now the current token (full access); token A is gone.
    match = await env.partners.by_token(body["token"])
    assert match is not None and match.full
    assert await env.partners.by_token(token_a) is None
    with pytest.raises(PartnerConflict):
        await env.credentials.register(partner.id)


@pytest.mark.parametrize(
    ("overrides", "status", "words"),
    [
        (
            {"get_versions": reply([{"version": "2.1.1", "url": "https://p/211"}])},
            3002,
            "no OCPI version",
        ),
        ({"get_versions": reply(None, 2001, http=401)}, 3001, "HTTP 401"),
        ({"get_versions": OcpiCallFailed("timed out")}, 3001, "timed out"),
        ({"get_details": details(("locations", "SENDER", "https://p/l"))}, 3003, "credentials"),
        ({"get_details": reply({"version": "2.2.1"})}, 3001, "endpoints"),
        ({"post_creds": reply(None, 3001)}, 3001, "POST credentials answered"),
        ({"post_creds": reply(None, 2001, http=400)}, 2001, "HTTP 400"),
        ({"post_creds": reply({"token": "x", "url": "nope", "roles": []})}, 3001, "url"),
    ],
)
async def test_register_failures(overrides: dict[str, Any], status: int, words: str) -> None:
    env = Env(answers(**overrides))
    partner, token_a = await env.pending()
    with pytest.raises(RegistrationFailed) as info:
        await env.credentials.register(partner.id)
    assert info.value.status_code == status and words in info.value.message
    kept = await env.partners.get(partner.id)
    assert kept is not None and kept.status is PartnerStatus.PENDING
    assert kept.last_error is not None and kept.last_error.startswith(str(status))
    assert env.store.hashes[partner.id]["token_in_next_hash"] is None  # token B withdrawn
    assert await env.partners.by_token(token_a) is not None  # token A still works


async def test_accept_registration_update_and_unregister() -> None:
    env = Env(answers())
    partner, token_a = await env.pending()
    given = parse_credentials(their_credentials("their-token-b"))
    ours = await env.credentials.accept_registration(partner, given)
    assert env.client.calls[0][:3] == ("their-token-b", "GET", VERSIONS)
    assert ours["url"] == "https://cpo.example/ocpi/versions" and ours["token"] != token_a
    registered = await env.partners.get(partner.id)
    assert registered is not None and registered.token_out == "their-token-b"
    with pytest.raises(PartnerConflict):
        await env.credentials.accept_registration(registered, given)
    renewed = await env.credentials.accept_update(
        registered, parse_credentials(their_credentials("b2"))
    )
    assert renewed["token"] != ours["token"]
    assert await env.partners.by_token(ours["token"]) is None
    match = await env.partners.by_token(renewed["token"])
    assert match is not None and match.full and match.partner.token_out == "b2"
    await env.credentials.accept_unregister(match.partner)
    gone = await env.partners.get(partner.id)
    assert gone is not None and gone.status is PartnerStatus.UNREGISTERED and gone.token_out is None
    assert await env.partners.by_token(renewed["token"]) is None
    with pytest.raises(PartnerConflict):
        await env.credentials.accept_unregister(gone)


async def test_accept_registration_failures_are_3xxx() -> None:
    env = Env(answers(get_versions=reply([{"version": "2.0", "url": "https://p/20"}])))
    partner, _ = await env.pending()
    with pytest.raises(RegistrationFailed) as info:
        await env.credentials.accept_registration(partner, parse_credentials(their_credentials()))
    assert info.value.status_code == 3002
    still = await env.partners.get(partner.id)
    assert still is not None and still.status is PartnerStatus.PENDING


async def test_update_and_unregister_toward_them() -> None:
    env = Env(answers())
    partner, _ = await env.pending()
    with pytest.raises(PartnerConflict):
        await env.credentials.update(partner.id)
    await env.credentials.register(partner.id)
    updated = await env.credentials.update(partner.id)
    assert updated.token_out == "token-c2"
    assert env.client.calls[-1][:3] == ("token-c", "PUT", CREDS)
    env.client.answers[("DELETE", CREDS)] = OcpiCallFailed("unreachable")
    assert await env.credentials.unregister(partner.id) == "unreachable"
    gone = await env.partners.get(partner.id)
    assert gone is not None and gone.status is PartnerStatus.UNREGISTERED


def test_parsers() -> None:
    parsed = parse_credentials(their_credentials())
    assert parsed.roles[0].party_id == "EMP" and parsed.roles[0].name == "Partner"
    for bad in (
        None,
        [],
        {"token": "", "url": VERSIONS, "roles": [{}]},
        {"token": "t" * 65, "url": VERSIONS, "roles": []},
        {**their_credentials(), "roles": [{"role": "KING", "party_id": "A", "country_code": "NL"}]},
    ):
        with pytest.raises(ValueError):
            parse_credentials(bad)
    endpoints = parse_endpoints(
        {
            "endpoints": [
                {"identifier": "tariffs", "role": "RECEIVER", "url": "https://p/t"},
                {"identifier": "x", "role": "BOSS", "url": "https://p/x"},
                {"identifier": "y", "url": "ftp://p/y"},
                "garbage",
            ]
        }
    )
    assert [(e.identifier, e.role.value) for e in endpoints] == [("tariffs", "RECEIVER")]
