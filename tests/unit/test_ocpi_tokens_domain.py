"""OCPI 2.2.1 tokens and commands, the pure rules: whitelist plans, eMSP answers as
station statuses, publishing Ampyre's id tokens, command results, and the checks of
received objects (field limits, CiString, enums, DateTimes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ampyre.domain.authz import AuthStatus, IdToken, IdTokenType, Restriction, TokenStatus
from ampyre.domain.ocpi_commands import (
    CommandResultType,
    CommandType,
    result_of,
)
from ampyre.domain.ocpi_tokens import (
    AllowedType,
    AuthorizationInfo,
    Identity,
    LocationReferences,
    OcpiToken,
    Plan,
    TokenType,
    WhitelistType,
    allowed_of,
    cdr_token,
    ocpi_types_for,
    ocpp_type_for,
    plan_for,
    publish,
    same_published,
    status_of_answer,
    token_from_json,
    token_to_json,
    whitelisted_status,
)
from ampyre.domain.ocpi_tokens_parse import (
    InvalidObject,
    check_command,
    check_token_patch,
    parse_authorization_info,
    parse_command_result,
    parse_location_references,
    parse_token,
    patched_token,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ME = Identity("NL", "AMP", "Ampyre", WhitelistType.ALLOWED)


def token_json(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "EMP",
        "uid": "04A1B2C3D4E5F6",
        "type": "RFID",
        "contract_id": "DE-EMP-C00000001-X",
        "visual_number": "Card 0001",
        "issuer": "Example Mobility",
        "group_id": "GROUP-1",
        "valid": True,
        "whitelist": "ALLOWED",
        "language": "de",
        "default_profile_type": "GREEN",
        "energy_contract": {"supplier_name": "Green Power", "contract_id": "GP-1"},
        "last_updated": "2026-02-27T09:30:00Z",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def token(**changes: Any) -> OcpiToken:
    return parse_token(token_json(**changes))


# ---------------------------------------------------------------------- whitelist rules


@pytest.mark.parametrize(
    ("whitelist", "plan"),
    [
        (WhitelistType.ALWAYS, Plan.WHITELIST),
        (WhitelistType.ALLOWED, Plan.WHITELIST),
        (WhitelistType.ALLOWED_OFFLINE, Plan.REALTIME_OR_TOKEN),
        (WhitelistType.NEVER, Plan.REALTIME_OR_FALLBACK),
    ],
)
def test_plan_per_whitelist_type(whitelist: WhitelistType, plan: Plan) -> None:
    assert plan_for(whitelist) is plan


def test_whitelisted_status_follows_valid() -> None:
    assert whitelisted_status(token()) is AuthStatus.ACCEPTED
    assert whitelisted_status(token(valid=False)) is AuthStatus.INVALID


@pytest.mark.parametrize(
    ("allowed", "status"),
    [
        (AllowedType.ALLOWED, AuthStatus.ACCEPTED),
        (AllowedType.BLOCKED, AuthStatus.BLOCKED),
        (AllowedType.EXPIRED, AuthStatus.EXPIRED),
        (AllowedType.NO_CREDIT, AuthStatus.NO_CREDIT),
        (AllowedType.NOT_ALLOWED, AuthStatus.NOT_AT_THIS_LOCATION),
    ],
)
def test_answer_statuses(allowed: AllowedType, status: AuthStatus) -> None:
    assert status_of_answer(AuthorizationInfo(allowed, token()), None) is status


def test_an_allowed_answer_naming_other_evses_is_not_allowed_here() -> None:
    info = AuthorizationInfo(
        AllowedType.ALLOWED, token(), LocationReferences("LOC1", ("CS1*1", "cs1*2"))
    )
    assert status_of_answer(info, "CS1*2") is AuthStatus.ACCEPTED  # CiString: any case
    assert status_of_answer(info, "CS1*3") is AuthStatus.NOT_AT_THIS_LOCATION
    assert status_of_answer(info, None) is AuthStatus.ACCEPTED
    everywhere = AuthorizationInfo(AllowedType.ALLOWED, token(), LocationReferences("LOC1"))
    assert status_of_answer(everywhere, "CS1*3") is AuthStatus.ACCEPTED


def test_ocpp_and_ocpi_token_types() -> None:
    assert ocpi_types_for(None)[0] is TokenType.RFID  # 1.6: no type, a card first
    assert ocpi_types_for("ISO14443")[0] is TokenType.RFID
    assert ocpi_types_for("Central")[0] is TokenType.APP_USER
    assert ocpi_types_for("eMAID")[0] is TokenType.OTHER
    assert ocpp_type_for(TokenType.RFID) == "ISO14443"
    assert ocpp_type_for(TokenType.AD_HOC_USER) == "Central"


# ---------------------------------------------------------------------- publishing


def id_token(value: str = "ABCD1234", **changes: Any) -> IdToken:
    values: dict[str, Any] = {
        "id_token": value,
        "type": IdTokenType.ISO14443,
        "id": 7,
        "updated_at": NOW - timedelta(days=1),
    }
    values.update(changes)
    return IdToken(**values)


def test_publish_a_card() -> None:
    published = publish(id_token(group_id="FAMILY"), ME, NOW, NOW)
    assert published is not None
    assert token_to_json(published) == {
        "country_code": "NL",
        "party_id": "AMP",
        "uid": "ABCD1234",
        "type": "RFID",
        "contract_id": "ABCD1234",
        "issuer": "Ampyre",
        "group_id": "FAMILY",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2026-03-01T12:00:00Z",
    }


@pytest.mark.parametrize(
    ("changes", "valid", "whitelist"),
    [
        ({"status": TokenStatus.BLOCKED}, False, WhitelistType.ALLOWED),
        ({"status": TokenStatus.INVALID}, False, WhitelistType.ALLOWED),
        ({"expires_at": NOW - timedelta(seconds=1)}, False, WhitelistType.ALLOWED),
        ({"expires_at": NOW + timedelta(days=1)}, True, WhitelistType.ALLOWED),
        ({"type": IdTokenType.CENTRAL}, True, WhitelistType.NEVER),
        ({"restrictions": [Restriction("CS1")]}, True, WhitelistType.NEVER),
    ],
)
def test_publish_validity_and_whitelist(
    changes: dict[str, Any], valid: bool, whitelist: WhitelistType
) -> None:
    published = publish(id_token(**changes), ME, NOW, NOW)
    assert published is not None
    assert (published.valid, published.whitelist) == (valid, whitelist)


def test_what_cannot_be_published() -> None:
    assert publish(id_token("X" * 37), ME, NOW, NOW) is None  # OCPI uid is CiString(36)
    assert publish(id_token(type=IdTokenType.NO_AUTHORIZATION), ME, NOW, NOW) is None
    published = publish(id_token(group_id="G" * 37), ME, NOW, NOW)
    assert published is not None and published.group_id is None


def test_same_published_ignores_last_updated_only() -> None:
    a = publish(id_token(), ME, NOW, NOW)
    b = publish(id_token(), ME, NOW, NOW + timedelta(hours=1))
    c = publish(id_token(status=TokenStatus.BLOCKED), ME, NOW, NOW)
    assert a is not None and b is not None and c is not None
    assert same_published(a, b)
    assert not same_published(a, c)


def test_our_answer_for_ampyre_statuses() -> None:
    assert allowed_of(AuthStatus.ACCEPTED) is AllowedType.ALLOWED
    assert allowed_of(AuthStatus.BLOCKED) is AllowedType.BLOCKED
    assert allowed_of(AuthStatus.EXPIRED) is AllowedType.EXPIRED
    assert allowed_of(AuthStatus.INVALID) is AllowedType.NOT_ALLOWED
    assert allowed_of(AuthStatus.NOT_AT_THIS_LOCATION) is AllowedType.NOT_ALLOWED


# ---------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("command", "status", "error", "result"),
    [
        (CommandType.START_SESSION, "accepted", None, CommandResultType.ACCEPTED),
        (CommandType.START_SESSION, "rejected", None, CommandResultType.REJECTED),
        (CommandType.STOP_SESSION, "timeout", None, CommandResultType.TIMEOUT),
        (CommandType.RESERVE_NOW, "occupied", None, CommandResultType.EVSE_OCCUPIED),
        (CommandType.RESERVE_NOW, "faulted", None, CommandResultType.EVSE_INOPERATIVE),
        (CommandType.RESERVE_NOW, "unavailable", None, CommandResultType.EVSE_INOPERATIVE),
        (CommandType.RESERVE_NOW, "error", "NotImplemented", CommandResultType.NOT_SUPPORTED),
        (CommandType.CANCEL_RESERVATION, "rejected", None, CommandResultType.UNKNOWN_RESERVATION),
        (CommandType.UNLOCK_CONNECTOR, "unlocked", None, CommandResultType.ACCEPTED),
        (CommandType.UNLOCK_CONNECTOR, "unlockfailed", None, CommandResultType.FAILED),
        (CommandType.UNLOCK_CONNECTOR, "notsupported", None, CommandResultType.NOT_SUPPORTED),
        (CommandType.UNLOCK_CONNECTOR, "error", "InternalError", CommandResultType.FAILED),
        (CommandType.UNLOCK_CONNECTOR, "not_connected", None, CommandResultType.FAILED),
    ],
)
def test_command_results(
    command: CommandType, status: str, error: str | None, result: CommandResultType
) -> None:
    assert result_of(command, status, error) is result


# ---------------------------------------------------------------------- received objects


def test_token_round_trip() -> None:
    parsed = token()
    assert parsed.last_updated == datetime(2026, 2, 27, 9, 30, tzinfo=UTC)
    assert parsed.energy_contract is not None and parsed.energy_contract.contract_id == "GP-1"
    assert token_from_json(token_to_json(parsed)) == parsed
    assert cdr_token(parsed) == {
        "country_code": "DE",
        "party_id": "EMP",
        "uid": "04A1B2C3D4E5F6",
        "type": "RFID",
        "contract_id": "DE-EMP-C00000001-X",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"uid": "U" * 37}, "uid"),
        ({"uid": ""}, "uid"),
        ({"uid": "café"}, "uid"),  # CiString: ASCII only
        ({"country_code": "NLD"}, "country_code"),
        ({"party_id": "EM"}, "party_id"),
        ({"contract_id": "C" * 37}, "contract_id"),
        ({"issuer": "I" * 65}, "issuer"),
        ({"visual_number": "V" * 65}, "visual_number"),
        ({"group_id": "G" * 37}, "group_id"),
        ({"type": "CARD"}, "type"),
        ({"whitelist": "SOMETIMES"}, "whitelist"),
        ({"valid": "yes"}, "valid"),
        ({"language": "deu"}, "language"),
        ({"last_updated": "yesterday"}, "last_updated"),
        ({"energy_contract": {"contract_id": "x"}}, "energy_contract.supplier_name"),
        ({"issuer": None}, "issuer"),
    ],
)
def test_token_checks(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidObject) as info:
        parse_token(token_json(**changes))
    assert info.value.field == field


def test_unknown_fields_are_dropped_and_offsets_converted() -> None:
    parsed = parse_token(token_json(extra="ignored", last_updated="2026-02-27T10:30:00+01:00"))
    assert parsed.last_updated == datetime(2026, 2, 27, 9, 30, tzinfo=UTC)


def test_patch_needs_last_updated_and_keeps_the_identity() -> None:
    with pytest.raises(InvalidObject):
        check_token_patch({"valid": False})
    changes = check_token_patch({"valid": False, "last_updated": "2026-03-01T00:00:00Z"})
    patched = patched_token(token(), changes)
    assert patched.valid is False and patched.issuer == "Example Mobility"
    assert patched.last_updated == datetime(2026, 3, 1, tzinfo=UTC)
    same_uid = check_token_patch({"uid": "04a1b2c3d4e5f6", "last_updated": "2026-03-01T00:00:00Z"})
    assert patched_token(token(), same_uid).uid == "04A1B2C3D4E5F6"
    with pytest.raises(InvalidObject) as info:
        patched_token(
            token(), check_token_patch({"uid": "OTHER", "last_updated": "2026-03-01T00:00:00Z"})
        )
    assert info.value.field == "uid"


def test_location_references() -> None:
    loc = parse_location_references({"location_id": "LOC1", "evse_uids": ["A", "B"]})
    assert loc == LocationReferences("LOC1", ("A", "B"))
    with pytest.raises(InvalidObject):
        parse_location_references({"evse_uids": ["A"]})
    with pytest.raises(InvalidObject):
        parse_location_references({"location_id": "L", "evse_uids": ["E" * 37]})


def test_authorization_info_keeps_allowed_even_with_a_broken_token() -> None:
    asked = token()
    info = parse_authorization_info(
        {"allowed": "ALLOWED", "token": {"uid": 1}, "authorization_reference": "REF-1"}, asked
    )
    assert info.allowed is AllowedType.ALLOWED
    assert info.token == asked and info.authorization_reference == "REF-1"
    with pytest.raises(InvalidObject):
        parse_authorization_info({"allowed": "MAYBE"}, asked)
    too_long = parse_authorization_info(
        {"allowed": "BLOCKED", "authorization_reference": "R" * 37}, asked
    )
    assert too_long.authorization_reference is None


def test_command_bodies() -> None:
    start = check_command(
        CommandType.START_SESSION,
        {
            "response_url": "https://emsp.example/commands/START_SESSION/1",
            "token": token_json(),
            "location_id": "LOC1",
            "evse_uid": "CS1*1",
            "connector_id": "1",
        },
    )
    assert isinstance(start["token"], OcpiToken)
    with pytest.raises(InvalidObject) as info:
        check_command(
            CommandType.START_SESSION,
            {"response_url": "https://e/x", "token": token_json(), "location_id": "L",
             "connector_id": "1"},
        )  # fmt: skip
    assert info.value.field == "evse_uid"
    with pytest.raises(InvalidObject) as info:
        check_command(CommandType.STOP_SESSION, {"response_url": "ftp://e/x", "session_id": "1"})
    assert info.value.field == "response_url"
    with pytest.raises(InvalidObject) as info:
        check_command(CommandType.STOP_SESSION, {"response_url": "https://e/" + "x" * 250,
                                                 "session_id": "1"})  # fmt: skip
    assert info.value.field == "response_url"
    with pytest.raises(InvalidObject) as info:
        check_command(
            CommandType.RESERVE_NOW,
            {"response_url": "https://e/x", "token": token_json(uid=None), "location_id": "L",
             "reservation_id": "R1", "expiry_date": "2026-03-01T13:00:00Z"},
        )  # fmt: skip
    assert info.value.field == "token.uid"
    with pytest.raises(InvalidObject):
        check_command(CommandType.UNLOCK_CONNECTOR, ["not", "an", "object"])


def test_command_result() -> None:
    assert parse_command_result({"result": "ACCEPTED"}) == (CommandResultType.ACCEPTED, None)
    assert parse_command_result(
        {"result": "FAILED", "message": [{"language": "en", "text": "stuck"}]}
    ) == (CommandResultType.FAILED, "stuck")
    with pytest.raises(InvalidObject):
        parse_command_result({"result": "DONE"})
    with pytest.raises(InvalidObject):
        parse_command_result({"result": "FAILED", "message": [{"language": "eng", "text": "x"}]})
