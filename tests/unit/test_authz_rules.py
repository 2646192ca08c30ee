"""Authorization decisions, the 1.6 / 2.0.1 encodings and local list diffing (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ampyre.domain.authz import (
    AuthDecision,
    AuthStatus,
    IdToken,
    IdTokenType,
    Reservation,
    Restriction,
    TokenStatus,
    decide,
    usable_at,
)
from ampyre.protocol.commands import default_codecs
from ampyre.protocol.ocpp16.authorization import id_tag_info
from ampyre.protocol.ocpp201.authorization import id_token_info
from ampyre.services.local_lists import ListEntry, apply, chunks, diff, status_of

CODECS = default_codecs()


def signature(decision: AuthDecision, version: str) -> str:
    return CODECS[version].entry_signature(decision)


def send16(version: int, full: bool, entries: list[ListEntry]) -> dict[str, Any]:
    action, payload = CODECS["ocpp1.6"].send_local_list(version, full, entries)
    assert action == "SendLocalList"
    return payload


def send201(version: int, full: bool, entries: list[ListEntry]) -> dict[str, Any]:
    action, payload = CODECS["ocpp2.0.1"].send_local_list(version, full, entries)
    assert action == "SendLocalList"
    return payload


def reserve16(r: Reservation) -> dict[str, Any]:
    action, payload = CODECS["ocpp1.6"].reserve(r)
    assert action == "ReserveNow"
    return payload


def reserve201(r: Reservation) -> dict[str, Any]:
    action, payload = CODECS["ocpp2.0.1"].reserve(r)
    assert action == "ReserveNow"
    return payload


NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _tok(**kw: object) -> IdToken:
    return IdToken("TAG", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("token", "status"),
    [
        (None, AuthStatus.UNKNOWN),
        (_tok(), AuthStatus.ACCEPTED),
        (_tok(status=TokenStatus.BLOCKED), AuthStatus.BLOCKED),
        (_tok(status=TokenStatus.EXPIRED), AuthStatus.EXPIRED),
        (_tok(status=TokenStatus.INVALID), AuthStatus.INVALID),
        (_tok(expires_at=NOW - timedelta(seconds=1)), AuthStatus.EXPIRED),
        (_tok(expires_at=NOW), AuthStatus.EXPIRED),
        (_tok(expires_at=NOW + timedelta(seconds=1)), AuthStatus.ACCEPTED),
        # A blocked token stays blocked even when it has expired too.
        (_tok(status=TokenStatus.BLOCKED, expires_at=NOW - timedelta(days=1)), AuthStatus.BLOCKED),
        (_tok(restrictions=[Restriction("CP-2")]), AuthStatus.NOT_AT_THIS_LOCATION),
        (_tok(restrictions=[Restriction("CP-2"), Restriction("CP-1")]), AuthStatus.ACCEPTED),
        (_tok(restrictions=[Restriction("CP-1", 2)]), AuthStatus.NOT_AT_THIS_LOCATION),
        (_tok(restrictions=[Restriction("CP-1", 1)]), AuthStatus.ACCEPTED),
        (
            _tok(type=IdTokenType.NO_AUTHORIZATION, status=TokenStatus.BLOCKED),
            AuthStatus.ACCEPTED,
        ),
    ],
)
def test_decide(token: IdToken | None, status: AuthStatus) -> None:
    decision = decide(token, "CP-1", 1, NOW)
    assert decision.status is status
    assert decision.token is token


def test_decide_carries_expiry_and_group_and_no_authorization() -> None:
    token = _tok(expires_at=NOW + timedelta(days=1), group_id="G")
    d = decide(token, "CP-1", None, NOW)
    assert (d.status, d.expires_at, d.group_id) == (AuthStatus.ACCEPTED, token.expires_at, "G")
    # A station that did no authorization (2.0.1 NoAuthorization): nothing to refuse.
    assert decide(None, "CP-1", None, NOW, "NoAuthorization").status is AuthStatus.ACCEPTED


def test_usable_at_without_evse_accepts_any_evse_of_the_station() -> None:
    token = _tok(restrictions=[Restriction("CP-1", 2)])
    assert usable_at(token, "CP-1", None)
    assert not usable_at(token, "CP-1", 1)
    assert not usable_at(token, "CP-9", None)
    assert usable_at(_tok(), "anywhere", 5)


@pytest.mark.parametrize(
    ("status", "v16"),
    [
        (AuthStatus.ACCEPTED, "Accepted"),
        (AuthStatus.BLOCKED, "Blocked"),
        (AuthStatus.EXPIRED, "Expired"),
        (AuthStatus.INVALID, "Invalid"),
        (AuthStatus.CONCURRENT_TX, "ConcurrentTx"),
        (AuthStatus.UNKNOWN, "Invalid"),
        (AuthStatus.NOT_AT_THIS_LOCATION, "Invalid"),
        (AuthStatus.NOT_AT_THIS_TIME, "Invalid"),
        (AuthStatus.NO_CREDIT, "Invalid"),
        (AuthStatus.NOT_ALLOWED_TYPE_EVSE, "Invalid"),
    ],
)
def test_id_tag_info_status_mapping(status: AuthStatus, v16: str) -> None:
    assert id_tag_info(AuthDecision(status)) == {"status": v16}
    assert id_token_info(AuthDecision(status)) == {"status": status.value}


def test_info_fields_and_length_limits() -> None:
    d = AuthDecision(AuthStatus.ACCEPTED, NOW, "FLEET")
    assert id_tag_info(d) == {
        "status": "Accepted",
        "expiryDate": "2025-06-01T12:00:00.000Z",
        "parentIdTag": "FLEET",
    }
    assert id_token_info(d) == {
        "status": "Accepted",
        "cacheExpiryDateTime": "2025-06-01T12:00:00.000Z",
        "groupIdToken": {"idToken": "FLEET", "type": "Central"},
    }
    # A group id too long for the version's field is left out rather than refused.
    assert "parentIdTag" not in id_tag_info(AuthDecision(AuthStatus.ACCEPTED, None, "G" * 21))
    assert "parentIdTag" in id_tag_info(AuthDecision(AuthStatus.ACCEPTED, None, "G" * 20))
    assert "groupIdToken" not in id_token_info(AuthDecision(AuthStatus.ACCEPTED, None, "G" * 37))


def _entry(value: str, sig: str = "Accepted", type_: str = "ISO14443") -> ListEntry:
    return ListEntry(value, type_, AuthDecision(AuthStatus.ACCEPTED), sig)


def test_diff_added_changed_removed() -> None:
    previous = {
        "SAME": ("ISO14443", "Accepted"),
        "CHANGED": ("ISO14443", "Accepted"),
        "RETYPED": ("ISO14443", "Accepted"),
        "GONE": ("Central", "Blocked"),
    }
    current = [
        _entry("SAME"),
        _entry("CHANGED", "Accepted|2030-01-01T00:00:00.000Z"),
        _entry("RETYPED", type_="KeyCode"),
        _entry("NEW"),
    ]
    out = diff(previous, current)
    assert [(e.id_token, e.decision is None) for e in out] == [
        ("CHANGED", False),
        ("RETYPED", False),
        ("NEW", False),
        ("GONE", True),
    ]
    assert out[-1].type == "Central"
    held = dict(previous)
    apply(held, out)
    assert held == {e.id_token: (e.type, e.signature) for e in current}
    assert diff(held, current) == []


def test_signature_and_chunks() -> None:
    d = AuthDecision(AuthStatus.NOT_AT_THIS_LOCATION, NOW, "G")
    assert signature(d, "ocpp1.6") == "Invalid|2025-06-01T12:00:00.000Z|G"
    assert signature(d, "ocpp2.0.1") == "NotAtThisLocation|2025-06-01T12:00:00.000Z|G"
    assert signature(AuthDecision(AuthStatus.ACCEPTED), "ocpp2.1") == "Accepted"
    assert signature(AuthDecision(AuthStatus.ACCEPTED, None, "G"), "ocpp1.6") == "Accepted||G"
    assert status_of("Accepted||G") == "Accepted"
    entries = [_entry(str(i)) for i in range(5)]
    assert [len(c) for c in chunks(entries, 2)] == [2, 2, 1]
    assert chunks([], 2) == [[]]


def test_send_local_list_payloads() -> None:
    entries = [_entry("A"), ListEntry("B", "Central", None)]
    assert send16(7, False, entries) == {
        "listVersion": 7,
        "updateType": "Differential",
        "localAuthorizationList": [
            {"idTag": "A", "idTagInfo": {"status": "Accepted"}},
            {"idTag": "B"},
        ],
    }
    assert send201(7, True, entries)["localAuthorizationList"] == [
        {"idToken": {"idToken": "A", "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}},
        {"idToken": {"idToken": "B", "type": "Central"}},
    ]
    # An empty list is left out (2.0.1 minItems 1; a Full update without it clears).
    assert send201(1, True, []) == {"versionNumber": 1, "updateType": "Full"}
    assert send16(1, True, []) == {"listVersion": 1, "updateType": "Full"}


def test_reserve_now_payloads() -> None:
    r = Reservation(5, "CP", "TAG", IdTokenType.EMAID, NOW, evse_id=None, group_id="G")
    assert reserve16(r) == {
        "connectorId": 0,
        "expiryDate": "2025-06-01T12:00:00.000Z",
        "idTag": "TAG",
        "reservationId": 5,
        "parentIdTag": "G",
    }
    assert reserve201(r) == {
        "id": 5,
        "expiryDateTime": "2025-06-01T12:00:00.000Z",
        "idToken": {"idToken": "TAG", "type": "eMAID"},
        "groupIdToken": {"idToken": "G", "type": "Central"},
    }
    r.evse_id, r.connector_type, r.group_id = 2, "cType2", None
    assert reserve201(r)["evseId"] == 2 and reserve201(r)["connectorType"] == "cType2"
    assert "groupIdToken" not in reserve201(r) and reserve16(r)["connectorId"] == 2
