"""A partner that registers gets what we send its roles (issue 20, H9), with fakes:
the credentials service's registration listeners (both directions, the hold when they
initiated, credentials updates with and without new endpoints, a failing listener, a
failed handshake), and each publisher's `sync_partner` (Locations page by page, tariffs,
published tokens: to that partner only, under the keys of their change pushes, only for
the partner's matching role and endpoint), and the Location resend of the 2003 fallback."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from test_ocpi_credentials import (
    CREDS,
    DETAILS,
    Env,
    answers,
    details,
    reply,
    their_credentials,
)

from ampyre.config import Settings
from ampyre.domain.models import Page
from ampyre.domain.ocpi import (
    Endpoint,
    InterfaceRole,
    OcpiRole,
    Partner,
    PartnerStatus,
    PartyRole,
)
from ampyre.domain.ocpi_tokens import OcpiToken, TokenType, WhitelistType
from ampyre.domain.tariffs import PriceComponent, Tariff, TariffDimensionType, TariffElement
from ampyre.services.locations_sync import SYNC_PAGE, LocationSync
from ampyre.services.ocpi_credentials import parse_credentials
from ampyre.services.ocpi_port import PushItem, PushStatus
from ampyre.services.roaming_publish import PAGE as TOKEN_PAGE
from ampyre.services.roaming_publish import TokenPublisher
from ampyre.services.tariff_push import SYNC_PAGE as TARIFF_PAGE
from ampyre.services.tariff_push import TariffPublisher

NOW = datetime(2026, 3, 1, tzinfo=UTC)


# ------------------------------------------------------------------ registration listeners


class Heard:
    def __init__(self) -> None:
        self.calls: list[tuple[Partner, float]] = []

    async def __call__(self, partner: Partner, hold: float) -> None:
        self.calls.append((partner, hold))


def listening(env: Env, *, fail_first: bool = False) -> Heard:
    heard = Heard()

    async def broken(partner: Partner, hold: float) -> None:
        raise RuntimeError("listener bug")

    if fail_first:
        env.credentials.on_registered(broken)
    env.credentials.on_registered(heard)
    return heard


async def test_we_register_listeners_hear_it_without_a_hold() -> None:
    env = Env(answers())
    heard = listening(env, fail_first=True)  # a failing listener neither fails the
    partner, _ = await env.pending()  # handshake nor keeps the next one from running
    done = await env.credentials.register(partner.id)
    assert done.status is PartnerStatus.REGISTERED
    await env.credentials.settle()
    [(told, hold)] = heard.calls
    assert told.registered and told.token_out == "token-c" and hold == 0.0
    assert {e.identifier for e in told.endpoints} == {"credentials", "locations"}

    # A credentials update toward them with the same endpoints and roles: nothing new.
    await env.credentials.update(partner.id)
    await env.credentials.settle()
    assert len(heard.calls) == 1
    # With new endpoints: the partner is told again.
    env.client.answers[("GET", DETAILS)] = details(
        ("credentials", "SENDER", CREDS),
        ("locations", "RECEIVER", "https://partner/l"),
        ("tariffs", "RECEIVER", "https://partner/t"),
    )
    await env.credentials.update(partner.id)
    await env.credentials.settle()
    assert len(heard.calls) == 2
    assert {e.identifier for e in heard.calls[1][0].endpoints} >= {"tariffs"}


async def test_they_register_listeners_hear_it_with_the_hold() -> None:
    env = Env(answers())
    env.credentials.accepted_hold = 7.5
    heard = listening(env)
    partner, _ = await env.pending()
    given = parse_credentials(their_credentials("their-token-b"))
    await env.credentials.accept_registration(partner, given)
    await env.credentials.settle()
    [(told, hold)] = heard.calls
    assert told.token_out == "their-token-b" and hold == 7.5
    assert [r.role for r in told.roles] == [OcpiRole.EMSP]

    # Their update: same endpoints, new token -> nothing; new roles -> told.
    await env.credentials.accept_update(told, parse_credentials(their_credentials("b2")))
    await env.credentials.settle()
    assert len(heard.calls) == 1
    more = their_credentials("b3")
    more["roles"].append(
        {"role": "CPO", "party_id": "CPX", "country_code": "DE", "business_details": {"name": "X"}}
    )
    current = await env.partners.get(partner.id)
    assert current is not None
    await env.credentials.accept_update(current, parse_credentials(more))
    await env.credentials.settle()
    assert len(heard.calls) == 2 and heard.calls[1][1] == 7.5
    # Unregistered, then registered again: told again (it may have lost everything).
    again = await env.partners.get(partner.id)
    assert again is not None
    await env.credentials.accept_unregister(again)
    gone = await env.partners.get(partner.id)
    assert gone is not None
    await env.credentials.accept_registration(gone, given)
    await env.credentials.settle()
    assert len(heard.calls) == 3


async def test_failed_handshakes_tell_no_one() -> None:
    env = Env(answers(post_creds=reply(None, 3001)))
    heard = listening(env)
    partner, _ = await env.pending()
    with pytest.raises(Exception, match="POST credentials"):
        await env.credentials.register(partner.id)
    await env.credentials.settle()
    assert heard.calls == []


async def test_the_handshake_does_not_wait_for_listeners() -> None:
    env = Env(answers())
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(partner: Partner, hold: float) -> None:
        started.set()
        await release.wait()

    env.credentials.on_registered(slow)
    partner, _ = await env.pending()
    done = await asyncio.wait_for(env.credentials.register(partner.id), 2)
    assert done.registered
    await asyncio.wait_for(started.wait(), 2)
    # Shutdown stops a listener still running.
    await asyncio.wait_for(env.credentials.close(), 2)
    assert not release.is_set()


# ------------------------------------------------------------------ fakes of the publishers


@dataclass
class Push:
    """OcpiPush.to_partner double: checks the endpoint like the real one."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    async def to_partner(
        self,
        partner: Partner,
        module: str,
        method: str,
        path: str,
        body: object | None,
        object_key: str,
        role: InterfaceRole = InterfaceRole.RECEIVER,
        *,
        delay: float = 0.0,
    ) -> bool:
        base = partner.endpoint(module, role) if partner.registered else None
        if base is None:
            return False
        self.sent.append(
            {"partner": partner.id, "method": method, "url": base + path, "body": body,
             "key": object_key, "delay": delay}
        )  # fmt: skip
        return True

    async def to_receivers(self, *a: Any, **k: Any) -> int:
        raise AssertionError("an initial sync goes to one partner only")


def partner(
    role: OcpiRole = OcpiRole.EMSP,
    modules: tuple[str, ...] = ("locations", "tariffs", "tokens"),
    status: PartnerStatus = PartnerStatus.REGISTERED,
    pid: int = 4,
) -> Partner:
    return Partner(
        pid,
        "p",
        status,
        "https://p/versions",
        "2.2.1",
        tuple(Endpoint(m, InterfaceRole.RECEIVER, f"https://p/{m}") for m in modules),
        (PartyRole(role, "DE", "EMP"),),
        NOW,
        NOW,
    )


@dataclass
class Loc:
    id: str
    roaming: bool = True


class Locations:
    """The part of LocationService LocationSync uses, over `count` roaming Locations."""

    def __init__(self, count: int) -> None:
        self.ids = [f"L{n:03d}" for n in range(count)]
        self.limits: list[int] = []
        self.private = {"PRIVATE"}

    async def sender_page(
        self, date_from: Any, date_to: Any, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        assert date_from is None and date_to is None
        self.limits.append(limit)
        return [{"id": i, "evses": []} for i in self.ids[offset : offset + limit]], len(self.ids)

    def path(self, location_id: str, uid: str | None = None) -> str:
        return f"/NL/AMP/{location_id}" + ("" if uid is None else f"/{uid}")

    async def get(self, location_id: str) -> Loc | None:
        for known in self.ids:
            if known.lower() == location_id.lower():
                return Loc(known)
        return Loc(location_id, False) if location_id in self.private else None

    async def build(self, location: Loc) -> dict[str, Any]:
        return {"id": location.id, "evses": [{"uid": "CP1*1", "status": "CHARGING"}]}


def item(method: str, url: str, key: str) -> PushItem:
    return PushItem(1, 4, method, url, {"status": "CHARGING"}, key, PushStatus.PENDING, 0, NOW, NOW)


# ------------------------------------------------------------------ Locations


async def test_locations_sync_pages_through_every_roaming_location() -> None:
    locations, push = Locations(2 * SYNC_PAGE + 3), Push()
    sync = LocationSync(locations, push)  # type: ignore[arg-type]
    assert await sync.sync_partner(partner(), hold=3.0) == 2 * SYNC_PAGE + 3
    assert locations.limits == [SYNC_PAGE] * 3  # a page at a time, never the whole fleet
    assert [s["key"] for s in push.sent] == [f"location:{i}" for i in locations.ids]
    first = push.sent[0]
    assert first["method"] == "PUT" and first["url"] == "https://p/locations/NL/AMP/L000"
    assert first["body"] == {"id": "L000", "evses": []} and first["delay"] == 3.0
    assert {s["partner"] for s in push.sent} == {4}

    # Not for a CPO-only partner, an unregistered one, or one without a Receiver.
    push.sent.clear()
    assert await sync.sync_partner(partner(OcpiRole.CPO)) == 0
    assert await sync.sync_partner(partner(status=PartnerStatus.UNREGISTERED)) == 0
    assert await sync.sync_partner(partner(modules=("tariffs",))) == 0
    assert push.sent == []
    assert await LocationSync(Locations(0), push).sync_partner(partner()) == 0  # type: ignore[arg-type]


async def test_location_resend_once_instead_of_the_unknown_patch() -> None:
    locations, push = Locations(3), Push()
    sync = LocationSync(locations, push)  # type: ignore[arg-type]
    p = partner()
    patch = item("PATCH", "https://p/locations/NL/AMP/L001/CP1*1", "location:L001")
    assert await sync.resend(p, patch)
    [put] = push.sent
    assert put["method"] == "PUT" and put["url"] == "https://p/locations/NL/AMP/L001"
    assert put["key"] == "location:L001" and put["delay"] == 0.0
    assert put["body"]["evses"][0]["status"] == "CHARGING"  # the whole Location, as now

    push.sent.clear()
    # The whole Location's PUT itself: no second fallback (it fails as usual).
    for url in ("https://p/locations/NL/AMP/L001", "https://p/locations/nl/amp/l001/"):
        assert not await sync.resend(p, item("PUT", url, "location:L001"))
    # A PUT of one EVSE: the whole Location instead.
    assert await sync.resend(p, item("PUT", patch.url, "location:L001"))
    # Not for DELETE/POST, other objects, unknown or no longer roaming Locations.
    assert not await sync.resend(p, item("DELETE", patch.url, "location:L001"))
    assert not await sync.resend(p, item("PATCH", patch.url, "tariff:L001"))
    assert not await sync.resend(p, item("PATCH", patch.url, "location:GONE"))
    assert not await sync.resend(p, item("PATCH", patch.url, "location:PRIVATE"))
    # A partner without the Receiver: nothing queued.
    assert not await sync.resend(partner(modules=()), patch)
    assert len(push.sent) == 1


# ------------------------------------------------------------------ tariffs


def tariff(n: int) -> Tariff:
    component = PriceComponent(TariffDimensionType.ENERGY, Decimal("0.25"), 1, Decimal(21))
    return Tariff("NL", "AMP", f"T{n:03d}", "EUR", (TariffElement((component,)),), NOW)


class Tariffs:
    def __init__(self, count: int) -> None:
        self.all = [tariff(n) for n in range(count)]
        self.limits: list[int] = []

    async def changed(self, date_from: Any, date_to: Any, offset: int, limit: int) -> Page:
        assert date_from is None and date_to is None
        self.limits.append(limit)
        return Page(self.all[offset : offset + limit], len(self.all), limit, offset)


async def test_tariffs_sync_puts_every_tariff_to_the_new_emsp() -> None:
    tariffs, push = Tariffs(TARIFF_PAGE + 1), Push()
    publisher = TariffPublisher(push, tariffs)  # type: ignore[arg-type]
    assert await publisher.sync_partner(partner(), 3.0) == TARIFF_PAGE + 1
    assert tariffs.limits == [TARIFF_PAGE, TARIFF_PAGE]
    first = push.sent[0]
    assert first["url"] == "https://p/tariffs/NL/AMP/T000" and first["key"] == "tariff:T000"
    assert first["method"] == "PUT" and first["delay"] == 3.0
    assert first["body"]["id"] == "T000" and first["body"]["currency"] == "EUR"
    assert first["body"]["elements"][0]["price_components"][0]["price"] == Decimal("0.25")
    assert publisher.queued == TARIFF_PAGE + 1
    push.sent.clear()
    assert await publisher.sync_partner(partner(OcpiRole.CPO)) == 0
    assert await publisher.sync_partner(partner(modules=("locations",))) == 0
    assert await TariffPublisher(push).sync_partner(partner()) == 0  # type: ignore[arg-type]
    assert push.sent == []


# ------------------------------------------------------------------ tokens


def token(n: int, valid: bool = True) -> OcpiToken:
    return OcpiToken(
        "NL", "AMP", f"Card/{n:04d}", TokenType.RFID, f"NL-AMP-C{n:08d}", "Ampyre", valid,
        WhitelistType.ALLOWED, NOW,
    )  # fmt: skip


class TokenStore:
    def __init__(self, count: int) -> None:
        self.all = [token(n, valid=n % 5 != 0) for n in range(count)]
        self.limits: list[int] = []

    async def list_published(
        self, limit: int, offset: int, date_from: Any = None, date_to: Any = None
    ) -> Page:
        self.limits.append(limit)
        return Page(self.all[offset : offset + limit], len(self.all), limit, offset)


async def test_tokens_sync_puts_every_published_token_to_the_new_cpo() -> None:
    store, push = TokenStore(TOKEN_PAGE + 2), Push()
    publisher = TokenPublisher(store, None, push, Settings())  # type: ignore[arg-type]
    cpo = partner(OcpiRole.CPO)
    assert await publisher.sync_partner(cpo, 3.0) == TOKEN_PAGE + 2
    assert store.limits == [TOKEN_PAGE, TOKEN_PAGE]
    first = push.sent[0]
    # mod_tokens 12.2.2.3: /{country_code}/{party_id}/{uid}?type=..., uid URL-quoted.
    assert first["url"] == "https://p/tokens/NL/AMP/Card%2F0000?type=RFID"
    assert first["key"] == "token:RFID:card/0000" and first["delay"] == 3.0
    assert first["body"]["valid"] is False  # invalidated ones too (the Sender GET has them)
    assert push.sent[1]["body"]["uid"] == "Card/0001" and push.sent[1]["body"]["valid"]
    push.sent.clear()
    assert await publisher.sync_partner(partner(OcpiRole.EMSP)) == 0
    assert await publisher.sync_partner(partner(OcpiRole.CPO, modules=("locations",))) == 0
    off = TokenPublisher(store, None, push, Settings(ocpi_publish_tokens=False))  # type: ignore[arg-type]
    assert await off.sync_partner(cpo) == 0
    assert push.sent == []
