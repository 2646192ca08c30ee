"""The station list's search, states and order (domain/dashboard.py) and the batch
connector read, the same on the memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ampyre.domain.dashboard import StationQuery, StationSort, StationState
from ampyre.domain.models import Station, StatusReport
from ampyre.domain.transactions import EventKind, TransactionEvent

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _status(sid: str, connector: int, status: str) -> StatusReport:
    return StatusReport(sid, connector, connector, status, T0, T0, error_code="NoError")


async def _setup(store: Any) -> None:
    await store.create_station(Station(id="S1", vendor="Zeta", model="m_1"))
    await store.create_station(Station(id="S2", vendor="alpha", description="100% fast"))
    await store.create_station(Station(id="S3", firmware_version="FW-9", model="Él"))
    await store.create_station(Station(id="S4", vendor="Alpha"))
    await store.record_connection("S1", True, T0, "ocpp1.6", "n1", None)
    await store.record_connection("S3", True, T0 + timedelta(seconds=5), "ocpp1.6", "n1", None)
    await store.record_status([_status("S1", 1, "Faulted"), _status("S1", 2, "Charging")])
    await store.record_status([_status("S2", 1, "Available")])
    await store.record_transaction_events(
        [
            TransactionEvent(
                station_id="S4",
                kind=EventKind.STARTED,
                timestamp=T0,
                received_at=T0,
                transaction_id="T4",
                event_key="seq:0",
                seq_no=0,
                evse_id=1,
                connector_id=1,
                ocpp_version="ocpp2.0.1",
            )
        ]
    )


async def _ids(store: Any, **query: Any) -> list[str]:
    page = await store.list_stations(50, 0, StationQuery(**query))
    assert page.total == len(page.items)
    return [s.id for s in page.items]


async def test_station_query(store: Any) -> None:
    await _setup(store)
    assert await _ids(store) == ["S1", "S2", "S3", "S4"]
    assert await _ids(store, q="ALPHA") == ["S2", "S4"]
    assert await _ids(store, q="m_1") == ["S1"]
    assert await _ids(store, q="m%") == []
    assert await _ids(store, q="0% f") == ["S2"]
    assert await _ids(store, q="fw-") == ["S3"]
    assert await _ids(store, q="Él") == ["S3"]  # non-ASCII finds itself (SQLite too)
    assert await _ids(store, state=StationState.ONLINE) == ["S1", "S3"]
    assert await _ids(store, state=StationState.OFFLINE) == ["S2", "S4"]
    assert await _ids(store, state=StationState.FAULTED) == ["S1"]
    assert await _ids(store, state=StationState.CHARGING) == ["S1", "S4"]
    assert await _ids(store, q="alpha", state=StationState.CHARGING) == ["S4"]
    assert await _ids(store, sort=StationSort.ID, descending=True) == ["S4", "S3", "S2", "S1"]
    assert await _ids(store, sort=StationSort.CONNECTED, descending=True) == [
        "S1",
        "S3",
        "S2",
        "S4",
    ]
    assert await _ids(store, sort=StationSort.LAST_SEEN, descending=True) == [
        "S3",
        "S1",
        "S2",
        "S4",
    ]
    assert await _ids(store, sort=StationSort.FIRMWARE_VERSION) == ["S3", "S1", "S2", "S4"]
    page = await store.list_stations(1, 1, StationQuery(state=StationState.ONLINE))
    assert page.total == 2 and [s.id for s in page.items] == ["S3"]


async def test_connectors_of_several_stations(store: Any) -> None:
    await _setup(store)
    found = await store.list_connectors_of(["S1", "S2", "S3", "S1"])
    assert set(found) == {"S1", "S2"}
    assert [(c.connector_id, c.status) for c in found["S1"]] == [(1, "Faulted"), (2, "Charging")]
    assert found["S2"][0].station_id == "S2"
    assert await store.list_connectors_of([]) == {}
