"""Scheduled availability changes (`availability_changes`) and network-profile attempts
(`network_profiles`), migration 0011: the remote operations Ampyre follows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.database import Database
from ampyre.domain.models import Page
from ampyre.services.availability import APPLIED, SCHEDULED, AvailabilityChange
from ampyre.services.network_profiles import ProfileAttempt


class AvailabilitySql:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_change(self, change: AvailabilityChange) -> AvailabilityChange:
        a = t.availability_changes
        async with self._db.tx() as conn:
            change.id = (
                await conn.execute(
                    sa.insert(a)
                    .values(
                        station_id=change.station_id,
                        evse_id=change.evse_id,
                        connector_id=change.connector_id,
                        operative=change.operative,
                        state=change.state,
                        requested_at=change.requested_at,
                    )
                    .returning(a.c.id)
                )
            ).scalar_one()
        return change

    async def list_changes(self, station_id: str, limit: int, offset: int) -> Page:
        a = t.availability_changes
        where = a.c.station_id == station_id
        select = sa.select(a).where(where).order_by(a.c.requested_at.desc(), a.c.id.desc())
        count = sa.select(sa.func.count()).select_from(a).where(where)
        return await self._db.page(select, count, _change, limit, offset)

    async def mark_applied(self, change_id: int, at: datetime) -> None:
        a = t.availability_changes
        async with self._db.tx() as conn:
            await conn.execute(
                sa.update(a)
                .where(a.c.id == change_id, a.c.state == SCHEDULED)
                .values(state=APPLIED, applied_at=at)
            )


def _change(row: Any) -> AvailabilityChange:
    return AvailabilityChange(
        id=row.id,
        station_id=row.station_id,
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        operative=bool(row.operative),
        requested_at=row.requested_at,
        state=row.state,
        applied_at=row.applied_at,
    )


class NetworkProfilesSql:
    """SetNetworkProfile attempts in the `network_profiles` table (migration 0011)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_attempt(self, attempt: ProfileAttempt) -> ProfileAttempt:
        n = t.network_profiles
        async with self._db.tx() as conn:
            attempt.id = (
                await conn.execute(
                    sa.insert(n)
                    .values(
                        station_id=attempt.station_id,
                        slot=attempt.slot,
                        profile=attempt.profile,
                        status=attempt.status[:32],
                        station_status=(attempt.station_status or None)
                        and attempt.station_status[:64],
                        detail=(attempt.detail or None) and attempt.detail[:512],
                        requested_at=attempt.requested_at,
                    )
                    .returning(n.c.id)
                )
            ).scalar_one()
        return attempt

    async def list_attempts(self, station_id: str, limit: int, offset: int) -> Page:
        n = t.network_profiles
        where = n.c.station_id == station_id
        select = sa.select(n).where(where).order_by(n.c.requested_at.desc(), n.c.id.desc())
        count = sa.select(sa.func.count()).select_from(n).where(where)
        return await self._db.page(select, count, _attempt, limit, offset)


def _attempt(row: Any) -> ProfileAttempt:
    return ProfileAttempt(
        id=row.id,
        station_id=row.station_id,
        slot=row.slot,
        profile=dict(row.profile),
        status=row.status,
        station_status=row.station_status,
        detail=row.detail,
        requested_at=row.requested_at,
    )
