"""The durable OCPI push queue: what we push to partners (Client Owned Objects PUT/PATCH,
CDR POSTs, command results) is written to the database first and sent by a delivery loop
on every process, under claims (adapters/db/ocpi.py), so several nodes share the work.

Order: the requests about one object (partner, object_key) are sent one at a time, in
the order they were queued; a queued PUT or DELETE replaces the queued PUT/PATCH rows of
its object that no one is sending yet (the last state wins; order still holds).

Retries: a network error, a timeout, HTTP 5xx/408/429 or an OCPI 3xxx answer is tried
again after ocpi_push_backoff seconds, doubling up to ocpi_push_backoff_max, at most
ocpi_push_max_attempts times. A 2xxx answer (the partner refuses the request) or any
other HTTP error is not retried. Both leave the row as failed, visible in the REST API
(GET /api/v1/ocpi/push-queue) where an operator may retry or delete it.

OCPI 2.2.1 transport_and_format 4.1.7 ("Offline behaviour") says pushes SHOULD NOT be
queued while the other side can GET to catch up; we keep a bounded, ordered retry
anyway so a short outage does not cost a full re-sync, and the receiver can still pull.

Unknown objects: a receiver that does not know the object a request is about (OCPI 2003
"Unknown Location", or HTTP 404) gets the whole object instead, once, when the module
that owns the object key registered a fallback (`on_unknown_object`; the Location of an
EVSE status PATCH, services/locations.py). Only the delivery loop learns the answer (on
whichever node sent it) and only the owning module knows what "the whole object" is, so
the decision sits here and the object is built there. The replacement is queued under
the same object key (the later requests of that object stay behind it) and the request
it replaces is removed as handled; a failing replacement fails like any other request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from ampyre.config import Settings
from ampyre.domain.models import Page
from ampyre.domain.ocpi import InterfaceRole, OcpiRole, Partner, ocpi_jsonable
from ampyre.services.clock import utcnow
from ampyre.services.ocpi_partners import PartnerService
from ampyre.services.ocpi_port import (
    OcpiCallFailed,
    OcpiClient,
    OcpiReply,
    PushItem,
    PushOutcome,
    PushStatus,
    PushStore,
)
from ampyre.services.periodic import Periodic
from ampyre.services.ports import StoreUnavailable

log = logging.getLogger(__name__)

METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SUPERSEDING = frozenset({"PUT", "DELETE"})
OBJECT_KEY_MAX = 255
ERROR_MAX = 1000
# OCPI 2.2.1 status_codes 5.2: 2003 "Unknown Location" (also what our receivers answer for
# an unknown EVSE or Connector of a Location, mod_locations 8.2.2).
UNKNOWN_LOCATION = 2003

# `fallback(partner, item)`: queue the whole object instead of `item`, which the partner
# answered "unknown object"; True when something was queued (`item` is then handled).
UnknownObjectFallback = Callable[[Partner, PushItem], Awaitable[bool]]


class OcpiPush:
    def __init__(
        self,
        store: PushStore,
        partners: PartnerService,
        client: OcpiClient,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.partners = partners
        self.client = client
        self._owner = f"{settings.node_id or 'node'}-ocpi-push"[:64]
        self._max_attempts = settings.ocpi_push_max_attempts
        self._backoff = settings.ocpi_push_backoff
        self._backoff_max = settings.ocpi_push_backoff_max
        self._concurrency = settings.ocpi_push_concurrency
        # A claim outlives the slowest attempt (one try of the client) with room to spare.
        self._lease = timedelta(seconds=2 * settings.ocpi_client_timeout + 30)
        self._clock = clock
        self._loop = Periodic(
            "OCPI push queue", self._round, settings.ocpi_push_poll_interval, log=log
        )
        self._fallbacks: list[tuple[str, UnknownObjectFallback]] = []

    def on_unknown_object(self, key_prefix: str, fallback: UnknownObjectFallback) -> None:
        """Requests whose object_key starts with `key_prefix` and that the partner answers
        2003 / HTTP 404 go to `fallback` before they are given up (see the module text)."""
        self._fallbacks.append((key_prefix, fallback))

    # ------------------------------------------------------------------ queueing

    async def enqueue(
        self,
        partner_id: int,
        method: str,
        url: str,
        body: object | None,
        object_key: str,
        *,
        delay: float = 0.0,
    ) -> None:
        """Queue one request; `delay` seconds before it may be sent (the object's later
        requests wait behind it)."""
        method = method.upper()
        if method not in METHODS:
            raise ValueError(f"not a push method: {method}")
        if not object_key or len(object_key) > OBJECT_KEY_MAX:
            raise ValueError("object_key must have 1 to 255 characters")
        payload: Any = None if body is None else ocpi_jsonable(body)
        now = self._clock()
        await self.store.add_push(
            partner_id,
            method,
            url,
            payload,
            object_key,
            now,
            supersede=method in SUPERSEDING,
            due=now + timedelta(seconds=delay) if delay > 0 else None,
        )
        self._loop.wake()

    async def to_partner(
        self,
        partner: Partner,
        module: str,
        method: str,
        path: str,
        body: object | None,
        object_key: str,
        role: InterfaceRole = InterfaceRole.RECEIVER,
        *,
        delay: float = 0.0,
    ) -> bool:
        """Queue `method` to the partner's `module` endpoint of `role` + path; False
        (nothing queued) when the partner is not registered or has no such endpoint."""
        base = partner.endpoint(module, role) if partner.registered else None
        if base is None:
            return False
        await self.enqueue(partner.id, method, _join(base, path), body, object_key, delay=delay)
        return True

    async def to_receivers(
        self,
        module: str,
        method: str,
        path: str,
        body: object | None,
        object_key: str,
        party_role: OcpiRole = OcpiRole.EMSP,
    ) -> int:
        """Queue to every REGISTERED partner with a party of `party_role` and a RECEIVER
        endpoint of `module`; how many were queued."""
        queued = 0
        for partner in await self.partners.registered_with(
            module, InterfaceRole.RECEIVER, party_role
        ):
            if await self.to_partner(partner, module, method, path, body, object_key):
                queued += 1
        return queued

    # ------------------------------------------------------------------ REST reads

    async def list(
        self, partner_id: int | None, status: PushStatus | None, limit: int, offset: int
    ) -> Page:
        return await self.store.list_pushes(partner_id, status, limit, offset)

    async def get(self, item_id: int) -> PushItem | None:
        return await self.store.get_push(item_id)

    async def retry(self, item_id: int) -> PushItem | None:
        item = await self.store.retry_push(item_id, self._clock())
        if item is not None:
            self._loop.wake()
        return item

    async def delete(self, item_id: int) -> bool:
        return await self.store.delete_push(item_id)

    async def counts(self) -> dict[int, tuple[int, int]]:
        return await self.store.push_counts()

    # ------------------------------------------------------------------ delivery

    async def start(self) -> None:
        self._loop.start()

    async def close(self) -> None:
        if self._loop.running:
            await self._loop.close()
            with contextlib.suppress(StoreUnavailable):
                await self.store.release_pushes(self._owner)

    async def run_once(self) -> int:
        """Claim the due requests (up to ocpi_push_concurrency) and send them; how many."""
        items = await self.store.claim_pushes(
            self._owner, self._clock(), self._lease, self._concurrency
        )
        if items:
            await asyncio.gather(*(self._deliver(item) for item in items))
        return len(items)

    async def _round(self) -> bool:
        """One round of run_once; True when more may be due at once."""
        return await self.run_once() >= self._concurrency

    async def _deliver(self, item: PushItem) -> None:
        attempts = item.attempts + 1
        partner = await self.partners.get(item.partner_id)
        if partner is None or not partner.registered:
            await self._finish(item, attempts, None, "the partner is not registered", True)
            return
        try:
            reply = await self.client.request(
                partner, item.method, item.url, body=item.body, attempts=1
            )
        except OcpiCallFailed as exc:
            await self._finish(item, attempts, exc, exc.message, False)
            return
        except Exception as exc:  # a bug must not lose the row: it is tried again
            log.exception("OCPI push %d failed unexpectedly", item.id)
            await self._finish(item, attempts, None, repr(exc), False)
            return
        if reply.ok:
            await self.store.push_delivered(item.id, self._owner)
            return
        if _unknown_object(reply) and await self._replaced(partner, item, reply):
            await self.store.push_delivered(item.id, self._owner)
            return
        # OCPI 2.2.1 status_codes 5.3: 3xxx is the server's trouble, worth another try;
        # 2xxx (and HTTP 4xx) is what we sent: sending it again changes nothing.
        transient = (
            (reply.status_code is not None and 3000 <= reply.status_code < 4000)
            or reply.http_status >= 500
            or reply.http_status in (408, 429)
        )
        await self._finish(item, attempts, reply, reply.describe(), not transient)

    async def _replaced(self, partner: Partner, item: PushItem, reply: OcpiReply) -> bool:
        """Whether the module owning the object queued the whole object instead."""
        for prefix, fallback in self._fallbacks:
            if not item.object_key.startswith(prefix):
                continue
            try:
                queued = await fallback(partner, item)
            except Exception:  # a broken fallback: the request fails as it would have
                log.exception("OCPI push %d: the unknown-object fallback failed", item.id)
                return False
            if queued:
                log.info(
                    "OCPI push %d (%s %s) answered %s: the whole object is sent instead",
                    item.id,
                    item.method,
                    item.url,
                    reply.describe(),
                )
            return queued
        return False

    async def _finish(
        self,
        item: PushItem,
        attempts: int,
        answer: OcpiReply | OcpiCallFailed | None,
        error: str,
        final: bool,
    ) -> None:
        failed = final or attempts >= self._max_attempts
        retry_at = None
        if not failed:
            delay = min(self._backoff * 2 ** (attempts - 1), self._backoff_max)
            retry_at = self._clock() + timedelta(seconds=delay)
        outcome = PushOutcome(
            attempts=attempts,
            failed=failed,
            retry_at=retry_at,
            http_status=getattr(answer, "http_status", None),
            status_code=getattr(answer, "status_code", None),
            error=error[:ERROR_MAX],
        )
        if failed:
            log.warning(
                "OCPI push %d (%s %s) failed after %d attempt(s): %s",
                item.id,
                item.method,
                item.url,
                attempts,
                error,
            )
        await self.store.push_attempted(item.id, self._owner, outcome)


def _unknown_object(reply: OcpiReply) -> bool:
    return reply.status_code == UNKNOWN_LOCATION or reply.http_status == 404


def _join(base: str, path: str) -> str:
    if not path:
        return base
    return base.rstrip("/") + "/" + path.lstrip("/")
