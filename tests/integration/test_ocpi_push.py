"""The OCPI push queue on SQLite and PostgreSQL: order per object, a PUT replacing the
queued PUT/PATCH rows of its object, retries with backoff, giving up (kept as failed,
retried by an operator), partners' refusals, fan-out to receivers, and two processes
sharing the queue under claims (order held, a lapsed claim taken over)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ampyre.adapters.db.database import Database
from ampyre.adapters.db.ocpi import OcpiSql
from ampyre.config import Settings
from ampyre.domain.ocpi import (
    Endpoint,
    InterfaceRole,
    OcpiRole,
    Partner,
    PartnerStatus,
    PartyRole,
)
from ampyre.services.ocpi_partners import OcpiIdentity, PartnerService
from ampyre.services.ocpi_port import OcpiCallFailed, OcpiReply, PartnerUpdate, PushStatus
from ampyre.services.ocpi_push import OcpiPush

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Client:
    """OcpiClient double: records what is sent; `answers[url]` scripts the outcomes
    (an OcpiReply, OcpiCallFailed to raise, or an Event to wait for first)."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, str, Any]] = []
        self.answers: dict[str, list[Any]] = {}
        self.hold: dict[str, asyncio.Event] = {}

    async def request(
        self, partner: Partner, method: str, url: str, *, body: object = None, **_: Any
    ) -> OcpiReply:
        self.sent.append((partner.id, method, url, body))
        if url in self.hold:
            await self.hold[url].wait()
        script = self.answers.get(url)
        answer = script.pop(0) if script else ok()
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, OcpiReply)
        return answer

    def get_all(self, partner: Partner, url: str, params: Mapping[str, str] | None = None) -> Any:
        raise NotImplementedError

    async def call(self, token: str, method: str, url: str, **_: Any) -> OcpiReply:
        raise NotImplementedError


def ok() -> OcpiReply:
    return OcpiReply(200, 1000, "Success", None)


def down() -> OcpiCallFailed:
    return OcpiCallFailed("connect failed")


class Env:
    def __init__(self, db: Database, **settings: Any) -> None:
        self.settings = Settings(
            ocpi_push_backoff=5.0,
            ocpi_push_backoff_max=60.0,
            ocpi_push_max_attempts=4,
            ocpi_push_concurrency=8,
            node_id="node-a",
            **settings,
        )
        self.sql = OcpiSql(db)
        self.clock = Clock()
        self.partners = PartnerService(
            self.sql, OcpiIdentity(self.settings, lambda: "https://cpo"), clock=self.clock
        )
        self.client = Client()
        self.push = self.make_push("node-a")

    def make_push(self, node: str) -> OcpiPush:
        # Each "process" claims under its node id.
        settings = replace(self.settings, node_id=node)
        return OcpiPush(self.sql, self.partners, self.client, settings, clock=self.clock)

    async def partner(
        self, name: str, role: OcpiRole = OcpiRole.EMSP, registered: bool = True
    ) -> Partner:
        made, _ = await self.partners.create(name)
        updated = await self.partners.update(
            made.id,
            PartnerUpdate(
                status=PartnerStatus.REGISTERED if registered else PartnerStatus.PENDING,
                roles=(PartyRole(role, "DE", name[:3].upper()),),
                endpoints=(
                    Endpoint("tariffs", InterfaceRole.RECEIVER, f"https://{name}/tariffs"),
                    Endpoint("cdrs", InterfaceRole.RECEIVER, f"https://{name}/cdrs/"),
                ),
                token_out=f"token-{name}",
            ),
        )
        assert updated is not None
        return updated

    async def rows(self, status: PushStatus | None = None) -> list[Any]:
        return (await self.push.list(None, status, 100, 0)).items


@pytest.fixture
async def db(store_url: str) -> AsyncIterator[Database]:
    database = Database(Settings(database_url=store_url))
    yield database
    await database.dispose()


@pytest.fixture
async def env(db: Database) -> Env:
    return Env(db)


async def drain(env: Env, push: OcpiPush | None = None) -> None:
    for _ in range(50):
        if not await (push or env.push).run_once():
            return
    raise AssertionError("the queue did not drain")


async def test_order_per_object_across_rounds(env: Env) -> None:
    p = await env.partner("emsp")
    for n in range(3):
        await env.push.enqueue(p.id, "POST", "https://emsp/cdrs/", {"n": n}, "cdr:1")
    await env.push.enqueue(p.id, "PATCH", "https://emsp/tariffs/a", {"n": "a1"}, "tariff:a")
    await env.push.enqueue(p.id, "PATCH", "https://emsp/tariffs/a", {"n": "a2"}, "tariff:a")
    # One round sends only the first row of each object (the two objects side by side:
    # between objects there is no order).
    assert await env.push.run_once() == 2
    assert sorted(str(b["n"]) for *_, b in env.client.sent) == ["0", "a1"]
    await drain(env)
    sent = [b["n"] for *_, b in env.client.sent]
    assert [n for n in sent if isinstance(n, int)] == [0, 1, 2]
    assert [n for n in sent if isinstance(n, str)] == ["a1", "a2"]
    assert len(sent) == 5
    assert await env.rows() == []  # delivered rows are gone


async def test_a_put_replaces_queued_puts_and_patches_of_its_object(env: Env) -> None:
    p = await env.partner("emsp")
    url = "https://emsp/tariffs/NL/AMP/T1"
    await env.push.enqueue(p.id, "PUT", url, {"v": 1}, "tariff:T1")
    await env.push.enqueue(p.id, "PATCH", url, {"v": 2}, "tariff:T1")
    await env.push.enqueue(p.id, "POST", "https://emsp/cdrs/", {"v": "cdr"}, "tariff:T1")
    await env.push.enqueue(p.id, "PUT", url, {"v": 3}, "tariff:T1")
    await env.push.enqueue(p.id, "PUT", url + "2", {"v": "other"}, "tariff:T2")
    assert [(r.method, r.body) for r in await env.rows()] == [
        ("POST", {"v": "cdr"}),
        ("PUT", {"v": 3}),
        ("PUT", {"v": "other"}),
    ]
    await drain(env)
    assert [b["v"] for _, _, u, b in env.client.sent if u == url] == [3]
    assert len(env.client.sent) == 3
    # A row being sent is not replaced: the new PUT waits behind it.
    env.client.hold[url] = asyncio.Event()
    await env.push.enqueue(p.id, "PUT", url, {"v": 5}, "tariff:T1")
    sending = asyncio.create_task(env.push.run_once())
    await asyncio.sleep(0.2)
    await env.push.enqueue(p.id, "PUT", url, {"v": 6}, "tariff:T1")
    env.client.hold.pop(url).set()
    await sending
    await drain(env)
    assert [b["v"] for _, m, u, b in env.client.sent if u == url] == [3, 5, 6]
    deleted = await env.partner("other")
    await env.push.enqueue(deleted.id, "DELETE", url, None, "tariff:T1")
    assert (await env.rows())[-1].body is None


async def test_retries_back_off_then_deliver(env: Env) -> None:
    p = await env.partner("emsp")
    url = "https://emsp/tariffs/x"
    env.client.answers[url] = [down(), OcpiReply(503, None, None, None), ok()]
    await env.push.enqueue(p.id, "PUT", url, {"v": 1}, "tariff:x")
    await env.push.enqueue(p.id, "PATCH", url, {"v": 2}, "tariff:x")
    assert await env.push.run_once() == 1
    first, _second = await env.rows()
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "connect failed")
    assert first.next_attempt_at == T0 + timedelta(seconds=5)
    assert await env.push.run_once() == 0  # not due yet; the PATCH waits behind it
    env.clock.advance(5)
    assert await env.push.run_once() == 1
    first = (await env.rows())[0]
    assert (first.attempts, first.last_http_status) == (2, 503)
    assert first.next_attempt_at == env.clock.now + timedelta(seconds=10)  # doubled
    env.clock.advance(10)
    await drain(env)
    assert [b["v"] for *_, b in env.client.sent] == [1, 1, 1, 2]
    assert await env.rows() == []


async def test_gives_up_keeps_the_row_and_can_be_retried(env: Env) -> None:
    p = await env.partner("emsp")
    url = "https://emsp/tariffs/y"
    env.client.answers[url] = [down()] * 4
    await env.push.enqueue(p.id, "PUT", url, {"v": 1}, "tariff:y")
    await env.push.enqueue(p.id, "POST", "https://emsp/cdrs/", {"v": 2}, "tariff:y")
    delays = []
    for _ in range(4):
        assert await env.push.run_once() == 1
        row = (await env.rows())[0]
        delays.append((row.next_attempt_at - env.clock.now).total_seconds())
        env.clock.advance(60)
    failed = await env.rows(PushStatus.FAILED)
    assert [(r.attempts, r.last_error) for r in failed] == [(4, "connect failed")]
    assert delays[:3] == [5.0, 10.0, 20.0]
    # A failed row no longer holds back the rows behind it.
    await drain(env)
    assert env.client.sent[-1][3] == {"v": 2}
    assert await env.rows(PushStatus.PENDING) == []
    # The operator sends it again.
    retried = await env.push.retry(failed[0].id)
    assert retried is not None and (retried.status, retried.attempts) == ("pending", 0)
    await drain(env)
    assert await env.rows() == []
    assert await env.push.retry(failed[0].id) is None


async def test_refusals_fail_at_once_server_errors_retry(env: Env) -> None:
    p = await env.partner("emsp")
    env.client.answers["https://emsp/tariffs/bad"] = [OcpiReply(200, 2001, "no", None)]
    env.client.answers["https://emsp/tariffs/gone"] = [OcpiReply(404, 2004, "unknown", None)]
    env.client.answers["https://emsp/tariffs/busy"] = [OcpiReply(200, 3000, "busy", None)]
    for key in ("bad", "gone", "busy"):
        await env.push.enqueue(p.id, "PATCH", f"https://emsp/tariffs/{key}", {}, key)
    await env.push.run_once()
    by_key = {r.object_key: r for r in await env.rows()}
    assert (by_key["bad"].status, by_key["bad"].attempts) == ("failed", 1)
    assert by_key["bad"].last_status_code == 2001
    assert (by_key["gone"].status, by_key["gone"].last_http_status) == ("failed", 404)
    assert (by_key["busy"].status, by_key["busy"].last_status_code) == ("pending", 3000)
    counts = await env.push.counts()
    assert counts[p.id] == (1, 2)


async def test_fan_out_to_receivers_and_partner_state(env: Env) -> None:
    emsp = await env.partner("emsp")
    await env.partner("cpo", role=OcpiRole.CPO)
    await env.partner("pending", registered=False)
    queued = await env.push.to_receivers("tariffs", "PUT", "/NL/AMP/T1", {"id": "T1"}, "tariff:T1")
    assert queued == 1
    (row,) = await env.rows()
    assert (row.partner_id, row.url) == (emsp.id, "https://emsp/tariffs/NL/AMP/T1")
    assert await env.push.to_partner(emsp, "cdrs", "POST", "", {"id": "1"}, "cdr:1")
    assert (await env.rows())[-1].url == "https://emsp/cdrs/"
    assert not await env.push.to_partner(emsp, "sessions", "PUT", "/x", {}, "s:1")
    with pytest.raises(ValueError):
        await env.push.enqueue(emsp.id, "GET", "https://emsp/x", None, "k")
    # An unregistered partner's rows fail instead of being sent; a deleted one's vanish.
    await env.partners.update(emsp.id, PartnerUpdate(status=PartnerStatus.UNREGISTERED))
    await env.push.run_once()
    assert {r.last_error for r in await env.rows()} == {"the partner is not registered"}
    assert env.client.sent == []
    assert await env.partners.delete(emsp.id)
    assert await env.rows() == []


async def test_two_processes_share_the_queue_in_order(env: Env) -> None:
    p = await env.partner("emsp")
    a, b = env.push, env.make_push("node-b")
    url = "https://emsp/tariffs/shared"
    await a.enqueue(p.id, "PATCH", url, {"n": 1}, "tariff:s")
    await a.enqueue(p.id, "PATCH", url, {"n": 2}, "tariff:s")
    await a.enqueue(p.id, "PATCH", "https://emsp/tariffs/other", {"n": "o"}, "tariff:o")
    env.client.hold[url] = asyncio.Event()
    first = asyncio.create_task(a.run_once())  # A sends n=1 (held) and "o"
    await asyncio.sleep(0.2)
    assert await b.run_once() == 0  # n=2 waits for n=1, which A is sending
    env.client.hold.pop(url).set()
    assert await first == 2
    assert await b.run_once() == 1  # B sends n=2 once n=1 is done
    assert [body["n"] for _, _, u, body in env.client.sent if u == url] == [1, 2]

    # A claim that outlives its lease (a dead process) is taken over; the late finish of
    # the first claimer changes nothing.
    await a.enqueue(p.id, "PATCH", url, {"n": 3}, "tariff:s")
    env.client.hold[url] = asyncio.Event()
    env.client.answers[url] = [down(), ok()]  # A's late attempt "fails", B's succeeds
    stuck = asyncio.create_task(a.run_once())
    await asyncio.sleep(0.2)
    env.clock.advance(3600)
    taking = asyncio.create_task(b.run_once())
    await asyncio.sleep(0.2)
    env.client.hold.pop(url).set()
    assert await taking == 1
    await stuck
    assert [body["n"] for _, _, u, body in env.client.sent if u == url] == [1, 2, 3, 3]
    assert await env.rows() == []  # B delivered it; A's failure did not bring it back
