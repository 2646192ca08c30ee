"""Webhooks: domain events delivered to operators' URLs, signed, retried, recorded."""

from __future__ import annotations

from ampyre.config import Settings
from ampyre.services.events import EventBus
from ampyre.services.ports import WebhookStore


class WebhookService:
    def __init__(self, store: WebhookStore, events: EventBus, settings: Settings) -> None:
        self._store = store
        self._events = events
        self._settings = settings

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass
