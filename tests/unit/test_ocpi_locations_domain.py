"""OCPI 2.2.1 Locations domain: the OCPP -> OCPI status mapping, EVSE uids, the field
limits of mod_locations, the objects we build, and how pushed objects merge."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ampyre.domain import locations_merge as merge
from ampyre.domain import locations_validate as v
from ampyre.domain.locations import (
    ConnectorAttributes,
    ConnectorKind,
    ConnectorReading,
    EvseAttributes,
    EvseState,
    EvseStatus,
    Location,
    Publisher,
    StationPart,
    cdr_location_object,
    emi3_evse_id,
    evse_status,
    evse_uid,
    location_object,
    ocpi_status,
)
from ampyre.domain.locations_validate import LocationInvalid

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
PUB = Publisher("NL", "AMP", ConnectorKind("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 32))

# The spec's "public charging location" example (mod_locations 8.3.1.1), as JSON.
SPEC_EXAMPLE: dict[str, Any] = {
    "country_code": "BE",
    "party_id": "BEC",
    "id": "LOC1",
    "publish": True,
    "name": "Gent Zuid",
    "address": "F.Rooseveltlaan 3A",
    "city": "Gent",
    "postal_code": "9000",
    "country": "BEL",
    "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
    "parking_type": "ON_STREET",
    "evses": [
        {
            "uid": "3256",
            "evse_id": "BE*BEC*E041503001",
            "status": "AVAILABLE",
            "capabilities": ["RESERVABLE"],
            "connectors": [
                {
                    "id": "1",
                    "standard": "IEC_62196_T2",
                    "format": "CABLE",
                    "power_type": "AC_3_PHASE",
                    "max_voltage": 220,
                    "max_amperage": 16,
                    "tariff_ids": ["11"],
                    "last_updated": "2015-03-16T10:10:02Z",
                },
                {
                    "id": "2",
                    "standard": "IEC_62196_T2",
                    "format": "SOCKET",
                    "power_type": "AC_3_PHASE",
                    "max_voltage": 220,
                    "max_amperage": 16,
                    "tariff_ids": ["13"],
                    "last_updated": "2015-03-18T08:12:01Z",
                },
            ],
            "physical_reference": "1",
            "floor_level": "-1",
            "last_updated": "2015-06-28T08:12:01Z",
        }
    ],
    "operator": {"name": "BeCharged"},
    "time_zone": "Europe/Brussels",
    "last_updated": "2015-06-29T20:39:09Z",
}

PLACE: dict[str, Any] = {
    "publish": True,
    "name": "Depot",
    "address": "Main Street 1",
    "city": "Utrecht",
    "postal_code": "3511 AA",
    "country": "NLD",
    "coordinates": {"latitude": "52.090730", "longitude": "5.121420"},
    "time_zone": "Europe/Amsterdam",
    "facilities": ["CAFE"],
    "opening_times": {"twentyfourseven": True},
}


# ---------------------------------------------------------------------- status


@pytest.mark.parametrize(
    ("ocpp", "ocpi"),
    [
        ("Available", EvseStatus.AVAILABLE),
        ("Preparing", EvseStatus.CHARGING),
        ("Charging", EvseStatus.CHARGING),
        ("SuspendedEV", EvseStatus.CHARGING),
        ("SuspendedEVSE", EvseStatus.CHARGING),
        ("Finishing", EvseStatus.CHARGING),
        ("Occupied", EvseStatus.CHARGING),  # 2.0.1 / 2.1
        ("Reserved", EvseStatus.RESERVED),
        ("Unavailable", EvseStatus.INOPERATIVE),
        ("Faulted", EvseStatus.OUTOFORDER),
        ("Bogus", EvseStatus.UNKNOWN),
        (None, EvseStatus.UNKNOWN),
    ],
)
def test_ocpp_status_maps_to_ocpi(ocpp: str | None, ocpi: EvseStatus) -> None:
    assert ocpi_status(ocpp) is ocpi


def test_evse_status_of_several_connectors_and_offline() -> None:
    assert evse_status(["Faulted", "Available"], connected=True) is EvseStatus.AVAILABLE
    assert evse_status(["Available", "Occupied"], connected=True) is EvseStatus.CHARGING
    assert evse_status(["Unavailable", "Faulted"], connected=True) is EvseStatus.INOPERATIVE
    assert evse_status(["Available"], connected=False) is EvseStatus.UNKNOWN
    assert evse_status([], connected=True) is EvseStatus.UNKNOWN
    # 1.6 connector 0 (the whole charge point) out of use takes every EVSE with it.
    assert (
        evse_status(["Available"], connected=True, station_status="Faulted")
        is EvseStatus.OUTOFORDER
    )
    assert (
        evse_status(["Available"], connected=True, station_status="Available")
        is EvseStatus.AVAILABLE
    )


# ---------------------------------------------------------------------- identifiers


def test_evse_uid_is_stable_and_fits_cistring_36() -> None:
    assert evse_uid("CP1", 2) == "CP1*2"
    long_a, long_b = "A" * 40 + "-east", "A" * 40 + "-west"
    uid_a = evse_uid(long_a, 1)
    assert len(uid_a) == 36 and uid_a == evse_uid(long_a, 1)
    assert uid_a != evse_uid(long_b, 1) != evse_uid(long_a, 2)
    assert len(evse_uid("x" * 48, 2**31 - 1)) == 36
    v.ci_string(36)(evse_uid("x" * 48, 2**31 - 1), "uid")


def test_emi3_evse_id_derivation() -> None:
    assert emi3_evse_id("nl", "amp", "cp-01.a", 2) == "NL*AMP*ECP01A*2"
    assert emi3_evse_id("NL", "AMP", "---", 1) is None  # nothing usable left
    assert emi3_evse_id("NL", "AMP", "X" * 40, 1) is None  # outlet id over 31 characters


# ---------------------------------------------------------------------- field limits


def test_the_spec_example_location_is_valid() -> None:
    checked = v.location(copy.deepcopy(SPEC_EXAMPLE), "")
    assert checked["evses"][0]["connectors"][1]["tariff_ids"] == ["13"]
    assert checked["last_updated"] == "2015-06-29T20:39:09.000Z"


def _refused(obj: dict[str, Any], field: str) -> None:
    with pytest.raises(LocationInvalid) as info:
        v.location(obj, "")
    assert info.value.field == field, str(info.value)


def _example(**changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(SPEC_EXAMPLE)
    obj.update(changes)
    return obj


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"address": "x" * 46}, "address"),  # string(45)
        ({"city": "x" * 46}, "city"),
        ({"postal_code": "x" * 11}, "postal_code"),  # string(10)
        ({"state": "x" * 21}, "state"),
        ({"name": "x" * 256}, "name"),
        ({"id": "x" * 37}, "id"),  # CiString(36)
        ({"id": "é"}, "id"),  # CiString: printable ASCII
        ({"country_code": "BEL"}, "country_code"),  # CiString(2)
        ({"party_id": "BECX"}, "party_id"),  # CiString(3)
        ({"country": "BE"}, "country"),  # alpha-3
        ({"city": "Gent\nZuid"}, "city"),  # no control characters
        ({"coordinates": {"latitude": "51.04", "longitude": "3.729944"}}, "coordinates.latitude"),
        ({"coordinates": {"latitude": "91.000000", "longitude": "3.7"}}, "coordinates.latitude"),
        ({"parking_type": "OTHER"}, "parking_type"),  # removed in 2.2
        ({"facilities": ["CAFE", "CAFE"]}, "facilities.1"),
        ({"publish": "yes"}, "publish"),
        ({"time_zone": None}, "time_zone"),  # required since 2.2
        ({"last_updated": "yesterday"}, "last_updated"),
        (
            {"publish_allowed_to": [{"visual_number": "1"}], "publish": False},
            "publish_allowed_to.0.issuer",
        ),
        ({"publish_allowed_to": [{"uid": "1", "type": "RFID"}]}, "publish_allowed_to"),
        ({"opening_times": {"twentyfourseven": False}}, "opening_times.regular_hours"),
        (
            {
                "opening_times": {
                    "twentyfourseven": False,
                    "regular_hours": [
                        {"weekday": 8, "period_begin": "08:00", "period_end": "09:00"}
                    ],
                }
            },
            "opening_times.regular_hours.0.weekday",
        ),
        (
            {
                "opening_times": {
                    "twentyfourseven": False,
                    "regular_hours": [
                        {"weekday": 1, "period_begin": "18:00", "period_end": "08:00"}
                    ],
                }
            },
            "opening_times.regular_hours.0.period_end",
        ),
        ({"operator": {"name": "x" * 101}}, "operator.name"),
        ({"operator": {"name": "A", "website": "ftp://x"}}, "operator.website"),
        ({"directions": [{"language": "eng", "text": "left"}]}, "directions.0.language"),
    ],
)
def test_location_field_limits(changes: dict[str, Any], field: str) -> None:
    _refused(_example(**changes), field)


def test_evse_and_connector_limits() -> None:
    evse = copy.deepcopy(SPEC_EXAMPLE["evses"][0])
    v.evse(evse, "")
    for changes, field in [
        ({"uid": "u" * 37}, "uid"),
        ({"evse_id": "e" * 49}, "evse_id"),
        ({"status": "CHARGED"}, "status"),
        ({"floor_level": "12345"}, "floor_level"),  # string(4)
        ({"physical_reference": "x" * 17}, "physical_reference"),
        ({"connectors": []}, "connectors"),  # cardinality +
        ({"capabilities": ["TELEPORT"]}, "capabilities.0"),
    ]:
        with pytest.raises(LocationInvalid) as info:
            v.evse({**evse, **changes}, "")
        assert info.value.field == field
    twice = {**evse, "connectors": [evse["connectors"][0], {**evse["connectors"][1], "id": "1"}]}
    with pytest.raises(LocationInvalid, match="duplicate id"):
        v.evse(twice, "")
    connector = evse["connectors"][0]
    for changes, field in [
        ({"standard": "IEC_62196_T9"}, "standard"),
        ({"format": "PLUG"}, "format"),
        ({"max_voltage": "230"}, "max_voltage"),
        ({"max_amperage": True}, "max_amperage"),
        ({"tariff_ids": ["a", "A"]}, "tariff_ids.1"),  # CiString: duplicates in any case
        ({"terms_and_conditions": "x" * 256}, "terms_and_conditions"),
    ]:
        with pytest.raises(LocationInvalid) as info:
            v.connector({**connector, **changes}, "")
        assert info.value.field == field


def test_patch_needs_last_updated_and_refuses_nulls() -> None:
    with pytest.raises(LocationInvalid, match="required in a PATCH"):
        v.partial(v.EVSE_FIELDS, {"status": "CHARGING"})
    with pytest.raises(LocationInvalid, match="cannot be null"):
        v.partial(v.EVSE_FIELDS, {"status": None, "last_updated": "2019-06-24T12:39:09Z"})
    patch = v.partial(
        v.EVSE_FIELDS, {"status": "CHARGING", "last_updated": "2019-06-24T12:39:09", "x": 1}
    )
    assert patch == {"status": "CHARGING", "last_updated": "2019-06-24T12:39:09.000Z"}


def test_times_are_utc() -> None:
    assert v.date_time("2019-06-24T14:39:09+02:00", "t") == "2019-06-24T12:39:09.000Z"
    assert v.ocpi_time(datetime(2019, 6, 24, 12, 39, 9, 123456, tzinfo=UTC)) == (
        "2019-06-24T12:39:09.123Z"
    )


# ---------------------------------------------------------------------- building


def _part(connected: bool = True) -> StationPart:
    return StationPart(
        station_id="CP1",
        connected=connected,
        assigned_at=T0,
        readings=[
            ConnectorReading(0, 0, "Available"),  # 1.6 connector 0: not an EVSE
            ConnectorReading(1, 1, "Charging"),
            ConnectorReading(2, 2, "Available"),
        ],
        evses={1: EvseAttributes("CP1", 1, floor_level="-1", updated_at=T0 + timedelta(1))},
        connectors={
            (2, 2): ConnectorAttributes(
                "CP1",
                2,
                2,
                ConnectorKind("IEC_62196_T2_COMBO", "CABLE", "DC", 920, 400, 150000),
                T0 + timedelta(2),
            )
        },
        states={1: EvseState("CP1", 1, EvseStatus.CHARGING, T0 + timedelta(3))},
    )


def test_location_object_is_a_valid_ocpi_location() -> None:
    location = Location("LOC-1", v.place(dict(PLACE), ""), last_updated=T0)
    obj = location_object(location, [_part()], PUB, {("CP1", 1, 1): ["T1"]})
    checked = v.location(copy.deepcopy(obj), "")  # what we serve passes our own checks
    assert checked["country_code"] == "NL" and checked["party_id"] == "AMP"
    assert [e["uid"] for e in obj["evses"]] == ["CP1*1", "CP1*2"]
    one, two = obj["evses"]
    assert one["status"] == "CHARGING" and two["status"] == "AVAILABLE"
    assert one["evse_id"] == "NL*AMP*ECP1*1" and one["floor_level"] == "-1"
    assert one["connectors"][0]["tariff_ids"] == ["T1"]
    assert one["connectors"][0]["standard"] == "IEC_62196_T2"  # the default
    assert two["connectors"][0]["power_type"] == "DC"
    assert two["connectors"][0]["max_electric_power"] == 150000
    assert "tariff_ids" not in two["connectors"][0]
    # last_updated: an EVSE's newest change, the Location's newest of all.
    assert one["last_updated"] == v.ocpi_time(T0 + timedelta(3))
    assert two["last_updated"] == v.ocpi_time(T0 + timedelta(2))
    assert obj["last_updated"] == v.ocpi_time(T0 + timedelta(3))
    assert list(obj)[:4] == ["country_code", "party_id", "id", "publish"]


def test_offline_station_is_unknown_and_cdr_location() -> None:
    location = Location("LOC-1", v.place(dict(PLACE), ""), last_updated=T0)
    obj = location_object(location, [_part(connected=False)], PUB, {})
    assert {e["status"] for e in obj["evses"]} == {"UNKNOWN"}
    cdr = cdr_location_object(location, _part(), 2, 2, PUB)
    assert cdr == {
        "id": "LOC-1",
        "name": "Depot",
        "address": "Main Street 1",
        "city": "Utrecht",
        "postal_code": "3511 AA",
        "country": "NLD",
        "coordinates": {"latitude": "52.090730", "longitude": "5.121420"},
        "evse_uid": "CP1*2",
        "evse_id": "NL*AMP*ECP1*2",
        "connector_id": "2",
        "connector_standard": "IEC_62196_T2_COMBO",
        "connector_format": "CABLE",
        "connector_power_type": "DC",
    }


# ---------------------------------------------------------------------- merging (eMSP)


def _stored() -> dict[str, Any]:
    return v.location(copy.deepcopy(SPEC_EXAMPLE), "")


def test_put_evse_replaces_case_insensitively_and_dates_the_parent() -> None:
    stored = _stored()
    evse = v.evse({**SPEC_EXAMPLE["evses"][0], "uid": "3256", "status": "CHARGING",
                   "last_updated": "2020-01-01T00:00:00Z"}, "")  # fmt: skip
    data, created = merge.put_evse(stored, evse)
    assert not created and data["evses"][0]["status"] == "CHARGING"
    assert data["last_updated"] == "2020-01-01T00:00:00.000Z"
    new = {**evse, "uid": "3257"}
    data, created = merge.put_evse(data, new)
    assert created and len(data["evses"]) == 2
    assert stored["evses"][0]["status"] == "AVAILABLE"  # the input is not changed


def test_patches() -> None:
    stored = _stored()
    at = "2021-02-03T04:05:06.000Z"
    data = merge.patch_evse(stored, "3256", {"status": "CHARGING", "last_updated": at})
    assert data["evses"][0]["status"] == "CHARGING" and data["last_updated"] == at
    data = merge.patch_connector(data, "3256", "2", {"tariff_ids": ["15"], "last_updated": at})
    assert data["evses"][0]["connectors"][1]["tariff_ids"] == ["15"]
    data = merge.patch_location(data, {"name": "Interparking Gent Zuid", "last_updated": at})
    assert data["name"] == "Interparking Gent Zuid" and data["evses"][0]["connectors"]
    with pytest.raises(merge.UnknownObject):
        merge.patch_evse(stored, "nope", {"status": "CHARGING", "last_updated": at})
    with pytest.raises(merge.UnknownObject):
        merge.patch_connector(stored, "3256", "9", {"last_updated": at})
    # A PATCH that breaks a rule across fields is refused as a whole.
    with pytest.raises(LocationInvalid):
        merge.patch_location(
            stored, {"publish_allowed_to": [{"group_id": "G"}], "last_updated": at}
        )
    assert merge.select(data, "3256", "2")["id"] == "2"
    with pytest.raises(merge.UnknownObject):
        merge.select(data, "3256", "3")
