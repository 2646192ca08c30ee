"""AuthSql (the AuthStore port) against real SQLite and PostgreSQL databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.authz import (
    IdToken,
    IdTokenType,
    LocalListState,
    Reservation,
    ReservationStatus,
    Restriction,
    TokenStatus,
)
from ampyre.domain.models import Station
from ampyre.domain.transactions import EventKind, TransactionEvent, TransactionFilter

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    s = SqlStore(Settings(database_url=store_url))
    await s.start()
    for sid in ("CP-1", "CP-2"):
        await s.create_station(Station(id=sid))
    yield s
    await s.close()


async def test_id_token_crud_and_conflict(store: SqlStore) -> None:
    token = await store.create_id_token(
        IdToken(
            "04A2B3",
            IdTokenType.ISO14443,
            expires_at=T0,
            group_id="G1",
            restrictions=[Restriction("CP-1", 2), Restriction("CP-2")],
            description="card",
        )
    )
    assert token.id is not None and token.created_at is not None
    again = await store.get_id_token(token.id)
    assert again == token
    assert again.restrictions == [Restriction("CP-1", 2), Restriction("CP-2", None)]
    assert again.expires_at == T0

    with pytest.raises(KeyError):
        await store.create_id_token(IdToken("04A2B3", IdTokenType.ISO14443))
    # Same value, other type: a different token.
    other = await store.create_id_token(IdToken("04A2B3", IdTokenType.CENTRAL))
    assert other.id != token.id

    token.status = TokenStatus.BLOCKED
    token.group_id = None
    updated = await store.update_id_token(token)
    assert updated is not None
    assert (updated.status, updated.group_id) == (TokenStatus.BLOCKED, None)
    # Renaming onto an existing (value, type) is refused.
    other.type = IdTokenType.ISO14443
    with pytest.raises(KeyError):
        await store.update_id_token(other)

    assert await store.delete_id_token(token.id) is True
    assert await store.delete_id_token(token.id) is False
    assert await store.get_id_token(token.id) is None
    token.id = 10_000
    assert await store.update_id_token(token) is None


async def test_find_id_token_by_value_type_and_case(store: SqlStore) -> None:
    central = await store.create_id_token(IdToken("ABC123", IdTokenType.CENTRAL))
    rfid = await store.create_id_token(IdToken("abc123", IdTokenType.ISO14443))
    emaid = await store.create_id_token(IdToken("DE8AA0012345", IdTokenType.EMAID))

    found = await store.find_id_token("ABC123", None)
    assert found is not None and found.id == central.id  # exact value first
    found = await store.find_id_token("abc123", None)
    assert found is not None and found.id == rfid.id
    found = await store.find_id_token("ABC123", "ISO14443")
    assert found is not None and found.id == rfid.id  # case insensitive within a type
    found = await store.find_id_token("de8aa0012345", "eMAID")
    assert found is not None and found.id == emaid.id
    assert await store.find_id_token("DE8AA0012345", "ISO14443") is None
    assert await store.find_id_token("nope", None) is None


async def test_list_and_search(store: SqlStore) -> None:
    for value in ("AAA-1", "aaa-2", "BBB-1", "x%y", "x_y"):
        await store.create_id_token(IdToken(value))
    page = await store.list_id_tokens(2, 0, None)
    assert page.total == 5 and [t.id_token for t in page.items] == ["AAA-1", "aaa-2"]
    page = await store.list_id_tokens(10, 0, "aA")
    assert [t.id_token for t in page.items] == ["AAA-1", "aaa-2"]
    # LIKE wildcards in the search are literal.
    page = await store.list_id_tokens(10, 0, "%")
    assert [t.id_token for t in page.items] == ["x%y"]
    page = await store.list_id_tokens(10, 4, None)
    assert page.total == 5 and len(page.items) == 1


async def test_tokens_for_station(store: SqlStore) -> None:
    await store.create_id_token(IdToken("ANY"))
    await store.create_id_token(IdToken("ONE", restrictions=[Restriction("CP-1")]))
    await store.create_id_token(IdToken("TWO", restrictions=[Restriction("CP-2", 1)]))
    assert [t.id_token for t in await store.id_tokens_for_station("CP-1")] == ["ANY", "ONE"]
    assert [t.id_token for t in await store.id_tokens_for_station("CP-2")] == ["ANY", "TWO"]
    assert [t.id_token for t in await store.id_tokens_for_station("CP-9")] == ["ANY"]


async def test_local_list_state_round_trip(store: SqlStore) -> None:
    assert await store.get_local_list("CP-1") is None
    state = LocalListState(
        "CP-1", 3, {"A": ("ISO14443", "Accepted"), "B": ("Central", "Blocked|x")}, "Accepted", T0
    )
    await store.save_local_list(state)
    assert await store.get_local_list("CP-1") == state
    state.version, state.entries = 4, {"A": ("ISO14443", "Expired")}
    await store.save_local_list(state)
    assert await store.get_local_list("CP-1") == state
    assert await store.get_local_list("CP-2") is None


async def _reserve(store: SqlStore, station: str, expires: datetime) -> Reservation:
    return await store.create_reservation(
        Reservation(
            id=0,
            station_id=station,
            id_token="TAG",
            id_token_type=IdTokenType.ISO14443,
            expires_at=expires,
            evse_id=1,
            created_at=T0,
            updated_at=T0,
        )
    )


async def test_reservations(store: SqlStore) -> None:
    r1 = await _reserve(store, "CP-1", T0 + timedelta(minutes=5))
    r2 = await _reserve(store, "CP-2", T0 + timedelta(minutes=10))
    r3 = await _reserve(store, "CP-1", T0 + timedelta(minutes=1))
    assert r1.id > 0 and r2.id > r1.id and r3.id > r2.id
    assert r1.status is ReservationStatus.REQUESTED

    r2.status, r2.station_answer = ReservationStatus.ACCEPTED, "Accepted"
    updated = await store.update_reservation(r2)
    assert updated is not None and updated.station_answer == "Accepted"
    r3.status = ReservationStatus.CANCELLED
    await store.update_reservation(r3)

    page = await store.list_reservations("CP-1", None, 10, 0)
    assert [r.id for r in page.items] == [r3.id, r1.id] and page.total == 2
    page = await store.list_reservations(None, "accepted", 10, 0)
    assert [r.id for r in page.items] == [r2.id]

    # Expiry: only active ones past their time; cancelled r3 stays cancelled.
    expired = await store.expire_reservations(T0 + timedelta(minutes=7))
    assert [r.id for r in expired] == [r1.id]
    assert expired[0].status is ReservationStatus.EXPIRED
    assert await store.expire_reservations(T0 + timedelta(minutes=7)) == []
    expired = await store.expire_reservations(T0 + timedelta(minutes=10))
    assert [r.id for r in expired] == [r2.id]
    got = await store.get_reservation(r3.id)
    assert got is not None and got.status is ReservationStatus.CANCELLED
    assert await store.get_reservation(99_999) is None


# ---------------------------------------------------------------------- one case rule


async def test_id_tokens_are_unique_and_found_ignoring_case(store: SqlStore) -> None:
    kept = await store.create_id_token(IdToken("NEWCOMER-0002", IdTokenType.ISO14443))
    for spelling in ("Newcomer-0002", "newcomer-0002"):
        with pytest.raises(KeyError):
            await store.create_id_token(IdToken(spelling, IdTokenType.ISO14443))
    # Another type is another token (an operator may register a value twice).
    other = await store.create_id_token(IdToken("newcomer-0002", IdTokenType.CENTRAL))
    mixed = await store.create_id_token(IdToken("NeWcOmEr-0001", IdTokenType.ISO14443))
    # Renaming onto a case variant of an existing (value, type) is refused too.
    other.type = IdTokenType.ISO14443
    with pytest.raises(KeyError):
        await store.update_id_token(other)

    found = await store.find_id_tokens("NEWCOMER-0002")
    assert [t.id for t in found] == [kept.id, other.id]
    for spelling in ("newcomer-0001", "NEWCOMER-0001", "Newcomer-0001"):
        hit = await store.find_id_token(spelling, "ISO14443")
        assert hit is not None and hit.id == mixed.id
    assert await store.find_id_tokens("newcomer-0003") == []


async def test_card_like_types_of_one_value_are_one_card(store: SqlStore) -> None:
    local = await store.create_id_token(IdToken("04E1A2B3", IdTokenType.LOCAL))
    for type_ in ("ISO14443", "ISO15693", "Local"):
        hit = await store.find_id_token("04e1a2b3", type_)
        assert hit is not None and hit.id == local.id
    assert await store.find_id_token("04E1A2B3", "eMAID") is None
    # Registered by the operator as two cards: each type is its own token.
    iso = await store.create_id_token(IdToken("04E1A2B3", IdTokenType.ISO14443))
    assert (await store.find_id_token("04E1A2B3", "ISO14443")).id == iso.id  # type: ignore[union-attr]
    assert (await store.find_id_token("04E1A2B3", "Local")).id == local.id  # type: ignore[union-attr]
    assert await store.find_id_token("04E1A2B3", "ISO15693") is None


async def test_transactions_by_id_token_ignore_case(store: SqlStore) -> None:
    at = T0
    started = TransactionEvent(
        station_id="CP-1",
        kind=EventKind.STARTED,
        timestamp=at,
        received_at=at,
        transaction_id="T-1",
        event_key="seq:0",
        seq_no=0,
        evse_id=1,
        connector_id=1,
        id_token="Newcomer-0001",
        id_token_type="ISO14443",
        auth_status="Accepted",
        ocpp_version="ocpp2.0.1",
    )
    await store.record_transaction_events([started])
    for spelling in ("newcomer-0001", "NEWCOMER-0001", "Newcomer-0001"):
        page = await store.list_transactions(TransactionFilter(id_token=spelling), 10, 0)
        assert [tx.transaction_id for tx in page.items] == ["T-1"]
        # ConcurrentTx: the same card in any spelling is in use elsewhere.
        assert await store.token_in_use(spelling, "CP-2", None, 1)
    page = await store.list_transactions(TransactionFilter(id_token="newcomer-000"), 10, 0)
    assert page.total == 0
