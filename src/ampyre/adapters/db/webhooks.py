"""SqlStore part: webhooks and their deliveries (the WebhookStore port)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ampyre.adapters.db.parts import StorePart
from ampyre.domain.events import Delivery, Webhook
from ampyre.domain.models import Page


class WebhookSql(StorePart):
    async def create_webhook(self, hook: Webhook) -> Webhook:
        raise NotImplementedError

    async def get_webhook(self, hook_id: int) -> Webhook | None:
        raise NotImplementedError

    async def list_webhooks(self) -> list[Webhook]:
        raise NotImplementedError

    async def update_webhook(self, hook: Webhook) -> Webhook | None:
        raise NotImplementedError

    async def delete_webhook(self, hook_id: int) -> bool:
        raise NotImplementedError

    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        raise NotImplementedError

    async def due_deliveries(self, now: datetime, limit: int) -> list[Delivery]:
        raise NotImplementedError

    async def update_delivery(self, delivery: Delivery) -> None:
        raise NotImplementedError

    async def list_deliveries(
        self, hook_id: int, status: str | None, limit: int, offset: int
    ) -> Page:
        raise NotImplementedError
