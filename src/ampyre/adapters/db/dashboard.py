"""The dashboard's reads as aggregate SQL (services/dashboard.py DashboardReads, and the
live hub's StreamSource): a few indexed queries however many stations there are.

Station states are defined in domain/dashboard.py; `station_conditions` is their SQL,
used by both the overview's counts and the station list's `state` filter so the two
cannot disagree. Indexes (migration 0009): connectors (status, station_id), transactions
(status, station_id) and (ended_at), the partial index of problem reports on
status_history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.database import Database
from ampyre.adapters.db.outbox import OutboxSql
from ampyre.domain.dashboard import (
    CHARGING,
    CHART_MEASURANDS,
    FAULTED,
    SEARCHED_FIELDS,
    Alert,
    ChartPoint,
    Overview,
    StationCounts,
    StationQuery,
    StationSort,
    StationState,
    chart_points,
    like_pattern,
)
from ampyre.domain.events import OutboxEvent
from ampyre.domain.transactions import ENERGY_REGISTER, SampledValue, TransactionStatus

_ACTIVE = TransactionStatus.ACTIVE.value
# Chart rows read per requested point (measurands x phases); more rows: another request.
_ROWS_PER_POINT = 12


def _faulted_ids() -> sa.Select[Any]:
    c = t.connectors
    return sa.select(c.c.station_id).where(c.c.status == FAULTED)


def _charging_ids() -> sa.CompoundSelect[Any]:
    c, tx = t.connectors, t.transactions
    return sa.union(
        sa.select(tx.c.station_id).where(tx.c.status == _ACTIVE),
        sa.select(c.c.station_id).where(c.c.status == CHARGING),
    )


def state_condition(state: StationState) -> sa.ColumnElement[bool]:
    """SQL of a station state (domain/dashboard.py) over the `stations` table."""
    s = t.stations
    if state is StationState.ONLINE:
        return s.c.connected == sa.true()
    if state is StationState.OFFLINE:
        return s.c.connected == sa.false()
    if state is StationState.FAULTED:
        return s.c.id.in_(_faulted_ids())
    return s.c.id.in_(_charging_ids())


def station_conditions(query: StationQuery) -> list[sa.ColumnElement[bool]]:
    s = t.stations
    conditions: list[sa.ColumnElement[bool]] = []
    if query.q:
        # ILIKE on PostgreSQL (case folding of all of Unicode); lower(x) LIKE lower(y) on
        # SQLite, whose lower() folds ASCII only, on both sides alike, so a non-ASCII
        # letter still finds itself. A substring search cannot use a b-tree index: it
        # scans the stations (a few ms for 20,000; test_dashboard_scale.py).
        pattern = like_pattern(query.q)
        conditions.append(
            sa.or_(*(s.c[name].ilike(pattern, escape="\\") for name in SEARCHED_FIELDS))
        )
    if query.state is not None:
        conditions.append(state_condition(query.state))
    return conditions


def station_order(query: StationQuery) -> list[Any]:
    """ORDER BY of a station query: the key (no value last in either direction), then id."""
    s = t.stations
    if query.sort is StationSort.ID:
        return [s.c.id.desc() if query.descending else s.c.id]
    column = s.c[query.sort.value]
    key = column.desc() if query.descending else column.asc()
    return [sa.nulls_last(key), s.c.id]


class DashboardSql:
    """DashboardReads and StreamSource on the shared database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._outbox = OutboxSql(db)

    # ------------------------------------------------------------------ StreamSource

    async def events_after(self, position: int, limit: int) -> list[OutboxEvent]:
        return await self._outbox.events_after(position, limit)

    async def outbox_head(self) -> int:
        o = t.outbox_events
        async with self._db.tx() as conn:
            head = (await conn.execute(sa.select(sa.func.max(o.c.id)))).scalar()
        return int(head or 0)

    async def outbox_floor(self) -> int | None:
        o = t.outbox_events
        async with self._db.tx() as conn:
            floor = (await conn.execute(sa.select(sa.func.min(o.c.id)))).scalar()
        return None if floor is None else int(floor)

    # ------------------------------------------------------------------ reads

    async def live_counts(self) -> tuple[int, int]:
        s, tx = t.stations, t.transactions
        query = sa.select(
            sa.select(sa.func.count()).where(s.c.connected == sa.true()).scalar_subquery(),
            sa.select(sa.func.count()).where(tx.c.status == _ACTIVE).scalar_subquery(),
        )
        async with self._db.tx() as conn:
            row = (await conn.execute(query)).one()
        return int(row[0]), int(row[1])

    async def overview(self, day_start: datetime, alerts: int) -> Overview:
        s, tx = t.stations, t.transactions
        counts = sa.select(
            sa.select(sa.func.count()).select_from(s).scalar_subquery(),
            sa.select(sa.func.count()).where(s.c.connected == sa.true()).scalar_subquery(),
            sa.select(sa.func.count(sa.distinct(t.connectors.c.station_id)))
            .where(t.connectors.c.status == FAULTED)
            .scalar_subquery(),
            sa.select(sa.func.count()).select_from(_charging_ids().subquery()).scalar_subquery(),
            sa.select(sa.func.count()).where(tx.c.status == _ACTIVE).scalar_subquery(),
            _energy_since(day_start),
        )
        h = t.status_history
        recent = (
            sa.select(h)
            .where(sa.text(t.ALERT_WHERE))  # literal: the partial index's own condition
            .order_by(h.c.received_at.desc())
            .limit(max(0, alerts))
        )
        async with self._db.tx() as conn:
            total, online, faulted, charging, active, energy = (await conn.execute(counts)).one()
            rows = (await conn.execute(recent)).all() if alerts > 0 else []
        return Overview(
            stations=StationCounts(
                total=int(total),
                online=int(online),
                offline=int(total) - int(online),
                faulted=int(faulted),
                charging=int(charging),
            ),
            active_transactions=int(active),
            energy_today_wh=float(energy or 0.0),
            alerts=[_alert(r) for r in rows],
        )

    async def meter_series(
        self, transaction_pk: int, after: datetime | None, limit: int
    ) -> tuple[list[ChartPoint], bool]:
        m = t.meter_values
        rows_max = max(1, limit) * _ROWS_PER_POINT
        conditions = [m.c.transaction_pk == transaction_pk, m.c.measurand.in_(CHART_MEASURANDS)]
        if after is not None:
            conditions.append(m.c.timestamp > after)
        query = (
            sa.select(
                m.c.timestamp,
                m.c.measurand,
                m.c.phase,
                m.c.location,
                m.c.unit,
                m.c.si_value,
                m.c.si_unit,
            )
            .where(*conditions)
            .order_by(m.c.timestamp, m.c.measurand, m.c.phase, m.c.location, m.c.context)
            .limit(rows_max)
        )
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
        more = len(rows) == rows_max
        if more:
            # The last timestamp's values may continue beyond the limit: next request.
            last = rows[-1].timestamp
            rows = [r for r in rows if r.timestamp != last]
        points = chart_points(
            (
                r.timestamp,
                SampledValue(
                    value=r.si_value,
                    raw_value="",
                    measurand=r.measurand,
                    phase=r.phase or None,
                    location=r.location,
                    unit=r.unit,
                    si_value=r.si_value,
                    si_unit=r.si_unit,
                ),
            )
            for r in rows
        )
        if len(points) > limit:
            return points[:limit], True
        return points, more


def _energy_since(day_start: datetime) -> sa.ScalarSelect[Any]:
    """Energy delivered since `day_start`: per transaction with a register reading since
    then (active ones, and those that ended since then), its latest reading minus its
    reading at `day_start`: the start reading if it started since then, else the last
    reading before it (registers only grow, so the greatest), else the start reading.
    Negative differences (a meter replaced or reset) count as nothing."""
    tx, m = t.transactions, t.meter_values
    before_day = (
        sa.select(sa.func.max(m.c.si_value))
        .where(
            m.c.transaction_pk == tx.c.id,
            m.c.timestamp < day_start,
            m.c.measurand == ENERGY_REGISTER,
            m.c.phase == "",
            m.c.location == "Outlet",
            m.c.si_unit == "Wh",
        )
        .scalar_subquery()
    )
    baseline = sa.case(
        (tx.c.meter_start_at >= day_start, tx.c.meter_start_wh),
        else_=sa.func.coalesce(before_day, tx.c.meter_start_wh),
    )
    delivered = tx.c.meter_stop_wh - baseline
    return (
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((delivered > 0, delivered), else_=0.0)), 0.0)
        )
        .where(
            sa.or_(tx.c.status == _ACTIVE, tx.c.ended_at >= day_start),
            tx.c.meter_stop_at >= day_start,
            tx.c.meter_stop_wh.is_not(None),
            tx.c.meter_start_wh.is_not(None),
        )
        .scalar_subquery()
    )


def _alert(row: Any) -> Alert:
    return Alert(
        station_id=row.station_id,
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        status=row.status,
        error_code=row.error_code,
        info=row.info,
        vendor_error_code=row.vendor_error_code,
        timestamp=row.timestamp,
        received_at=row.received_at,
    )
