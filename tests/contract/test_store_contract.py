"""One behavioural contract for every store (tests/contract/conftest.py): stations,
connections, boots, status, reports, the audit log, API tokens. The authorization,
transaction and webhook parts are in the sibling modules."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from contract_support import settle

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
from ampyre.services.ports import StoreUnavailable

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _status(station: str, connector: int, status: str, at: datetime) -> StatusReport:
    return StatusReport(
        station_id=station,
        evse_id=connector,
        connector_id=connector,
        status=status,
        timestamp=at - timedelta(seconds=1),
        received_at=at,
    )


async def test_stations_create_get_list_update_delete(store: Any) -> None:
    for sid in ("CS-B", "CS-A", "CS-C"):
        created = await store.create_station(Station(id=sid, description=f"about {sid}"))
        assert created.id == sid and created.created_at is not None
    with pytest.raises(KeyError):
        await store.create_station(Station(id="CS-A"))
    page = await store.list_stations(2, 0)
    assert (page.total, [s.id for s in page.items]) == (3, ["CS-A", "CS-B"])
    assert [s.id for s in (await store.list_stations(10, 2)).items] == ["CS-C"]
    updated = await store.update_station(
        "CS-A",
        StationUpdate(registration_status=RegistrationStatus.REJECTED, description="moved"),
    )
    assert updated is not None
    assert (updated.registration_status, updated.description) == (
        RegistrationStatus.REJECTED,
        "moved",
    )
    got = await store.get_station("CS-A")
    assert got is not None and got.registration_status is RegistrationStatus.REJECTED
    assert await store.update_station("NOPE", StationUpdate(description="x")) is None
    with pytest.raises(ValueError, match="cannot be updated"):
        await store.update_station("CS-A", StationUpdate(extra={"id": "other"}))
    assert await store.delete_station("CS-B") is True
    assert await store.delete_station("CS-B") is False
    assert await store.get_station("CS-B") is None


async def test_connections_auto_register_and_the_per_node_guard(store: Any) -> None:
    await store.record_connection("AUTO", True, T0, "ocpp2.0.1", "n1", "10.0.0.9", True)
    station = await store.get_station("AUTO")
    assert station is not None
    assert (station.connected, station.connected_node, station.remote_address) == (
        True,
        "n1",
        "10.0.0.9",
    )
    assert station.ocpp_version == "ocpp2.0.1" and station.last_seen == T0
    # Unknown and not auto-registered: nothing happens.
    await store.record_connection("GHOST", True, T0, "ocpp1.6", "n1", None)
    assert await store.get_station("GHOST") is None
    # It moved to node n2; a late disconnect from n1 must not mark it offline.
    await store.record_connection("AUTO", True, T0 + timedelta(seconds=5), None, "n2", None)
    await store.record_connection("AUTO", False, T0 + timedelta(seconds=6), None, "n1", None)
    station = await store.get_station("AUTO")
    assert station is not None and (station.connected, station.connected_node) == (True, "n2")
    assert station.remote_address == "10.0.0.9"  # kept when not given
    # A node that starts releases what it held.
    assert await store.release_node("n2", T0 + timedelta(minutes=1)) == ["AUTO"]
    station = await store.get_station("AUTO")
    assert station is not None and (station.connected, station.connected_node) == (False, None)
    last = (await store.events_after(0, 100))[-1]  # with its event (the outbox)
    assert (last.type, last.station_id, last.at) == (
        "station.disconnected",
        "AUTO",
        T0 + timedelta(minutes=1),
    )
    assert last.data == {"ocpp_version": "ocpp2.0.1"}
    assert station.last_seen == T0 + timedelta(seconds=5)


async def test_boot_and_last_seen_never_move_backwards(store: Any) -> None:
    await store.create_station(Station(id="CS1"))
    info = BootInfo(vendor="ACME", model="One", serial_number="S-1", reason="PowerUp")
    await store.record_boot("CS1", "ocpp2.0.1", info, T0)
    store.touch("CS1", T0 - timedelta(hours=1))  # older: ignored
    await settle(store)
    station = await store.get_station("CS1")
    assert station is not None
    assert (station.vendor, station.model, station.serial_number, station.boot_reason) == (
        "ACME",
        "One",
        "S-1",
        "PowerUp",
    )
    assert (station.last_boot, station.last_seen, station.ocpp_version) == (T0, T0, "ocpp2.0.1")
    store.touch("CS1", T0 + timedelta(seconds=30))
    await settle(store)
    station = await store.get_station("CS1")
    assert station is not None and station.last_seen == T0 + timedelta(seconds=30)


async def test_status_history_and_current_connectors(store: Any) -> None:
    await store.create_station(Station(id="CS1"))
    await store.record_status(
        [_status("CS1", 1, "Available", T0), _status("CS1", 2, "Available", T0)]
    )
    await store.record_status([_status("CS1", 1, "Occupied", T0 + timedelta(seconds=10))])
    connectors = await store.list_connectors("CS1")
    assert [(c.connector_id, c.status) for c in connectors] == [(1, "Occupied"), (2, "Available")]
    history = await store.list_status_history("CS1", 10, 0)
    assert history.total == 3
    assert history.items[0].status == "Occupied"  # newest first
    assert history.items[0].received_at == T0 + timedelta(seconds=10)
    assert (await store.list_status_history("CS1", 1, 1)).items[0].status == "Available"
    with pytest.raises(StoreUnavailable):
        await store.record_status([_status("NOPE", 1, "Available", T0)])
    assert (await store.list_status_history("NOPE", 10, 0)).total == 0


async def test_reports_newest_first(store: Any) -> None:
    await store.create_station(Station(id="CS1"))
    for n in range(3):
        await store.record_reports(
            [StationReport("CS1", "NotifyReport", {"n": n}, T0 + timedelta(seconds=n), 7, n)]
        )
    page = await store.list_reports("CS1", 2, 0)
    assert page.total == 3 and [r.payload["n"] for r in page.items] == [2, 1]
    assert page.items[0].request_id == 7 and page.items[0].seq_no == 2


def _entry(station: str, n: int) -> MessageLogEntry:
    return MessageLogEntry(
        station, Direction.IN, 2, f"m{n}", "Heartbeat", "[2]", T0 + timedelta(seconds=n)
    )


async def test_audit_log_pages_and_prunes(store: Any) -> None:
    store.log_messages([_entry("CS1", n) for n in range(5)] + [_entry("CS2", 9)])
    await settle(store)
    mine = await store.list_messages("CS1", 2, 0)
    assert mine.total == 5 and [m.unique_id for m in mine.items] == ["m4", "m3"]
    assert mine.items[0] == _entry("CS1", 4)
    assert (await store.list_messages(None, 10, 0)).items[0].unique_id == "m9"
    assert await store.prune_messages(T0 + timedelta(seconds=3)) == 3
    assert [m.unique_id for m in (await store.list_messages(None, 10, 0)).items] == [
        "m9",
        "m4",
        "m3",
    ]


def _exchange(station: str, n: int, action: str, out: bool) -> list[MessageLogEntry]:
    """A request and its reply, `n` seconds after T0; out: sent by the CSMS."""
    ask, answer = (Direction.OUT, Direction.IN) if out else (Direction.IN, Direction.OUT)
    at = T0 + timedelta(seconds=n)
    uid = f"u{n}"
    return [
        MessageLogEntry(station, ask, 2, uid, action, f'[2,"{uid}","{action}",{{}}]', at),
        MessageLogEntry(
            station, answer, 3, uid, action, f'[3,"{uid}",{{}}]', at + timedelta(milliseconds=5)
        ),
    ]


async def test_audit_log_filters_by_action_and_direction(store: Any) -> None:
    """`action` keeps requests and their replies; `direction` keeps the frames going that
    way (a request one way, its reply the other); both page and count matching frames."""
    entries: list[MessageLogEntry] = []
    for n in range(6):
        entries += _exchange("CS1", n, "Heartbeat" if n % 2 else "Reset", out=n % 2 == 0)
    entries += _exchange("CS2", 10, "Reset", out=True)
    store.log_messages(entries)
    await settle(store)

    resets = await store.list_messages("CS1", 100, 0, action="Reset")
    assert resets.total == 6 and {m.action for m in resets.items} == {"Reset"}
    assert [m.unique_id for m in resets.items] == ["u4", "u4", "u2", "u2", "u0", "u0"]

    inbound = await store.list_messages("CS1", 100, 0, direction="in")
    assert inbound.total == 6 and {m.direction for m in inbound.items} == {Direction.IN}
    # Heartbeats come in (requests), Resets' replies come in.
    assert [(m.unique_id, m.message_type) for m in inbound.items] == [
        ("u5", 2), ("u4", 3), ("u3", 2), ("u2", 3), ("u1", 2), ("u0", 3),
    ]  # fmt: skip
    # Paging counts matching frames only.
    page = await store.list_messages("CS1", 2, 3, direction="in")
    assert page.total == 6 and [m.unique_id for m in page.items] == ["u2", "u1"]

    sent_resets = await store.list_messages(None, 100, 0, action="Reset", direction="out")
    assert sent_resets.total == 4
    assert [(m.station_id, m.unique_id, m.message_type) for m in sent_resets.items] == [
        ("CS2", "u10", 2), ("CS1", "u4", 2), ("CS1", "u2", 2), ("CS1", "u0", 2),
    ]  # fmt: skip
    assert (await store.list_messages("CS1", 10, 0, action="Nope")).total == 0
    assert (await store.list_messages("CS1", 10, 4, action="Reset", direction="in")).items == []


async def test_api_tokens(store: Any) -> None:
    token = ApiToken(None, "ops", Role.OPERATOR, "hash-1", T0)
    created = await store.create_api_token(token)
    assert created.id is not None and created.role is Role.OPERATOR
    with pytest.raises(KeyError):
        await store.create_api_token(dataclasses.replace(token, name="again"))
    other = await store.create_api_token(ApiToken(None, "view", Role.VIEWER, "hash-2", T0))
    assert [t.name for t in await store.list_api_tokens()] == ["ops", "view"]
    found = await store.find_api_token("hash-2")
    assert found is not None and found.id == other.id
    assert await store.find_api_token("nope") is None
    assert await store.revoke_api_token(created.id) is True
    assert await store.revoke_api_token(created.id) is False
    revoked = await store.find_api_token("hash-1")
    assert revoked is not None and revoked.revoked is True
