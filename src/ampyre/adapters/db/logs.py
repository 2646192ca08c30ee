"""Repository: log requests and their uploaded files' metadata (services/logs.py LogStore)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.database import Database
from ampyre.adapters.db.outbox import outbox_steps
from ampyre.domain.events import DomainEvent
from ampyre.domain.models import Page
from ampyre.services.logs import ACTIVE, LogRequest, LogStatus, LogType, StoredFile

_L = t.log_requests
_MUTABLE = ("status", "station_status", "station_answer", "filename", "detail", "updated_at")


class LogsSql:
    def __init__(self, db: Database, on_events: Callable[[], None] = lambda: None) -> None:
        self._db = db
        self._on_events = on_events  # events were committed (consumers hear at once)

    async def _events(self, conn: AsyncConnection, events: Sequence[DomainEvent]) -> None:
        for step, params in outbox_steps(
            events, events[-1].at, self._db.dialect_name, self._db.paramstyle
        ):
            if isinstance(step, str):
                await conn.exec_driver_sql(step, params)
            else:
                await conn.execute(step, params)

    async def create_log_request(self, request: LogRequest, token_hash: str) -> LogRequest:
        values = {
            "station_id": request.station_id,
            "ocpp_version": request.ocpp_version,
            "log_type": request.log_type.value,
            "token_hash": token_hash,
            "status": request.status.value,
            "params": request.params,
            "requested_at": request.requested_at,
            "updated_at": request.updated_at,
        }
        async with self._db.tx() as conn:
            row = (await conn.execute(sa.insert(_L).values(values).returning(*_L.c))).one()
        return _request(row)

    async def update_log_request(
        self, request: LogRequest, events: Sequence[DomainEvent] = ()
    ) -> None:
        values = {c: getattr(request, c) for c in _MUTABLE}
        values["status"] = request.status.value
        async with self._db.tx() as conn:
            await conn.execute(sa.update(_L).where(_L.c.id == request.id).values(values))
            if events:
                await self._events(conn, events)
        if events:
            self._on_events()

    async def settle_log_request(
        self,
        request_id: int,
        status: LogStatus,
        station_answer: str | None,
        filename: str | None,
        detail: str | None,
        at: datetime,
    ) -> LogRequest | None:
        waiting = _L.c.status == LogStatus.REQUESTED.value
        stmt = (
            sa.update(_L)
            .where(_L.c.id == request_id)
            .values(
                status=sa.case((waiting, status.value), else_=_L.c.status),
                station_answer=station_answer,
                filename=sa.func.coalesce(filename, _L.c.filename),
                detail=detail,
                updated_at=at,
            )
            .returning(*_L.c)
        )
        async with self._db.tx() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _request(row)

    async def get_log_request(self, request_id: int) -> LogRequest | None:
        if not -(2**31) <= request_id < 2**31:
            return None
        return await self._one(_L.c.id == request_id)

    async def find_upload(self, token_hash: str) -> LogRequest | None:
        return await self._one(sa.and_(_L.c.token_hash == token_hash, _L.c.stored_as.is_(None)))

    async def latest_active(self, station_id: str, log_type: LogType) -> LogRequest | None:
        query = (
            sa.select(_L)
            .where(
                _L.c.station_id == station_id,
                _L.c.log_type == log_type.value,
                _L.c.status.in_([s.value for s in ACTIVE]),
            )
            .order_by(_L.c.id.desc())
            .limit(1)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _request(row)

    async def delete_log_request(self, request_id: int) -> bool:
        async with self._db.tx() as conn:
            result = await conn.execute(sa.delete(_L).where(_L.c.id == request_id))
        return bool(result.rowcount)

    async def _one(self, where: sa.ColumnElement[bool]) -> LogRequest | None:
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(_L).where(where))).first()
        return None if row is None else _request(row)

    async def attach_file(
        self,
        request_id: int,
        file: StoredFile,
        content_type: str | None,
        at: datetime,
        events: Sequence[DomainEvent] = (),
    ) -> bool:
        stmt = (
            sa.update(_L)
            .where(_L.c.id == request_id, _L.c.stored_as.is_(None))
            .values(
                stored_as=file.stored_as,
                size=file.size,
                sha256=file.sha256,
                content_type=content_type,
                received_at=at,
                updated_at=at,
            )
        )
        async with self._db.tx() as conn:
            result = await conn.execute(stmt)
            attached = bool(result.rowcount)
            if attached and events:
                await self._events(conn, events)
        if attached and events:
            self._on_events()
        return attached

    async def list_log_requests(
        self, station_id: str | None, with_file: bool | None, limit: int, offset: int
    ) -> Page:
        where: list[sa.ColumnElement[bool]] = []
        if station_id is not None:
            where.append(_L.c.station_id == station_id)
        if with_file is not None:
            where.append(_L.c.stored_as.is_not(None) if with_file else _L.c.stored_as.is_(None))
        query = sa.select(_L).where(*where).order_by(_L.c.id.desc())
        count = sa.select(sa.func.count()).select_from(_L).where(*where)
        return await self._db.page(query, count, _request, limit, offset)


def _request(row: Any) -> LogRequest:
    m = row._mapping
    return LogRequest(
        id=m["id"],
        station_id=m["station_id"],
        ocpp_version=m["ocpp_version"],
        log_type=LogType(m["log_type"]),
        status=LogStatus(m["status"]),
        requested_at=m["requested_at"],
        updated_at=m["updated_at"],
        params=dict(m["params"] or {}),
        station_status=m["station_status"],
        station_answer=m["station_answer"],
        filename=m["filename"],
        detail=m["detail"],
        stored_as=m["stored_as"],
        size=m["size"],
        sha256=m["sha256"],
        content_type=m["content_type"],
        received_at=m["received_at"],
    )
