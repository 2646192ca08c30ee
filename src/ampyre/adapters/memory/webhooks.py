"""MemoryWebhooks: the `WebhookStore` port part of MemoryStore (webhooks, their
deliveries and the claims on them, fan-out from the outbox), with the semantics of
adapters/db/webhooks.py that callers can observe (checked by tests/contract)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ampyre.adapters.memory.outbox import MemoryOutbox
from ampyre.adapters.memory.stations import _page
from ampyre.domain.events import Delivery, DeliveryStatus, Webhook
from ampyre.domain.models import Page
from ampyre.services.ports import StoreUnavailable


def _hook_copy(hook: Webhook) -> Webhook:
    return dataclasses.replace(hook, event_types=list(hook.event_types))


def _delivery_copy(d: Delivery) -> Delivery:
    return dataclasses.replace(d, payload=dict(d.payload))


class MemoryWebhooks(MemoryOutbox):
    def __init__(self) -> None:
        super().__init__()
        self.webhooks: dict[int, Webhook] = {}
        self.deliveries: dict[int, Delivery] = {}
        self._next_webhook = 1
        self._next_delivery = 1

    async def create_webhook(self, hook: Webhook) -> Webhook:
        self._write()
        hook_id = hook.id if hook.id is not None else self._next_webhook
        if hook_id in self.webhooks:
            raise KeyError(hook_id)
        self._next_webhook = max(self._next_webhook, hook_id + 1)
        created = hook.created_at or datetime.now(UTC)
        stored = dataclasses.replace(
            _hook_copy(hook), id=hook_id, created_at=created, updated_at=hook.updated_at or created
        )
        self.webhooks[hook_id] = stored
        return _hook_copy(stored)

    async def get_webhook(self, hook_id: int) -> Webhook | None:
        self._read()
        hook = self.webhooks.get(hook_id)
        return None if hook is None else _hook_copy(hook)

    async def list_webhooks(self) -> list[Webhook]:
        self._read()
        return [_hook_copy(self.webhooks[k]) for k in sorted(self.webhooks)]

    async def update_webhook(self, hook: Webhook) -> Webhook | None:
        self._write()
        if hook.id is None or hook.id not in self.webhooks:
            return None
        stored = dataclasses.replace(
            _hook_copy(hook),
            created_at=self.webhooks[hook.id].created_at,
            updated_at=hook.updated_at or datetime.now(UTC),
        )
        self.webhooks[hook.id] = stored
        return _hook_copy(stored)

    async def delete_webhook(self, hook_id: int) -> bool:
        self._write()
        if self.webhooks.pop(hook_id, None) is None:
            return False
        # ON DELETE CASCADE
        self.deliveries = {k: d for k, d in self.deliveries.items() if d.webhook_id != hook_id}
        return True

    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        self._write()
        now = datetime.now(UTC)
        for d in deliveries:
            if d.webhook_id not in self.webhooks:
                continue  # deleted after its deliveries were matched: the others are kept
            stored = dataclasses.replace(
                _delivery_copy(d),
                id=self._next_delivery,
                status=DeliveryStatus(d.status),
                created_at=d.created_at or now,
            )
            self._next_delivery += 1
            self.deliveries[stored.id] = stored

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        self._read()
        d = self.deliveries.get(delivery_id)
        return None if d is None else _delivery_copy(d)

    async def claim_deliveries(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[Delivery]:
        self._write()
        due = [
            d
            for d in self.deliveries.values()
            if d.status is DeliveryStatus.PENDING
            and d.next_attempt_at is not None
            and d.next_attempt_at <= now
            and (d.claimed_until is None or d.claimed_until <= now)
        ]
        due.sort(key=lambda d: (d.next_attempt_at or now, d.id))
        claimed = due[: max(0, limit)]
        for d in claimed:
            d.claimed_by, d.claimed_until = owner, now + lease
        return [_delivery_copy(d) for d in claimed]

    async def finish_delivery(self, delivery: Delivery, owner: str) -> bool:
        self._write()
        d = self.deliveries.get(delivery.id)
        if d is None or d.claimed_by != owner:
            return False
        self._set_outcome(d, delivery)
        return True

    async def release_deliveries(
        self, owner: str, delivery_ids: Sequence[int] | None = None
    ) -> None:
        self._write()
        for d in self.deliveries.values():
            if d.claimed_by == owner and (delivery_ids is None or d.id in delivery_ids):
                d.claimed_by, d.claimed_until = None, None

    async def queue_event_deliveries(
        self, consumer: str, position: int, to: int, deliveries: Sequence[Delivery]
    ) -> bool:
        self._write()
        if self.outbox_cursors.get(consumer) != position:
            return False
        missing = {d.webhook_id for d in deliveries} - self.webhooks.keys()
        if missing:  # the SQL store fails the transaction on its foreign key
            raise StoreUnavailable(f"unknown webhook(s) {sorted(missing)}")
        self.outbox_cursors[consumer] = to
        made = {(d.event_id, d.webhook_id) for d in self.deliveries.values()}
        await self.add_deliveries([d for d in deliveries if (d.event_id, d.webhook_id) not in made])
        return True

    async def webhook_page(self, limit: int, offset: int) -> Page:
        return _page(await self.list_webhooks(), limit, offset)

    async def update_delivery(self, delivery: Delivery) -> None:
        self._write()
        d = self.deliveries.get(delivery.id)
        if d is not None:
            self._set_outcome(d, delivery)

    @staticmethod
    def _set_outcome(d: Delivery, delivery: Delivery) -> None:
        """An outcome or a re-queue; either ends the claim."""
        d.claimed_by, d.claimed_until = None, None
        d.status = DeliveryStatus(delivery.status)
        d.attempts = delivery.attempts
        d.next_attempt_at = delivery.next_attempt_at
        d.last_status_code = delivery.last_status_code
        d.last_error = delivery.last_error
        d.delivered_at = delivery.delivered_at

    async def list_deliveries(
        self, hook_id: int, status: str | None, limit: int, offset: int
    ) -> Page:
        self._read()
        items = [
            d
            for d in self.deliveries.values()
            if d.webhook_id == hook_id and (status is None or d.status == status)
        ]
        items.sort(key=lambda d: (d.created_at or datetime.min.replace(tzinfo=UTC), d.id))
        items.reverse()  # newest first
        return _page([_delivery_copy(d) for d in items], limit, offset)
