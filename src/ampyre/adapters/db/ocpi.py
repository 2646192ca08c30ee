"""OCPI partners, the exchange log and the push queue in SQL (the PartnerStore,
ExchangeStore and PushStore ports of services/ocpi_port.py). Short transactions.

The push queue is shared by every process on the database: a row is sent only under a
claim (`claimed_by` / `claimed_until`, a lease), and only the first pending row of its
(partner, object_key) can be claimed, so the requests about one object reach the partner
in the order they were queued, whichever process sends them. PostgreSQL locks the rows
it claims with FOR UPDATE SKIP LOCKED; SQLite has one writer, the UPDATE is atomic.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ampyre.adapters.db.database import Database
from ampyre.adapters.db.tables_ocpi import ocpi_exchanges, ocpi_partners, ocpi_push_queue
from ampyre.domain.models import Page
from ampyre.domain.ocpi import (
    Endpoint,
    InterfaceRole,
    OcpiRole,
    Partner,
    PartnerStatus,
    PartyRole,
)
from ampyre.services.ocpi_port import (
    Exchange,
    PartnerUpdate,
    PushItem,
    PushOutcome,
    PushStatus,
)

_SUPERSEDED = ("PUT", "PATCH")


class OcpiSql:
    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------------ partners

    async def add_partner(
        self,
        name: str,
        versions_url: str | None,
        token_out: str | None,
        token_in_hash: str,
        now: datetime,
    ) -> Partner:
        p = ocpi_partners
        values: dict[str, Any] = {
            "name": name,
            "status": PartnerStatus.PENDING.value,
            "versions_url": versions_url,
            "endpoints": [],
            "roles": [],
            "token_in_hash": token_in_hash,
            "token_out": token_out,
            "created_at": now,
            "updated_at": now,
        }
        async with self._db.tx() as conn:
            row = (await conn.execute(sa.insert(p).values(values).returning(*p.columns))).one()
        return _partner(row)

    async def get_partner(self, partner_id: int) -> Partner | None:
        p = ocpi_partners
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(p).where(p.c.id == partner_id))).first()
        return None if row is None else _partner(row)

    async def list_partners(self) -> list[Partner]:
        p = ocpi_partners
        async with self._db.read() as conn:
            rows = (await conn.execute(sa.select(p).order_by(p.c.id))).all()
        return [_partner(r) for r in rows]

    async def partner_by_token_hash(self, token_hash: str) -> tuple[Partner, bool] | None:
        p = ocpi_partners
        query = sa.select(p).where(
            sa.or_(p.c.token_in_hash == token_hash, p.c.token_in_next_hash == token_hash)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return _partner(row), row.token_in_hash == token_hash

    async def update_partner(
        self, partner_id: int, change: PartnerUpdate, now: datetime
    ) -> Partner | None:
        p = ocpi_partners
        values: dict[str, Any] = {"updated_at": now}
        for name in (
            "name",
            "versions_url",
            "version",
            "registered_at",
            "token_out",
            "token_in_hash",
            "token_in_next_hash",
            "last_error",
        ):
            value = getattr(change, name)
            if value is not None:
                values[name] = value
        if change.status is not None:
            values["status"] = change.status.value
        if change.endpoints is not None:
            values["endpoints"] = [_endpoint_json(e) for e in change.endpoints]
        if change.roles is not None:
            values["roles"] = [_role_json(r) for r in change.roles]
        for name in change.clear:
            values[name] = [] if name in ("endpoints", "roles") else None
        stmt = sa.update(p).where(p.c.id == partner_id).values(values).returning(*p.columns)
        async with self._db.tx() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _partner(row)

    async def delete_partner(self, partner_id: int) -> bool:
        p, q = ocpi_partners, ocpi_push_queue
        async with self._db.tx() as conn:
            # SQLite enforces the foreign key only with PRAGMA foreign_keys: delete here too.
            await conn.execute(sa.delete(q).where(q.c.partner_id == partner_id))
            result = await conn.execute(sa.delete(p).where(p.c.id == partner_id))
        return bool(result.rowcount)

    # ------------------------------------------------------------------ exchange log

    async def add_exchanges(self, exchanges: Sequence[Exchange]) -> None:
        if not exchanges:
            return
        rows = [
            {
                "partner_id": x.partner_id,
                "direction": x.direction,
                "method": x.method[:8],
                "url": x.url,
                "http_status": x.http_status,
                "status_code": x.status_code,
                "duration_ms": x.duration_ms,
                "error": x.error,
                "request_id": (x.request_id or "")[:64] or None,
                "correlation_id": (x.correlation_id or "")[:64] or None,
                "request_body": x.request_body,
                "response_body": x.response_body,
                "created_at": x.created_at,
            }
            for x in exchanges
        ]
        async with self._db.tx() as conn:
            await conn.execute(sa.insert(ocpi_exchanges), rows)

    async def list_exchanges(self, partner_id: int | None, limit: int, offset: int) -> Page:
        e = ocpi_exchanges
        query = sa.select(e).order_by(e.c.id.desc())
        count = sa.select(sa.func.count()).select_from(e)
        if partner_id is not None:
            query = query.where(e.c.partner_id == partner_id)
            count = count.where(e.c.partner_id == partner_id)
        return await self._db.page(query, count, _exchange, limit, offset)

    async def prune_exchanges(self, older_than: datetime) -> int:
        e = ocpi_exchanges
        async with self._db.tx() as conn:
            result = await conn.execute(sa.delete(e).where(e.c.created_at < older_than))
        return int(result.rowcount or 0)

    # ------------------------------------------------------------------ push queue

    async def add_push(
        self,
        partner_id: int,
        method: str,
        url: str,
        body: Any,
        object_key: str,
        now: datetime,
        *,
        supersede: bool,
        due: datetime | None = None,
    ) -> int:
        q = ocpi_push_queue
        async with self._db.tx() as conn:
            if supersede:
                await conn.execute(
                    sa.delete(q).where(
                        q.c.partner_id == partner_id,
                        q.c.object_key == object_key,
                        q.c.status == PushStatus.PENDING.value,
                        q.c.method.in_(_SUPERSEDED),
                        sa.or_(q.c.claimed_until.is_(None), q.c.claimed_until <= now),
                    )
                )
            row = (
                await conn.execute(
                    sa.insert(q)
                    .values(
                        partner_id=partner_id,
                        method=method,
                        url=url,
                        body=body,
                        object_key=object_key,
                        status=PushStatus.PENDING.value,
                        attempts=0,
                        next_attempt_at=now if due is None else due,
                        created_at=now,
                    )
                    .returning(q.c.id)
                )
            ).one()
        return int(row[0])

    async def claim_pushes(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[PushItem]:
        q = ocpi_push_queue
        earlier = ocpi_push_queue.alias("earlier")
        blocked = (
            sa.select(earlier.c.id)
            .where(
                earlier.c.partner_id == q.c.partner_id,
                earlier.c.object_key == q.c.object_key,
                earlier.c.status == PushStatus.PENDING.value,
                earlier.c.id < q.c.id,
            )
            .exists()
        )
        due = (
            sa.select(q.c.id)
            .where(
                q.c.status == PushStatus.PENDING.value,
                q.c.next_attempt_at <= now,
                sa.or_(q.c.claimed_until.is_(None), q.c.claimed_until <= now),
                ~blocked,
            )
            .order_by(q.c.next_attempt_at, q.c.id)
            .limit(max(0, limit))
        )
        if self._db.dialect_name == "postgresql":
            due = due.with_for_update(skip_locked=True, of=q)
        stmt = (
            sa.update(q)
            .where(q.c.id.in_(due.scalar_subquery()))
            .values(claimed_by=owner, claimed_until=now + lease)
            .returning(*q.columns)
        )
        async with self._db.tx() as conn:
            rows = (await conn.execute(stmt)).all()
        items = [_push(r) for r in rows]
        items.sort(key=lambda x: (x.next_attempt_at, x.id))
        return items

    async def push_delivered(self, item_id: int, owner: str) -> bool:
        q = ocpi_push_queue
        async with self._db.tx() as conn:
            result = await conn.execute(
                sa.delete(q).where(q.c.id == item_id, q.c.claimed_by == owner)
            )
        return bool(result.rowcount)

    async def push_attempted(self, item_id: int, owner: str, outcome: PushOutcome) -> bool:
        q = ocpi_push_queue
        values: dict[str, Any] = {
            "attempts": outcome.attempts,
            "last_http_status": outcome.http_status,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
            "claimed_by": None,
            "claimed_until": None,
        }
        if outcome.failed:
            values["status"] = PushStatus.FAILED.value
        if outcome.retry_at is not None:
            values["next_attempt_at"] = outcome.retry_at
        stmt = sa.update(q).where(q.c.id == item_id, q.c.claimed_by == owner).values(values)
        async with self._db.tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def release_pushes(self, owner: str) -> None:
        q = ocpi_push_queue
        async with self._db.tx() as conn:
            await conn.execute(
                sa.update(q)
                .where(q.c.claimed_by == owner)
                .values(claimed_by=None, claimed_until=None)
            )

    async def get_push(self, item_id: int) -> PushItem | None:
        q = ocpi_push_queue
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(q).where(q.c.id == item_id))).first()
        return None if row is None else _push(row)

    async def list_pushes(
        self, partner_id: int | None, status: PushStatus | None, limit: int, offset: int
    ) -> Page:
        q = ocpi_push_queue
        query = sa.select(q).order_by(q.c.id)
        count = sa.select(sa.func.count()).select_from(q)
        if partner_id is not None:
            query = query.where(q.c.partner_id == partner_id)
            count = count.where(q.c.partner_id == partner_id)
        if status is not None:
            query = query.where(q.c.status == status.value)
            count = count.where(q.c.status == status.value)
        return await self._db.page(query, count, _push, limit, offset)

    async def retry_push(self, item_id: int, now: datetime) -> PushItem | None:
        q = ocpi_push_queue
        stmt = (
            sa.update(q)
            .where(q.c.id == item_id, q.c.status == PushStatus.FAILED.value)
            .values(
                status=PushStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                claimed_by=None,
                claimed_until=None,
            )
            .returning(*q.columns)
        )
        async with self._db.tx() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _push(row)

    async def delete_push(self, item_id: int) -> bool:
        q = ocpi_push_queue
        async with self._db.tx() as conn:
            result = await conn.execute(sa.delete(q).where(q.c.id == item_id))
        return bool(result.rowcount)

    async def drop_partner_pushes(self, partner_id: int) -> int:
        q = ocpi_push_queue
        async with self._db.tx() as conn:
            result = await conn.execute(
                sa.delete(q).where(
                    q.c.partner_id == partner_id, q.c.status == PushStatus.PENDING.value
                )
            )
        return int(result.rowcount or 0)

    async def push_counts(self) -> dict[int, tuple[int, int]]:
        q = ocpi_push_queue
        query = sa.select(q.c.partner_id, q.c.status, sa.func.count()).group_by(
            q.c.partner_id, q.c.status
        )
        counts: dict[int, tuple[int, int]] = {}
        async with self._db.read() as conn:
            for partner_id, status, n in (await conn.execute(query)).all():
                pending, failed = counts.get(int(partner_id), (0, 0))
                if status == PushStatus.PENDING.value:
                    pending += int(n)
                else:
                    failed += int(n)
                counts[int(partner_id)] = (pending, failed)
        return counts


def _endpoint_json(e: Endpoint) -> dict[str, Any]:
    return {"identifier": e.identifier, "role": e.role.value, "url": e.url}


def _role_json(r: PartyRole) -> dict[str, Any]:
    return {
        "role": r.role.value,
        "country_code": r.country_code,
        "party_id": r.party_id,
        "name": r.name,
        "website": r.website,
    }


def _partner(row: Any) -> Partner:
    return Partner(
        id=int(row.id),
        name=row.name,
        status=PartnerStatus(row.status),
        versions_url=row.versions_url,
        version=row.version,
        endpoints=tuple(
            Endpoint(e["identifier"], InterfaceRole(e["role"]), e["url"])
            for e in (row.endpoints or [])
        ),
        roles=tuple(
            PartyRole(
                OcpiRole(r["role"]),
                r["country_code"],
                r["party_id"],
                r.get("name"),
                r.get("website"),
            )
            for r in (row.roles or [])
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
        registered_at=row.registered_at,
        last_error=row.last_error,
        token_out=row.token_out,
    )


def _exchange(row: Any) -> Exchange:
    return Exchange(**dict(row._mapping))


def _push(row: Any) -> PushItem:
    values = dict(row._mapping)
    values.pop("claimed_until", None)
    values["status"] = PushStatus(values["status"])
    return PushItem(**values)
