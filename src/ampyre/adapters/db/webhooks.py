"""SqlStore part: webhooks and their deliveries (the WebhookStore port).

`webhook_deliveries` is the outbox: a delivery row is written (status pending) before any
HTTP attempt, and every attempt's outcome updates the same row. Deleting a webhook
deletes its deliveries (foreign key ON DELETE CASCADE).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.parts import StorePart
from ampyre.domain.events import Delivery, DeliveryStatus, Webhook
from ampyre.domain.models import Page


class WebhookSql(StorePart):
    async def create_webhook(self, hook: Webhook) -> Webhook:
        w = t.webhooks
        now = datetime.now(UTC)
        values = _webhook_row(hook)
        values["created_at"] = hook.created_at or now
        values["updated_at"] = hook.updated_at or values["created_at"]
        if hook.id is not None:
            values["id"] = hook.id
        async with self._tx() as conn:
            row = (await conn.execute(sa.insert(w).values(values).returning(*w.columns))).one()
        return _webhook(row)

    async def get_webhook(self, hook_id: int) -> Webhook | None:
        w = t.webhooks
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(w).where(w.c.id == hook_id))).first()
        return None if row is None else _webhook(row)

    async def list_webhooks(self) -> list[Webhook]:
        w = t.webhooks
        async with self._tx() as conn:
            rows = (await conn.execute(sa.select(w).order_by(w.c.id))).all()
        return [_webhook(r) for r in rows]

    async def update_webhook(self, hook: Webhook) -> Webhook | None:
        if hook.id is None:
            return None
        w = t.webhooks
        values = _webhook_row(hook)
        values["updated_at"] = hook.updated_at or datetime.now(UTC)
        stmt = sa.update(w).where(w.c.id == hook.id).values(values).returning(*w.columns)
        async with self._tx() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _webhook(row)

    async def delete_webhook(self, hook_id: int) -> bool:
        w = t.webhooks
        async with self._tx() as conn:
            result = await conn.execute(sa.delete(w).where(w.c.id == hook_id))
        return bool(result.rowcount)

    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        now = datetime.now(UTC)
        rows = [
            {
                "webhook_id": d.webhook_id,
                "event_type": d.event_type,
                "payload": d.payload,
                "status": DeliveryStatus(d.status).value,
                "attempts": d.attempts,
                "next_attempt_at": d.next_attempt_at,
                "last_status_code": d.last_status_code,
                "last_error": d.last_error,
                "created_at": d.created_at or now,
                "delivered_at": d.delivered_at,
            }
            for d in deliveries
        ]
        try:
            async with self._tx() as conn:
                await conn.execute(sa.insert(t.webhook_deliveries), rows)
        except sa_exc.IntegrityError:
            # A webhook was deleted after its deliveries were matched: keep the others.
            w = t.webhooks
            wanted = {r["webhook_id"] for r in rows}
            async with self._tx() as conn:
                found = await conn.execute(sa.select(w.c.id).where(w.c.id.in_(wanted)))
                alive = set(found.scalars())
                rows = [r for r in rows if r["webhook_id"] in alive]
                if rows:
                    await conn.execute(sa.insert(t.webhook_deliveries), rows)

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        d = t.webhook_deliveries
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(d).where(d.c.id == delivery_id))).first()
        return None if row is None else _delivery(row)

    async def due_deliveries(self, now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries whose next attempt is due, the longest waiting first."""
        d = t.webhook_deliveries
        query = (
            sa.select(d)
            .where(d.c.status == DeliveryStatus.PENDING.value, d.c.next_attempt_at <= now)
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(max(0, limit))
        )
        async with self._tx() as conn:
            rows = (await conn.execute(query)).all()
        return [_delivery(r) for r in rows]

    async def update_delivery(self, delivery: Delivery) -> None:
        d = t.webhook_deliveries
        stmt = (
            sa.update(d)
            .where(d.c.id == delivery.id)
            .values(
                status=DeliveryStatus(delivery.status).value,
                attempts=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at,
                last_status_code=delivery.last_status_code,
                last_error=delivery.last_error,
                delivered_at=delivery.delivered_at,
            )
        )
        async with self._tx() as conn:
            await conn.execute(stmt)

    async def list_deliveries(
        self, hook_id: int, status: str | None, limit: int, offset: int
    ) -> Page:
        """Newest first."""
        d = t.webhook_deliveries
        query = (
            sa.select(d)
            .where(d.c.webhook_id == hook_id)
            .order_by(d.c.created_at.desc(), d.c.id.desc())
        )
        count = sa.select(sa.func.count()).select_from(d).where(d.c.webhook_id == hook_id)
        if status is not None:
            query = query.where(d.c.status == status)
            count = count.where(d.c.status == status)
        return await self._page(query, count, _delivery, limit, offset)


def _webhook_row(hook: Webhook) -> dict[str, Any]:
    return {
        "url": hook.url,
        "secret": hook.secret,
        "event_types": list(hook.event_types),
        "enabled": hook.enabled,
        "description": hook.description,
    }


def _webhook(row: Any) -> Webhook:
    values = dict(row._mapping)
    values["enabled"] = bool(values["enabled"])
    values["event_types"] = list(values["event_types"] or [])
    return Webhook(**values)


def _delivery(row: Any) -> Delivery:
    values = dict(row._mapping)
    values["status"] = DeliveryStatus(values["status"])
    values["payload"] = dict(values["payload"] or {})
    return Delivery(**values)
