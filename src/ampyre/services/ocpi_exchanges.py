"""The OCPI exchange log: every request we make to a partner and every request a known
partner makes to us, with the answer. Recording never waits for the database: exchanges
are queued and written in batches (FLUSH_INTERVAL); a full queue drops new entries and
counts them. The leader prunes entries older than ocpi_exchange_retention_days.

Bodies are kept up to ocpi_exchange_body_max bytes, with credentials tokens masked (a
Credentials object's `token`, at the top or in an envelope's `data`)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from ampyre.config import Settings
from ampyre.domain.models import Page
from ampyre.services.clock import utcnow
from ampyre.services.ocpi_port import Exchange, ExchangeStore
from ampyre.services.periodic import Periodic
from ampyre.services.ports import StoreUnavailable

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0
PRUNE_INTERVAL = 3600.0
QUEUE_MAX = 10_000
MASK = "***"


def mask_tokens(text: str) -> str:
    """`text` with the credentials token of a Credentials object masked (if it is one)."""
    if '"token"' not in text:
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    changed = False
    for holder in (value, value.get("data") if isinstance(value, dict) else None):
        if isinstance(holder, dict) and isinstance(holder.get("token"), str):
            holder["token"] = MASK
            changed = True
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) if changed else text


class ExchangeLog:
    def __init__(
        self,
        store: ExchangeStore,
        settings: Settings,
        leads: Callable[[], bool] = lambda: True,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._body_max = settings.ocpi_exchange_body_max
        self._retention = timedelta(days=settings.ocpi_exchange_retention_days)
        self._leads = leads
        self._clock = clock
        self._queue: list[Exchange] = []
        self._loop = Periodic("OCPI exchange log", self._round, FLUSH_INTERVAL, log=log)
        self._lock = asyncio.Lock()
        self._last_prune = float("-inf")
        self.dropped = 0

    def body(self, raw: bytes | str | None) -> str | None:
        """A body as it is kept: text, tokens masked, clipped to ocpi_exchange_body_max."""
        if raw is None or self._body_max == 0:
            return None
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if not text:
            return None
        if len(text) <= 64 * 1024:
            text = mask_tokens(text)
        elif '"token"' in text[:2048]:
            return f"<{len(text)} characters, not kept>"
        if len(text) > self._body_max:
            text = text[: self._body_max] + "..."
        return text

    def record(self, exchange: Exchange) -> None:
        if len(self._queue) >= QUEUE_MAX:
            self.dropped += 1
            return
        self._queue.append(exchange)
        if len(self._queue) >= 500:
            self._loop.wake()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._queue = self._queue, []
            if not batch:
                return
            try:
                await self._store.add_exchanges(batch)
            except StoreUnavailable as exc:
                log.warning("%d OCPI exchanges not logged: %s", len(batch), exc)

    async def list(self, partner_id: int | None, limit: int, offset: int) -> Page:
        await self.flush()
        return await self._store.list_exchanges(partner_id, limit, offset)

    async def prune(self) -> int:
        return await self._store.prune_exchanges(self._clock() - self._retention)

    async def start(self) -> None:
        self._loop.start()

    async def close(self) -> None:
        await self._loop.close()
        await self.flush()

    async def _round(self) -> None:
        await self.flush()
        now = time.monotonic()
        if self._leads() and now - self._last_prune >= PRUNE_INTERVAL:
            self._last_prune = now
            pruned = await self.prune()
            if pruned:
                log.info("pruned %d OCPI exchanges", pruned)
