"""OCPI Sessions and CDRs as services (issue 20, H4), on fakes: the outbox consumer
turns roaming transactions into Sessions pushed to the token's eMSP (PUT at the start,
throttled PATCH/PUT updates, PUT COMPLETED at the end) and leaves local tokens alone;
CDRs are made once per ended transaction, pushed for roaming tokens only, credited and
re-issued; received sessions and CDRs follow the eMSP rules."""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ampyre.domain.cdrs import CdrConflict, CdrInvalid, CdrLocation, StoredCdr
from ampyre.domain.events import OutboxEvent
from ampyre.domain.models import Page
from ampyre.domain.ocpi import OcpiRole, Partner, PartnerStatus, PartyRole
from ampyre.domain.ocpi_sessions import (
    OURS,
    RECEIVED,
    AuthMethod,
    CdrToken,
    Dimension,
    Period,
    Price,
    Pricing,
    RoamingSession,
    SessionRejected,
    TokenGrant,
)
from ampyre.domain.transactions import Transaction, TransactionStatus
from ampyre.services.cdrs import CdrNotFound, CdrService
from ampyre.services.events import EventBus
from ampyre.services.ocpi_sessions import OcpiSessions, SessionNotFound
from ampyre.services.roaming_port import CdrQuery, Party, Place, SessionQuery

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
EMSP = ("DE", "XYZ")
ROAMING_UID = "04A2B3C4D5"
LOCAL_UID = "LOCAL-1"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class FakeStore:
    """RoamingStore in memory, with the SQL store's rules (tested there too)."""

    def __init__(self, outbox: FakeOutbox) -> None:
        self.sessions: dict[int, RoamingSession] = {}
        self.cdrs: dict[int, StoredCdr] = {}
        self._next = 1
        self.outbox = outbox
        self.asked_types: list[frozenset[str]] = []

    async def transaction_events_after(
        self, position: int, upto: int, types: Collection[str], limit: int
    ) -> list[OutboxEvent]:
        self.asked_types.append(frozenset(types))
        events = [e for e in self.outbox.events if position < e.id <= upto and e.type in types]
        return events[:limit]

    async def has_active_sessions(self) -> bool:
        return any(s.side == OURS and s.status != "COMPLETED" for s in self.sessions.values())

    def _id(self) -> int:
        self._next += 1
        return self._next

    async def sessions_of_transactions(self, pks: Collection[int]) -> dict[int, RoamingSession]:
        return {
            s.transaction_pk: copy.deepcopy(s)
            for s in self.sessions.values()
            if s.transaction_pk in pks and s.transaction_pk is not None
        }

    async def save_session(self, session: RoamingSession) -> RoamingSession:
        if not session.id:
            for s in self.sessions.values():
                if (s.side, s.country_code, s.party_id, s.session_id) == (
                    session.side,
                    session.country_code.upper(),
                    session.party_id.upper(),
                    session.session_id,
                ):
                    session.id = s.id
            session.id = session.id or self._id()
        stored = copy.deepcopy(session)
        stored.country_code, stored.party_id = stored.country_code.upper(), stored.party_id.upper()
        self.sessions[session.id] = stored
        return session

    async def claim_session_push(
        self, session_id: int, pushed_at: datetime | None, now: datetime, periods: int
    ) -> bool:
        s = self.sessions[session_id]
        if s.pushed_at != pushed_at:
            return False
        s.pushed_at, s.pushed_periods, s.dirty = now, periods, False
        return True

    async def dirty_sessions(self, pushed_before: datetime, limit: int) -> list[RoamingSession]:
        return [
            copy.deepcopy(s)
            for s in self.sessions.values()
            if s.dirty and (s.pushed_at is None or s.pushed_at < pushed_before)
        ][:limit]

    async def get_session(self, session_pk: int) -> RoamingSession | None:
        return copy.deepcopy(self.sessions.get(session_pk))

    async def find_session(
        self, side: str, country_code: str, party_id: str, session_id: str
    ) -> RoamingSession | None:
        for s in self.sessions.values():
            if (s.side, s.country_code, s.party_id, s.session_id) == (
                side,
                country_code.upper(),
                party_id.upper(),
                session_id,
            ):
                return copy.deepcopy(s)
        return None

    async def session_page(self, query: SessionQuery, limit: int, offset: int) -> Page:
        items = [
            s
            for s in self.sessions.values()
            if (query.side is None or s.side == query.side)
            and (
                query.token_parties is None
                or (s.token_country_code, s.token_party_id) in query.token_parties
            )
        ]
        return Page(items[offset : offset + limit], len(items), limit, offset)

    async def add_cdr(self, cdr: StoredCdr) -> StoredCdr:
        s = cdr.summary
        for c in self.cdrs.values():
            k = c.summary
            if (c.side, k.country_code, k.party_id, k.cdr_id) == (
                cdr.side,
                s.country_code,
                s.party_id,
                s.cdr_id,
            ):
                raise CdrConflict("taken")
        cdr.id = self._id()
        self.cdrs[cdr.id] = copy.deepcopy(cdr)
        return cdr

    def _read(self, c: StoredCdr) -> StoredCdr:
        out = copy.deepcopy(c)
        for other in self.cdrs.values():
            s = other.summary
            if s.credit and s.credit_reference_id == c.summary.cdr_id and other.side == c.side:
                out.credited_by = s.cdr_id
        return out

    async def get_cdr(self, cdr_pk: int) -> StoredCdr | None:
        c = self.cdrs.get(cdr_pk)
        return None if c is None else self._read(c)

    async def find_cdr(
        self, side: str, country_code: str, party_id: str, cdr_id: str
    ) -> StoredCdr | None:
        for c in self.cdrs.values():
            k = c.summary
            if (c.side, k.country_code.upper(), k.party_id.upper(), k.cdr_id) == (
                side,
                country_code.upper(),
                party_id.upper(),
                cdr_id,
            ):
                return self._read(c)
        return None

    async def cdrs_of_transaction(self, transaction_pk: int) -> list[StoredCdr]:
        return [self._read(c) for c in self.cdrs.values() if c.transaction_pk == transaction_pk]

    async def cdr_page(self, query: CdrQuery, limit: int, offset: int) -> Page:
        items = [
            self._read(c)
            for c in self.cdrs.values()
            if (query.side is None or c.side == query.side)
            and (
                query.token_parties is None
                or (c.summary.token_country_code, c.summary.token_party_id) in query.token_parties
            )
        ]
        return Page(items[offset : offset + limit], len(items), limit, offset)


class FakeOutbox:
    def __init__(self) -> None:
        self.events: list[OutboxEvent] = []
        self.cursor = 0
        self.steal = False  # another process moves the cursor first

    def add(self, type_: str, tx: Transaction, **data: Any) -> None:
        body = {
            "id": tx.id,
            "id_token": tx.id_token,
            "remote_start_id": tx.remote_start_id,
            **data,
        }
        n = len(self.events) + 1
        self.events.append(OutboxEvent(n, type_, T0, tx.station_id, body, T0))

    async def events_after(self, position: int, limit: int) -> list[OutboxEvent]:
        return [e for e in self.events if e.id > position][:limit]

    async def last_event_id(self) -> int:
        return len(self.events)

    async def consumer_position(self, name: str) -> int:
        return self.cursor

    async def advance_consumer(self, name: str, position: int, to: int) -> bool:
        if self.steal or self.cursor != position:
            return False
        self.cursor = to
        return True


class FakeTransactions:
    def __init__(self) -> None:
        self.txs: dict[int, Transaction] = {}

    async def get(self, transaction_pk: int) -> Transaction | None:
        return self.txs.get(transaction_pk)


class FakeLinks:
    def __init__(self) -> None:
        self.pushes: list[tuple[Party, str, str, str, Any, str]] = []
        self.lookups: list[str] = []
        self.pricing: dict[int, Pricing] = {}
        self.partners = {EMSP: 7}

    @property
    def our_party(self) -> Party:
        return ("NL", "AMP")

    async def roaming_token(
        self, uid: str, station_id: str, remote_start: bool
    ) -> TokenGrant | None:
        self.lookups.append(uid)
        if uid != ROAMING_UID:
            return None
        token = CdrToken("DE", "XYZ", uid, "RFID", "DE-XYZ-C12345-6")
        method = AuthMethod.COMMAND if remote_start else AuthMethod.AUTH_REQUEST
        return TokenGrant(token, method, "REF-9")

    async def place(self, station_id: str, evse_id: int | None, connector_id: int | None) -> Place:
        return Place("LOC1", f"{station_id}*{evse_id}", str(connector_id))

    async def cdr_location(
        self, station_id: str, evse_id: int | None, connector_id: int | None
    ) -> CdrLocation:
        return CdrLocation(
            "LOC1", "Main 1", "Utrecht", "NLD", "52.09073", "5.12142",
            f"{station_id}*{evse_id}", "NL*AMP*E1", str(connector_id),
            "IEC_62196_T2", "SOCKET", "AC_3_PHASE",
        )  # fmt: skip

    async def price(self, transaction_pk: int, until: datetime | None = None) -> Pricing | None:
        return self.pricing.get(transaction_pk)

    def default_currency(self) -> str:
        return "EUR"

    async def push(
        self, owner: Party, module: str, method: str, path: str, body: Any, object_key: str
    ) -> int | None:
        partner = self.partners.get(owner)
        if partner is not None:
            self.pushes.append((owner, module, method, path, copy.deepcopy(body), object_key))
        return partner

    async def partner_of(self, owner: Party) -> int | None:
        return self.partners.get(owner)


def pricing(periods: int, cost: str) -> Pricing:
    return Pricing(
        currency="EUR",
        periods=tuple(
            Period(T0 + timedelta(minutes=30 * i), (Dimension("ENERGY", Decimal("2.5")),), "T1")
            for i in range(periods)
        ),
        total_cost=Price(Decimal(cost), Decimal(cost) * Decimal("1.21")),
        total_energy=Decimal("2.5") * periods,
        total_time=Decimal("0.5") * periods,
        total_energy_cost=Price(Decimal(cost)),
        tariffs=({"id": "T1"},),
    )


class World:
    def __init__(self, *, local_cdrs: bool = True, interval: float = 60.0) -> None:
        self.clock = Clock()
        self.outbox = FakeOutbox()
        self.store = FakeStore(self.outbox)
        self.transactions = FakeTransactions()
        self.links = FakeLinks()
        self.cdrs = CdrService(
            self.store,
            self.transactions,
            self.links,
            local_transactions=local_cdrs,
            clock=self.clock,
        )
        self.sessions = OcpiSessions(
            self.store,
            self.outbox,
            self.transactions,
            self.links,
            EventBus(),
            update_interval=interval,
            cdrs=self.cdrs,
            clock=self.clock,
        )

    def tx(self, pk: int, uid: str | None, **kw: Any) -> Transaction:
        tx = Transaction(
            id=pk,
            station_id="CP1",
            transaction_id=f"T{pk}",
            status=TransactionStatus.ACTIVE,
            evse_id=1,
            connector_id=1,
            id_token=uid,
            id_token_type="ISO14443",
            started_at=T0,
            meter_start_wh=1000.0,
            meter_stop_wh=1000.0,
            **kw,
        )
        self.transactions.txs[pk] = tx
        return tx

    def end(self, tx: Transaction, at: datetime, wh: float) -> Transaction:
        ended = replace(
            tx,
            status=TransactionStatus.ENDED,
            ended_at=at,
            meter_stop_wh=wh,
            stop_reason="EVDisconnected",
        )
        self.transactions.txs[tx.id] = ended
        return ended

    async def drain(self) -> None:
        while await self.sessions.consume():
            pass


async def test_roaming_session_is_put_updated_and_completed() -> None:
    w = World()
    tx = w.tx(41, ROAMING_UID)
    w.outbox.add("transaction.started", tx)
    await w.drain()
    assert len(w.links.pushes) == 1
    owner, module, method, path, body, key = w.links.pushes[0]
    assert (owner, module, method, path, key) == (
        EMSP,
        "sessions",
        "PUT",
        "/NL/AMP/41",
        "session:41",
    )
    assert body["id"] == "41" and body["status"] == "ACTIVE" and body["kwh"] == 0
    assert body["cdr_token"]["uid"] == ROAMING_UID and body["auth_method"] == "AUTH_REQUEST"
    assert body["authorization_reference"] == "REF-9"
    assert body["location_id"] == "LOC1" and body["evse_uid"] == "CP1*1"
    assert "total_cost" not in body  # not priced: unknown, not free
    (session,) = w.store.sessions.values()
    assert session.partner_id == 7 and session.token_party_id == "XYZ"

    # An update within the interval: remembered, not pushed.
    w.clock.now = T0 + timedelta(seconds=20)
    w.transactions.txs[41] = replace(tx, meter_stop_wh=3500.0)
    w.outbox.add("transaction.updated", tx)
    await w.drain()
    assert len(w.links.pushes) == 1
    assert await w.sessions.flush() == 0  # not due yet
    # Due: a PATCH of the changing fields (the charging periods did not change).
    w.clock.now = T0 + timedelta(seconds=61)
    assert await w.sessions.flush() == 1
    _, _, method, path, patch, _ = w.links.pushes[-1]
    assert method == "PATCH" and path == "/NL/AMP/41"
    assert patch == {"kwh": 2.5, "status": "ACTIVE", "last_updated": "2026-12-01T10:01:01Z"}
    # A priced update with new charging periods: the whole object again.
    w.links.pricing[41] = pricing(2, "1.50")
    w.clock.now = T0 + timedelta(seconds=130)
    w.outbox.add("transaction.updated", tx)
    await w.drain()
    _, _, method, _, body, _ = w.links.pushes[-1]
    assert method == "PUT" and len(body["charging_periods"]) == 2
    assert body["total_cost"] == {"excl_vat": 1.5, "incl_vat": 1.815}
    # The end: PUT COMPLETED at once (whatever the interval), then the CDR.
    w.clock.now = T0 + timedelta(seconds=140)
    w.links.pricing[41] = pricing(2, "2.00")
    ended = w.end(tx, T0 + timedelta(seconds=135), 6000.0)
    w.outbox.add("transaction.ended", ended)
    await w.drain()
    kinds = [(p[1], p[2]) for p in w.links.pushes[-2:]]
    assert kinds == [("sessions", "PUT"), ("cdrs", "POST")]
    final = w.links.pushes[-2][4]
    assert final["status"] == "COMPLETED" and final["end_date_time"] == "2026-12-01T10:02:15Z"
    cdr = w.links.pushes[-1][4]
    assert cdr["id"] == "41" and cdr["session_id"] == "41"
    assert cdr["total_cost"] == {"excl_vat": 2.0, "incl_vat": 2.42}
    assert cdr["auth_method"] == "AUTH_REQUEST" and cdr["authorization_reference"] == "REF-9"
    assert cdr["remark"] == "EVDisconnected"
    assert w.links.pushes[-1][5] == "cdr:NL/AMP/41"
    # Completed is final: later events change nothing, and no second CDR.
    count = len(w.links.pushes)
    w.outbox.add("transaction.ended", ended)
    w.outbox.add("transaction.updated", ended)
    await w.drain()
    assert len(w.links.pushes) == count
    assert len(w.store.cdrs) == 1


async def test_local_tokens_get_no_session_and_are_looked_up_once() -> None:
    w = World()
    tx = w.tx(5, LOCAL_UID)
    w.outbox.add("transaction.started", tx)
    for _ in range(3):
        w.outbox.add("transaction.updated", tx, id_token=None)
    await w.drain()
    await w.drain()
    w.outbox.add("transaction.updated", tx, id_token=None)
    await w.drain()
    assert w.links.pushes == [] and w.store.sessions == {}
    assert w.links.lookups == [LOCAL_UID]
    assert w.outbox.cursor == len(w.outbox.events)
    # Without an active roaming session, meter value updates are not even read.
    assert all("transaction.updated" not in types for types in w.store.asked_types)


async def test_local_cdrs_only_when_priced_and_never_pushed() -> None:
    w = World()
    free = w.end(w.tx(6, LOCAL_UID), T0 + timedelta(hours=1), 5000.0)
    priced = w.end(w.tx(8, LOCAL_UID), T0 + timedelta(hours=1), 11000.0)
    w.links.pricing[8] = pricing(1, "3.00")
    w.outbox.add("transaction.ended", free)
    w.outbox.add("transaction.ended", priced)
    await w.drain()
    assert w.links.pushes == []
    (cdr,) = w.store.cdrs.values()
    assert cdr.transaction_pk == 8 and cdr.partner_id is None
    assert cdr.body["cdr_token"] == {
        "country_code": "NL",
        "party_id": "AMP",
        "uid": LOCAL_UID,
        "type": "RFID",
        "contract_id": LOCAL_UID,
    }
    assert cdr.body["auth_method"] == "WHITELIST" and "session_id" not in cdr.body

    off = World(local_cdrs=False)
    off.links.pricing[8] = pricing(1, "3.00")
    ended = off.end(off.tx(8, LOCAL_UID), T0 + timedelta(hours=1), 11000.0)
    assert await off.cdrs.create_for_transaction(ended.id) is None
    assert off.store.cdrs == {}


async def test_unpriced_roaming_cdr_is_free_and_still_sent() -> None:
    w = World()
    ended = w.end(w.tx(9, ROAMING_UID, remote_start_id=3), T0 + timedelta(minutes=90), 8500.0)
    cdr = await w.cdrs.create_for_transaction(9)
    assert cdr is not None
    assert cdr.body["auth_method"] == "COMMAND"
    assert cdr.body["total_cost"] == {"excl_vat": 0.0, "incl_vat": 0.0}
    assert cdr.body["total_energy"] == 7.5 and cdr.body["total_time"] == 1.5
    assert [p[2] for p in w.links.pushes] == ["POST"]
    again = await w.cdrs.create_for_transaction(ended.id)
    assert again is not None and again.id == cdr.id and len(w.links.pushes) == 1
    # A running or unknown transaction gets none.
    w.tx(10, ROAMING_UID)
    assert await w.cdrs.create_for_transaction(10) is None
    assert await w.cdrs.create_for_transaction(999) is None


async def test_credit_and_reissue() -> None:
    w = World()
    w.links.pricing[11] = pricing(1, "4.00")
    w.end(w.tx(11, ROAMING_UID), T0 + timedelta(hours=1), 3500.0)
    original = await w.cdrs.create_for_transaction(11)
    assert original is not None
    w.links.pricing[11] = pricing(1, "3.00")  # the tariff was wrong
    w.clock.now = T0 + timedelta(days=1)
    credit, reissued = await w.cdrs.credit(original.id, reason="wrong tariff", reissue=True)
    assert credit.summary.cdr_id == "11-C" and credit.summary.credit
    assert credit.body["total_cost"] == {"excl_vat": -4.0, "incl_vat": -4.84}
    assert credit.body["credit_reference_id"] == "11" and credit.body["remark"] == "wrong tariff"
    assert reissued is not None and reissued.summary.cdr_id == "11-2"
    assert reissued.body["total_cost"] == {"excl_vat": 3.0, "incl_vat": 3.63}
    assert [p[4]["id"] for p in w.links.pushes] == ["11", "11-C", "11-2"]
    with pytest.raises(CdrConflict, match="credited by 11-C"):
        await w.cdrs.credit(original.id)
    with pytest.raises(CdrConflict, match="credit CDR cannot"):
        await w.cdrs.credit(credit.id)
    with pytest.raises(CdrNotFound):
        await w.cdrs.credit(12345)
    # The re-issued one can be credited in turn, and the next is -3.
    _, third = await w.cdrs.credit(reissued.id, reissue=True)
    assert third is not None and third.summary.cdr_id == "11-3"
    # A local CDR is credited without a push.
    w.links.pricing[12] = pricing(1, "1.00")
    w.end(w.tx(12, LOCAL_UID), T0 + timedelta(hours=1), 2000.0)
    local = await w.cdrs.create_for_transaction(12)
    assert local is not None
    pushes = len(w.links.pushes)
    await w.cdrs.credit(local.id)
    assert len(w.links.pushes) == pushes


async def test_cursor_lost_to_another_process_is_read_again() -> None:
    w = World()
    tx = w.tx(13, ROAMING_UID)
    w.outbox.add("transaction.started", tx)
    w.outbox.steal = True
    assert await w.sessions.consume()
    w.outbox.steal = False
    await w.drain()  # the stretch is handled again: idempotent
    assert len(w.store.sessions) == 1
    assert w.outbox.cursor == 1
    assert [p[2] for p in w.links.pushes] == ["PUT"]  # the push mark is compare-and-set


async def test_session_without_partner_is_kept_for_pull() -> None:
    w = World()
    w.links.partners = {}
    partner = _partner(3, [EMSP])
    w.outbox.add("transaction.started", w.tx(14, ROAMING_UID))
    await w.drain()
    assert w.links.pushes == []
    page = await w.sessions.page_for(partner, None, None, 0, 10)
    assert [s.session_id for s in page.items] == ["14"]
    other = await w.sessions.page_for(_partner(4, [("FR", "ABC")]), None, None, 0, 10)
    assert other.total == 0


def _partner(pid: int, parties: list[tuple[str, str]]) -> Partner:
    return Partner(
        id=pid,
        name=f"p{pid}",
        status=PartnerStatus.REGISTERED,
        versions_url=None,
        version="2.2.1",
        endpoints=(),
        roles=tuple(
            PartyRole(OcpiRole.EMSP if pid != 99 else OcpiRole.CPO, cc, p) for cc, p in parties
        ),
        created_at=T0,
        updated_at=T0,
    )


def _received_session(session_id: str = "S1", **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country_code": "BE",
        "party_id": "CPO",
        "id": session_id,
        "start_date_time": "2026-12-01T10:00:00Z",
        "kwh": 0,
        "cdr_token": {
            "country_code": "NL",
            "party_id": "AMP",
            "uid": "TOKEN1",
            "type": "RFID",
            "contract_id": "NL-AMP-1",
        },
        "auth_method": "WHITELIST",
        "location_id": "L1",
        "evse_uid": "E1",
        "connector_id": "1",
        "currency": "EUR",
        "charging_periods": [],
        "status": "ACTIVE",
        "last_updated": "2026-12-01T10:00:00Z",
    }
    body.update(kw)
    return body


async def test_received_sessions_put_patch_get() -> None:
    w = World()
    cpo = _partner(99, [("BE", "CPO")])
    session, created = await w.sessions.receive_put(cpo, "BE", "CPO", "S1", _received_session())
    assert created and session.side == RECEIVED and session.partner_id == 99
    period = {
        "start_date_time": "2026-12-01T10:05:00Z",
        "dimensions": [{"type": "ENERGY", "volume": 1}],
    }
    patched = await w.sessions.receive_patch(
        cpo,
        "be",
        "cpo",
        "S1",
        {"kwh": 1, "charging_periods": [period], "last_updated": "2026-12-01T10:06:00Z"},
    )
    assert patched.kwh == Decimal(1) and patched.body["charging_periods"] == [period]
    assert patched.last_updated == datetime(2026, 12, 1, 10, 6, tzinfo=UTC)
    got = await w.sessions.received("BE", "CPO", "S1")
    assert got is not None and got.body["kwh"] == 1
    _, created = await w.sessions.receive_put(
        cpo, "BE", "CPO", "S1", _received_session(status="COMPLETED", kwh=4.2)
    )
    assert not created
    with pytest.raises(SessionNotFound):
        await w.sessions.receive_patch(cpo, "BE", "CPO", "S2", {"last_updated": "x"})
    with pytest.raises(SessionRejected, match="id of the body"):
        await w.sessions.receive_put(cpo, "BE", "CPO", "S9", _received_session())
    with pytest.raises(SessionRejected, match="country_code"):
        await w.sessions.receive_put(cpo, "FR", "CPO", "S1", _received_session())
    with pytest.raises(SessionRejected, match="last_updated"):
        await w.sessions.receive_patch(cpo, "BE", "CPO", "S1", {"kwh": 3})


def _received_cdr(cdr_id: str = "C1", **kw: Any) -> dict[str, Any]:
    body = _received_session()
    for key in ("kwh", "status", "location_id", "evse_uid", "connector_id"):
        del body[key]
    body.update(
        id=cdr_id,
        end_date_time="2026-12-01T11:00:00Z",
        cdr_location={"id": "L1"},
        charging_periods=[
            {
                "start_date_time": "2026-12-01T10:00:00Z",
                "dimensions": [{"type": "TIME", "volume": 1}],
            }
        ],
        total_cost={"excl_vat": 2.5},
        total_energy=10,
        total_time=1,
    )
    body.update(kw)
    return body


async def test_received_cdrs_are_kept_once() -> None:
    w = World()
    cpo = _partner(99, [("BE", "CPO")])
    cdr, created = await w.cdrs.receive(cpo, _received_cdr())
    assert created and cdr.side == RECEIVED and cdr.partner_id == 99
    again, created = await w.cdrs.receive(cpo, _received_cdr())
    assert not created and again.id == cdr.id
    with pytest.raises(CdrConflict, match="cannot be replaced"):
        await w.cdrs.receive(cpo, _received_cdr(total_energy=11))
    with pytest.raises(CdrInvalid, match="not a party"):
        await w.cdrs.receive(_partner(98, [("FR", "ABC")]), _received_cdr("C2"))
    with pytest.raises(CdrInvalid):
        await w.cdrs.receive(cpo, {"id": "C3"})
    assert await w.cdrs.received_for(cpo, cdr.id) is not None
    assert await w.cdrs.received_for(_partner(98, [("BE", "CPO")]), cdr.id) is None
    # Received CDRs cannot be credited here.
    with pytest.raises(CdrConflict, match="only CDRs Ampyre made"):
        await w.cdrs.credit(cdr.id)
    listed = await w.cdrs.list(side=OURS)
    assert listed.total == 0
