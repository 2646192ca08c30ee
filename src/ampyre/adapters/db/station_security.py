"""Station credential changes (table station_security_changes) and the stations' security
columns (migration 0017), for services/station_security.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.database import Database
from ampyre.adapters.db.tables_security import station_security_changes as c
from ampyre.domain.models import Page
from ampyre.services.station_security_port import (
    OPEN,
    ChangeKind,
    ChangeStatus,
    SecurityChange,
)

_OPEN = [s.value for s in OPEN]


class StationSecuritySql:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_change(self, change: SecurityChange) -> SecurityChange:
        async with self._db.tx() as conn:
            change.id = (
                await conn.execute(
                    sa.insert(c)
                    .values(
                        station_id=change.station_id,
                        kind=change.kind.value,
                        target_profile=change.target_profile,
                        status=change.status.value,
                        requested_by=_clip(change.requested_by, 255),
                        station_status=_clip(change.station_status, 64),
                        detail=_clip(change.detail, 512),
                        requested_at=change.requested_at,
                    )
                    .returning(c.c.id)
                )
            ).scalar_one()
        return change

    async def settle(
        self,
        change_id: int,
        status: ChangeStatus,
        at: datetime,
        *,
        station_status: str | None = None,
        detail: str | None = None,
    ) -> bool:
        values: dict[str, Any] = {"status": status.value}
        if status is ChangeStatus.COMPLETED:
            values["completed_at"] = at
        else:
            values["answered_at"] = at
        if station_status is not None:
            values["station_status"] = _clip(station_status, 64)
        if detail is not None:
            values["detail"] = _clip(detail, 512)
        # An accepted change may still complete; a completed one is not re-answered.
        allowed = _OPEN if status is not ChangeStatus.ACCEPTED else [ChangeStatus.SENT.value]
        stmt = sa.update(c).where(c.c.id == change_id, c.c.status.in_(allowed)).values(values)
        async with self._db.tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def open_changes(self, station_id: str, kind: ChangeKind) -> list[SecurityChange]:
        stmt = (
            sa.select(c)
            .where(c.c.station_id == station_id, c.c.kind == kind.value, c.c.status.in_(_OPEN))
            .order_by(c.c.id)
        )
        async with self._db.tx() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_change(r) for r in rows]

    async def list_changes(self, station_id: str, limit: int, offset: int) -> Page:
        where = c.c.station_id == station_id
        select = sa.select(c).where(where).order_by(c.c.id.desc())
        count = sa.select(sa.func.count()).select_from(c).where(where)
        return await self._db.page(select, count, _change, limit, offset)

    async def _update_station(self, station_id: str, *where: Any, **values: Any) -> bool:
        s = t.stations
        values["updated_at"] = datetime.now(UTC)
        stmt = sa.update(s).where(s.c.id == station_id, *where).values(values)
        async with self._db.tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def set_pending_password(self, station_id: str, password_hash: str | None) -> None:
        await self._update_station(station_id, pending_password_hash=password_hash)

    async def promote_pending_password(self, station_id: str) -> bool:
        s = t.stations
        return await self._update_station(
            station_id,
            s.c.pending_password_hash.is_not(None),
            password_hash=s.c.pending_password_hash,
            pending_password_hash=None,
        )

    async def set_connection_profile(self, station_id: str, profile: int) -> None:
        s = t.stations
        async with self._db.tx() as conn:
            await conn.execute(
                sa.update(s).where(s.c.id == station_id).values(connection_profile=profile)
            )

    async def raise_configured_profile(self, station_id: str, profile: int) -> None:
        s = t.stations
        await self._update_station(
            station_id,
            sa.or_(s.c.security_profile.is_(None), s.c.security_profile < profile),
            security_profile=profile,
        )


def _clip(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


def _change(row: Any) -> SecurityChange:
    return SecurityChange(
        id=row.id,
        station_id=row.station_id,
        kind=ChangeKind(row.kind),
        status=ChangeStatus(row.status),
        requested_at=row.requested_at,
        target_profile=row.target_profile,
        requested_by=row.requested_by,
        station_status=row.station_status,
        detail=row.detail,
        answered_at=row.answered_at,
        completed_at=row.completed_at,
    )
