"""Transactions, version-neutral: recording, remote start/stop, silent transactions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ampyre.config import Settings
from ampyre.services.authz import AuthService
from ampyre.services.clock import utcnow
from ampyre.services.commands import CommandRouter
from ampyre.services.events import EventBus
from ampyre.services.ports import TransactionStore


class TransactionService:
    def __init__(
        self,
        store: TransactionStore,
        auth: AuthService,
        router: CommandRouter,
        events: EventBus,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._auth = auth
        self._router = router
        self._events = events
        self._settings = settings
        self._clock = clock

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass
