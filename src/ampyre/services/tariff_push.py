"""Pushing our tariffs to the eMSPs we roam with (OCPI 2.2.1 mod_tariffs 11.1.1 "Push
model"): a PUT of the whole Tariff when it is created or changed, a DELETE when it is
deleted, to every registered partner with a tariffs Receiver endpoint, through the
durable push queue (in order per tariff, retried). A partner that just registered (or
changed its endpoints) gets every tariff we have as a PUT (`sync_partner`): pushes
otherwise follow changes only."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Protocol

from ampyre.domain.models import Page
from ampyre.domain.ocpi import OcpiRole, Partner
from ampyre.domain.tariff_json import tariff_to_json
from ampyre.domain.tariffs import Tariff
from ampyre.services.ocpi_port import PushPort

MODULE = "tariffs"
SYNC_PAGE: Final = 100  # tariffs read at a time for a new partner


class TariffPages(Protocol):
    """Our tariffs, page by page (TariffService.changed: items are Tariff)."""

    async def changed(
        self, date_from: datetime | None, date_to: datetime | None, offset: int, limit: int
    ) -> Page: ...


class TariffPublisher:
    def __init__(self, push: PushPort, tariffs: TariffPages | None = None) -> None:
        self._push = push
        self._tariffs = tariffs
        self.queued = 0  # requests queued so far (metrics, tests)

    async def changed(self, tariff: Tariff, deleted: bool) -> None:
        """The TariffService change listener."""
        method, body = ("DELETE", None) if deleted else ("PUT", tariff_to_json(tariff))
        self.queued += await self._push.to_receivers(
            MODULE, method, _path(tariff), body, object_key=_key(tariff)
        )

    async def sync_partner(self, partner: Partner, hold: float = 0.0) -> int:
        """PUT every tariff of ours to this (just registered) eMSP partner alone, `hold`
        seconds from now, under the keys of the change pushes (a later change follows
        it); how many were queued."""
        if self._tariffs is None or not partner.registered or not partner.has_role(OcpiRole.EMSP):
            return 0
        queued, offset = 0, 0
        try:
            while True:
                page = await self._tariffs.changed(None, None, offset, SYNC_PAGE)
                for tariff in page.items:
                    body = tariff_to_json(tariff)
                    if not await self._push.to_partner(
                        partner, MODULE, "PUT", _path(tariff), body, _key(tariff), delay=hold
                    ):
                        return queued  # no tariffs Receiver endpoint
                    queued += 1
                offset += len(page.items)
                if not page.items or offset >= page.total:
                    return queued
        finally:
            self.queued += queued


def _path(tariff: Tariff) -> str:
    return f"/{tariff.country_code}/{tariff.party_id}/{tariff.id}"


def _key(tariff: Tariff) -> str:
    return f"tariff:{tariff.id}"
