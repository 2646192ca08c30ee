"""OCPI 2.2.1 Session and CDR objects as plain values (issue 20, H4): what Ampyre sends
as CPO (mod_sessions 9.3.1, mod_cdrs 10.4.1), credit CDRs (mod_cdrs 10.1.1), PATCH
rules for received sessions (mod_sessions 9.2.2.3) and the JSON edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ampyre.domain.cdrs import (
    CdrConflict,
    CdrFacts,
    CdrInvalid,
    CdrLocation,
    cdr_object,
    credit_id,
    credit_object,
    reissue_id,
    summarize,
    unpriced,
)
from ampyre.domain.ocpi_sessions import (
    AuthMethod,
    CdrToken,
    Dimension,
    Period,
    Price,
    Pricing,
    SessionFacts,
    SessionRejected,
    SessionStatus,
    decimal_of,
    grant_of,
    hours_between,
    json_value,
    kwh_of_wh,
    merge_patch,
    ocpi_time,
    parse_time,
    session_object,
    token_type_of,
)

START = datetime(2026, 12, 1, 21, 39, 9, tzinfo=UTC)
END = START + timedelta(hours=1, minutes=58, seconds=23)
TOKEN = CdrToken("DE", "XYZ", "012345678", "RFID", "DE8ACC12E46L89")
LOCATION = CdrLocation(
    id="LOC1",
    name="Gent Zuid",
    address="F.Rooseveltlaan 3A",
    city="Gent",
    postal_code="9000",
    country="BEL",
    latitude="51.047599",
    longitude="3.729944",
    evse_uid="3256",
    evse_id="BE*BEC*E041503003",
    connector_id="1",
    connector_standard="IEC_62196_T2",
    connector_format="SOCKET",
    connector_power_type="AC_1_PHASE",
)
PRICING = Pricing(
    currency="EUR",
    periods=(
        Period(
            START,
            (
                Dimension("ENERGY", Decimal("15.342")),
                Dimension("TIME", Decimal("1.973")),
                Dimension("STATE_OF_CHARGE", Decimal("80")),
            ),
            "12",
        ),
    ),
    total_cost=Price(Decimal("4.00"), Decimal("4.40")),
    total_energy=Decimal("15.342"),
    total_time=Decimal("1.973"),
    total_parking_time=Decimal("0"),
    total_time_cost=Price(Decimal("4.00"), Decimal("4.40")),
    tariffs=({"id": "12", "currency": "EUR"},),
)


def facts(**kw: object) -> SessionFacts:
    values: dict[str, object] = {
        "country_code": "NL",
        "party_id": "AMP",
        "session_id": "101",
        "start": START,
        "end": None,
        "kwh": Decimal("0.000"),
        "token": TOKEN,
        "auth_method": AuthMethod.WHITELIST,
        "location_id": "LOC1",
        "evse_uid": "3256",
        "connector_id": "1",
        "currency": "EUR",
        "status": SessionStatus.ACTIVE,
        "last_updated": START,
    }
    values.update(kw)
    return SessionFacts(**values)  # type: ignore[arg-type]


def test_session_object_of_a_starting_session() -> None:
    body = session_object(facts())
    assert body == {
        "country_code": "NL",
        "party_id": "AMP",
        "id": "101",
        "start_date_time": "2026-12-01T21:39:09Z",
        "kwh": 0,
        "cdr_token": {
            "country_code": "DE",
            "party_id": "XYZ",
            "uid": "012345678",
            "type": "RFID",
            "contract_id": "DE8ACC12E46L89",
        },
        "auth_method": "WHITELIST",
        "location_id": "LOC1",
        "evse_uid": "3256",
        "connector_id": "1",
        "currency": "EUR",
        "charging_periods": [],
        "status": "ACTIVE",
        "last_updated": "2026-12-01T21:39:09Z",
    }


def test_session_object_of_a_finished_priced_session() -> None:
    body = session_object(
        facts(
            end=END,
            kwh=Decimal("15.342"),
            status=SessionStatus.COMPLETED,
            periods=PRICING.periods,
            total_cost=PRICING.total_cost,
            authorization_reference="REF-1",
            last_updated=END + timedelta(milliseconds=250),
        )
    )
    assert body["end_date_time"] == "2026-12-01T23:37:32Z"
    assert body["kwh"] == 15.342
    assert body["authorization_reference"] == "REF-1"
    assert body["total_cost"] == {"excl_vat": 4.0, "incl_vat": 4.4}
    assert body["status"] == "COMPLETED"
    assert body["last_updated"] == "2026-12-01T23:37:32.250Z"
    # A Session may carry Session-only dimensions (state of charge).
    types = [d["type"] for d in body["charging_periods"][0]["dimensions"]]
    assert types == ["ENERGY", "TIME", "STATE_OF_CHARGE"]
    assert body["charging_periods"][0]["tariff_id"] == "12"


def test_cdr_object_keeps_no_session_only_dimension() -> None:
    cdr = cdr_object(
        CdrFacts(
            country_code="NL",
            party_id="AMP",
            cdr_id="12345",
            start=START,
            end=END,
            token=TOKEN,
            auth_method=AuthMethod.AUTH_REQUEST,
            location=LOCATION,
            pricing=PRICING,
            last_updated=END,
            session_id="101",
            remark="EVDisconnected",
        )
    )
    assert list(cdr)[:6] == [
        "country_code",
        "party_id",
        "id",
        "start_date_time",
        "end_date_time",
        "session_id",
    ]
    assert cdr["cdr_location"]["coordinates"] == {"latitude": "51.047599", "longitude": "3.729944"}
    assert cdr["cdr_location"]["connector_power_type"] == "AC_1_PHASE"
    assert cdr["charging_periods"] == [
        {
            "start_date_time": "2026-12-01T21:39:09Z",
            "dimensions": [{"type": "ENERGY", "volume": 15.342}, {"type": "TIME", "volume": 1.973}],
            "tariff_id": "12",
        }
    ]
    assert cdr["tariffs"] == [{"id": "12", "currency": "EUR"}]
    assert cdr["total_cost"] == {"excl_vat": 4.0, "incl_vat": 4.4}
    assert cdr["total_time_cost"] == {"excl_vat": 4.0, "incl_vat": 4.4}
    assert "total_energy_cost" not in cdr  # nobody computed it: left out, not 0
    assert cdr["total_parking_time"] == 0
    assert cdr["remark"] == "EVDisconnected"
    assert "credit" not in cdr and list(cdr)[-1] == "last_updated"
    summary = summarize(cdr)
    assert summary.total_cost == Price(Decimal("4.0"), Decimal("4.4"))
    assert summary.token_party_id == "XYZ" and summary.session_id == "101"


def test_unpriced_cdr_costs_nothing_and_has_one_period() -> None:
    pricing = unpriced(START, END, kwh_of_wh(15342.4), "EUR")
    cdr = cdr_object(
        CdrFacts(
            country_code="NL",
            party_id="AMP",
            cdr_id="9",
            start=START,
            end=END,
            token=TOKEN,
            auth_method=AuthMethod.WHITELIST,
            location=LOCATION,
            pricing=pricing,
            last_updated=END,
        )
    )
    assert cdr["total_cost"] == {"excl_vat": 0.0, "incl_vat": 0.0}
    assert cdr["total_energy"] == 15.342
    assert cdr["total_time"] == pytest.approx(1.973056, abs=1e-6)
    assert cdr["charging_periods"] == [
        {
            "start_date_time": "2026-12-01T21:39:09Z",
            "dimensions": [
                {"type": "ENERGY", "volume": 15.342},
                {"type": "TIME", "volume": cdr["total_time"]},
            ],
        }
    ]
    assert "session_id" not in cdr and "tariffs" not in cdr


def test_cdr_ids_and_times_are_checked() -> None:
    base = CdrFacts(
        country_code="NL",
        party_id="AMP",
        cdr_id="x" * 37,
        start=START,
        end=END,
        token=TOKEN,
        auth_method=AuthMethod.WHITELIST,
        location=LOCATION,
        pricing=PRICING,
        last_updated=END,
    )
    with pytest.raises(CdrInvalid, match="at most 36"):
        cdr_object(base)
    with pytest.raises(CdrInvalid, match="end before"):
        cdr_object(CdrFacts(**{**_fields(base), "cdr_id": "1", "end": START - timedelta(1)}))
    assert credit_id("x" * 36) == "x" * 36 + "-C"
    with pytest.raises(CdrInvalid):
        credit_id("x" * 38)
    assert reissue_id(42, 1) == "42" and reissue_id(42, 3) == "42-3"


def _fields(f: CdrFacts) -> dict[str, object]:
    return {name: getattr(f, name) for name in f.__slots__}  # type: ignore[attr-defined]


def test_credit_cdr_negates_only_total_cost() -> None:
    original = cdr_object(
        CdrFacts(
            country_code="NL",
            party_id="AMP",
            cdr_id="12345",
            start=START,
            end=END,
            token=TOKEN,
            auth_method=AuthMethod.WHITELIST,
            location=LOCATION,
            pricing=PRICING,
            last_updated=END,
        )
    )
    later = END + timedelta(days=2)
    credit = credit_object(original, credit_id("12345"), later, remark="wrong tariff")
    assert credit["id"] == "12345-C"
    assert credit["credit"] is True and credit["credit_reference_id"] == "12345"
    assert credit["total_cost"] == {"excl_vat": -4.0, "incl_vat": -4.4}
    assert credit["total_time_cost"] == original["total_time_cost"]  # only total_cost
    assert credit["total_energy"] == original["total_energy"]
    assert credit["charging_periods"] == original["charging_periods"]
    assert credit["remark"] == "wrong tariff"
    assert credit["last_updated"] == "2026-12-03T23:37:32Z"
    assert list(credit)[-1] == "last_updated"
    assert original["total_cost"] == {"excl_vat": 4.0, "incl_vat": 4.4}  # untouched
    with pytest.raises(CdrConflict):
        credit_object(credit, "12345-C-C", later)
    summary = summarize(credit)
    assert summary.credit and summary.total_cost.excl_vat == Decimal("-4.0")


def test_summarize_refuses_incomplete_cdrs() -> None:
    with pytest.raises(CdrInvalid, match="required field"):
        summarize({"id": "1"})
    good = credit_object(
        cdr_object(
            CdrFacts(
                country_code="NL",
                party_id="AMP",
                cdr_id="1",
                start=START,
                end=END,
                token=TOKEN,
                auth_method=AuthMethod.WHITELIST,
                location=LOCATION,
                pricing=PRICING,
                last_updated=END,
            )
        ),
        "1-C",
        END,
    )
    del good["credit_reference_id"]
    with pytest.raises(CdrInvalid, match="credit_reference_id"):
        summarize(good)
    bad_number = dict(good, credit=False, total_energy="lots")
    with pytest.raises(CdrInvalid, match="not a number"):
        summarize(bad_number)


def test_patch_adds_charging_periods_and_needs_last_updated() -> None:
    stored = session_object(facts(periods=PRICING.periods))
    period = {
        "start_date_time": "2026-12-01T22:00:00Z",
        "dimensions": [{"type": "ENERGY", "volume": 2}],
    }
    merged = merge_patch(
        stored,
        {"kwh": 17.1, "charging_periods": [period], "last_updated": "2026-12-01T22:00:01Z"},
    )
    assert merged["kwh"] == 17.1
    assert merged["charging_periods"] == [*stored["charging_periods"], period]
    assert merged["last_updated"] == "2026-12-01T22:00:01Z"
    unchanged = merge_patch(stored, {"charging_periods": [], "last_updated": "x"})
    assert unchanged["charging_periods"] == stored["charging_periods"]
    with pytest.raises(SessionRejected, match="last_updated"):
        merge_patch(stored, {"kwh": 3})
    with pytest.raises(SessionRejected, match="cannot be changed"):
        merge_patch(stored, {"id": "102", "last_updated": "x"})
    assert merge_patch(stored, {"id": "101", "last_updated": "x"})["id"] == "101"


def test_json_numbers_and_times() -> None:
    assert json_value(Decimal("15")) == 15 and isinstance(json_value(Decimal("15")), int)
    assert json_value(Decimal("4.00")) == 4.0 and isinstance(json_value(Decimal("4.00")), float)
    assert json_value(Decimal("0.1")) == 0.1
    assert decimal_of(0.1) == Decimal("0.1") and decimal_of(3) == Decimal(3)
    assert decimal_of("2.50") == Decimal("2.50")
    for bad in (True, "NaN", "x", None, [1]):
        with pytest.raises(ValueError):
            decimal_of(bad)
    cet = timezone(timedelta(hours=1))
    assert (
        ocpi_time(datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=cet)) == "2026-01-02T02:04:05.123Z"
    )
    assert ocpi_time(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"  # naive = UTC
    assert len(ocpi_time(datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC))) <= 25
    assert parse_time("2015-06-29T20:39:09Z") == datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)
    assert parse_time("2015-06-29T20:39:09") == datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)
    assert parse_time("2015-06-29T22:39:09+02:00").hour == 20
    with pytest.raises(ValueError):
        parse_time("yesterday")
    assert kwh_of_wh(None) == Decimal("0.000") and kwh_of_wh(-5) == Decimal("0.000")
    assert kwh_of_wh(1234.56) == Decimal("1.235")
    assert hours_between(START, START + timedelta(minutes=90)) == Decimal("1.500000")
    assert hours_between(END, START) == 0


def test_grants_and_token_types() -> None:
    body = session_object(facts(authorization_reference="R1", auth_method=AuthMethod.COMMAND))
    grant = grant_of(body)
    assert grant.token == TOKEN and grant.auth_method is AuthMethod.COMMAND
    assert grant.authorization_reference == "R1"
    assert TOKEN.owner == ("DE", "XYZ")
    with pytest.raises(ValueError):
        grant_of({"cdr_token": {"uid": "1"}, "auth_method": "WHITELIST"})
    with pytest.raises(ValueError):
        grant_of({**body, "auth_method": "MAGIC"})
    assert token_type_of(None) == "RFID" and token_type_of("ISO14443") == "RFID"
    assert token_type_of("Central") == "APP_USER" and token_type_of("eMAID") == "OTHER"


def test_a_priced_session_from_the_tariff_engine_makes_a_cdr() -> None:
    """The engine's answer (H2) as CDR content: 0.25/kWh + 1.00/h parking, VAT 21 %,
    2 h charging 20 kWh then 30 min parked (hand-computed: 5.00 + 0.50 = 5.50 excl)."""
    from ampyre.domain.cdrs import pricing_of
    from ampyre.domain.pricing import price_session
    from ampyre.domain.tariff_json import tariff_from_json
    from ampyre.domain.usage import simple_usage

    tariff = tariff_from_json(
        {
            "country_code": "NL",
            "party_id": "AMP",
            "id": "T1",
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [
                        {"type": "ENERGY", "price": 0.25, "vat": 21.0, "step_size": 1},
                        {"type": "PARKING_TIME", "price": 1.00, "vat": 21.0, "step_size": 60},
                    ]
                }
            ],
            "last_updated": "2026-11-01T00:00:00Z",
        }
    )
    usage = simple_usage(
        START,
        charging=timedelta(hours=2),
        energy_kwh=Decimal(20),
        parking=timedelta(minutes=30),
    )
    pricing = pricing_of(price_session(tariff, usage))
    assert pricing.total_cost == Price(Decimal("5.5000"), Decimal("6.6550"))
    assert pricing.total_energy == Decimal("20.0000")
    assert pricing.total_time == Decimal("2.5000")
    assert pricing.total_parking_time == Decimal("0.5000")
    assert pricing.total_energy_cost == Price(Decimal("5.0000"), Decimal("6.0500"))
    assert pricing.total_parking_cost == Price(Decimal("0.5000"), Decimal("0.6050"))
    assert pricing.tariffs[0]["id"] == "T1"
    cdr = cdr_object(
        CdrFacts(
            country_code="NL",
            party_id="AMP",
            cdr_id="77",
            start=START,
            end=START + timedelta(hours=2, minutes=30),
            token=TOKEN,
            auth_method=AuthMethod.WHITELIST,
            location=LOCATION,
            pricing=pricing,
            last_updated=START + timedelta(hours=3),
        )
    )
    assert cdr["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.655}
    assert [p["tariff_id"] for p in cdr["charging_periods"]] == ["T1"] * len(
        cdr["charging_periods"]
    )
    # The periods justify the cost: 20 kWh charged, then half an hour parked.
    volumes: dict[str, float] = {}
    for period in cdr["charging_periods"]:
        for d in period["dimensions"]:
            volumes[d["type"]] = volumes.get(d["type"], 0) + d["volume"]
    assert volumes["ENERGY"] == 20 and volumes["PARKING_TIME"] == 0.5
    assert cdr["tariffs"][0]["elements"][0]["price_components"][0]["type"] == "ENERGY"
