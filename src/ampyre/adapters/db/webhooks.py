"""SqlStore part: webhooks and their deliveries (the WebhookStore port).

Deliveries are made from outbox events (adapters/db/outbox.py) by the webhook service's
fan-out, in the same transaction that moves its outbox cursor. A delivery row is written
(status pending) before any HTTP attempt; an attempt is made only under a claim (a lease:
`claimed_by` / `claimed_until`), and its outcome updates the same row and ends the claim.
Deleting a webhook deletes its deliveries (foreign key ON DELETE CASCADE).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.outbox import advance
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

    async def webhook_page(self, limit: int, offset: int) -> Page:
        w = t.webhooks
        count = sa.select(sa.func.count()).select_from(w)
        return await self._page(sa.select(w).order_by(w.c.id), count, _webhook, limit, offset)

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
        rows = [_delivery_row(d) for d in deliveries]
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

    async def queue_event_deliveries(
        self, consumer: str, position: int, to: int, deliveries: Sequence[Delivery]
    ) -> bool:
        """See the WebhookStore port. A delivery already made for the same (event,
        webhook) is not made again (unique index), whatever happens to the cursor."""
        d = t.webhook_deliveries
        rows = [_delivery_row(x) for x in deliveries]
        insert = self._insert(d).on_conflict_do_nothing(
            index_elements=[d.c.event_id, d.c.webhook_id]
        )
        async with self._tx() as conn:
            if not await advance(conn, consumer, position, to):
                return False
            if rows:
                await conn.execute(insert, rows)
        return True

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        d = t.webhook_deliveries
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(d).where(d.c.id == delivery_id))).first()
        return None if row is None else _delivery(row)

    async def claim_deliveries(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[Delivery]:
        """Take up to `limit` due pending deliveries for `owner` until `now + lease`, the
        longest waiting first. A claimed delivery is not due for anyone else until its
        lease runs out, so several processes share the work without sending one twice.

        PostgreSQL: the rows are locked with FOR UPDATE SKIP LOCKED (a claimer never waits
        for, nor takes, rows another is claiming). SQLite has one writer at a time: the
        single UPDATE is atomic there."""
        d = t.webhook_deliveries
        due = (
            sa.select(d.c.id)
            .where(
                d.c.status == DeliveryStatus.PENDING.value,
                d.c.next_attempt_at <= now,
                sa.or_(d.c.claimed_until.is_(None), d.c.claimed_until <= now),
            )
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(max(0, limit))
        )
        if self._dialect_name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        stmt = (
            sa.update(d)
            .where(d.c.id.in_(due.scalar_subquery()))
            .values(claimed_by=owner, claimed_until=now + lease)
            .returning(*d.columns)
        )
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).all()
        claimed = [_delivery(r) for r in rows]
        claimed.sort(key=lambda x: (x.next_attempt_at or now, x.id))
        return claimed

    async def finish_delivery(self, delivery: Delivery, owner: str) -> bool:
        """Record the outcome of `owner`'s attempt and end its claim. False (nothing
        written) if the claim is no longer `owner`'s: its lease ran out and another
        process took the delivery, whose record then counts."""
        d = t.webhook_deliveries
        stmt = (
            sa.update(d)
            .where(d.c.id == delivery.id, d.c.claimed_by == owner)
            .values(**_outcome(delivery), claimed_by=None, claimed_until=None)
        )
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def release_deliveries(
        self, owner: str, delivery_ids: Sequence[int] | None = None
    ) -> None:
        """End `owner`'s claims (all of them with None) without an outcome: attempts
        interrupted by a shutdown are due again at once."""
        if delivery_ids is not None and not delivery_ids:
            return
        d = t.webhook_deliveries
        stmt = sa.update(d).where(d.c.claimed_by == owner)
        if delivery_ids is not None:
            stmt = stmt.where(d.c.id.in_(list(delivery_ids)))
        async with self._tx() as conn:
            await conn.execute(stmt.values(claimed_by=None, claimed_until=None))

    async def update_delivery(self, delivery: Delivery) -> None:
        """Set a delivery's state from the API (a re-queue); ends any claim on it."""
        d = t.webhook_deliveries
        stmt = (
            sa.update(d)
            .where(d.c.id == delivery.id)
            .values(**_outcome(delivery), claimed_by=None, claimed_until=None)
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


def _delivery_row(d: Delivery) -> dict[str, Any]:
    return {
        "webhook_id": d.webhook_id,
        "event_type": d.event_type,
        "payload": d.payload,
        "status": DeliveryStatus(d.status).value,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "created_at": d.created_at or datetime.now(UTC),
        "delivered_at": d.delivered_at,
        "event_id": d.event_id,
    }


def _outcome(delivery: Delivery) -> dict[str, Any]:
    return {
        "status": DeliveryStatus(delivery.status).value,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "delivered_at": delivery.delivered_at,
    }


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
