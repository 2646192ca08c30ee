"""Pulling an eMSP partner's tokens as a CPO (OCPI 2.2.1 mod_tokens 12.1.2 Pull model:
"when a CPO ... wants to request the full list as a start-up of their system"): every
`ocpi_token_sync_interval` seconds the leading node looks for registered eMSP partners
with a tokens Sender interface from which Ampyre holds no token yet and fetches their
list once (again after `REPULL_AFTER` if that failed or brought nothing); an operator can
ask for a full pull of one partner at any time (REST). The same loop prunes roaming
authorization records older than `ocpi_exchange_retention_days` (hourly).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from ampyre.config import Settings
from ampyre.domain.ocpi import InterfaceRole, OcpiRole, Partner
from ampyre.domain.ocpi_tokens import StoredToken, TokenSource
from ampyre.domain.ocpi_tokens_parse import InvalidObject, parse_token
from ampyre.services.clock import utcnow
from ampyre.services.ocpi_port import OcpiCallFailed, OcpiClient
from ampyre.services.periodic import Periodic
from ampyre.services.roaming_ports import PartnersPort, RoamingTokenStore

log = logging.getLogger(__name__)

REPULL_AFTER: Final = 3600.0  # seconds before an empty or failed pull is tried again
PRUNE_EVERY: Final = 3600.0  # seconds between prunings of old authorization records


class TokenPuller:
    def __init__(
        self,
        store: RoamingTokenStore,
        partners: PartnersPort,
        client: OcpiClient,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        leads: Callable[[], bool] = lambda: True,
    ) -> None:
        self._store = store
        self._partners = partners
        self._client = client
        self._settings = settings
        self._clock = clock
        self._tried: dict[int, float] = {}  # partner id -> monotonic time of the last pull
        self._pruned: float | None = None
        self._loop = Periodic(
            "token pull from eMSP partners",
            self._pull,
            lambda: settings.ocpi_token_sync_interval,
            log=log,
            leads=leads,
        )

    async def start(self) -> None:
        self._loop.start()

    async def close(self) -> None:
        await self._loop.close()

    async def _pull(self) -> None:
        await self.pull_new()
        await self.prune()

    async def prune(self, force: bool = False) -> int:
        """Drop authorization records past the retention (at most hourly)."""
        now = time.monotonic()
        if not force and self._pruned is not None and now - self._pruned < PRUNE_EVERY:
            return 0
        self._pruned = now
        keep = timedelta(days=self._settings.ocpi_exchange_retention_days)
        dropped = await self._store.prune_authorizations(self._clock() - keep)
        if dropped:
            log.info("%d roaming authorization records pruned", dropped)
        return dropped

    async def pull_new(self) -> int:
        """Pull from each eMSP partner Ampyre holds no token of (yet); tokens pulled."""
        total = 0
        now = time.monotonic()
        for partner in await self._partners.registered_with(
            "tokens", InterfaceRole.SENDER, OcpiRole.EMSP
        ):
            last = self._tried.get(partner.id)
            if last is not None and now - last < REPULL_AFTER:
                continue
            if await self._store.count_tokens_of(partner.id):
                self._tried[partner.id] = now
                continue
            self._tried[partner.id] = now
            try:
                total += await self.pull(partner)
            except OcpiCallFailed as exc:
                log.warning("partner %s: could not pull tokens: %s", partner.id, exc.message)
        return total

    async def pull(self, partner: Partner) -> int:
        """Fetch every token of an eMSP partner (its Sender GET, mod_tokens 12.2.2.1) and
        hold it. Raises OcpiCallFailed."""
        url = partner.endpoint("tokens", InterfaceRole.SENDER)
        if url is None:
            return 0
        count = skipped = 0
        async for obj in self._client.get_all(partner, url):
            try:
                token = parse_token(obj)
            except InvalidObject as exc:
                skipped += 1
                log.warning("partner %s: token skipped: %s", partner.id, exc)
                continue
            if not partner.has_party(token.country_code, token.party_id):
                skipped += 1  # not theirs to give
                continue
            await self._store.save_token(
                StoredToken(token, TokenSource.PUSH, partner.id, self._clock())
            )
            count += 1
        log.info("partner %s: %d tokens pulled (%d skipped)", partner.id, count, skipped)
        return count
