"""Repository: alerts (issue 17 part 2). Written by the group commit
(adapters/db/writer.py) in the transaction of the station message that caused them:

* `StatusAlerts`: a status notification that raises or clears an alert (or whose
  station's open alerts this process does not know yet): its status rows are planned by
  the stations repository, then the alerts;
* `EventAlerts`: a NotifyEvent, stored in the station's report history, then its alerts;
* `AckAlert`: an operator acknowledging an alert.

Each with its `alert.*` outbox event in the same commit. Rules: domain/alerts.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.database import Database
from ampyre.adapters.db.parts import StorePart
from ampyre.adapters.db.pruning import PRUNE_CHUNK, PRUNE_PAUSE
from ampyre.adapters.db.stations import StationsSql
from ampyre.adapters.db.writer import GroupWriter
from ampyre.adapters.db.writes import Op, Program
from ampyre.domain.alerts import (
    Alert,
    AlertChanges,
    AlertKey,
    AlertQuery,
    AlertSource,
    AlertState,
    Sighting,
    acknowledge,
    alert_data,
    apply_sightings,
    clamp_severity,
)
from ampyre.domain.events import DomainEvent, EventType, json_safe
from ampyre.domain.models import Page, StationReport, StatusReport

_INT32_MAX = 2**31 - 1
_A = t.alerts
log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True, frozen=True)
class StatusAlerts:
    """Status reports with the alert sightings they make. `load`: stations whose
    status alerts not yet cleared the caller wants to know (the op's result: station id
    -> connector ids with such alerts, after this write)."""

    reports: tuple[StatusReport, ...]
    sightings: tuple[Sighting, ...]
    load: tuple[str, ...] = ()


@dataclasses.dataclass(slots=True, frozen=True)
class EventAlerts:
    reports: tuple[StationReport, ...]  # the NotifyEvent as received (report history)
    sightings: tuple[Sighting, ...]


@dataclasses.dataclass(slots=True, frozen=True)
class AckAlert:
    alert_id: int
    by: str
    at: datetime


_LIMITS = {c.name: c.type.length for c in _A.columns if isinstance(c.type, sa.String)}
_KEY_COLUMNS = (
    "station_id",
    "evse_id",
    "connector_id",
    "component",
    "component_instance",
    "variable",
    "variable_instance",
)
_DETAILS = (
    "info",
    "vendor_error_code",
    "trigger",
    "event_type",
    "event_id",
    "monitor_id",
    "tech_code",
    "tech_info",
    "actual_value",
    "status",
)


def _fit(name: str, value: Any) -> Any:
    """A value the column can hold: text clipped to its length, integers beyond 32 bits
    dropped (a station's huge eventId must not fail the write of its fault)."""
    if isinstance(value, str):
        limit = _LIMITS.get(name)
        return value[:limit] if limit else value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _INT32_MAX:
        return (
            None if name in {"event_id", "monitor_id"} else max(-_INT32_MAX, min(value, _INT32_MAX))
        )
    return value


def _row(alert: Alert) -> dict[str, Any]:
    k = alert.key
    values: dict[str, Any] = {name: getattr(k, name) for name in _KEY_COLUMNS}
    values.update(
        source=k.source.value,
        code=alert.code,
        severity=alert.severity,
        state=alert.state.value,
        count=alert.count,
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        acknowledged_by=alert.acknowledged_by,
        acknowledged_at=alert.acknowledged_at,
        cleared_at=alert.cleared_at,
    )
    values.update({name: getattr(alert, name) for name in _DETAILS})
    return {name: _fit(name, value) for name, value in values.items()}


def alert_from_row(row: Any) -> Alert:
    m = row._mapping
    key = AlertKey(
        station_id=m["station_id"],
        source=AlertSource(m["source"]),
        **{name: m[name] for name in _KEY_COLUMNS[1:]},
    )
    return Alert(
        key=key,
        id=m["id"],
        code=m["code"],
        severity=m["severity"],
        state=AlertState(m["state"]),
        count=m["count"],
        first_seen=m["first_seen"],
        last_seen=m["last_seen"],
        acknowledged_by=m["acknowledged_by"],
        acknowledged_at=m["acknowledged_at"],
        cleared_at=m["cleared_at"],
        **{name: m[name] for name in _DETAILS},
    )


def _event(kind: EventType, alert: Alert, at: datetime) -> DomainEvent:
    return DomainEvent(kind, at, alert.station_id, json_safe(alert_data(alert)))


class AlertsSql(StorePart):
    def __init__(self, db: Database, writer: GroupWriter, stations: StationsSql) -> None:
        super().__init__(db, writer)
        self._stations = stations

    def register(self) -> None:
        """Register the planners (after the stations repository's: station rows and
        their status first)."""
        self._writer.register(StatusAlerts, self.plan_status_alerts)
        self._writer.register(EventAlerts, self.plan_event_alerts)
        self._writer.register(AckAlert, self.plan_acks)

    # ------------------------------------------------------------------ group commit

    def plan_status_alerts(self, ops: list[Op], now: datetime) -> Program:
        yield from self._stations.plan_status(ops, now)
        yield from self._plan_alerts(ops, now)

    def plan_event_alerts(self, ops: list[Op], now: datetime) -> Program:
        yield from self._stations.plan_reports(ops, now)
        yield from self._plan_alerts(ops, now)

    def _plan_alerts(self, ops: list[Op], now: datetime) -> Program:
        stations = {s.key.station_id for op in ops for s in op.payload.sightings}
        for op in ops:
            stations.update(getattr(op.payload, "load", ()))
        if not stations:
            return
        rows = yield (
            sa.select(_A).where(
                _A.c.station_id.in_(sorted(stations)), _A.c.state != AlertState.CLEARED.value
            ),
            {},
        )
        live = [alert_from_row(r) for r in rows]
        severities = yield from self._monitor_severities(ops)
        inserts: list[Alert] = []
        repeats: dict[int, Alert] = {}
        clears: dict[int, Alert] = {}
        per_op: list[tuple[Op, AlertChanges]] = []
        for op in ops:
            try:
                sightings = [_with_severity(s, severities) for s in op.payload.sightings]
                changes = apply_sightings(live, sightings)
            except Exception:  # one station's odd data must not fail the whole batch
                log.exception("alerts of %s not applied", _stations_of(op))
                changes = AlertChanges()
            live = [a for a in (*live, *changes.raised) if a.state is not AlertState.CLEARED]
            inserts.extend(changes.raised)
            repeats.update((a.id, a) for a in changes.repeated if a.id is not None)
            clears.update((a.id, a) for a in changes.cleared if a.id is not None)
            per_op.append((op, changes))
        for alert in inserts:
            (inserted,) = yield sa.insert(_A).returning(_A.c.id), _row(alert)
            alert.id = int(inserted[0])
        if repeats:
            yield _REPEAT, [_repeat_row(a) for a in repeats.values()]
        if clears:
            yield _CLEAR, [{"b_id": a.id, "b_at": a.cleared_at} for a in clears.values()]
        for op, changes in per_op:
            for alert in changes.raised:
                op.events.append(_event(EventType.ALERT_RAISED, alert, alert.first_seen))
                if alert.state is AlertState.CLEARED:
                    op.events.append(
                        _event(EventType.ALERT_CLEARED, alert, alert.cleared_at or now)
                    )
            for alert in changes.cleared:
                op.events.append(_event(EventType.ALERT_CLEARED, alert, alert.cleared_at or now))
            if isinstance(op.payload, StatusAlerts):
                op.result = _open_connectors(op.payload, live)

    def _monitor_severities(self, ops: list[Op]) -> Any:
        """(station, monitor id) -> the severity of the stored monitor, for sightings of
        a tripped monitor whose message named no severity (2.0.1 has none)."""
        wanted = {
            (s.key.station_id, s.monitor_id)
            for op in ops
            for s in op.payload.sightings
            if s.severity is None and s.monitor_id is not None and abs(s.monitor_id) <= _INT32_MAX
        }
        if not wanted:
            return {}
        m = t.station_monitors
        rows = yield (
            sa.select(m.c.station_id, m.c.monitor_id, m.c.severity).where(
                m.c.station_id.in_(sorted({sid for sid, _ in wanted})),
                m.c.monitor_id.in_(sorted({mid for _, mid in wanted})),
            ),
            {},
        )
        return {(r[0], r[1]): r[2] for r in rows}

    def plan_acks(self, ops: list[Op], now: datetime) -> Program:
        for op in ops:
            ack: AckAlert = op.payload
            rows = yield sa.select(_A).where(_A.c.id == ack.alert_id), {}
            if not rows:
                op.result = (None, False)
                continue
            alert = alert_from_row(rows[0])
            changed = acknowledge(alert, _fit("acknowledged_by", ack.by), ack.at)
            if changed:
                yield _ACK, {"b_id": alert.id, "b_by": alert.acknowledged_by, "b_at": ack.at}
                op.events.append(_event(EventType.ALERT_ACKNOWLEDGED, alert, ack.at))
            op.result = (alert, changed)

    # ------------------------------------------------------------------ writes (port)

    async def record_status(self, reports: Sequence[StatusReport]) -> None:
        """Status reports without alert changes: the stations repository's plain write."""
        await self._stations.record_status(reports)

    async def record_status_alerts(
        self,
        reports: Sequence[StatusReport],
        sightings: Sequence[Sighting],
        load: Iterable[str] = (),
    ) -> dict[str, set[int]]:
        result = await self._submit(StatusAlerts(tuple(reports), tuple(sightings), tuple(load)))
        return result or {}

    async def record_event_alerts(
        self, reports: Sequence[StationReport], sightings: Sequence[Sighting]
    ) -> None:
        await self._submit(EventAlerts(tuple(reports), tuple(sightings)))

    async def acknowledge_alert(
        self, alert_id: int, by: str, at: datetime
    ) -> tuple[Alert | None, bool]:
        result: tuple[Alert | None, bool] = await self._submit(AckAlert(alert_id, by, at))
        return result

    # ------------------------------------------------------------------ reads

    async def prune_cleared(self, older_than: datetime) -> int:
        """Delete alerts cleared before `older_than`, in short batches (retention); open
        and acknowledged ones stay however old they are."""
        a = t.alerts
        chunk = (
            sa.select(a.c.id)
            .where(a.c.state == AlertState.CLEARED.value, a.c.cleared_at < older_than)
            .limit(PRUNE_CHUNK)
        ).scalar_subquery()
        stmt = sa.delete(a).where(a.c.id.in_(chunk))
        deleted = 0
        while True:
            async with self._tx() as conn:
                n = int((await conn.execute(stmt)).rowcount or 0)
            deleted += n
            if n < PRUNE_CHUNK:
                return deleted
            await asyncio.sleep(PRUNE_PAUSE)

    async def get_alert(self, alert_id: int) -> Alert | None:
        async with self._read() as conn:
            row = (await conn.execute(sa.select(_A).where(_A.c.id == alert_id))).first()
        return None if row is None else alert_from_row(row)

    async def list_alerts(self, query: AlertQuery, limit: int, offset: int) -> Page:
        where: list[Any] = []
        if query.station_id is not None:
            where.append(_A.c.station_id == query.station_id)
        if query.states:
            where.append(_A.c.state.in_(query.states))
        if query.severity_at_most is not None:
            where.append(_A.c.severity <= query.severity_at_most)
        if query.severity_at_least is not None:
            where.append(_A.c.severity >= query.severity_at_least)
        if query.since is not None:
            where.append(_A.c.last_seen >= query.since)
        select = sa.select(_A).where(*where).order_by(_A.c.last_seen.desc(), _A.c.id.desc())
        count = sa.select(sa.func.count()).select_from(_A).where(*where)
        return await self._page(select, count, alert_from_row, limit, offset)


def _bp(name: str, type_: Any) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=type_)


_REPEAT = (
    sa.update(_A)
    .where(_A.c.id == _bp("b_id", sa.BigInteger()))
    .values(
        count=_bp("b_count", sa.Integer()),
        last_seen=_bp("b_last_seen", t.UtcDateTime()),
        severity=_bp("b_severity", sa.Integer()),
        **{name: _bp(f"b_{name}", _A.c[name].type) for name in _DETAILS},
    )
)
_CLEAR = (
    sa.update(_A)
    .where(_A.c.id == _bp("b_id", sa.BigInteger()))
    .where(_A.c.state != AlertState.CLEARED.value)
    .values(state=AlertState.CLEARED.value, cleared_at=_bp("b_at", t.UtcDateTime()))
)
_ACK = (
    sa.update(_A)
    .where(_A.c.id == _bp("b_id", sa.BigInteger()))
    .where(_A.c.state == AlertState.OPEN.value)
    .values(
        state=AlertState.ACKNOWLEDGED.value,
        acknowledged_by=_bp("b_by", sa.String()),
        acknowledged_at=_bp("b_at", t.UtcDateTime()),
    )
)


def _repeat_row(alert: Alert) -> dict[str, Any]:
    row = _row(alert)
    values = {
        "b_id": alert.id,
        "b_count": min(alert.count, _INT32_MAX),
        "b_last_seen": alert.last_seen,
        "b_severity": alert.severity,
    }
    values.update({f"b_{name}": row[name] for name in _DETAILS})
    return values


def _with_severity(s: Sighting, severities: dict[tuple[str, int], int]) -> Sighting:
    if s.severity is not None or s.monitor_id is None:
        return s
    found = severities.get((s.key.station_id, s.monitor_id))
    return s if found is None else dataclasses.replace(s, severity=clamp_severity(found))


def _open_connectors(payload: StatusAlerts, live: Iterable[Alert]) -> dict[str, set[int]]:
    """Station -> connectors with status alerts not cleared, after the whole batch, for
    the stations of `payload` (the service's cache of them)."""
    found: dict[str, set[int]] = {sid: set() for sid in payload.load}
    found.update((s.key.station_id, set()) for s in payload.sightings)
    for alert in live:
        k = alert.key
        if k.source is AlertSource.STATUS_NOTIFICATION and k.station_id in found:
            found[k.station_id].add(k.connector_id)
    return found


def _stations_of(op: Op) -> str:
    return ", ".join(sorted({s.key.station_id for s in op.payload.sightings}))
