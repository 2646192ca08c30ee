"""Sites, the balancer's decisions and load samples in SQL (the SiteStore port), and the
reads the balancer makes of sessions, connections and main meters. Short transactions;
site events go to the outbox in the same transaction as the decision they describe."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db import tables as t
from ampyre.adapters.db import tables_sites as ts
from ampyre.adapters.db.database import Database
from ampyre.adapters.db.outbox import OutboxSql, outbox_steps
from ampyre.domain.events import DomainEvent, OutboxEvent
from ampyre.domain.site_records import (
    AllocationRecord,
    SiteSample,
    site_config,
    site_from_config,
)
from ampyre.domain.sites import PHASES, Site
from ampyre.domain.transactions import TransactionStatus
from ampyre.services.sites_port import ActiveSession

CURRENT_IMPORT = "Current.Import"


class SitesSql:
    def __init__(self, db: Database, on_events: Callable[[], None] = lambda: None) -> None:
        self._db = db
        self._on_events = on_events
        self._outbox = OutboxSql(db)

    async def _events(self, conn: AsyncConnection, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        at = events[-1].at
        for step, params in outbox_steps(events, at, self._db.dialect_name, self._db.paramstyle):
            if isinstance(step, str):
                await conn.exec_driver_sql(step, params)
            else:
                await conn.execute(step, params)

    # ------------------------------------------------------------------ sites

    async def add_site(self, site: Site) -> Site:
        values = _site_values(site)
        async with self._db.tx() as conn:
            row = (
                await conn.execute(sa.insert(ts.sites).values(values).returning(ts.sites.c.id))
            ).one()
        site.id = int(row[0])
        return site

    async def get_site(self, site_id: int) -> Site | None:
        s = ts.sites
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(s).where(s.c.id == site_id))).first()
        return None if row is None else _site(row)

    async def list_sites(self) -> list[Site]:
        s = ts.sites
        async with self._db.read() as conn:
            rows = (await conn.execute(sa.select(s).order_by(s.c.id))).all()
        return [_site(r) for r in rows]

    async def update_site(self, site: Site) -> bool:
        s = ts.sites
        values = _site_values(site)
        values.pop("created_at")
        async with self._db.tx() as conn:
            n = (await conn.execute(sa.update(s).where(s.c.id == site.id).values(values))).rowcount
        return bool(n)

    async def delete_site(self, site_id: int) -> bool:
        s = ts.sites
        async with self._db.tx() as conn:
            # SQLite enforces no foreign keys unless asked: remove the children explicitly.
            await conn.execute(
                sa.delete(ts.site_allocations).where(ts.site_allocations.c.site_id == site_id)
            )
            await conn.execute(
                sa.delete(ts.site_samples).where(ts.site_samples.c.site_id == site_id)
            )
            n = (await conn.execute(sa.delete(s).where(s.c.id == site_id))).rowcount
        return bool(n)

    async def push_base_load(
        self, site_id: int, values: tuple[float, float, float], at: datetime
    ) -> bool:
        s = ts.sites
        stmt = (
            sa.update(s)
            .where(s.c.id == site_id)
            .values(pushed_base_load=list(values), pushed_at=at)
        )
        async with self._db.tx() as conn:
            return bool((await conn.execute(stmt)).rowcount)

    async def missing_stations(self, station_ids: Collection[str]) -> list[str]:
        wanted = set(station_ids)
        if not wanted:
            return []
        st = t.stations
        async with self._db.read() as conn:
            found = set(
                (await conn.execute(sa.select(st.c.id).where(st.c.id.in_(wanted)))).scalars()
            )
        return sorted(wanted - found)

    # ------------------------------------------------------------------ records

    async def record_allocation(
        self, record: AllocationRecord, events: Sequence[DomainEvent] = ()
    ) -> None:
        values = {
            "site_id": record.site_id,
            "computed_at": record.computed_at,
            "trigger": record.trigger[:64],
            "at_limit": record.at_limit,
            "summary": record.summary,
            "evses": record.evses,
        }
        async with self._db.tx() as conn:
            await conn.execute(sa.insert(ts.site_allocations).values(values))
            await self._events(conn, events)
        if events:
            self._on_events()

    async def add_samples(self, samples: Sequence[SiteSample]) -> None:
        if not samples:
            return
        rows = [{"site_id": s.site_id, "at": s.at, "data": s.data} for s in samples]
        async with self._db.tx() as conn:
            await conn.execute(sa.insert(ts.site_samples), rows)

    async def allocations(self, site_id: int, limit: int) -> list[AllocationRecord]:
        a = ts.site_allocations
        query = sa.select(a).where(a.c.site_id == site_id).order_by(a.c.id.desc()).limit(limit)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            AllocationRecord(
                site_id=int(r.site_id),
                computed_at=r.computed_at,
                trigger=r.trigger,
                at_limit=bool(r.at_limit),
                summary=dict(r.summary or {}),
                evses=list(r.evses or []),
                id=int(r.id),
            )
            for r in rows
        ]

    async def series(self, site_id: int, since: datetime, limit: int) -> list[SiteSample]:
        s = ts.site_samples
        query = (
            sa.select(s)
            .where(s.c.site_id == site_id, s.c.at >= since)
            .order_by(s.c.at.desc(), s.c.id.desc())
            .limit(limit)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [SiteSample(int(r.site_id), r.at, dict(r.data or {})) for r in reversed(rows)]

    async def prune(self, older_than: datetime) -> int:
        a, s = ts.site_allocations, ts.site_samples
        async with self._db.tx() as conn:
            n = (await conn.execute(sa.delete(a).where(a.c.computed_at < older_than))).rowcount
            n += (await conn.execute(sa.delete(s).where(s.c.at < older_than))).rowcount
        return int(n)

    # ------------------------------------------------------------------ balancer reads

    async def active_sessions(self, station_ids: Collection[str]) -> list[ActiveSession]:
        ids = list(set(station_ids))
        if not ids:
            return []
        x = t.transactions
        query = sa.select(
            x.c.station_id, x.c.evse_id, x.c.transaction_id, x.c.id_token, x.c.started_at
        ).where(x.c.status == TransactionStatus.ACTIVE.value, x.c.station_id.in_(ids))
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            ActiveSession(r.station_id, r.evse_id, r.transaction_id, r.id_token, r.started_at)
            for r in rows
        ]

    async def connected_stations(self, station_ids: Collection[str]) -> set[str]:
        ids = list(set(station_ids))
        if not ids:
            return set()
        st = t.stations
        query = sa.select(st.c.id).where(st.c.id.in_(ids), st.c.connected.is_(True))
        async with self._db.read() as conn:
            return set((await conn.execute(query)).scalars())

    async def meter_currents(
        self, station_id: str, evse_id: int, since: datetime
    ) -> tuple[float, float, float] | None:
        mv = t.meter_values
        query = (
            sa.select(mv.c.phase, mv.c.si_value, mv.c.timestamp)
            .where(
                mv.c.station_id == station_id,
                mv.c.evse_id == evse_id,
                mv.c.transaction_pk.is_(None),
                mv.c.measurand == CURRENT_IMPORT,
                mv.c.received_at >= since,
            )
            .order_by(mv.c.timestamp.desc(), mv.c.id.desc())
            .limit(12)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            return None
        latest = rows[0].timestamp
        values = [0.0, 0.0, 0.0]
        for r in rows:
            if r.timestamp != latest or r.si_value is None:
                continue
            phase = (r.phase or "").split("-", 1)[0]
            if phase in PHASES:
                values[PHASES.index(phase)] = float(r.si_value)
            elif not phase:
                values = [float(r.si_value)] * 3
        return (values[0], values[1], values[2])

    # ------------------------------------------------------------------ outbox

    async def events_after(self, position: int, limit: int) -> list[OutboxEvent]:
        return await self._outbox.events_after(position, limit)

    async def outbox_head(self) -> int:
        return await self._outbox.last_event_id()


def _site_values(site: Site) -> dict[str, Any]:
    return {
        "name": site.name[:100],
        "enabled": site.enabled,
        "config": site_config(site),
        "created_at": site.created_at,
        "updated_at": site.updated_at,
    }


def _site(row: Any) -> Site:
    pushed = row.pushed_base_load
    return site_from_config(
        int(row.id),
        row.name,
        bool(row.enabled),
        dict(row.config or {}),
        pushed_base_load=None
        if not pushed
        else (float(pushed[0]), float(pushed[1]), float(pushed[2])),
        pushed_at=row.pushed_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
