"""OCPI tokens and commands in SQL (issue 20, H5) on SQLite and PostgreSQL, and the
roaming authorization over it with a scripted eMSP: held tokens per (owner, uid ignoring
case, type) where a command's token never replaces a pushed one; whitelist types; a
real-time authorization answered, refused, unknown, timing out (-> the fallback, within
the timeout) or failing; an accepted answer reused at that station; command grants;
published tokens; commands set their result once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ampyre.adapters.db.database import Database
from ampyre.adapters.db.ocpi_tokens import OcpiTokensSql
from ampyre.config import Settings
from ampyre.domain.authz import AuthStatus
from ampyre.domain.ocpi import Endpoint, InterfaceRole, OcpiRole, Partner, PartnerStatus, PartyRole
from ampyre.domain.ocpi_commands import (
    CommandDirection,
    CommandRecord,
    CommandResponseType,
    CommandResultType,
    CommandType,
)
from ampyre.domain.ocpi_tokens import (
    AuthorizationKind,
    OcpiToken,
    StoredToken,
    TokenSource,
    TokenType,
    WhitelistType,
)
from ampyre.domain.ocpi_tokens_parse import parse_token
from ampyre.services.ocpi_port import OcpiCallFailed, OcpiReply
from ampyre.services.roaming_tokens import RoamingTokens

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
EMSP_URL = "https://emsp.example/ocpi/emsp/2.2.1/tokens"


@pytest.fixture
async def sql(store_url: str) -> AsyncIterator[OcpiTokensSql]:
    db = Database(Settings(database_url=store_url))
    yield OcpiTokensSql(db)
    await db.dispose()


def partner(pid: int = 1, party: str = "EMP") -> Partner:
    return Partner(
        id=pid,
        name="emsp",
        status=PartnerStatus.REGISTERED,
        versions_url="https://emsp.example/ocpi/versions",
        version="2.2.1",
        endpoints=(Endpoint("tokens", InterfaceRole.SENDER, EMSP_URL),),
        roles=(PartyRole(OcpiRole.EMSP, "DE", party),),
        created_at=NOW,
        updated_at=NOW,
        token_out="token-c",
    )


def ocpi_token(uid: str = "CARD0001", **changes: Any) -> OcpiToken:
    body: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "EMP",
        "uid": uid,
        "type": "RFID",
        "contract_id": f"DE-EMP-{uid}",
        "issuer": "Example",
        "valid": True,
        "whitelist": "ALLOWED",
        "group_id": "G1",
        "last_updated": "2026-11-30T08:00:00Z",
    }
    body.update(changes)
    return parse_token(body)


@dataclass
class Partners:
    known: dict[int, Partner] = field(default_factory=lambda: {1: partner()})

    async def get(self, partner_id: int) -> Partner | None:
        return self.known.get(partner_id)

    async def by_party(
        self, country_code: str, party_id: str, role: OcpiRole | None = None
    ) -> Partner | None:
        return next((p for p in self.known.values() if p.has_party(country_code, party_id)), None)

    async def registered_with(
        self, module: str, role: InterfaceRole, party_role: OcpiRole | None = None
    ) -> list[Partner]:
        return list(self.known.values())


@dataclass
class Emsp:
    """A scripted eMSP tokens Sender: answers (or stalls, or fails) and records calls."""

    allowed: str | None = "ALLOWED"  # None: HTTP 404 / 2004
    delay: float = 0.0
    fail: bool = False
    calls: list[tuple[str, Any, Mapping[str, str] | None]] = field(default_factory=list)

    async def request(
        self,
        partner: Partner,
        method: str,
        url: str,
        *,
        body: object = None,
        params: Mapping[str, str] | None = None,
        attempts: int | None = None,
        timeout: float | None = None,
        party_role: OcpiRole | None = None,
    ) -> OcpiReply:
        self.calls.append((url, body, params))
        await asyncio.sleep(self.delay)
        if self.fail:
            raise OcpiCallFailed("connection refused")
        if self.allowed is None:
            return OcpiReply(404, 2004, "Unknown Token", None)
        data = {
            "allowed": self.allowed,
            "token": {"uid": "broken"},
            "authorization_reference": "REF-42",
            "location": {"location_id": "LOC1", "evse_uids": ["CS1*1"]},
        }
        return OcpiReply(200, 1000, "Success", data)

    def get_all(self, partner: Partner, url: str, params: Any = None) -> Any:
        raise NotImplementedError

    async def call(self, token: str, method: str, url: str, **kw: Any) -> OcpiReply:
        raise NotImplementedError


@dataclass
class Locations:
    def evse_uid(self, station_id: str, evse_id: int) -> str:
        return f"{station_id}*{evse_id}"

    async def location_of(self, station_id: str) -> str | None:
        return "LOC1"

    async def resolve_evse(self, location_id: str, evse_uid: str) -> tuple[str, int] | None:
        return None

    async def resolve_connector(
        self, location_id: str, evse_uid: str, connector_id: str
    ) -> tuple[str, int, int] | None:
        return None

    async def ocpi_location(self, location_id: str) -> dict[str, Any] | None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def roaming(
    sql: OcpiTokensSql, emsp: Emsp, clock: Clock | None = None, **settings: Any
) -> RoamingTokens:
    values: dict[str, Any] = {"ocpi_realtime_auth_timeout": 0.3}
    values.update(settings)
    return RoamingTokens(sql, Partners(), emsp, Settings(**values), Locations(), clock or Clock())


# ---------------------------------------------------------------------- store


async def test_held_tokens_by_owner_uid_and_type(sql: OcpiTokensSql) -> None:
    first = await sql.save_token(StoredToken(ocpi_token(), TokenSource.PUSH, 1, NOW))
    assert first.id is not None
    # The same uid in another case and the same type: replaced, not added.
    changed = ocpi_token("card0001", valid=False)
    again = await sql.save_token(StoredToken(changed, TokenSource.PUSH, 1, NOW))
    assert again.id == first.id
    got = await sql.get_token("de", "emp", "CARD0001", TokenType.RFID)
    assert got is not None and got.token.valid is False and got.token.uid == "card0001"
    # Another type or another owner is another token.
    await sql.save_token(StoredToken(ocpi_token(type="APP_USER"), TokenSource.PUSH, 1, NOW))
    await sql.save_token(StoredToken(ocpi_token(party_id="OTH"), TokenSource.COMMAND, 2, NOW))
    assert len(await sql.find_tokens("Card0001")) == 3
    assert await sql.get_token("DE", "EMP", "CARD0001", TokenType.OTHER) is None
    # A command's token never replaces a pushed one.
    kept = await sql.save_token(
        StoredToken(ocpi_token(valid=True, issuer="cmd"), TokenSource.COMMAND, 1, NOW)
    )
    assert kept.token.issuer == "Example" and kept.source is TokenSource.PUSH
    page = await sql.list_tokens(10, 0, party_id="emp")
    assert page.total == 2
    assert (await sql.list_tokens(10, 0, uid="ard00")).total == 3
    assert await sql.count_tokens_of(1) == 2


async def test_commands_finish_once_and_reservations_are_found(sql: OcpiTokensSql) -> None:
    record = CommandRecord(
        uid="u1",
        direction=CommandDirection.RECEIVED,
        command=CommandType.RESERVE_NOW,
        request={"reservation_id": "R-1"},
        created_at=NOW,
        updated_at=NOW,
        partner_id=1,
        country_code="de",
        party_id="emp",
        ocpi_reservation_id="R-1",
        reservation_id=77,
        timeout_at=NOW,
    )
    await sql.add_command(record)
    assert record.id is not None
    found = await sql.find_reservation("DE", "EMP", "r-1")
    assert found is not None and found.reservation_id == 77
    assert await sql.find_reservation("DE", "OTH", "R-1") is None
    assert [c.uid for c in await sql.unfinished(NOW + timedelta(seconds=1))] == []  # no response
    record.response = CommandResponseType.ACCEPTED
    await sql.update_command(record)
    assert [c.uid for c in await sql.unfinished(NOW + timedelta(seconds=1))] == ["u1"]
    assert await sql.finish_command(record.id, CommandResultType.ACCEPTED, None, NOW)
    assert not await sql.finish_command(record.id, CommandResultType.TIMEOUT, "late", NOW)
    stored = await sql.get_command_by_uid("u1")
    assert stored is not None and stored.result is CommandResultType.ACCEPTED
    assert (await sql.list_commands(10, 0, CommandDirection.SENT)).total == 0
    assert (await sql.list_commands(10, 0, CommandDirection.RECEIVED)).total == 1


async def test_published_tokens(sql: OcpiTokensSql) -> None:
    a = ocpi_token("A1", country_code="NL", party_id="AMP", last_updated="2026-11-01T00:00:00Z")
    b = ocpi_token("B1", country_code="NL", party_id="AMP", last_updated="2026-11-02T00:00:00Z")
    await sql.save_published([(1, a), (2, b)])
    a_off = ocpi_token(
        "a1", country_code="NL", party_id="AMP", valid=False, last_updated="2026-11-03T00:00:00Z"
    )
    await sql.save_published([(1, a_off)])
    published = dict((t.uid.lower(), (i, t)) for i, t in await sql.published())
    assert set(published) == {"a1", "b1"} and published["a1"][1].valid is False
    page = await sql.list_published(10, 0, date_from=datetime(2026, 11, 2, tzinfo=UTC))
    assert [t.uid for t in page.items] == ["B1", "a1"]  # by last_updated
    page = await sql.list_published(1, 0, date_to=datetime(2026, 11, 3, tzinfo=UTC))
    assert page.total == 1 and page.items[0].uid == "B1"
    latest, count = await sql.id_tokens_fingerprint()
    assert (latest, count) == (None, 0)


# ---------------------------------------------------------------------- authorization


async def hold(sql: OcpiTokensSql, **changes: Any) -> OcpiToken:
    token = ocpi_token(**changes)
    await sql.save_token(StoredToken(token, TokenSource.PUSH, 1, NOW))
    return token


async def test_unknown_and_whitelisted_tokens(sql: OcpiTokensSql) -> None:
    emsp = Emsp()
    tokens = roaming(sql, emsp)
    assert await tokens.authorize("CS1", "NOPE", "ISO14443", 1) is None
    assert await tokens.authorize("CS1", "X" * 37, None, 1) is None
    await hold(sql, whitelist="ALWAYS")
    decision = await tokens.authorize("CS1", "card0001", None, 1)
    assert decision is not None and decision.status is AuthStatus.ACCEPTED
    assert decision.group_id == "G1"
    await hold(sql, whitelist="ALLOWED", valid=False)
    decision = await tokens.authorize("CS1", "CARD0001", "ISO14443", 1)
    assert decision is not None and decision.status is AuthStatus.INVALID
    assert emsp.calls == []  # ALWAYS / ALLOWED: no real-time call
    record = await tokens.authorization("CS1", "CARD0001")
    assert record is not None and record.kind is AuthorizationKind.WHITELIST


async def test_real_time_answer_is_used_and_reused(sql: OcpiTokensSql) -> None:
    emsp = Emsp()
    clock = Clock()
    tokens = roaming(sql, emsp, clock, ocpi_realtime_auth_cache=60.0)
    await hold(sql, whitelist="NEVER")
    decision = await tokens.authorize("CS1", "CARD0001", "ISO14443", 1)
    assert decision is not None and decision.status is AuthStatus.ACCEPTED
    url, body, params = emsp.calls[0]
    assert url == f"{EMSP_URL}/CARD0001/authorize" and params == {"type": "RFID"}
    assert body == {"location_id": "LOC1", "evse_uids": ["CS1*1"]}
    assert await tokens.authorization_reference("CS1", "card0001") == "REF-42"
    # The start of the same session: no second call within the cache time.
    again = await tokens.authorize("CS1", "CARD0001", "ISO14443", 1)
    assert again is not None and again.status is AuthStatus.ACCEPTED and len(emsp.calls) == 1
    # Another EVSE than the eMSP allowed: not here.
    clock.now += timedelta(seconds=61)
    other = await tokens.authorize("CS1", "CARD0001", "ISO14443", 2)
    assert other is not None and other.status is AuthStatus.NOT_AT_THIS_LOCATION
    assert len(emsp.calls) == 2
    emsp.allowed = "BLOCKED"
    clock.now += timedelta(seconds=61)
    blocked = await tokens.authorize("CS1", "CARD0001", "ISO14443", 1)
    assert blocked is not None and blocked.status is AuthStatus.BLOCKED
    emsp.allowed = None  # the eMSP does not know its own token (any more)
    unknown = await tokens.authorize("CS1", "CARD0001", "ISO14443", 1)
    assert unknown is not None and unknown.status is AuthStatus.INVALID


@pytest.mark.parametrize("fallback", ["reject", "accept"])
async def test_real_time_timeout_falls_back(sql: OcpiTokensSql, fallback: str) -> None:
    emsp = Emsp(delay=5.0)
    tokens = roaming(sql, emsp, ocpi_realtime_auth_fallback=fallback)
    await hold(sql, whitelist="NEVER")
    started = time.monotonic()
    decision = await tokens.authorize("CS1", "CARD0001", "ISO14443", 1)
    elapsed = time.monotonic() - started
    assert elapsed < 1.5, elapsed  # bounded by ocpi_realtime_auth_timeout (0.3 s)
    assert decision is not None
    expected = AuthStatus.ACCEPTED if fallback == "accept" else AuthStatus.INVALID
    assert decision.status is expected
    page = await tokens.list_authorizations(10, 0)
    assert page.items[0].kind is AuthorizationKind.REALTIME and page.items[0].allowed is None
    assert "no answer" in (page.items[0].reason or "") and fallback in page.items[0].reason


async def test_allowed_offline_falls_back_on_the_token(sql: OcpiTokensSql) -> None:
    emsp = Emsp(fail=True)
    tokens = roaming(sql, emsp, ocpi_realtime_auth_fallback="reject")
    await hold(sql, whitelist="ALLOWED_OFFLINE")
    decision = await tokens.authorize("CS1", "CARD0001", None, None)
    assert decision is not None and decision.status is AuthStatus.ACCEPTED
    await hold(sql, whitelist="ALLOWED_OFFLINE", valid=False)
    decision = await tokens.authorize("CS1", "CARD0001", None, None)
    assert decision is not None and decision.status is AuthStatus.INVALID
    assert len(emsp.calls) == 2


async def test_command_grant_skips_real_time_for_15_minutes(sql: OcpiTokensSql) -> None:
    emsp = Emsp(allowed="BLOCKED")
    clock = Clock()
    tokens = roaming(sql, emsp, clock)
    token = await hold(sql, whitelist="NEVER")
    await tokens.grant(partner(), token, "CS1", 1, "LOC1", "AUTH-7")
    decision = await tokens.authorize("CS1", "CARD0001", "ISO14443", 1)
    assert decision is not None and decision.status is AuthStatus.ACCEPTED and not emsp.calls
    record = await tokens.authorization("CS1", "CARD0001")
    assert record is not None and record.kind is AuthorizationKind.COMMAND
    assert record.authorization_reference == "AUTH-7"
    other_station = await tokens.authorize("CS2", "CARD0001", "ISO14443", 1)
    assert other_station is not None and other_station.status is AuthStatus.BLOCKED
    clock.now += timedelta(minutes=15, seconds=1)
    later = await tokens.authorize("CS1", "CARD0001", "ISO14443", 1)
    assert later is not None and later.status is AuthStatus.BLOCKED


async def test_lookup_prefers_pushed_tokens(sql: OcpiTokensSql) -> None:
    tokens = roaming(sql, Emsp())
    assert await tokens.lookup("APP-1") is None
    await tokens.hold_command_token(partner(), ocpi_token("APP-1", type="APP_USER",
                                                          whitelist="NEVER"))  # fmt: skip
    found = await tokens.lookup("app-1")
    assert found is not None and found.type is TokenType.APP_USER
    assert found.whitelist is WhitelistType.NEVER
    assert (await sql.list_tokens(10, 0)).items[0].source is TokenSource.COMMAND


async def test_ask_every_emsp_about_a_token_none_pushed(sql: OcpiTokensSql) -> None:
    emsp = Emsp()
    quiet = roaming(sql, emsp)
    assert await quiet.authorize("CS1", "FRESH01", "ISO14443", 1) is None and not emsp.calls
    asking = roaming(sql, emsp, ocpi_realtime_auth_unknown=True)
    # The eMSP knows it (its answer's token does not parse: the one asked about counts).
    decision = await asking.authorize("CS1", "FRESH01", "ISO14443", 1)
    assert decision is not None and decision.status is AuthStatus.ACCEPTED
    assert len(emsp.calls) == 1 and emsp.calls[0][0] == f"{EMSP_URL}/FRESH01/authorize"
    assert await sql.find_tokens("FRESH01") == []  # a stand-in is not held
    record = await asking.authorization("CS1", "FRESH01")
    assert record is not None and record.kind is AuthorizationKind.REALTIME
    emsp.allowed = None  # nobody knows it: not a roaming token
    assert await asking.authorize("CS1", "FRESH02", "ISO14443", 1) is None


@dataclass
class Pushes:
    queued: list[tuple[int, str, str, Any, str]] = field(default_factory=list)

    async def enqueue(
        self, partner_id: int, method: str, url: str, body: object | None, object_key: str
    ) -> None:
        self.queued.append((partner_id, method, url, body, object_key))

    async def to_receivers(self, *args: Any, **kwargs: Any) -> int:
        return 0


async def test_results_never_sent_time_out(sql: OcpiTokensSql) -> None:
    """A command accepted by a node that stopped before its result: TIMEOUT is POSTed
    once its timeout passed, and only once."""
    from ampyre.services.roaming_commands import RoamingCommands

    now = datetime.now(UTC)
    record = CommandRecord(
        uid="lost-1",
        direction=CommandDirection.RECEIVED,
        command=CommandType.START_SESSION,
        request={},
        created_at=now - timedelta(minutes=5),
        updated_at=now - timedelta(minutes=5),
        partner_id=3,
        response=CommandResponseType.ACCEPTED,
        response_url="https://emsp.example/commands/START_SESSION/1",
        timeout_at=now - timedelta(minutes=4),
    )
    await sql.add_command(record)
    pending = replace(record, uid="running-1", id=None, timeout_at=now + timedelta(minutes=1))
    await sql.add_command(pending)
    pushes = Pushes()
    none: Any = None
    commands = RoamingCommands(sql, none, pushes, none, none, none, Settings())
    assert await commands.sweep() == 1
    assert await commands.sweep() == 0
    assert pushes.queued == [
        (
            3,
            "POST",
            "https://emsp.example/commands/START_SESSION/1",
            {"result": "TIMEOUT", "message": [{"language": "en", "text": "no result"}]},
            "command:lost-1",
        )
    ]
    swept = await commands.get(record.id or 0)
    assert swept is not None and swept.result is CommandResultType.TIMEOUT


async def test_old_authorization_records_are_pruned(sql: OcpiTokensSql) -> None:
    from ampyre.domain.ocpi_tokens import AuthorizationRecord
    from ampyre.services.roaming_tokens_pull import TokenPuller

    now = datetime.now(UTC)
    for age in (40, 29):
        await sql.add_authorization(
            AuthorizationRecord(
                kind=AuthorizationKind.WHITELIST, uid="OLD", created_at=now - timedelta(days=age)
            )
        )
    puller = TokenPuller(sql, Partners(), Emsp(), Settings(ocpi_exchange_retention_days=30))
    assert await puller.prune() == 1
    assert await puller.prune() == 0  # hourly at most
    page = await sql.list_authorizations(10, 0)
    assert page.total == 1 and page.items[0].created_at > now - timedelta(days=30)
