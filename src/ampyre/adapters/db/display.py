"""Repository: display messages, multi-part requests (GetDisplayMessages,
CustomerInformation) and customer information parts (services/display.py DisplayStore,
services/customer.py CustomerStore)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.database import Database
from ampyre.services.customer import CustomerPart
from ampyre.services.display import DisplayMessage
from ampyre.services.display_requests import PartKind, PartRequest, PartStatus

_R = t.part_requests
_M = t.display_messages
_P = t.customer_info_parts
_INT32 = 2**31


def _int32(value: int) -> bool:
    return -_INT32 <= value < _INT32


class DisplaySql:
    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------------ part requests

    async def create_part_request(self, request: PartRequest) -> PartRequest:
        values = {
            "station_id": request.station_id,
            "kind": request.kind.value,
            "status": request.status.value,
            "params": request.params,
            "parts": 0,
            "requested_at": request.requested_at,
        }
        async with self._db.tx() as conn:
            row = (await conn.execute(sa.insert(_R).values(values).returning(*_R.c))).one()
        return _part_request(row)

    async def get_part_request(self, request_id: int) -> PartRequest | None:
        if not _int32(request_id):
            return None
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(_R).where(_R.c.id == request_id))).first()
        return None if row is None else _part_request(row)

    async def update_part_request(self, request: PartRequest) -> None:
        values = {
            "status": request.status.value,
            "station_answer": request.station_answer,
            "parts": request.parts,
            "last_part_at": request.last_part_at,
            "finished_at": request.finished_at,
            "detail": request.detail,
        }
        async with self._db.tx() as conn:
            await conn.execute(sa.update(_R).where(_R.c.id == request.id).values(values))

    async def settle_part_request(
        self,
        request_id: int,
        status: PartStatus,
        station_answer: str | None,
        detail: str | None,
        finished_at: datetime | None,
    ) -> PartRequest | None:
        waiting = _R.c.status == PartStatus.REQUESTED.value
        stmt = (
            sa.update(_R)
            .where(_R.c.id == request_id)
            .values(
                station_answer=station_answer,
                status=sa.case((waiting, status.value), else_=_R.c.status),
                detail=sa.case((waiting, detail), else_=_R.c.detail),
                finished_at=sa.case(
                    (waiting, sa.bindparam("finished", finished_at, type_=t.UtcDateTime)),
                    else_=_R.c.finished_at,
                ),
            )
            .returning(*_R.c)
        )
        async with self._db.tx() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _part_request(row)

    async def expire_part_requests(self, before: datetime, now: datetime) -> int:
        last = sa.func.coalesce(_R.c.last_part_at, _R.c.requested_at)
        stmt = (
            sa.update(_R)
            .where(_R.c.status == PartStatus.ACCEPTED.value, last < before)
            .values(
                status=PartStatus.INCOMPLETE.value,
                finished_at=now,
                detail="the station stopped sending parts before the last one",
            )
        )
        async with self._db.tx() as conn:
            result = await conn.execute(stmt)
        return int(result.rowcount or 0)

    async def list_part_requests(
        self, kind: PartKind, station_id: str | None, limit: int
    ) -> list[PartRequest]:
        query = sa.select(_R).where(_R.c.kind == kind.value)
        if station_id is not None:
            query = query.where(_R.c.station_id == station_id)
        query = query.order_by(_R.c.id.desc()).limit(max(0, limit))
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_part_request(r) for r in rows]

    async def delete_part_request(self, request_id: int) -> bool:
        async with self._db.tx() as conn:
            # Explicitly as well as ON DELETE CASCADE (SQLite may not enforce it).
            await conn.execute(sa.delete(_P).where(_P.c.request_id == request_id))
            result = await conn.execute(sa.delete(_R).where(_R.c.id == request_id))
        return bool(result.rowcount)

    # ------------------------------------------------------------------ display messages

    async def put_display_message(self, message: DisplayMessage) -> None:
        values = {
            "station_id": message.station_id,
            "message_id": message.message_id,
            "priority": message.priority[:16],
            "state": message.state[:16] if message.state else None,
            "start_at": message.start_at,
            "end_at": message.end_at,
            "transaction_id": message.transaction_id[:36] if message.transaction_id else None,
            "format": message.format[:8],
            "language": message.language[:8] if message.language else None,
            "content": message.content[:1024],
            "source": message.source,
            "request_id": message.request_id,
            "updated_at": message.updated_at,
        }
        stmt = self._db.insert(_M).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_M.c.station_id, _M.c.message_id],
            set_={k: stmt.excluded[k] for k in values if k not in ("station_id", "message_id")},
        )
        async with self._db.tx() as conn:
            await conn.execute(stmt)

    async def delete_display_message(self, station_id: str, message_id: int) -> bool:
        if not _int32(message_id):
            return False
        stmt = sa.delete(_M).where(_M.c.station_id == station_id, _M.c.message_id == message_id)
        async with self._db.tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def list_display_messages(self, station_id: str) -> list[DisplayMessage]:
        query = sa.select(_M).where(_M.c.station_id == station_id).order_by(_M.c.message_id)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_message(r) for r in rows]

    async def keep_reported(self, station_id: str, request_id: int) -> int:
        stmt = sa.delete(_M).where(
            _M.c.station_id == station_id,
            sa.or_(_M.c.request_id.is_(None), _M.c.request_id != request_id),
        )
        async with self._db.tx() as conn:
            result = await conn.execute(stmt)
        return int(result.rowcount or 0)

    async def clear_display_messages(self, station_id: str) -> int:
        async with self._db.tx() as conn:
            result = await conn.execute(sa.delete(_M).where(_M.c.station_id == station_id))
        return int(result.rowcount or 0)

    # ------------------------------------------------------------------ customer parts

    async def add_customer_part(self, request_id: int, part: CustomerPart) -> bool:
        stmt = (
            self._db.insert(_P)
            .values(
                request_id=request_id,
                seq_no=part.seq_no,
                data=part.data,
                tbc=part.tbc,
                generated_at=part.generated_at,
            )
            .on_conflict_do_nothing(index_elements=[_P.c.request_id, _P.c.seq_no])
        )
        async with self._db.tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def customer_parts(self, request_id: int) -> list[CustomerPart]:
        query = sa.select(_P).where(_P.c.request_id == request_id).order_by(_P.c.seq_no)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [CustomerPart(r.seq_no, r.data, bool(r.tbc), r.generated_at) for r in rows]


def _part_request(row: Any) -> PartRequest:
    m = row._mapping
    return PartRequest(
        id=m["id"],
        station_id=m["station_id"],
        kind=PartKind(m["kind"]),
        status=PartStatus(m["status"]),
        requested_at=m["requested_at"],
        params=dict(m["params"] or {}),
        station_answer=m["station_answer"],
        parts=m["parts"],
        last_part_at=m["last_part_at"],
        finished_at=m["finished_at"],
        detail=m["detail"],
    )


def _message(row: Any) -> DisplayMessage:
    m = row._mapping
    return DisplayMessage(
        station_id=m["station_id"],
        message_id=m["message_id"],
        priority=m["priority"],
        content=m["content"],
        format=m["format"],
        language=m["language"],
        state=m["state"],
        start_at=m["start_at"],
        end_at=m["end_at"],
        transaction_id=m["transaction_id"],
        source=m["source"],
        request_id=m["request_id"],
        updated_at=m["updated_at"],
    )
