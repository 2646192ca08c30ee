"""Repository: a 2.x station's variable monitors and its monitoring report requests
(issue 17 part 2). Operator-driven or rare station messages: short transactions of their
own, not the group commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.parts import StorePart
from ampyre.domain.monitoring import (
    INT32_MAX,
    Monitor,
    MonitoringReport,
    ReportState,
    VariableAddress,
)

_M = t.station_monitors
_R = t.monitoring_reports
_MAX_SEQ_NOS = 10_000  # seqNos kept per report (a station cannot grow the row forever)


def _monitor_row(station_id: str, m: Monitor, at: datetime) -> dict[str, Any]:
    a = m.address
    return {
        "station_id": station_id,
        "monitor_id": m.id,
        "component": a.component[:50],
        "component_instance": a.component_instance[:50],
        "evse_id": a.evse_id,
        "connector_id": a.connector_id,
        "variable": a.variable[:50],
        "variable_instance": a.variable_instance[:50],
        "type": m.type[:32],
        "value": m.value,
        "severity": m.severity,
        "transaction": m.transaction,
        "source": m.source,
        "updated_at": at,
    }


def _monitor(row: Any) -> Monitor:
    m = row._mapping
    return Monitor(
        address=VariableAddress(
            component=m["component"],
            variable=m["variable"],
            component_instance=m["component_instance"],
            variable_instance=m["variable_instance"],
            evse_id=m["evse_id"],
            connector_id=m["connector_id"],
        ),
        type=m["type"],
        value=m["value"],
        severity=m["severity"],
        transaction=m["transaction"],
        id=m["monitor_id"],
        source=m["source"],
        updated_at=m["updated_at"],
    )


def _report(row: Any) -> MonitoringReport:
    m = row._mapping
    return MonitoringReport(
        station_id=m["station_id"],
        request_id=m["request_id"],
        state=ReportState(m["state"]),
        requested_at=m["requested_at"],
        parts=m["parts"],
        monitors=m["monitors"],
        last_part_at=m["last_part_at"],
        finished_at=m["finished_at"],
        detail=m["detail"],
    )


def _storable(m: Monitor) -> bool:
    """A monitor the columns can hold (a station's report is not trusted to fit)."""
    a = m.address
    return (
        m.id is not None
        and 0 <= m.id <= INT32_MAX
        and all(0 <= n <= INT32_MAX for n in (a.evse_id, a.connector_id))
        and -(2**31) <= m.severity <= INT32_MAX
        and abs(m.value) < 1e300
    )


class MonitorsSql(StorePart):
    async def save_monitors(self, station_id: str, monitors: Sequence[Monitor]) -> None:
        await self._save(station_id, monitors, None)

    async def _save(
        self, station_id: str, monitors: Sequence[Monitor], conn: Any, at: datetime | None = None
    ) -> None:
        rows = [
            _monitor_row(station_id, m, at or m.updated_at or _now())
            for m in monitors
            if _storable(m)
        ]
        if not rows:
            return
        # One row per monitor id: the last one given wins.
        rows = list({r["monitor_id"]: r for r in rows}.values())
        upsert = self._insert(_M)
        stmt = upsert.on_conflict_do_update(
            index_elements=[_M.c.station_id, _M.c.monitor_id],
            set_={c.name: upsert.excluded[c.name] for c in _M.columns if not c.primary_key},
        )
        if conn is not None:
            await conn.execute(stmt, rows)
            return
        async with self._tx() as conn:
            await conn.execute(stmt, rows)

    async def delete_monitors(self, station_id: str, ids: Sequence[int]) -> None:
        wanted = [i for i in ids if 0 <= i <= INT32_MAX]
        if not wanted:
            return
        async with self._tx() as conn:
            await conn.execute(
                sa.delete(_M).where(_M.c.station_id == station_id, _M.c.monitor_id.in_(wanted))
            )

    async def list_monitors(self, station_id: str) -> list[Monitor]:
        async with self._read() as conn:
            rows = await conn.execute(
                sa.select(_M).where(_M.c.station_id == station_id).order_by(_M.c.monitor_id)
            )
            return [_monitor(r) for r in rows]

    async def create_monitoring_report(
        self, station_id: str, at: datetime, full: bool = False
    ) -> MonitoringReport:
        """A new request with the station's next request id (ids wrap within 32 bits);
        `full`: it asks for every monitor."""
        async with self._tx() as conn:
            last = (
                await conn.execute(
                    sa.select(sa.func.max(_R.c.request_id)).where(_R.c.station_id == station_id)
                )
            ).scalar()
            request_id = 1 if last is None or last >= INT32_MAX else int(last) + 1
            report = MonitoringReport(station_id, request_id, ReportState.PENDING, at)
            await conn.execute(
                sa.insert(_R).values(
                    station_id=station_id,
                    request_id=request_id,
                    state=report.state.value,
                    requested_at=at,
                    full=full,
                )
            )
        return report

    async def finish_monitoring_report(
        self, station_id: str, request_id: int, state: ReportState, at: datetime, detail: str
    ) -> None:
        async with self._tx() as conn:
            await conn.execute(
                sa.update(_R)
                .where(
                    _R.c.station_id == station_id,
                    _R.c.request_id == request_id,
                    _R.c.state == ReportState.PENDING.value,
                )
                .values(state=state.value, finished_at=at, detail=detail[:512])
            )

    async def record_monitoring_part(
        self,
        station_id: str,
        request_id: int,
        seq_no: int | None,
        tbc: bool,
        monitors: Sequence[Monitor],
        at: datetime,
    ) -> None:
        """One NotifyMonitoringReport part: its monitors stored, the request's progress
        counted by seqNo (a part sent again counts once; a report nobody asked for, e.g.
        triggered at the station, is recorded as it comes). The part with tbc false makes
        it complete if every seqNo before it arrived, else incomplete. A part after the
        report was closed still updates the monitors, not the report's state."""
        async with self._tx() as conn:
            await self._save(station_id, monitors, conn, at)
            where = (_R.c.station_id == station_id, _R.c.request_id == request_id)
            found = (
                await conn.execute(
                    sa.select(
                        _R.c.state,
                        _R.c.seq_nos,
                        _R.c.parts,
                        _R.c.monitors,
                        _R.c.full,
                        _R.c.requested_at,
                    ).where(*where)
                )
            ).first()
            if found is None:
                await conn.execute(
                    sa.insert(_R).values(
                        station_id=station_id,
                        request_id=request_id,
                        state=ReportState.PENDING.value,
                        requested_at=at,
                    )
                )
                state, seen, parts, counted = ReportState.PENDING.value, [], 0, 0
                full, requested_at = False, at
            else:
                state, seen, parts, counted = found[0], list(found[1] or []), found[2], found[3]
                full, requested_at = found[4], found[5]
            again = seq_no is not None and seq_no in seen
            if seq_no is not None and not again and len(seen) < _MAX_SEQ_NOS:
                seen.append(seq_no)
            values: dict[str, Any] = {
                "parts": min(parts + (0 if again else 1), INT32_MAX),
                "seq_nos": sorted(seen),
                "monitors": counted if again else min(counted + len(monitors), INT32_MAX),
                "last_part_at": at,
            }
            if state == ReportState.PENDING.value and not tbc:
                # OCPP 2.0.1 N02: parts are numbered from seqNo 0; the last one has tbc
                # false. Parts missing before it make the report incomplete.
                missing = (
                    0 if seq_no is None else seq_no + 1 - sum(1 for n in seen if 0 <= n <= seq_no)
                )
                if missing > 0:
                    values.update(
                        state=ReportState.INCOMPLETE.value,
                        finished_at=at,
                        detail=f"the last part came with {missing} part(s) before it missing",
                    )
                else:
                    values.update(state=ReportState.COMPLETE.value, finished_at=at)
                    if full:
                        # Every monitor was reported since the request: the stored ones
                        # not among them no longer exist at the station.
                        await conn.execute(
                            sa.delete(_M).where(
                                _M.c.station_id == station_id, _M.c.updated_at < requested_at
                            )
                        )
            await conn.execute(sa.update(_R).where(*where).values(**values))

    async def close_stale_monitoring_reports(self, before: datetime, at: datetime) -> int:
        last = sa.func.coalesce(_R.c.last_part_at, _R.c.requested_at)
        async with self._tx() as conn:
            result = await conn.execute(
                sa.update(_R)
                .where(_R.c.state == ReportState.PENDING.value, last < before)
                .values(
                    state=ReportState.INCOMPLETE.value,
                    finished_at=at,
                    detail="closed: no part with tbc=false came within the report timeout",
                )
            )
        return int(result.rowcount or 0)

    async def list_monitoring_reports(self, station_id: str, limit: int) -> list[MonitoringReport]:
        async with self._read() as conn:
            rows = await conn.execute(
                sa.select(_R)
                .where(_R.c.station_id == station_id)
                .order_by(_R.c.requested_at.desc(), _R.c.id.desc())
                .limit(max(1, limit))
            )
            return [_report(r) for r in rows]


def _now() -> datetime:
    return datetime.now(UTC)
