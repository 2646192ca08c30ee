"""The operator audit trail in the `operator_audit` table (migration 0003)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.short_tx import short_tx
from ampyre.domain.models import Page
from ampyre.services.operator_audit import OperatorAction, OperatorActionFilter

PRUNE_CHUNK = 10_000


class OperatorAuditSql:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, action: OperatorAction) -> None:
        row = _row(action)
        async with short_tx(self._engine) as conn:
            await conn.execute(sa.insert(t.operator_audit).values(row))

    async def list(self, where: OperatorActionFilter, limit: int, offset: int) -> Page:
        a = t.operator_audit
        conditions: list[Any] = []
        if where.token_id is not None:
            conditions.append(a.c.token_id == where.token_id)
        if where.token_name is not None:
            conditions.append(a.c.token_name == where.token_name)
        if where.station_id is not None:
            conditions.append(a.c.station_id == where.station_id)
        if where.since is not None:
            conditions.append(a.c.created_at >= where.since)
        if where.until is not None:
            conditions.append(a.c.created_at < where.until)
        query = sa.select(a).where(*conditions).order_by(a.c.created_at.desc(), a.c.id.desc())
        count = sa.select(sa.func.count()).select_from(a).where(*conditions)
        limit, offset = max(0, limit), max(0, offset)
        async with short_tx(self._engine) as conn:
            total = (await conn.execute(count)).scalar_one()
            rows = (await conn.execute(query.limit(limit).offset(offset))).all() if limit else []
        return Page(items=[_action(r) for r in rows], total=int(total), limit=limit, offset=offset)

    async def prune(self, older_than: datetime) -> int:
        """Delete entries older than `older_than`, in chunks (short write locks)."""
        a = t.operator_audit
        chunk = (
            sa.select(a.c.id).where(a.c.created_at < older_than).limit(PRUNE_CHUNK)
        ).scalar_subquery()
        stmt = sa.delete(a).where(a.c.id.in_(chunk))
        deleted = 0
        while True:
            async with short_tx(self._engine) as conn:
                n = (await conn.execute(stmt)).rowcount
            deleted += n
            if n < PRUNE_CHUNK:
                return deleted


def _row(action: OperatorAction) -> dict[str, Any]:
    row = _fields(action)
    # PostgreSQL text cannot hold NUL (a path may carry %00): store what can be stored.
    return {k: v.replace("\x00", "\ufffd") if isinstance(v, str) else v for k, v in row.items()}


def _fields(action: OperatorAction) -> dict[str, Any]:
    return {
        "created_at": action.created_at,
        "token_id": action.token_id,
        "token_name": action.token_name,
        "role": action.role,
        "method": action.method,
        "target": action.target,
        "station_id": action.station_id,
        "summary": action.summary,
        "status_code": action.status_code,
        "outcome": action.outcome,
        "duration_ms": action.duration_ms,
    }


def _action(row: Any) -> OperatorAction:
    return OperatorAction(**dict(row._mapping))
