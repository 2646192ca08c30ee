"""OCPI sessions and CDRs in SQL (issue 20, H4) on SQLite and PostgreSQL: one session per
transaction and per key (an insert of a known one updates it), the push mark is a
compare-and-set, pages filter by side, token owner and last_updated; CDRs are only
inserted (a used key is a CdrConflict), credit CDRs are found from the CDR they credit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ampyre.adapters.db.database import Database
from ampyre.adapters.db.roaming_sessions import RoamingSql
from ampyre.config import Settings
from ampyre.domain.cdrs import CdrConflict, StoredCdr, credit_id, credit_object, summarize
from ampyre.domain.ocpi_sessions import OURS, RECEIVED, Price, RoamingSession
from ampyre.services.roaming_port import CdrQuery, SessionQuery

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sql(store_url: str) -> AsyncIterator[RoamingSql]:
    db = Database(Settings(database_url=store_url))
    yield RoamingSql(db)
    await db.dispose()


def session(n: int, side: str = OURS, **kw: object) -> RoamingSession:
    s = RoamingSession(
        id=0,
        side=side,
        country_code="NL",
        party_id="AMP",
        session_id=str(n),
        status="ACTIVE",
        kwh=Decimal("1.250"),
        currency="EUR",
        start_date_time=NOW,
        last_updated=NOW + timedelta(minutes=n),
        body={"id": str(n), "kwh": 1.25, "charging_periods": []},
        total_cost=Price(Decimal("0.50"), Decimal("0.61")),
        transaction_pk=n if side == OURS else None,
        token_uid=f"TOKEN{n}",
        token_country_code="DE",
        token_party_id="xyz",
        created_at=NOW,
        updated_at=NOW,
    )
    for key, value in kw.items():
        setattr(s, key, value)
    return s


def cdr_body(cdr_id: str, *, owner: tuple[str, str] = ("DE", "XYZ"), cost: str = "4.00") -> dict:
    return {
        "country_code": "NL",
        "party_id": "AMP",
        "id": cdr_id,
        "start_date_time": "2026-12-01T10:00:00Z",
        "end_date_time": "2026-12-01T11:00:00Z",
        "session_id": cdr_id,
        "cdr_token": {
            "country_code": owner[0],
            "party_id": owner[1],
            "uid": "012345678",
            "type": "RFID",
            "contract_id": "DE8ACC12E46L89",
        },
        "auth_method": "WHITELIST",
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": "2026-12-01T10:00:00Z",
                "dimensions": [{"type": "TIME", "volume": 1}],
            }
        ],
        "total_cost": {"excl_vat": float(cost), "incl_vat": float(cost) * 1.21},
        "total_energy": 15.342,
        "total_time": 1,
        "last_updated": "2026-12-01T11:00:05Z",
    }


def stored(body: dict, side: str = OURS, tx: int | None = 7) -> StoredCdr:
    return StoredCdr(
        id=0, side=side, summary=summarize(body), body=body, transaction_pk=tx, created_at=NOW
    )


async def test_session_saved_once_per_transaction(sql: RoamingSql) -> None:
    first = await sql.save_session(session(1))
    assert first.id > 0
    again = session(1, kwh=Decimal("2.500"), status="COMPLETED")  # a second insert: updates
    again = await sql.save_session(again)
    assert again.id == first.id
    found = await sql.sessions_of_transactions([1, 2])
    assert list(found) == [1]
    got = found[1]
    assert got.kwh == Decimal("2.500") and got.status == "COMPLETED"
    assert got.total_cost == Price(Decimal("0.50"), Decimal("0.61"))
    assert got.token_party_id == "XYZ"  # CiString: kept upper case
    assert got.body == {"id": "1", "kwh": 1.25, "charging_periods": []}
    assert got.start_date_time == NOW and got.start_date_time.tzinfo is not None


async def test_push_mark_is_compare_and_set(sql: RoamingSql) -> None:
    s = await sql.save_session(session(2, dirty=True))
    assert await sql.claim_session_push(s.id, None, NOW, 3)
    assert not await sql.claim_session_push(s.id, None, NOW, 3)  # someone else pushed
    got = await sql.get_session(s.id)
    assert got is not None and got.pushed_at == NOW and got.pushed_periods == 3
    assert not got.dirty
    later = NOW + timedelta(seconds=90)
    assert await sql.claim_session_push(s.id, NOW, later, 4)


async def test_dirty_sessions_wait_for_their_interval(sql: RoamingSql) -> None:
    a = await sql.save_session(session(3, dirty=True, pushed_at=NOW))
    await sql.save_session(session(4, dirty=True, pushed_at=NOW + timedelta(minutes=5)))
    await sql.save_session(session(5, dirty=False, pushed_at=NOW))
    due = await sql.dirty_sessions(NOW + timedelta(minutes=1), 10)
    assert [d.id for d in due] == [a.id]


async def test_session_pages_filter_and_order(sql: RoamingSql) -> None:
    for n in (10, 11, 12):
        await sql.save_session(session(n))
    await sql.save_session(session(13, token_country_code="FR", token_party_id="ABC"))
    await sql.save_session(session(14, side=RECEIVED, partner_id=9))
    mine = await sql.session_page(
        SessionQuery(side=OURS, token_parties=(("DE", "XYZ"),), oldest_first=True), 2, 0
    )
    assert mine.total == 3
    assert [s.session_id for s in mine.items] == ["10", "11"]
    window = await sql.session_page(
        SessionQuery(
            side=OURS,
            token_parties=(("de", "xyz"),),
            date_from=NOW + timedelta(minutes=11),
            date_to=NOW + timedelta(minutes=12),
            oldest_first=True,
        ),
        10,
        0,
    )
    assert [s.session_id for s in window.items] == ["11"]
    none = await sql.session_page(SessionQuery(side=OURS, token_parties=()), 10, 0)
    assert none.total == 0
    received = await sql.session_page(SessionQuery(side=RECEIVED), 10, 0)
    assert [s.partner_id for s in received.items] == [9]
    newest = await sql.session_page(SessionQuery(), 2, 0)
    assert [s.session_id for s in newest.items] == ["14", "13"]


async def test_received_and_ours_do_not_collide(sql: RoamingSql) -> None:
    """Two Ampyres with the same party id roam with each other: a received session
    with our own key is another row."""
    ours = await sql.save_session(session(20))
    theirs = await sql.save_session(session(20, side=RECEIVED, status="COMPLETED"))
    assert ours.id != theirs.id
    found = await sql.find_session(RECEIVED, "nl", "amp", "20")
    assert found is not None and found.status == "COMPLETED"
    got = await sql.find_session(OURS, "NL", "AMP", "20")
    assert got is not None and got.status == "ACTIVE"


async def test_cdrs_insert_only_and_credit(sql: RoamingSql) -> None:
    original = await sql.add_cdr(stored(cdr_body("7")))
    assert original.id > 0
    with pytest.raises(CdrConflict):
        await sql.add_cdr(stored(cdr_body("7", cost="5.00")))
    # The same id received from a partner is not ours.
    await sql.add_cdr(stored(cdr_body("7"), side=RECEIVED, tx=None))

    body = credit_object(original.body, credit_id("7"), NOW)
    credit = await sql.add_cdr(stored(body))
    got = await sql.get_cdr(original.id)
    assert got is not None and got.credited_by == "7-C"
    assert got.summary.total_cost == Price(Decimal("4.0"), Decimal("4.84"))
    c = await sql.get_cdr(credit.id)
    assert c is not None and c.summary.credit and c.summary.credit_reference_id == "7"
    assert c.summary.total_cost.excl_vat == Decimal("-4.0")
    assert c.credited_by is None
    of_tx = await sql.cdrs_of_transaction(7)
    assert [x.summary.cdr_id for x in of_tx] == ["7", "7-C"]
    received = await sql.find_cdr(RECEIVED, "NL", "AMP", "7")
    assert received is not None and received.credited_by is None  # credits are per side


async def test_cdr_pages(sql: RoamingSql) -> None:
    for n in range(3):
        body = cdr_body(str(100 + n))
        body["last_updated"] = f"2026-12-01T11:0{n}:00Z"
        await sql.add_cdr(stored(body, tx=100 + n))
    await sql.add_cdr(stored(cdr_body("200", owner=("FR", "ABC")), tx=200))
    page = await sql.cdr_page(
        CdrQuery(side=OURS, token_parties=(("DE", "XYZ"),), oldest_first=True), 2, 1
    )
    assert page.total == 3 and [c.summary.cdr_id for c in page.items] == ["101", "102"]
    dated = await sql.cdr_page(
        CdrQuery(side=OURS, date_from=datetime(2026, 12, 1, 11, 1, tzinfo=UTC)), 10, 0
    )
    assert {c.summary.cdr_id for c in dated.items} == {"101", "102"}  # 200: 11:00:05
    credits = await sql.cdr_page(CdrQuery(credit=True), 10, 0)
    assert credits.total == 0
    by_tx = await sql.cdr_page(CdrQuery(transaction_pk=200), 10, 0)
    assert [c.summary.token_country_code for c in by_tx.items] == ["FR"]


async def test_transaction_events_are_read_by_type(sql: RoamingSql, store_url: str) -> None:
    import sqlalchemy as sa

    from ampyre.adapters.db import tables as t

    db = Database(Settings(database_url=store_url))
    try:
        async with db.tx() as conn:
            for n, kind in enumerate(
                ["station.status_changed", "transaction.started", "transaction.updated"] * 3
                + ["transaction.ended"]
            ):
                await conn.execute(
                    sa.insert(t.outbox_events).values(
                        type=kind,
                        station_id="CP1",
                        occurred_at=NOW,
                        data={"id": n},
                        created_at=NOW,
                    )
                )
    finally:
        await db.dispose()
    edges = {"transaction.started", "transaction.ended"}
    got = await sql.transaction_events_after(0, 10, edges, 100)
    assert [e.data["id"] for e in got] == [1, 4, 7, 9]
    assert got[0].type == "transaction.started" and got[0].at == NOW
    assert [e.id for e in await sql.transaction_events_after(got[1].id, got[2].id, edges, 9)] == [
        got[2].id
    ]
    assert len(await sql.transaction_events_after(0, 10, {*edges, "transaction.updated"}, 5)) == 5
    assert not await sql.has_active_sessions()
    await sql.save_session(session(30, status="COMPLETED"))
    await sql.save_session(session(31, side=RECEIVED))
    assert not await sql.has_active_sessions()
    await sql.save_session(session(32))
    assert await sql.has_active_sessions()
