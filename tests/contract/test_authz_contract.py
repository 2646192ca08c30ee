"""The AuthStore contract for every store: id tokens, local lists, reservations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

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

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def test_id_tokens_crud_and_uniqueness(store: Any) -> None:
    card = await store.create_id_token(
        IdToken("CARD-0001", IdTokenType.ISO14443, group_id="FLEET", description="blue")
    )
    assert card.id is not None and card.status is TokenStatus.ACCEPTED
    assert card.created_at is not None
    with pytest.raises(KeyError):
        await store.create_id_token(IdToken("CARD-0001", IdTokenType.ISO14443))
    # The same value with another type is another token.
    other = await store.create_id_token(IdToken("CARD-0001", IdTokenType.EMAID))
    assert other.id != card.id
    got = await store.get_id_token(card.id)
    assert got is not None and (got.id_token, got.group_id, got.description) == (
        "CARD-0001",
        "FLEET",
        "blue",
    )
    got.status = TokenStatus.BLOCKED
    updated = await store.update_id_token(got)
    assert updated is not None and updated.status is TokenStatus.BLOCKED
    # Updating into a taken (value, type) is refused.
    other.type = IdTokenType.ISO14443
    with pytest.raises(KeyError):
        await store.update_id_token(other)
    missing = IdToken("X", id=999_999)
    assert await store.update_id_token(missing) is None
    assert await store.delete_id_token(card.id) is True
    assert await store.delete_id_token(card.id) is False
    assert await store.get_id_token(card.id) is None


async def test_find_id_token_exact_first_then_case_forms(store: Any) -> None:
    upper = await store.create_id_token(IdToken("ABCD", IdTokenType.ISO14443))
    await store.create_id_token(IdToken("EMAID1", IdTokenType.EMAID))
    found = await store.find_id_token("abcd", None)  # presented in lower case
    assert found is not None and found.id == upper.id
    found = await store.find_id_token("ABCD", "ISO14443")
    assert found is not None and found.id == upper.id
    assert await store.find_id_token("ABCD", "eMAID") is None
    assert await store.find_id_token("nothing", None) is None
    exact = await store.create_id_token(IdToken("abcd", IdTokenType.ISO14443))
    found = await store.find_id_token("abcd", None)
    assert found is not None and found.id == exact.id


async def test_list_id_tokens_and_restrictions(store: Any) -> None:
    for n in range(5):
        restricted = [Restriction("CS1", 1)] if n % 2 else []
        await store.create_id_token(IdToken(f"TAG-{n}", restrictions=restricted))
    await store.create_id_token(IdToken("ELSEWHERE", restrictions=[Restriction("CS9")]))
    page = await store.list_id_tokens(2, 1, None)
    assert page.total == 6 and [t.id_token for t in page.items] == ["TAG-1", "TAG-2"]
    assert page.items[0].restrictions == [Restriction("CS1", 1)]
    search = await store.list_id_tokens(10, 0, "tag-")
    assert search.total == 5
    here = [t.id_token for t in await store.id_tokens_for_station("CS1")]
    assert here == [f"TAG-{n}" for n in range(5)]
    assert "ELSEWHERE" in [t.id_token for t in await store.id_tokens_for_station("CS9")]


async def test_local_list_round_trip(store: Any) -> None:
    await store.create_station(Station(id="CS1"))
    assert await store.get_local_list("CS1") is None
    state = LocalListState("CS1", 3, {"TAG": ("ISO14443", "Accepted")}, "Accepted", T0)
    await store.save_local_list(state)
    state.entries["OTHER"] = ("eMAID", "Blocked")  # the store keeps its own copy
    got = await store.get_local_list("CS1")
    assert got == LocalListState("CS1", 3, {"TAG": ("ISO14443", "Accepted")}, "Accepted", T0)
    await store.save_local_list(LocalListState("CS1", 4, {}, None, T0))
    got = await store.get_local_list("CS1")
    assert got is not None and (got.version, got.entries, got.last_status) == (4, {}, None)


async def test_reservations(store: Any) -> None:
    for sid in ("CS1", "CS2"):
        await store.create_station(Station(id=sid))

    def new(station: str, minutes: int) -> Reservation:
        return Reservation(
            id=0,
            station_id=station,
            id_token="TAG",
            id_token_type=IdTokenType.ISO14443,
            expires_at=T0 + timedelta(minutes=minutes),
            evse_id=1,
        )

    first = await store.create_reservation(new("CS1", 10))
    second = await store.create_reservation(new("CS1", 30))
    third = await store.create_reservation(new("CS2", 5))
    assert len({first.id, second.id, third.id}) == 3
    assert first.status is ReservationStatus.REQUESTED and first.created_at is not None
    first.status, first.station_answer = ReservationStatus.ACCEPTED, "Accepted"
    updated = await store.update_reservation(first)
    assert updated is not None and updated.station_answer == "Accepted"
    assert (await store.get_reservation(first.id)).status is ReservationStatus.ACCEPTED
    page = await store.list_reservations("CS1", None, 10, 0)
    assert [r.id for r in page.items] == [second.id, first.id]  # newest first
    accepted = await store.list_reservations(None, "accepted", 10, 0)
    assert [r.id for r in accepted.items] == [first.id]
    third.status = ReservationStatus.CANCELLED
    await store.update_reservation(third)
    expired = await store.expire_reservations(T0 + timedelta(minutes=10))
    assert [r.id for r in expired] == [first.id]  # cancelled ones do not expire
    assert expired[0].status is ReservationStatus.EXPIRED
    assert await store.expire_reservations(T0 + timedelta(minutes=10)) == []
    assert await store.get_reservation(999_999) is None
