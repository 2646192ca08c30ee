"""MemoryStations: the `Store` port part of MemoryStore (adapters/memory/__init__.py), an
in-process fake for unit tests of services and the API. Same semantics as SqlStore where
callers can observe them (KeyError on duplicates,
newest-first pages, disconnect guard per node, records for unknown stations fail), but
writes are immediate and nothing is durable.

Outage simulation: `fail_writes = True` makes every awaited write raise StoreUnavailable
(and `ping` too); `fail_reads = True` does the same for reads; `schema_error` (a message)
makes `check_schema` raise SchemaNotCurrent. Buffered calls (`touch`, `log_messages`)
never raise, like the real store; while writes fail their data is dropped (log entries
are counted in `dropped_messages`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ampyre.domain.dashboard import (
    CHARGING,
    FAULTED,
    SEARCHED_FIELDS,
    StationQuery,
    StationSort,
    StationState,
)
from ampyre.domain.events import (
    DomainEvent,
    OutboxEvent,
    connection_event,
    json_safe,
    status_event,
)
from ampyre.domain.models import (
    ApiToken,
    BootInfo,
    Connector,
    MessageLogEntry,
    Page,
    RegistrationStatus,
    Station,
    StationReport,
    StationUpdate,
    StatusReport,
)
from ampyre.services.ports import SchemaNotCurrent, StoreUnavailable

_EDITABLE = frozenset(
    f.name for f in dataclasses.fields(Station) if f.name not in {"id", "created_at", "updated_at"}
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def _page(items: list[Any], limit: int, offset: int) -> Page:
    limit, offset = max(0, limit), max(0, offset)
    return Page(items=items[offset : offset + limit], total=len(items), limit=limit, offset=offset)


class MemoryStations:
    max_buffered_messages: int = 100_000

    def __init__(self) -> None:
        self.fail_writes = False
        self.fail_reads = False
        self.schema_error: str | None = None
        self.started = False
        self.closed = False
        self.dropped_messages = 0
        self.stations: dict[str, Station] = {}
        self.connectors: dict[tuple[str, int, int], Connector] = {}
        self.status_history: list[StatusReport] = []
        self.reports: list[StationReport] = []
        self.messages: list[MessageLogEntry] = []
        self.tokens: dict[int, ApiToken] = {}
        self._next_token_id = 1
        # The outbox (adapters/memory/outbox.py): events appended by the writes below.
        self.outbox_events: list[OutboxEvent] = []
        self.outbox_cursors: dict[str, int] = {}
        self._outbox_ids = itertools.count(1)

    # ------------------------------------------------------------------ helpers

    def _emit(self, events: Sequence[DomainEvent]) -> None:
        """Append domain events to the outbox, as the SQL store does in the commit of the
        data they describe."""
        now = _utcnow()
        for e in events:
            self.outbox_events.append(
                OutboxEvent(
                    next(self._outbox_ids),
                    str(e.type),
                    e.at,
                    e.station_id,
                    json_safe(e.data),
                    now,
                )
            )

    def _write(self) -> None:
        if self.closed:
            raise StoreUnavailable("store is closed")
        if self.fail_writes:
            raise StoreUnavailable("simulated database outage (writes)")

    def _read(self) -> None:
        if self.fail_reads:
            raise StoreUnavailable("simulated database outage (reads)")

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True

    async def check_schema(self) -> None:
        self._read()
        if self.schema_error is not None:
            raise SchemaNotCurrent(self.schema_error)

    async def ping(self) -> None:
        self._read()
        if self.fail_writes:
            raise StoreUnavailable("simulated database outage")

    # ------------------------------------------------------------------ stations

    async def get_station(self, station_id: str) -> Station | None:
        self._read()
        station = self.stations.get(station_id)
        return None if station is None else dataclasses.replace(station)

    async def list_stations(
        self, limit: int, offset: int, query: StationQuery | None = None
    ) -> Page:
        self._read()
        query = query or StationQuery()
        found = [s for s in self.stations.values() if self._matches(s, query)]
        found.sort(key=lambda s: s.id)
        if query.sort is StationSort.ID:
            found.sort(key=lambda s: s.id, reverse=query.descending)
        else:
            # Stable sorts: by id, then by the key (no value last in either direction).
            key = query.sort.value
            have = [s for s in found if getattr(s, key) is not None]
            have.sort(key=lambda s: getattr(s, key), reverse=query.descending)  # stable
            found = have + [s for s in found if getattr(s, key) is None]
        return _page([dataclasses.replace(s) for s in found], limit, offset)

    def _matches(self, station: Station, query: StationQuery) -> bool:
        """domain/dashboard.py's search and states, over the fake's data."""
        if query.q:
            needle = query.q.lower()
            values = (getattr(station, name) for name in SEARCHED_FIELDS)
            if not any(v is not None and needle in str(v).lower() for v in values):
                return False
        if query.state is None:
            return True
        if query.state is StationState.ONLINE:
            return station.connected
        if query.state is StationState.OFFLINE:
            return not station.connected
        statuses = {c.status for k, c in self.connectors.items() if k[0] == station.id}
        if query.state is StationState.FAULTED:
            return FAULTED in statuses
        return CHARGING in statuses or self._has_active_transaction(station.id)

    def _has_active_transaction(self, station_id: str) -> bool:
        """Overridden by the transactions part (adapters/memory/transactions.py)."""
        return False

    async def create_station(self, station: Station) -> Station:
        self._write()
        if station.id in self.stations:
            raise KeyError(station.id)
        now = _utcnow()
        stored = dataclasses.replace(
            station,
            registration_status=RegistrationStatus(station.registration_status),
            created_at=station.created_at or now,
            updated_at=station.updated_at or now,
        )
        self.stations[station.id] = stored
        return dataclasses.replace(stored)

    async def update_station(self, station_id: str, update: StationUpdate) -> Station | None:
        changes: dict[str, Any] = {}
        for key, value in update.extra.items():
            if key not in _EDITABLE:
                raise ValueError(f"station field {key!r} cannot be updated")
            changes[key] = value
        self._write()
        station = self.stations.get(station_id)
        if station is None:
            return None
        if update.registration_status is not None:
            changes["registration_status"] = RegistrationStatus(update.registration_status)
        if update.description is not None:
            changes["description"] = update.description
        if update.clear_password:
            changes["password_hash"] = None
        elif update.password_hash is not None:
            changes["password_hash"] = update.password_hash
        changes["updated_at"] = _utcnow()
        stored = dataclasses.replace(station, **changes)
        self.stations[station_id] = stored
        return dataclasses.replace(stored)

    async def delete_station(self, station_id: str) -> bool:
        self._write()
        if self.stations.pop(station_id, None) is None:
            return False
        # ON DELETE CASCADE; the message log is kept (it has no foreign key).
        self.connectors = {k: v for k, v in self.connectors.items() if k[0] != station_id}
        self.status_history = [r for r in self.status_history if r.station_id != station_id]
        self.reports = [r for r in self.reports if r.station_id != station_id]
        return True

    async def list_connectors(self, station_id: str) -> list[Connector]:
        self._read()
        keys = sorted(k for k in self.connectors if k[0] == station_id)
        return [dataclasses.replace(self.connectors[k]) for k in keys]

    async def list_connectors_of(self, station_ids: Sequence[str]) -> dict[str, list[Connector]]:
        found: dict[str, list[Connector]] = {}
        for sid in dict.fromkeys(station_ids):
            connectors = await self.list_connectors(sid)
            if connectors:
                found[sid] = connectors
        return found

    async def list_status_history(self, station_id: str, limit: int, offset: int) -> Page:
        self._read()
        items = [r for r in reversed(self.status_history) if r.station_id == station_id]
        items.sort(key=lambda r: r.received_at, reverse=True)  # stable: ties newest first
        return _page(items, limit, offset)

    async def list_reports(self, station_id: str, limit: int, offset: int) -> Page:
        self._read()
        items = [r for r in reversed(self.reports) if r.station_id == station_id]
        items.sort(key=lambda r: r.received_at, reverse=True)
        return _page(items, limit, offset)

    async def list_messages(
        self,
        station_id: str | None,
        limit: int,
        offset: int,
        action: str | None = None,
        direction: str | None = None,
    ) -> Page:
        self._read()
        items = [
            m
            for m in reversed(self.messages)
            if (station_id is None or m.station_id == station_id)
            and (action is None or m.action == action)
            and (direction is None or m.direction == direction)
        ]
        items.sort(key=lambda m: m.created_at, reverse=True)
        return _page(items, limit, offset)

    # ------------------------------------------------------------------ OCPP path

    async def record_boot(
        self, station_id: str, ocpp_version: str, info: BootInfo, at: datetime
    ) -> None:
        self._write()
        station = self.stations.get(station_id)
        if station is None:
            return
        station.vendor = info.vendor
        station.model = info.model
        station.serial_number = info.serial_number
        station.firmware_version = info.firmware_version
        station.iccid = info.iccid
        station.imsi = info.imsi
        station.meter_type = info.meter_type
        station.meter_serial_number = info.meter_serial_number
        station.boot_reason = info.reason
        station.ocpp_version = ocpp_version
        station.last_boot = at
        station.last_seen = _later(station.last_seen, at)
        station.updated_at = _utcnow()

    async def record_status(self, reports: Sequence[StatusReport]) -> None:
        self._write()
        missing = {r.station_id for r in reports} - self.stations.keys()
        if missing:  # the SQL store fails such a write on its foreign key
            raise StoreUnavailable(f"write not stored: unknown station(s) {sorted(missing)}")
        for r in reports:
            self.status_history.append(r)
            self.connectors[(r.station_id, r.evse_id, r.connector_id)] = Connector(
                station_id=r.station_id,
                evse_id=r.evse_id,
                connector_id=r.connector_id,
                status=r.status,
                error_code=r.error_code,
                info=r.info,
                vendor_id=r.vendor_id,
                vendor_error_code=r.vendor_error_code,
                status_timestamp=r.timestamp,
                updated_at=r.received_at,
            )
        self._emit([status_event(r) for r in reports])

    async def record_reports(self, reports: Sequence[StationReport]) -> None:
        self._write()
        missing = {r.station_id for r in reports} - self.stations.keys()
        if missing:
            raise StoreUnavailable(f"write not stored: unknown station(s) {sorted(missing)}")
        self.reports.extend(reports)

    async def record_connection(
        self,
        station_id: str,
        connected: bool,
        at: datetime,
        ocpp_version: str | None,
        node: str | None,
        remote_address: str | None,
        auto_register: bool = False,
    ) -> None:
        self._write()
        now = _utcnow()
        # Like the SQL store: the event whatever the row update finds.
        self._emit([connection_event(station_id, connected, at, ocpp_version)])
        station = self.stations.get(station_id)
        if station is None:
            if not auto_register:
                return
            station = Station(id=station_id, created_at=now, updated_at=now)
            self.stations[station_id] = station
        if not connected and not (
            station.connected_node is None or node is None or station.connected_node == node
        ):
            return  # a late disconnect from a node the station already left
        station.connected = connected
        station.connected_node = node if connected else None
        if remote_address is not None:
            station.remote_address = remote_address
        if ocpp_version is not None:
            station.ocpp_version = ocpp_version
        station.last_seen = _later(station.last_seen, at)
        station.updated_at = now

    async def release_node(self, node: str, at: datetime) -> list[str]:
        """Stations still recorded as connected to `node` become disconnected (SqlStore)."""
        self._write()
        released = sorted(
            sid for sid, st in self.stations.items() if st.connected and st.connected_node == node
        )
        for sid in released:
            station = self.stations[sid]
            station.connected, station.connected_node, station.updated_at = False, None, at
            self._emit([connection_event(sid, False, at, station.ocpp_version)])
        return released

    def touch(self, station_id: str, at: datetime) -> None:
        if self.fail_writes or self.closed:
            return
        station = self.stations.get(station_id)
        if station is not None:
            station.last_seen = _later(station.last_seen, at)

    def log_messages(self, entries: Sequence[MessageLogEntry]) -> None:
        if self.fail_writes or self.closed:
            self.dropped_messages += len(entries)
            return
        room = max(self.max_buffered_messages - len(self.messages), 0)
        self.dropped_messages += max(len(entries) - room, 0)
        self.messages.extend(entries[:room])

    async def prune_messages(self, older_than: datetime, action: str | None = None) -> int:
        self._write()
        before = len(self.messages)
        self.messages = [
            m
            for m in self.messages
            if m.created_at >= older_than or (action is not None and m.action != action)
        ]
        return before - len(self.messages)

    async def prune_status_history(self, older_than: datetime) -> int:
        self._write()
        before = len(self.status_history)
        self.status_history = [r for r in self.status_history if r.received_at >= older_than]
        return before - len(self.status_history)

    async def prune_reports(self, older_than: datetime) -> int:
        self._write()
        before = len(self.reports)
        self.reports = [r for r in self.reports if r.received_at >= older_than]
        return before - len(self.reports)

    # ------------------------------------------------------------------ API tokens

    async def create_api_token(self, token: ApiToken) -> ApiToken:
        self._write()
        if any(t.token_hash == token.token_hash for t in self.tokens.values()):
            raise KeyError(token.token_hash)
        if token.id is not None and token.id in self.tokens:
            raise KeyError(token.id)
        token_id = token.id if token.id is not None else self._next_token_id
        self._next_token_id = max(self._next_token_id, token_id + 1)
        stored = dataclasses.replace(token, id=token_id)
        self.tokens[token_id] = stored
        return dataclasses.replace(stored)

    async def find_api_token(self, token_hash: str) -> ApiToken | None:
        self._read()
        for token in self.tokens.values():
            if token.token_hash == token_hash:
                return dataclasses.replace(token)
        return None

    async def list_api_tokens(self) -> list[ApiToken]:
        self._read()
        return [dataclasses.replace(self.tokens[k]) for k in sorted(self.tokens)]

    async def revoke_api_token(self, token_id: int) -> bool:
        self._write()
        token = self.tokens.get(token_id)
        if token is None or token.revoked:
            return False
        token.revoked = True
        return True
