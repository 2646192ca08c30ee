"""MemoryStore behaves like the Store port says (and like SqlStore where observable)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ampyre.adapters.memory import MemoryStore
from ampyre.domain.models import (
    ApiToken,
    BootInfo,
    Direction,
    MessageLogEntry,
    RegistrationStatus,
    Role,
    Station,
    StationReport,
    StationUpdate,
    StatusReport,
)
from ampyre.services.ports import SchemaNotCurrent, Store, StoreUnavailable

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _status(station: str, connector: int, status: str, at: datetime) -> StatusReport:
    return StatusReport(station, connector, connector, status, at, at)


def _message(station: str, n: int, at: datetime) -> MessageLogEntry:
    return MessageLogEntry(station, Direction.OUT, 2, f"m{n}", "Reset", "[]", at)


def test_satisfies_the_protocol() -> None:
    store: Store = MemoryStore()  # mypy checks the structural match
    assert store is not None


async def test_station_crud() -> None:
    store = MemoryStore()
    created = await store.create_station(Station(id="CS1"))
    assert created.created_at is not None and created.updated_at is not None
    with pytest.raises(KeyError):
        await store.create_station(Station(id="CS1"))

    got = await store.get_station("CS1")
    assert got == created
    assert got is not store.stations["CS1"]  # copies, like rows from a database

    updated = await store.update_station(
        "CS1",
        StationUpdate(
            registration_status=RegistrationStatus.REJECTED,
            password_hash="h",
            extra={"model": "X"},
        ),
    )
    assert updated is not None
    assert (updated.registration_status, updated.password_hash, updated.model) == (
        RegistrationStatus.REJECTED,
        "h",
        "X",
    )
    cleared = await store.update_station("CS1", StationUpdate(clear_password=True))
    assert cleared is not None and cleared.password_hash is None
    with pytest.raises(ValueError):
        await store.update_station("CS1", StationUpdate(extra={"created_at": T0}))
    assert await store.update_station("nope", StationUpdate()) is None

    for i in range(4):
        await store.create_station(Station(id=f"CS{i + 2}"))
    page = await store.list_stations(limit=2, offset=1)
    assert ([s.id for s in page.items], page.total) == (["CS2", "CS3"], 5)

    await store.record_status([_status("CS1", 1, "Available", T0)])
    assert await store.delete_station("CS1") is True
    assert await store.delete_station("CS1") is False
    assert await store.list_connectors("CS1") == []
    assert (await store.list_status_history("CS1", 10, 0)).total == 0


async def test_ocpp_path() -> None:
    store = MemoryStore()
    await store.record_connection("CS1", True, T0, "ocpp1.6", "n1", "1.2.3.4")
    assert await store.get_station("CS1") is None
    await store.record_connection("CS1", True, T0, "ocpp1.6", "n1", "1.2.3.4", auto_register=True)
    await store.record_boot("CS1", "ocpp1.6", BootInfo("V", "M", reason="PowerUp"), T0)
    await store.record_status(
        [_status("CS1", 1, "Available", T0), _status("CS1", 1, "Charging", T0 + timedelta(1))]
    )
    await store.record_reports([StationReport("CS1", "NotifyEvent", {"k": 1}, T0)])

    station = await store.get_station("CS1")
    assert station is not None
    assert (station.vendor, station.boot_reason, station.connected) == ("V", "PowerUp", True)
    assert [c.status for c in await store.list_connectors("CS1")] == ["Charging"]
    history = await store.list_status_history("CS1", 10, 0)
    assert [r.status for r in history.items] == ["Charging", "Available"]
    assert (await store.list_reports("CS1", 10, 0)).total == 1

    with pytest.raises(StoreUnavailable):  # unknown station: the foreign key fails
        await store.record_status([_status("GHOST", 1, "Available", T0)])

    await store.record_connection("CS1", False, T0, None, "other-node", None)
    assert (await store.get_station("CS1")).connected is True  # type: ignore[union-attr]
    await store.record_connection("CS1", False, T0 + timedelta(1), None, "n1", None)
    station = await store.get_station("CS1")
    assert station is not None and not station.connected and station.connected_node is None

    store.touch("CS1", T0 + timedelta(2))
    store.touch("CS1", T0)
    station = await store.get_station("CS1")
    assert station is not None and station.last_seen == T0 + timedelta(2)


async def test_messages_and_prune() -> None:
    store = MemoryStore()
    store.max_buffered_messages = 5
    store.log_messages([_message("CS1", n, T0 + timedelta(days=n)) for n in range(4)])
    store.log_messages([_message("CS2", n, T0 + timedelta(days=n)) for n in range(4, 7)])
    assert store.dropped_messages == 2
    page = await store.list_messages(None, 10, 0)
    assert [m.unique_id for m in page.items] == ["m4", "m3", "m2", "m1", "m0"]
    assert (await store.list_messages("CS2", 10, 0)).total == 1
    assert await store.prune_messages(T0 + timedelta(days=2)) == 2
    assert (await store.list_messages(None, 10, 0)).total == 3


async def test_api_tokens() -> None:
    store = MemoryStore()
    token = await store.create_api_token(ApiToken(None, "a", Role.ADMIN, "h1", T0))
    assert token.id == 1
    with pytest.raises(KeyError):
        await store.create_api_token(ApiToken(None, "b", Role.VIEWER, "h1", T0))
    assert await store.find_api_token("h1") == token
    assert await store.find_api_token("h2") is None
    assert await store.list_api_tokens() == [token]
    assert await store.revoke_api_token(1) is True
    assert await store.revoke_api_token(1) is False
    assert await store.revoke_api_token(2) is False


async def test_simulated_outage() -> None:
    store = MemoryStore()
    await store.create_station(Station(id="CS1"))
    store.fail_writes = True
    with pytest.raises(StoreUnavailable):
        await store.record_status([_status("CS1", 1, "Available", T0)])
    with pytest.raises(StoreUnavailable):
        await store.create_station(Station(id="CS2"))
    with pytest.raises(StoreUnavailable):
        await store.ping()
    store.touch("CS1", T0)  # fire-and-forget never raises
    store.log_messages([_message("CS1", 1, T0)])
    assert store.dropped_messages == 1
    assert await store.get_station("CS1") is not None  # reads still work

    store.fail_writes = False
    await store.record_status([_status("CS1", 1, "Available", T0)])
    await store.ping()

    store.fail_reads = True
    with pytest.raises(StoreUnavailable):
        await store.get_station("CS1")

    store.fail_reads = False
    store.schema_error = "database at x is not migrated"
    with pytest.raises(SchemaNotCurrent, match="not migrated"):
        await store.check_schema()


async def test_closed_store_refuses_writes() -> None:
    store = MemoryStore()
    await store.start()
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.record_boot("CS1", "ocpp2.0.1", BootInfo("V", "M"), T0)
