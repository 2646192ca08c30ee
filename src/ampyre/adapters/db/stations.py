"""Repository: stations, their connectors, status history and reports (part of the
Store port). Connection changes, boots, status and reports go through the group commit
(adapters/db/writer.py); the buffered flusher writes last_seen with `touch_step`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.dashboard import station_conditions, station_order
from ampyre.adapters.db.database import Database
from ampyre.adapters.db.outbox import outbox_steps
from ampyre.adapters.db.parts import StorePart
from ampyre.adapters.db.pruning import PRUNE_CHUNK, PRUNE_PAUSE, prune_table
from ampyre.adapters.db.writer import GroupWriter
from ampyre.adapters.db.writes import (
    Op,
    Program,
    Step,
    aware_utc,
    driver_insert_sql,
    sqlite_utc,
)
from ampyre.domain.dashboard import StationQuery
from ampyre.domain.events import connection_event, status_event
from ampyre.domain.models import (
    BootInfo,
    Connector,
    Page,
    RegistrationStatus,
    Station,
    StationReport,
    StationUpdate,
    StatusReport,
)


@dataclasses.dataclass(slots=True, frozen=True)
class ConnectionChange:
    station_id: str
    connected: bool
    at: datetime
    ocpp_version: str | None
    node: str | None
    remote_address: str | None
    auto_register: bool


@dataclasses.dataclass(slots=True, frozen=True)
class Boot:
    station_id: str
    ocpp_version: str
    info: BootInfo
    at: datetime


@dataclasses.dataclass(slots=True, frozen=True)
class StatusReports:
    reports: tuple[StatusReport, ...]


@dataclasses.dataclass(slots=True, frozen=True)
class StationReports:
    reports: tuple[StationReport, ...]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _bp(name: str, type_: Any = None) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=type_)


def _latest(column: sa.Column[Any], param: sa.BindParameter[Any]) -> sa.Case[Any]:
    """SQL for max(column, param) that never moves a timestamp backwards."""
    return sa.case(
        (column.is_(None), param),
        (column < param, param),
        else_=column,
    )


class StationsSql(StorePart):
    def __init__(self, db: Database, writer: GroupWriter) -> None:
        super().__init__(db, writer)
        self._build_statements()

    # ------------------------------------------------------------------ statements

    def _build_statements(self) -> None:
        s = t.stations
        at = _bp("b_at", t.UtcDateTime())
        now = _bp("b_now", t.UtcDateTime())

        self._register_stmt = self._insert(s).on_conflict_do_nothing(index_elements=[s.c.id])
        node = _bp("b_node", sa.String())
        connected = _bp("b_connected", sa.Boolean())
        self._connection_stmt = (
            sa.update(s)
            .where(s.c.id == _bp("b_id", sa.String()))
            # A late "disconnected" from a node the station has already left must not
            # mark a station connected elsewhere as offline.
            .where(
                sa.or_(
                    connected,
                    s.c.connected_node.is_(None),
                    node.is_(None),
                    s.c.connected_node == node,
                )
            )
            .values(
                connected=connected,
                connected_node=_bp("b_new_node", sa.String()),
                remote_address=sa.func.coalesce(_bp("b_addr", sa.String()), s.c.remote_address),
                ocpp_version=sa.func.coalesce(_bp("b_version", sa.String()), s.c.ocpp_version),
                last_seen=_latest(s.c.last_seen, at),
                updated_at=now,
            )
        )
        boot_fields = {
            "vendor": "vendor",
            "model": "model",
            "serial_number": "serial_number",
            "firmware_version": "firmware_version",
            "iccid": "iccid",
            "imsi": "imsi",
            "meter_type": "meter_type",
            "meter_serial_number": "meter_serial_number",
            "boot_reason": "reason",
        }
        self._boot_fields = boot_fields
        self._boot_stmt = (
            sa.update(s)
            .where(s.c.id == _bp("b_id", sa.String()))
            .values(
                **{col: _bp(f"b_{col}", sa.String()) for col in boot_fields},
                ocpp_version=_bp("b_version", sa.String()),
                last_boot=at,
                last_seen=_latest(s.c.last_seen, at),
                updated_at=now,
            )
        )
        self._touch_stmt = (
            sa.update(s)
            .where(s.c.id == _bp("b_id", sa.String()))
            .values(last_seen=_latest(s.c.last_seen, at))
        )
        c = t.connectors
        upsert = self._insert(c)
        keys = ("station_id", "evse_id", "connector_id")
        self._connector_stmt = upsert.on_conflict_do_update(
            index_elements=[c.c[k] for k in keys],
            set_={col.name: upsert.excluded[col.name] for col in c.columns if col.name not in keys},
        )
        self._history_stmt = sa.insert(t.status_history)
        self._reports_stmt = sa.insert(t.station_reports)
        # A StatusNotification writes a history row and upserts its connector: both as
        # plain tuples given to the driver (SQLAlchemy's per-row parameter processing cost
        # more than the rest of a status write: issue 13 regression, docs/benchmarks.md).
        paramstyle = self._db.paramstyle
        self._history_sql = driver_insert_sql(paramstyle, "status_history", _HISTORY_COLUMNS)
        upsert_sql = driver_insert_sql(paramstyle, "connectors", _CONNECTOR_COLUMNS)
        self._connector_sql = (
            None
            if upsert_sql is None
            else upsert_sql
            + f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
            + ", ".join(f"{col} = excluded.{col}" for col in _CONNECTOR_COLUMNS[3:])
        )
        self._stamp = sqlite_utc if self._dialect_name == "sqlite" else aware_utc
        # Buffered last_seen times (every station, every few seconds): tuples too. The
        # same rule as _latest: a timestamp never moves backwards.
        self._touch_sql = {
            "qmark": "UPDATE stations SET last_seen = CASE WHEN last_seen IS NULL "
            "OR last_seen < ? THEN ? ELSE last_seen END WHERE id = ?",
            "numeric_dollar": "UPDATE stations SET last_seen = CASE WHEN last_seen IS NULL "
            "OR last_seen < $1 THEN $1 ELSE last_seen END WHERE id = $2",
        }.get(paramstyle)

    # ------------------------------------------------------------------ group commit
    # Planners (adapters/db/writes.py), registered with the writer by SqlStore.

    def plan_connections(self, ops: list[Op], now: datetime) -> Program:
        registers: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        for op in ops:
            ch: ConnectionChange = op.payload
            if ch.auto_register:
                registers.append(
                    {
                        "id": ch.station_id,
                        "registration_status": RegistrationStatus.ACCEPTED.value,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            changes.append(
                {
                    "b_id": ch.station_id,
                    "b_connected": ch.connected,
                    "b_node": ch.node,
                    "b_new_node": ch.node if ch.connected else None,
                    "b_addr": ch.remote_address,
                    "b_version": ch.ocpp_version,
                    "b_at": ch.at,
                    "b_now": now,
                }
            )
            op.events.append(connection_event(ch.station_id, ch.connected, ch.at, ch.ocpp_version))
        if registers:
            yield self._register_stmt, registers
        yield self._connection_stmt, changes

    def plan_boots(self, ops: list[Op], now: datetime) -> Program:
        boots: list[dict[str, Any]] = []
        for op in ops:
            boot: Boot = op.payload
            row = {f"b_{col}": getattr(boot.info, attr) for col, attr in self._boot_fields.items()}
            row.update(b_id=boot.station_id, b_version=boot.ocpp_version, b_at=boot.at, b_now=now)
            boots.append(row)
        yield self._boot_stmt, boots

    def plan_status(self, ops: list[Op], now: datetime) -> Program:
        if self._history_sql is None or self._connector_sql is None:
            yield from self._plan_status_rows(ops)
            return
        stamp = self._stamp
        history: list[tuple[Any, ...]] = []
        current: dict[tuple[str, int, int], tuple[Any, ...]] = {}
        for op in ops:
            for r in op.payload.reports:
                # Same values, same order: history and connector columns differ only in
                # the names of the two timestamps.
                row = (
                    r.station_id,
                    r.evse_id,
                    r.connector_id,
                    r.status,
                    r.error_code,
                    r.info,
                    r.vendor_id,
                    r.vendor_error_code,
                    None if r.timestamp is None else stamp(r.timestamp),
                    stamp(r.received_at),
                )
                history.append(row)
                current[(r.station_id, r.evse_id, r.connector_id)] = row
                op.events.append(status_event(r))
        if history:
            yield self._history_sql, history
        if current:
            yield self._connector_sql, list(current.values())

    def _plan_status_rows(self, ops: list[Op]) -> Program:
        """plan_status for a driver whose paramstyle driver_insert_sql does not know."""
        history: list[dict[str, Any]] = []
        current: dict[tuple[str, int, int], dict[str, Any]] = {}
        for op in ops:
            for r in op.payload.reports:
                history.append(_history_row(r))
                current[(r.station_id, r.evse_id, r.connector_id)] = _connector_row(r)
                op.events.append(status_event(r))
        if history:
            yield self._history_stmt, history
        if current:
            yield self._connector_stmt, list(current.values())

    def plan_reports(self, ops: list[Op], now: datetime) -> Program:
        reports = [_report_row(r) for op in ops for r in op.payload.reports]
        if reports:
            yield self._reports_stmt, reports

    def touch_step(self, touches: dict[str, datetime]) -> Step:
        """The statement writing buffered last_seen times (never moving one backwards)."""
        stamp = self._stamp
        if self._touch_sql is None:
            return self._touch_stmt, [{"b_id": sid, "b_at": at} for sid, at in touches.items()]
        if self._db.paramstyle == "qmark":
            return self._touch_sql, [(stamp(at), stamp(at), sid) for sid, at in touches.items()]
        return self._touch_sql, [(stamp(at), sid) for sid, at in touches.items()]

    # ------------------------------------------------------------------ writes (port)

    async def record_boot(
        self, station_id: str, ocpp_version: str, info: BootInfo, at: datetime
    ) -> None:
        await self._submit(Boot(station_id, ocpp_version, info, at))

    async def record_status(self, reports: Sequence[StatusReport]) -> None:
        if reports:
            await self._submit(StatusReports(tuple(reports)))

    async def record_reports(self, reports: Sequence[StationReport]) -> None:
        if reports:
            await self._submit(StationReports(tuple(reports)))

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
        await self._submit(
            ConnectionChange(
                station_id, connected, at, ocpp_version, node, remote_address, auto_register
            ),
        )

    async def release_node(self, node: str, at: datetime) -> list[str]:
        """Mark the stations still recorded as connected to `node` as disconnected; their
        ids. For a node that starts: what it held before a kill -9 or an outage never got
        its disconnection written (issue 13, defect 2.14)."""
        s = t.stations
        stmt = (
            sa.update(s)
            .where(s.c.connected.is_(True), s.c.connected_node == node)
            .values(connected=False, connected_node=None, updated_at=at)
            .returning(s.c.id, s.c.ocpp_version)
        )
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).all()
            # Their station.disconnected events, in the same transaction (the outbox).
            events = [connection_event(str(r[0]), False, at, r[1]) for r in rows]
            for step, params in outbox_steps(events, at, self._dialect_name, self._db.paramstyle):
                if isinstance(step, str):
                    await conn.exec_driver_sql(step, params)
                else:
                    await conn.execute(step, params)
        return sorted(str(row[0]) for row in rows)

    # ------------------------------------------------------------------ stations (API)

    async def get_station(self, station_id: str) -> Station | None:
        # One statement: no BEGIN/COMMIT round trips (every handshake and boot reads it).
        async with self._read() as conn:
            row = (
                await conn.execute(sa.select(t.stations).where(t.stations.c.id == station_id))
            ).first()
        return None if row is None else _station(row)

    async def list_stations(
        self, limit: int, offset: int, query: StationQuery | None = None
    ) -> Page:
        s = t.stations
        query = query or StationQuery()
        where = station_conditions(query)
        return await self._page(
            sa.select(s).where(*where).order_by(*station_order(query)),
            sa.select(sa.func.count()).select_from(s).where(*where),
            _station,
            limit,
            offset,
        )

    async def create_station(self, station: Station) -> Station:
        now = _utcnow()
        values = dataclasses.asdict(station)
        values["created_at"] = station.created_at or now
        values["updated_at"] = station.updated_at or now
        values["registration_status"] = RegistrationStatus(station.registration_status).value
        stmt = (
            self._insert(t.stations)
            .values(values)
            .on_conflict_do_nothing(index_elements=[t.stations.c.id])
            .returning(*t.stations.columns)
        )
        async with self._tx() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            raise KeyError(station.id)
        return _station(row)

    async def update_station(self, station_id: str, update: StationUpdate) -> Station | None:
        values: dict[str, Any] = {}
        for key, value in update.extra.items():
            if key not in t.STATION_EDITABLE:
                raise ValueError(f"station field {key!r} cannot be updated")
            values[key] = value
        if update.registration_status is not None:
            values["registration_status"] = RegistrationStatus(update.registration_status).value
        if update.description is not None:
            values["description"] = update.description
        if update.clear_password:
            values["password_hash"] = None
        elif update.password_hash is not None:
            values["password_hash"] = update.password_hash
        values["updated_at"] = _utcnow()
        s = t.stations
        stmt = sa.update(s).where(s.c.id == station_id).values(values).returning(*s.columns)
        async with self._tx() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _station(row)

    async def delete_station(self, station_id: str) -> bool:
        async with self._tx() as conn:
            result = await conn.execute(sa.delete(t.stations).where(t.stations.c.id == station_id))
        return bool(result.rowcount)

    async def list_connectors(self, station_id: str) -> list[Connector]:
        c = t.connectors
        stmt = (
            sa.select(c).where(c.c.station_id == station_id).order_by(c.c.evse_id, c.c.connector_id)
        )
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).all()
        return [Connector(**row._mapping) for row in rows]

    async def list_connectors_of(self, station_ids: Sequence[str]) -> dict[str, list[Connector]]:
        c = t.connectors
        found: dict[str, list[Connector]] = {}
        ids = list(dict.fromkeys(station_ids))
        for start in range(0, len(ids), 500):  # bounded IN lists
            stmt = (
                sa.select(c)
                .where(c.c.station_id.in_(ids[start : start + 500]))
                .order_by(c.c.station_id, c.c.evse_id, c.c.connector_id)
            )
            async with self._tx() as conn:
                rows = (await conn.execute(stmt)).all()
            for row in rows:
                found.setdefault(row.station_id, []).append(Connector(**row._mapping))
        return found

    async def list_status_history(self, station_id: str, limit: int, offset: int) -> Page:
        return await self._received_page(
            t.status_history, station_id, _status_report, limit, offset
        )

    async def list_reports(self, station_id: str, limit: int, offset: int) -> Page:
        return await self._received_page(
            t.station_reports, station_id, _station_report, limit, offset
        )

    async def prune_status_history(self, older_than: datetime) -> int:
        """Retention (services/retention.py): history received before `older_than`."""
        return await prune_table(
            self._tx, t.status_history, "received_at", older_than, PRUNE_CHUNK, PRUNE_PAUSE
        )

    async def prune_reports(self, older_than: datetime) -> int:
        """Retention (services/retention.py): reports received before `older_than`."""
        return await prune_table(
            self._tx, t.station_reports, "received_at", older_than, PRUNE_CHUNK, PRUNE_PAUSE
        )

    async def _received_page(
        self,
        table: sa.Table,
        station_id: str,
        convert: Callable[[Any], Any],
        limit: int,
        offset: int,
    ) -> Page:
        """One station's rows of a table with `received_at`, newest first."""
        mine = table.c.station_id == station_id
        return await self._page(
            sa.select(table).where(mine).order_by(table.c.received_at.desc(), table.c.id.desc()),
            sa.select(sa.func.count()).select_from(table).where(mine),
            convert,
            limit,
            offset,
        )


# ---------------------------------------------------------------------- rows

_STATUS_COLUMNS = (
    "station_id",
    "evse_id",
    "connector_id",
    "status",
    "error_code",
    "info",
    "vendor_id",
    "vendor_error_code",
)
_HISTORY_COLUMNS = (*_STATUS_COLUMNS, "timestamp", "received_at")
_CONNECTOR_COLUMNS = (*_STATUS_COLUMNS, "status_timestamp", "updated_at")


def _status_fields(r: StatusReport) -> dict[str, Any]:
    return {
        "station_id": r.station_id,
        "evse_id": r.evse_id,
        "connector_id": r.connector_id,
        "status": r.status,
        "error_code": r.error_code,
        "info": r.info,
        "vendor_id": r.vendor_id,
        "vendor_error_code": r.vendor_error_code,
    }


def _history_row(r: StatusReport) -> dict[str, Any]:
    return {**_status_fields(r), "timestamp": r.timestamp, "received_at": r.received_at}


def _connector_row(r: StatusReport) -> dict[str, Any]:
    return {**_status_fields(r), "status_timestamp": r.timestamp, "updated_at": r.received_at}


def _report_row(r: StationReport) -> dict[str, Any]:
    return {
        "station_id": r.station_id,
        "action": r.action,
        "request_id": r.request_id,
        "seq_no": r.seq_no,
        "payload": r.payload,
        "received_at": r.received_at,
    }


def _station(row: Any) -> Station:
    values = dict(row._mapping)
    values["registration_status"] = RegistrationStatus(values["registration_status"])
    values["connected"] = bool(values["connected"])
    return Station(**values)


def _status_report(row: Any) -> StatusReport:
    values = dict(row._mapping)
    del values["id"]
    return StatusReport(**values)


def _station_report(row: Any) -> StationReport:
    values = dict(row._mapping)
    del values["id"]
    return StationReport(**values)
