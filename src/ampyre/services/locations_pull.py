"""eMSP role: fetching our CPO partners' Locations from their Sender interface (mod_locations
8.2.1.1, GET List, paginated), as the spec intends "when the connection between two
parties is established for the first time" and for a periodic full check of what the
pushes told us.

A partner that is newly registered (or first seen since this process started) is
fetched whole at the next look; after that only what changed since the last fetch
(date_from), every `ocpi_locations_pull_interval` seconds. Runs on the leading node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from ampyre.config import Settings
from ampyre.domain import locations_validate as v
from ampyre.domain.locations_validate import LocationInvalid
from ampyre.domain.ocpi import InterfaceRole, OcpiRole, Partner
from ampyre.services.clock import utcnow
from ampyre.services.locations_port import LocationStore
from ampyre.services.ocpi_partners import PartnerService
from ampyre.services.ocpi_port import OcpiCallFailed, OcpiClient

log = logging.getLogger(__name__)

MODULE: Final = "locations"
LOOK_EVERY: Final = 5.0  # seconds between looks for newly registered partners
OVERLAP: Final = timedelta(minutes=1)  # date_from margin for clocks and slow commits


class LocationPuller:
    def __init__(
        self,
        store: LocationStore,
        partners: PartnerService,
        client: OcpiClient,
        settings: Settings,
        leads: Callable[[], bool] = lambda: True,
    ) -> None:
        self._store = store
        self._partners = partners
        self._client = client
        self._interval = settings.ocpi_locations_pull_interval
        self._leads = leads
        self._pulled: dict[int, tuple[datetime, float]] = {}  # partner -> (since, monotonic)
        self._failed: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None and self._interval > 0:
            self._task = asyncio.create_task(self._run(), name="ocpi-locations-pull")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(min(LOOK_EVERY, self._interval))
            if not self._leads():
                self._pulled.clear()  # another node pulls; start over when back
                continue
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("OCPI locations pull failed", exc_info=True)

    async def tick(self) -> int:
        """Pull from every CPO partner that is due; how many Locations were stored."""
        stored = 0
        now = time.monotonic()
        partners = await self._partners.registered_with(MODULE, InterfaceRole.SENDER, OcpiRole.CPO)
        for partner in partners:
            last = self._pulled.get(partner.id)
            if last is not None and now - last[1] < self._interval:
                continue
            if now - self._failed.get(partner.id, -1e9) < min(60.0, self._interval):
                continue
            try:
                stored += await self.pull(partner, None if last is None else last[0])
            except OcpiCallFailed as exc:
                self._failed[partner.id] = now
                log.warning("could not fetch the Locations of partner %s: %s", partner.id, exc)
        return stored

    async def pull(self, partner: Partner, since: datetime | None = None) -> int:
        """GET the partner's Locations (changed since `since`) and store each valid one
        of its own parties; how many were stored. OcpiCallFailed when it cannot be read."""
        url = partner.endpoint(MODULE, InterfaceRole.SENDER)
        if url is None:
            return 0
        started = utcnow()
        params = None if since is None else {"date_from": v.ocpi_time(since - OVERLAP)}
        stored = 0
        async for obj in self._client.get_all(partner, url, params):
            try:
                data = v.location(obj, "")
            except LocationInvalid as exc:
                log.warning("partner %s: Location %r refused: %s", partner.id, obj.get("id"), exc)
                continue
            if not partner.has_party(data["country_code"], data["party_id"]):
                log.warning(
                    "partner %s: Location %r of %s/%s, not one of its parties: ignored",
                    partner.id,
                    data["id"],
                    data["country_code"],
                    data["party_id"],
                )
                continue
            at = v.parse_time(data["last_updated"], "last_updated")
            await self._store.put_received(
                partner.id, data["country_code"], data["party_id"], data["id"], data, at
            )
            stored += 1
        self._pulled[partner.id] = (started, time.monotonic())
        self._failed.pop(partner.id, None)
        return stored
