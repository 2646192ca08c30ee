"""Authorization, version-neutral: id tokens, local lists, caches, reservations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ampyre.config import Settings
from ampyre.domain.authz import AuthDecision, AuthStatus
from ampyre.services.clock import utcnow
from ampyre.services.commands import CommandRouter
from ampyre.services.ports import AuthStore


class AuthService:
    def __init__(
        self,
        store: AuthStore,
        router: CommandRouter,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._router = router
        self._settings = settings
        self._clock = clock

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def authorize(
        self, station_id: str, id_token: str, type_: str | None, evse_id: int | None = None
    ) -> AuthDecision:
        return AuthDecision(AuthStatus.UNKNOWN)
