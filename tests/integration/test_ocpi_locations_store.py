"""OCPI Locations on SQLite and PostgreSQL: the store, the service building Locations from
what stations reported, the pushes it queues, the outbox feed turning status changes
into PATCHes, and the Locations partners push to us."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ampyre.adapters.db.locations import LocationsSql
from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.locations_validate import LocationInvalid
from ampyre.domain.models import Station, StatusReport
from ampyre.services.events import EventBus
from ampyre.services.locations import (
    LocationExists,
    LocationNotFound,
    LocationService,
    NotInLocation,
    UnknownStation,
)
from ampyre.services.locations_feed import CONSUMER, LocationFeed
from ampyre.services.locations_received import ReceivedLocations, UnknownObject

PLACE: dict[str, Any] = {
    "name": "Depot",
    "address": "Main Street 1",
    "city": "Utrecht",
    "postal_code": "3511 AA",
    "country": "NLD",
    "coordinates": {"latitude": "52.090730", "longitude": "5.121420"},
    "time_zone": "Europe/Amsterdam",
    "publish": True,
}


@dataclass
class Pushes:
    """Records what the service queues (H1's OcpiPush.to_receivers)."""

    calls: list[tuple[str, str, str, Any, str]] = field(default_factory=list)

    async def to_receivers(
        self, module: str, method: str, path: str, body: object | None, object_key: str
    ) -> int:
        self.calls.append((module, method, path, body, object_key))
        return 1

    def take(self) -> list[tuple[str, str, Any]]:
        taken = [(m, p, b) for _, m, p, b, _ in self.calls]
        self.calls.clear()
        return taken


@dataclass
class World:
    store: SqlStore
    service: LocationService
    pushes: Pushes
    received: ReceivedLocations
    tariffs: dict[int, list[str]]  # EVSE id -> the tariff ids H2 would answer

    async def station(self, sid: str, *statuses: tuple[int, int, str]) -> None:
        if await self.store.get_station(sid) is None:
            await self.store.create_station(Station(id=sid))
        await self.store.record_connection(sid, True, _now(), "ocpp1.6", "n1", None)
        await self.status(sid, *statuses)

    async def status(self, sid: str, *statuses: tuple[int, int, str]) -> None:
        now = _now()
        await self.store.record_status(
            [StatusReport(sid, e, c, s, now, now) for e, c, s in statuses]
        )


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def world(store_url: str) -> AsyncIterator[World]:
    store = SqlStore(Settings(database_url=store_url))
    await store.start()
    sql = LocationsSql(store.db)
    pushes = Pushes()
    by_evse: dict[int, list[str]] = {2: ["T-DC"]}

    async def tariffs(station_id: str, evse_id: int, connector_id: int) -> list[str]:
        return by_evse.get(evse_id, [])

    settings = Settings(database_url=store_url, ocpi_country_code="nl", ocpi_party_id="amp")
    service = LocationService(sql, settings, push=pushes, tariffs=tariffs)
    yield World(store, service, pushes, ReceivedLocations(sql), by_evse)
    await store.close()


async def test_location_crud(world: World) -> None:
    s = world.service
    made = await s.create(PLACE, location_id="Loc-1")
    assert made.id == "Loc-1" and made.place["city"] == "Utrecht"
    # A roaming location is PUT to the receivers (with no EVSEs yet).
    [(method, path, body)] = world.pushes.take()
    assert (method, path) == ("PUT", "/NL/AMP/Loc-1") and body["evses"] == []
    with pytest.raises(LocationExists):
        await s.create(PLACE, location_id="LOC-1")  # CiString: ids differ only in case
    with pytest.raises(LocationInvalid) as info:
        await s.create({**PLACE, "address": "x" * 46})
    assert info.value.field == "address"
    with pytest.raises(LocationInvalid):
        await s.create(PLACE, location_id="has space")
    generated = await s.create({**PLACE, "name": "Second"}, roaming=False)
    assert len(generated.id) == 36
    world.pushes.take()

    assert (await s.get("loc-1")) is not None  # found in any case
    page = await s.page(10, 0)
    assert page.total == 2 and [x.name for x in page.items] == sorted(
        ["Depot", "Second"], key=lambda n: "Loc-1" if n == "Depot" else generated.id
    )
    changed = await s.replace("Loc-1", {**PLACE, "name": "Depot North"})
    assert changed.name == "Depot North" and changed.last_updated > made.last_updated
    assert world.pushes.take()[0][2]["name"] == "Depot North"
    with pytest.raises(LocationNotFound):
        await s.replace("nope", PLACE)
    assert await s.delete("Loc-1") and not await s.delete("Loc-1")
    assert (await s.page(10, 0)).total == 1


async def test_build_from_stations_move_and_remove(world: World) -> None:
    s = world.service
    await world.station("CP1", (0, 0, "Available"), (1, 1, "Charging"), (2, 2, "Available"))
    await world.station("CP2", (1, 1, "Faulted"))
    await s.create(PLACE, location_id="A")
    await s.create({**PLACE, "name": "B"}, location_id="B")
    with pytest.raises(UnknownStation):
        await s.assign("A", "NOPE")
    await s.assign("A", "CP1")
    await s.assign("A", "CP2")
    world.pushes.take()

    obj = await s.ocpi_location("a")
    assert obj is not None
    assert [(e["uid"], e["status"]) for e in obj["evses"]] == [
        ("CP1*1", "CHARGING"),
        ("CP1*2", "AVAILABLE"),
        ("CP2*1", "OUTOFORDER"),
    ]
    assert obj["evses"][1]["connectors"][0]["tariff_ids"] == ["T-DC"]
    assert obj["evses"][0]["connectors"][0]["standard"] == "IEC_62196_T2"

    # Attributes of an EVSE and a connector (only for a station of the location).
    await s.set_evse("A", "CP1", 2, {"evse_id": "NL*AMP*E42*2", "floor_level": "-1"})
    await s.set_connector(
        "A", "CP1", 2, 2,
        {"standard": "IEC_62196_T2_COMBO", "format": "CABLE", "power_type": "DC",
         "max_voltage": 920, "max_amperage": 400, "max_electric_power": 150000},
    )  # fmt: skip
    with pytest.raises(NotInLocation):
        await s.set_evse("B", "CP1", 2, {})
    with pytest.raises(LocationInvalid) as info:
        await s.set_connector("A", "CP1", 2, 2, {"standard": "X", "format": "CABLE"})
    assert info.value.field == "standard"
    with pytest.raises(LocationInvalid) as info:
        await s.set_evse("A", "CP1", 2, {"evse_id": "not an emi3 id"})
    assert info.value.field == "evse_id"
    evse = await s.sender_object("A", "cp1*2")  # EVSE uids are CiStrings too
    assert evse is not None and evse["evse_id"] == "NL*AMP*E42*2" and evse["floor_level"] == "-1"
    connector = await s.sender_object("A", "CP1*2", "2")
    assert connector is not None and connector["max_electric_power"] == 150000
    assert await s.sender_object("A", "CP1*9") is None
    assert await s.sender_object("A", "CP1*2", "7") is None
    views = await s.evses("A")
    assert [(x.uid, x.customized) for x in views] == [
        ("CP1*1", False), ("CP1*2", True), ("CP2*1", False)
    ]  # fmt: skip
    assert views[1].connectors[0].customized and views[1].connectors[0].kind.power_type == "DC"
    assert await s.reset_connector("A", "CP1", 2, 2)
    assert not await s.reset_connector("A", "CP1", 2, 2)
    world.pushes.take()

    # Moving CP2 to B: A is PUT without it, its EVSE marked REMOVED; B is PUT with it.
    await s.assign("B", "CP2")
    (m1, p1, a_body), (m2, p2, b_body) = world.pushes.take()
    assert (m1, p1, m2, p2) == ("PUT", "/NL/AMP/A", "PUT", "/NL/AMP/B")
    assert [(e["uid"], e["status"]) for e in a_body["evses"]] == [
        ("CP1*1", "CHARGING"), ("CP1*2", "AVAILABLE"), ("CP2*1", "REMOVED")
    ]  # fmt: skip
    assert [e["uid"] for e in b_body["evses"]] == ["CP2*1"]
    assert (await s.require("A")).stations == ("CP1",)
    await s.unassign("B", "CP2")
    [(_, _, b_body)] = world.pushes.take()
    assert [(e["uid"], e["status"]) for e in b_body["evses"]] == [("CP2*1", "REMOVED")]
    with pytest.raises(NotInLocation):
        await s.unassign("B", "CP2")

    # Not roaming any more: every EVSE REMOVED, and no longer served.
    await s.replace("A", PLACE, roaming=False)
    [(_, _, a_body)] = world.pushes.take()
    assert {e["status"] for e in a_body["evses"]} == {"REMOVED"}
    assert await s.ocpi_location("A") is None
    assert await s.location_of("CP1") is None


async def test_feed_patches_status_changes(world: World) -> None:
    s = world.service
    bus = EventBus()
    feed = LocationFeed(s, world.store, bus)
    await world.station("CP1", (1, 1, "Available"))
    await world.station("CP9", (1, 1, "Available"))
    assert not await feed.run_once()  # a new consumer starts at the head of the outbox
    assert await world.store.consumer_position(CONSUMER) > 0
    await s.create(PLACE, location_id="L")
    await s.assign("L", "CP1")
    world.pushes.take()

    await world.status("CP1", (1, 1, "Charging"))
    await world.status("CP9", (1, 1, "Charging"))  # not in a location: ignored
    await feed.run_once()
    [(method, path, body)] = world.pushes.take()
    assert (method, path) == ("PATCH", "/NL/AMP/L/CP1*1")
    assert body["status"] == "CHARGING" and body["last_updated"].endswith("Z")
    # last_updated moved on the EVSE and the Location (mod_locations 8.2.1.1).
    obj = await s.ocpi_location("L")
    assert obj is not None and obj["evses"][0]["last_updated"] == body["last_updated"]
    assert obj["last_updated"] >= body["last_updated"]

    await world.status("CP1", (1, 1, "SuspendedEV"))  # still CHARGING for OCPI
    await feed.run_once()
    assert world.pushes.take() == []

    await world.store.record_connection("CP1", False, _now(), "ocpp1.6", None, None)
    await feed.run_once()
    assert [(m, b["status"]) for m, _, b in world.pushes.take()] == [("PATCH", "UNKNOWN")]

    # A connector on a new EVSE: receivers do not know the EVSE, so the Location is PUT.
    await world.station("CP1", (1, 1, "Available"), (2, 2, "Available"))
    await feed.run_once()
    [(method, path, body)] = world.pushes.take()
    assert (method, path) == ("PUT", "/NL/AMP/L")
    assert [(e["uid"], e["status"]) for e in body["evses"]] == [
        ("CP1*1", "AVAILABLE"), ("CP1*2", "AVAILABLE")
    ]  # fmt: skip


async def test_tariff_changes_put_the_locations_they_change(world: World) -> None:
    s = world.service
    await world.station("CP1", (1, 1, "Available"), (2, 2, "Available"))
    await s.create(PLACE, location_id="L")
    await s.create(PLACE, location_id="Other")
    await s.assign("L", "CP1")
    world.pushes.take()
    assert await s.tariffs_changed() == 0  # nothing differs from what was PUT
    assert world.pushes.take() == []
    before = (await s.require("L")).last_updated
    world.tariffs[1] = ["T-AC"]
    assert await s.tariffs_changed() == 1
    [(method, path, body)] = world.pushes.take()
    assert (method, path) == ("PUT", "/NL/AMP/L")
    assert body["evses"][0]["connectors"][0]["tariff_ids"] == ["T-AC"]
    assert (await s.require("L")).last_updated > before
    assert await s.tariffs_changed() == 0


async def test_sender_page_by_last_updated(world: World) -> None:
    s = world.service
    for name in ("c", "a", "b"):
        await s.create({**PLACE, "name": name}, location_id=name)
    await s.create(PLACE, location_id="hidden", roaming=False)
    items, total = await s.sender_page(None, None, 0, 2)
    assert total == 3 and [x["id"] for x in items] == ["a", "b"]
    items, total = await s.sender_page(None, None, 2, 2)
    assert [x["id"] for x in items] == ["c"]
    a = await s.require("a")  # created after c, before b
    items, total = await s.sender_page(a.last_updated, None, 0, 10)  # date_from inclusive
    assert [x["id"] for x in items] == ["a", "b"] and total == 2
    items, total = await s.sender_page(None, a.last_updated, 0, 10)  # date_to exclusive
    assert [x["id"] for x in items] == ["c"] and total == 1
    items, _ = await s.sender_page(a.last_updated + timedelta(days=1), None, 0, 10)
    assert items == []


async def test_lookups_for_other_modules(world: World) -> None:
    s = world.service
    await world.station("CP-Long-" + "x" * 40, (1, 1, "Available"))
    await world.station("CP1", (1, 1, "Available"), (1, 2, "Available"))
    await s.create(PLACE, location_id="L")
    await s.assign("L", "CP1")
    await s.assign("L", "CP-Long-" + "x" * 40)
    assert await s.location_of("CP1") == "L"
    assert await s.location_of("CP2") is None
    assert await s.resolve_evse("L", "cp1*1") == ("CP1", 1)
    uid = s.evse_uid("CP-Long-" + "x" * 40, 1)
    assert await s.resolve_evse("l", uid) == ("CP-Long-" + "x" * 40, 1)
    assert await s.resolve_evse("L", "CP1*3") is None
    assert await s.resolve_evse("other", "CP1*1") is None
    assert await s.resolve_connector("L", "CP1*1", "2") == ("CP1", 1, 2)
    assert await s.resolve_connector("L", "CP1*1", "3") is None
    cdr = await s.cdr_location("CP1", 1, 2)
    assert cdr is not None and cdr["evse_uid"] == "CP1*1" and cdr["connector_id"] == "2"
    assert cdr["address"] == "Main Street 1" and cdr["connector_power_type"] == "AC_3_PHASE"
    assert await s.time_zone_of("CP1") == "Europe/Amsterdam"
    assert await s.time_zone_of("CP2") is None


async def test_received_locations(world: World) -> None:
    r = world.received
    location = {
        "country_code": "DE",
        "party_id": "XYZ",
        "id": "LOC9",
        "publish": True,
        "address": "Hauptstrasse 1",
        "city": "Berlin",
        "country": "DEU",
        "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
        "time_zone": "Europe/Berlin",
        "evses": [
            {
                "uid": "E1",
                "status": "AVAILABLE",
                "connectors": [
                    {"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                     "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 16,
                     "last_updated": "2024-01-01T00:00:00Z"}
                ],
                "last_updated": "2024-01-01T00:00:00Z",
            }
        ],
        "last_updated": "2024-01-01T00:00:00Z",
    }  # fmt: skip
    assert await r.put(3, "de", "xyz", "LOC9", location) is True
    assert await r.put(3, "DE", "XYZ", "loc9", location) is False  # same object, any case
    with pytest.raises(LocationInvalid):
        await r.put(3, "DE", "XYZ", "OTHER", location)  # body id must match the URL
    with pytest.raises(UnknownObject):
        await r.put(3, "DE", "XYZ", "NOPE", location["evses"][0], "E1")
    at = "2024-02-01T00:00:00Z"
    await r.patch("DE", "XYZ", "LOC9", {"status": "CHARGING", "last_updated": at}, "e1")
    assert (await r.get("DE", "XYZ", "LOC9", "E1"))["status"] == "CHARGING"
    assert await r.put(3, "DE", "XYZ", "LOC9", {**location["evses"][0], "uid": "E2"}, "E2")
    connector = {**location["evses"][0]["connectors"][0], "id": "2", "last_updated": at}
    assert await r.put(3, "DE", "XYZ", "LOC9", connector, "E2", "2")
    stored = await r.one("de", "xyz", "loc9")
    assert stored is not None and stored.partner_id == 3
    assert [e["uid"] for e in stored.data["evses"]] == ["E1", "E2"]
    assert stored.last_updated == datetime(2024, 2, 1, tzinfo=UTC)
    with pytest.raises(LocationInvalid):
        await r.patch("DE", "XYZ", "LOC9", {"status": "CHARGING"}, "E1")  # no last_updated
    with pytest.raises(UnknownObject):
        await r.patch("DE", "XYZ", "LOC9", {"status": "CHARGING", "last_updated": at}, "E7")
    with pytest.raises(UnknownObject):
        await r.get("DE", "XYZ", "LOC8")
    page = await r.page(10, 0, country_code="de")
    assert page.total == 1 and page.items[0].location_id == "LOC9"
    assert (await r.page(10, 0, partner_id=4)).total == 0
