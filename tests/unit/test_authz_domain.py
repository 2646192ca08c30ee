"""Invariants of the authorization rules (ampyre.domain.authz), property-tested."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ampyre.domain.authz import (
    RFID_TYPES,
    AuthStatus,
    IdToken,
    IdTokenType,
    Restriction,
    TokenStatus,
    as_told,
    decide,
    fold,
    pick_token,
    same_value,
    usable_at,
    why_unknown,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
STATIONS = ["CP-1", "CP-2", "CP-3"]
STATUSES_16 = {"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"}

stations = st.sampled_from(STATIONS)
evses = st.none() | st.integers(min_value=0, max_value=3)
restrictions = st.lists(st.builds(Restriction, stations, evses), max_size=3)
expiries = st.none() | st.integers(min_value=-3600, max_value=3600).map(
    lambda s: NOW + timedelta(seconds=s)
)
types = st.sampled_from(list(IdTokenType))
card_like = st.sampled_from(sorted(RFID_TYPES))
values = st.text(alphabet="abcAB0-", min_size=1, max_size=4)


@st.composite
def tokens(draw: st.DrawFn, type_: st.SearchStrategy[IdTokenType] = types) -> IdToken:
    return IdToken(
        draw(values),
        type=draw(type_),
        status=draw(st.sampled_from(list(TokenStatus))),
        expires_at=draw(expiries),
        group_id=draw(st.none() | st.just("G")),
        restrictions=draw(restrictions),
    )


@st.composite
def stored(draw: st.DrawFn) -> list[IdToken]:
    """Tokens as a store holds them: unique per (value ignoring case, type), ids set."""
    out: dict[tuple[str, IdTokenType], IdToken] = {}
    for i, token in enumerate(draw(st.lists(tokens(), max_size=8))):
        token.id = i + 1
        out.setdefault((fold(token.id_token), token.type), token)
    return list(out.values())


def _judged(token: IdToken, type_: str | None) -> bool:
    """Whether decide() judges the token at all (NoAuthorization accepts everything)."""
    return IdTokenType.NO_AUTHORIZATION not in (token.type, type_)


@given(tokens(), stations, evses, st.none() | types)
def test_only_an_accepted_unexpired_token_usable_here_is_accepted(
    token: IdToken, station: str, evse: int | None, type_: IdTokenType | None
) -> None:
    d = decide(token, station, evse, NOW, type_)
    if not _judged(token, type_):
        assert d.status is AuthStatus.ACCEPTED
        return
    accepted = (
        token.status is TokenStatus.ACCEPTED
        and (token.expires_at is None or token.expires_at > NOW)
        and usable_at(token, station, evse)
    )
    assert (d.status is AuthStatus.ACCEPTED) == accepted
    # A refusal always says why; an acceptance never does.
    assert (d.reason is None) == accepted
    if token.status is TokenStatus.BLOCKED:
        assert d.status is AuthStatus.BLOCKED  # blocked wins over expiry and location
    if token.status is TokenStatus.ACCEPTED and not accepted:
        assert d.status in (AuthStatus.EXPIRED, AuthStatus.NOT_AT_THIS_LOCATION)


@given(tokens(), stations, evses)
def test_restriction_to_a_station_holds_at_every_other_station(
    token: IdToken, station: str, evse: int | None
) -> None:
    token.status, token.expires_at = TokenStatus.ACCEPTED, None
    if token.type == IdTokenType.NO_AUTHORIZATION:
        token.type = IdTokenType.ISO14443
    token.restrictions = [Restriction(station, evse)]
    for other in STATIONS:
        if other != station:
            for at_evse in (None, 0, 1, 2):
                assert decide(token, other, at_evse, NOW).status is not AuthStatus.ACCEPTED
    assert decide(token, station, evse, NOW).status is AuthStatus.ACCEPTED
    assert decide(token, station, None, NOW).status is AuthStatus.ACCEPTED


@given(st.sampled_from(list(AuthStatus)), st.sampled_from(["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]))
def test_as_told_fits_the_version_and_keeps_acceptance(status: AuthStatus, version: str) -> None:
    told = as_told(status, version)
    assert (told is AuthStatus.ACCEPTED) == (status is AuthStatus.ACCEPTED)
    if version == "ocpp1.6":
        assert told.value in STATUSES_16
    else:
        assert told is status


def test_unknown_is_told_invalid_to_16() -> None:
    assert as_told(decide(None, "CP-1", None, NOW).status, "ocpp1.6") is AuthStatus.INVALID


@settings(max_examples=300)
@given(stored(), values, st.none() | types, st.randoms(use_true_random=False))
def test_pick_token_rules(
    candidates: list[IdToken], value: str, type_: IdTokenType | None, rnd: object
) -> None:
    picked = pick_token(candidates, value, type_)
    same = [c for c in candidates if same_value(c.id_token, value)]
    # Any spelling of the value finds the same token (case insensitive), in any order.
    shuffled = list(candidates)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    if type_ is not None:
        for spelling in (value.upper(), value.lower(), value.swapcase()):
            assert pick_token(shuffled, spelling, type_) is picked
    else:
        assert pick_token(shuffled, value, None) is picked
    if picked is None:
        assert why_unknown(candidates, value, type_).startswith("unknown id token")
        if type_ is None:
            assert not same
        else:
            assert all(c.type != type_ for c in same)
        return
    assert same_value(picked.id_token, value)
    if type_ is not None and picked.type != type_:
        # Only a card read as another card-like type, and only if it is the one card.
        assert type_ in RFID_TYPES and picked.type in RFID_TYPES
        assert [c for c in same if c.type in RFID_TYPES] == [picked]
        assert all(c.type != type_ for c in same)


@given(card_like, card_like, st.sampled_from(["04a1b2", "04A1B2"]))
def test_one_card_presented_as_any_card_like_type(
    registered: IdTokenType, presented: IdTokenType, spelling: str
) -> None:
    card = IdToken("04A1B2", registered, id=1)
    assert pick_token([card], spelling, presented) is card
    assert pick_token([card], spelling, IdTokenType.EMAID) is None


def test_distinct_cards_registered_by_the_operator_stay_distinct() -> None:
    local = IdToken("04A1B2", IdTokenType.LOCAL, status=TokenStatus.BLOCKED, id=1)
    iso = IdToken("04a1b2", IdTokenType.ISO14443, id=2)
    assert pick_token([local, iso], "04A1B2", IdTokenType.LOCAL) is local
    assert pick_token([local, iso], "04A1B2", IdTokenType.ISO14443) is iso
    assert pick_token([local, iso], "04A1B2", IdTokenType.ISO15693) is None
    reason = why_unknown([local, iso], "04A1B2", IdTokenType.ISO15693)
    assert "distinct cards (ISO14443, Local)" in reason
    assert why_unknown([iso], "04A1B2", IdTokenType.EMAID) == (
        "unknown id token of this type (registered as ISO14443)"
    )


@pytest.mark.parametrize(("a", "b", "same"), [("aBc", "ABC", True), ("É", "é", False)])
def test_case_folding_is_ascii(a: str, b: str, same: bool) -> None:
    # ASCII only, like SQLite's lower(); candidates a database folds otherwise (PostgreSQL
    # with a Unicode locale) are filtered out by pick_token.
    assert same_value(a, b) is same
