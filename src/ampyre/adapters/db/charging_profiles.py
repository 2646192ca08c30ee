"""Installed charging profiles, external limits and EV charging needs in SQL (the
ChargingProfileStore port). Short transactions of their own: profiles change when an
operator or the balancer sends one, not on the OCPP hot path."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db import tables as t
from ampyre.adapters.db import tables_charging as tc
from ampyre.adapters.db.database import Database
from ampyre.domain.charging_profiles import (
    PERIOD_NUMBERS,
    ChargingProfile,
    InstalledProfile,
    Kind,
    OperationMode,
    ProfileSource,
    Purpose,
    RateUnit,
    Recurrency,
    Schedule,
    SchedulePeriod,
)
from ampyre.domain.ev_needs import ChargingLimit, EvChargingNeeds, EvChargingSchedule
from ampyre.domain.models import Page
from ampyre.domain.transactions import TransactionStatus
from ampyre.services.charging_profiles_port import ClearCriteria, RunningTransaction

_P = tc.charging_profiles
_L = tc.charging_limits
_N = tc.ev_charging_needs


class ChargingProfilesSql:
    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------------ profiles

    async def save_installed(self, item: InstalledProfile, replaces: Sequence[int] = ()) -> None:
        others = set(replaces) - {item.profile.id}
        async with self._db.tx() as conn:
            if others:
                await conn.execute(
                    sa.delete(_P).where(
                        _P.c.station_id == item.station_id, _P.c.profile_id.in_(others)
                    )
                )
            await self._upsert(conn, _P, _profile_values(item, None))

    async def _upsert(self, conn: AsyncConnection, table: sa.Table, values: dict[str, Any]) -> None:
        """Insert, or replace the row of the same key (two writers of one key both
        succeed; the later one wins)."""
        keys = [c.name for c in table.primary_key.columns]
        stmt = self._db.insert(table).values(values)
        rest = {k: v for k, v in values.items() if k not in keys}
        await conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=rest))

    async def installed(
        self, station_id: str, evse_id: int | None = None
    ) -> list[InstalledProfile]:
        where = [_P.c.station_id == station_id, _not_of_ended_transaction()]
        if evse_id is not None:
            where.append(_P.c.evse_id == evse_id)
        query = sa.select(_P).where(*where).order_by(_P.c.evse_id, _P.c.profile_id)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_installed(r) for r in rows]

    async def list_installed(
        self,
        limit: int,
        offset: int,
        station_id: str | None = None,
        purpose: Purpose | None = None,
        source: ProfileSource | None = None,
    ) -> Page:
        where = [_not_of_ended_transaction()]
        if station_id is not None:
            where.append(_P.c.station_id == station_id)
        if purpose is not None:
            where.append(_P.c.purpose == purpose.value)
        if source is not None:
            where.append(_P.c.source == source.value)
        return await self._db.page(
            sa.select(_P).where(*where).order_by(_P.c.station_id, _P.c.evse_id, _P.c.profile_id),
            sa.select(sa.func.count()).select_from(_P).where(*where),
            _installed,
            limit,
            offset,
        )

    async def remove_installed(self, station_id: str, c: ClearCriteria) -> int:
        where = [_P.c.station_id == station_id, _P.c.purpose != Purpose.EXTERNAL.value]
        if c.profile_id is not None:
            where.append(_P.c.profile_id == c.profile_id)
        if c.evse_id is not None:
            where.append(_P.c.evse_id == c.evse_id)
        if c.purpose is not None:
            where.append(_P.c.purpose == c.purpose.value)
        if c.stack_level is not None:
            where.append(_P.c.stack_level == c.stack_level)
        async with self._db.tx() as conn:
            return int((await conn.execute(sa.delete(_P).where(*where))).rowcount)

    async def reported(
        self,
        station_id: str,
        request_id: int,
        items: Sequence[InstalledProfile],
        final: bool,
        now: datetime,
    ) -> None:
        async with self._db.tx() as conn:
            for item in items:
                await self._confirm(conn, item, request_id)
            if final:
                stale = sa.or_(_P.c.report_id.is_(None), _P.c.report_id != request_id)
                await conn.execute(
                    sa.delete(_P).where(
                        _P.c.station_id == station_id, stale, _P.c.installed_at <= now
                    )
                )

    async def _confirm(
        self, conn: AsyncConnection, item: InstalledProfile, request_id: int
    ) -> None:
        key = (_P.c.station_id == item.station_id, _P.c.profile_id == item.profile.id)
        row = (await conn.execute(sa.select(_P.c.source, _P.c.installed_at).where(*key))).first()
        # A profile Ampyre sent keeps its source; one it did not know is the station's.
        if row is not None:
            item = dataclasses.replace(
                item, source=ProfileSource(row.source), installed_at=row.installed_at
            )
        await self._upsert(conn, _P, _profile_values(item, request_id))

    # ------------------------------------------------------------------ limits

    async def save_limit(self, limit: ChargingLimit) -> None:
        values = {
            "station_id": limit.station_id,
            "evse_id": limit.evse_id or 0,
            "source": limit.source[:20],
            "is_grid_critical": limit.is_grid_critical,
            "schedules": [plain(s) for s in limit.schedules],
            "received_at": limit.received_at,
            "cleared_at": None,
        }
        async with self._db.tx() as conn:
            await self._upsert(conn, _L, values)

    async def clear_limit(
        self, station_id: str, source: str, evse_id: int | None, at: datetime
    ) -> None:
        where = [_L.c.station_id == station_id, _L.c.source == source[:20]]
        if evse_id is not None:
            where.append(_L.c.evse_id == evse_id)
        async with self._db.tx() as conn:
            await conn.execute(sa.update(_L).where(*where).values(cleared_at=at))

    async def limits(self, station_id: str, active_only: bool = False) -> list[ChargingLimit]:
        where = [_L.c.station_id == station_id]
        if active_only:
            where.append(_L.c.cleared_at.is_(None))
        query = sa.select(_L).where(*where).order_by(_L.c.evse_id, _L.c.source)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            ChargingLimit(
                station_id=r.station_id,
                source=r.source,
                received_at=r.received_at,
                evse_id=r.evse_id or None,
                is_grid_critical=r.is_grid_critical,
                schedules=tuple(schedule_of(s) for s in r.schedules or []),
                cleared_at=r.cleared_at,
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ EV needs

    async def save_needs(self, needs: EvChargingNeeds) -> None:
        data = plain(needs)
        for key in ("station_id", "evse_id", "status", "detail", "transaction_id", "received_at"):
            data.pop(key, None)
        await self._upsert_needs(
            needs.station_id,
            needs.evse_id,
            {
                "needs": data,
                "status": needs.status,
                "detail": None if needs.detail is None else needs.detail[:64],
                "transaction_id": needs.transaction_id,
                "received_at": needs.received_at,
            },
        )

    async def save_ev_schedule(self, schedule: EvChargingSchedule) -> None:
        data = {
            "time_base": schedule.time_base.isoformat(),
            "schedule": plain(schedule.schedule),
            "selected_schedule_id": schedule.selected_schedule_id,
        }
        await self._upsert_needs(
            schedule.station_id,
            schedule.evse_id,
            {"schedule": data, "schedule_received_at": schedule.received_at},
        )

    async def _upsert_needs(self, station_id: str, evse_id: int, values: dict[str, Any]) -> None:
        stmt = self._db.insert(_N).values(station_id=station_id, evse_id=evse_id, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["station_id", "evse_id"], set_=values)
        async with self._db.tx() as conn:
            await conn.execute(stmt)

    async def ev_needs(
        self, station_id: str
    ) -> list[tuple[EvChargingNeeds | None, EvChargingSchedule | None]]:
        query = sa.select(_N).where(_N.c.station_id == station_id).order_by(_N.c.evse_id)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [(_needs(r), _ev_schedule(r)) for r in rows]

    # ------------------------------------------------------------------ transactions

    async def running(self, station_id: str) -> list[RunningTransaction]:
        x = t.transactions
        query = (
            sa.select(x.c.transaction_id, x.c.evse_id, x.c.connector_id, x.c.started_at)
            .where(x.c.station_id == station_id, x.c.status == TransactionStatus.ACTIVE.value)
            .order_by(x.c.id)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            RunningTransaction(
                r.transaction_id,
                r.evse_id if r.evse_id is not None else r.connector_id,
                r.started_at,
            )
            for r in rows
        ]


def _not_of_ended_transaction() -> sa.ColumnElement[bool]:
    """A TxProfile lives as long as its transaction (1.6 3.13.2, 2.0.1 K01.FR.xx): those
    of transactions that ended are no longer on the station."""
    x = t.transactions
    ended = (
        sa.select(x.c.id)
        .where(
            x.c.station_id == _P.c.station_id,
            x.c.transaction_id == _P.c.transaction_id,
            x.c.status == TransactionStatus.ENDED.value,
        )
        .exists()
    )
    return sa.or_(_P.c.purpose != Purpose.TX.value, _P.c.transaction_id.is_(None), ~ended)


# ------------------------------------------------------------------ JSON


def plain(value: Any) -> Any:
    """A domain value as JSON-ready data: dataclasses as dicts without None fields,
    enums as their values, datetimes as ISO text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if v is not None:
                out[f.name] = plain(v)
        return out
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _dt(text: Any) -> datetime | None:
    if not text:
        return None
    dt = datetime.fromisoformat(str(text))
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def period_of(d: dict[str, Any]) -> SchedulePeriod:
    mode = d.get("operation_mode")
    return SchedulePeriod(
        start_period=int(d["start_period"]),
        number_phases=d.get("number_phases"),
        phase_to_use=d.get("phase_to_use"),
        operation_mode=OperationMode(mode) if mode else None,
        **{k: d.get(k) for k in PERIOD_NUMBERS},
    )


def schedule_of(d: dict[str, Any]) -> Schedule:
    return Schedule(
        rate_unit=RateUnit(d["rate_unit"]),
        periods=tuple(period_of(p) for p in d["periods"]),
        id=d.get("id"),
        start=_dt(d.get("start")),
        duration=d.get("duration"),
        min_rate=d.get("min_rate"),
    )


def profile_of(d: dict[str, Any]) -> ChargingProfile:
    recurrency = d.get("recurrency")
    return ChargingProfile(
        id=int(d["id"]),
        stack_level=int(d["stack_level"]),
        purpose=Purpose(d["purpose"]),
        kind=Kind(d["kind"]),
        schedules=tuple(schedule_of(s) for s in d["schedules"]),
        recurrency=Recurrency(recurrency) if recurrency else None,
        valid_from=_dt(d.get("valid_from")),
        valid_to=_dt(d.get("valid_to")),
        transaction_id=d.get("transaction_id"),
        max_offline_duration=d.get("max_offline_duration"),
        invalid_after_offline_duration=d.get("invalid_after_offline_duration"),
        dyn_update_interval=d.get("dyn_update_interval"),
        dyn_update_time=_dt(d.get("dyn_update_time")),
    )


def _profile_values(item: InstalledProfile, report_id: int | None) -> dict[str, Any]:
    p = item.profile
    return {
        "station_id": item.station_id,
        "profile_id": p.id,
        "evse_id": item.evse_id,
        "stack_level": p.stack_level,
        "purpose": p.purpose.value,
        "kind": p.kind.value,
        "transaction_id": None if p.transaction_id is None else p.transaction_id[:64],
        "source": item.source.value,
        "limit_source": None if item.limit_source is None else item.limit_source[:20],
        "profile": plain(p),
        "installed_at": item.installed_at or datetime.now(UTC),
        "confirmed_at": item.confirmed_at,
        "report_id": report_id,
    }


def _installed(row: Any) -> InstalledProfile:
    return InstalledProfile(
        station_id=row.station_id,
        evse_id=int(row.evse_id),
        profile=profile_of(row.profile),
        source=ProfileSource(row.source),
        installed_at=row.installed_at,
        confirmed_at=row.confirmed_at,
        limit_source=row.limit_source,
    )


def _needs(row: Any) -> EvChargingNeeds | None:
    d = row.needs
    if not d:
        return None
    return EvChargingNeeds(
        station_id=row.station_id,
        evse_id=int(row.evse_id),
        requested_energy_transfer=d.get("requested_energy_transfer", ""),
        received_at=row.received_at,
        departure_time=_dt(d.get("departure_time")),
        energy_amount_wh=d.get("energy_amount_wh"),
        ev_min_current=d.get("ev_min_current"),
        ev_max_current=d.get("ev_max_current"),
        ev_max_voltage=d.get("ev_max_voltage"),
        ev_max_power=d.get("ev_max_power"),
        state_of_charge=d.get("state_of_charge"),
        max_schedule_tuples=d.get("max_schedule_tuples"),
        transaction_id=row.transaction_id,
        status=row.status,
        detail=row.detail,
    )


def _ev_schedule(row: Any) -> EvChargingSchedule | None:
    d = row.schedule
    if not d:
        return None
    return EvChargingSchedule(
        station_id=row.station_id,
        evse_id=int(row.evse_id),
        time_base=_dt(d["time_base"]) or row.schedule_received_at,
        schedule=schedule_of(d["schedule"]),
        received_at=row.schedule_received_at,
        selected_schedule_id=d.get("selected_schedule_id"),
    )
