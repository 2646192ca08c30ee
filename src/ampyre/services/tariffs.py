"""Tariffs and pricing (issue 20): our OCPI 2.2.1 tariffs (operator CRUD, versioned),
which one applies where, the cost of a transaction from its meter values and charging
states (live while it runs), previews for made-up sessions, and the tariffs CPO partners
push to us as their eMSP.

Which tariff applies: a tariff scoped to the station, else the default one; of several,
one without a `type` or of type REGULAR first (the others are for ad-hoc payment or
charging preferences), then by id. A transaction is priced with the version in force
when it started (the driver accepted that one; OCPI 2.2.1 mod_tariffs 11.3.1 note).
"""

from __future__ import annotations

import dataclasses
import logging
import time as monotonic_time
import zoneinfo
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, tzinfo

from ampyre.config import Settings
from ampyre.domain.models import Page
from ampyre.domain.pricing import PricedSession, price_session
from ampyre.domain.tariffs import Tariff, TariffType, validate_tariff
from ampyre.domain.usage import Usage, build_usage
from ampyre.services.clock import utcnow
from ampyre.services.tariffs_port import (
    ReceivedTariff,
    TariffRecord,
    TariffStore,
    TariffVersion,
    UsageSource,
)

log = logging.getLogger(__name__)

ChangeListener = Callable[[Tariff, bool], Awaitable[None]]
TimeZoneResolver = Callable[[str], Awaitable[str | None]]


class TariffConflict(Exception):
    """A tariff with that id exists already (create)."""


class TariffService:
    def __init__(
        self,
        store: TariffStore,
        usage: UsageSource,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._usage = usage
        self._settings = settings
        self._clock = clock
        self._listeners: list[ChangeListener] = []
        self._invalidated: list[Callable[[], None]] = []
        self._zone_of: TimeZoneResolver | None = None
        self._versions: dict[str, list[TariffVersion]] | None = None
        self._loaded_at = 0.0

    # ------------------------------------------------------------------ wiring

    def on_change(self, listener: ChangeListener) -> None:
        """`listener(tariff, deleted)` after one of our tariffs was saved or deleted (the
        OCPI push). A failing listener is logged; the change stands."""
        self._listeners.append(listener)

    def add_listener(self, callback: Callable[[], None]) -> None:
        """`callback()` whenever which tariff applies may have changed (caches of others,
        e.g. the OCPP cost messages)."""
        self._invalidated.append(callback)

    def set_time_zone_resolver(self, resolver: TimeZoneResolver) -> None:
        """Where a station is (its Location's time_zone); None answers fall back to the
        setting `tariff_time_zone`."""
        self._zone_of = resolver

    async def time_zone_of(self, station_id: str) -> tzinfo:
        """The zone restrictions are read in for this station."""
        name = None
        if self._zone_of is not None:
            try:
                name = await self._zone_of(station_id)
            except Exception:
                log.exception("time zone of station %s", station_id)
        for candidate in (name, self._settings.tariff_time_zone):
            if candidate:
                try:
                    return zoneinfo.ZoneInfo(candidate)
                except (ValueError, zoneinfo.ZoneInfoNotFoundError):
                    log.warning("unknown time zone %r for station %s", candidate, station_id)
        return UTC

    # ------------------------------------------------------------------ our tariffs

    async def list_tariffs(self, limit: int, offset: int) -> Page:
        """items: TariffRecord, by id."""
        return await self._store.list_tariffs(limit, offset)

    async def record(self, tariff_id: str) -> TariffRecord | None:
        return await self._store.get_tariff(tariff_id)

    async def get(self, tariff_id: str) -> Tariff | None:
        found = await self._store.get_tariff(tariff_id)
        return None if found is None else found.tariff

    async def put(
        self, record: TariffRecord, create_only: bool = False
    ) -> tuple[TariffRecord, bool]:
        """Save one of our tariffs: its owner is our party (settings), `last_updated`
        now. Raise TariffInvalid for a broken rule, TariffConflict when `create_only`
        and it exists. Returns (saved, created)."""
        now = self._clock()
        existing = await self._store.get_tariff(record.tariff.id)
        if create_only and existing is not None:
            raise TariffConflict(f"tariff {record.tariff.id} exists")
        tariff = dataclasses.replace(
            record.tariff,
            country_code=self._settings.ocpi_country_code.upper(),
            party_id=self._settings.ocpi_party_id.upper(),
            last_updated=now.replace(microsecond=0),
        )
        validate_tariff(tariff)
        changed = existing is None or _ocpi_differs(existing.tariff, tariff)
        if not changed and existing is not None:
            tariff = existing.tariff  # the OCPI object is the same: last_updated stays
        saved = TariffRecord(
            tariff=tariff,
            station_ids=tuple(dict.fromkeys(record.station_ids)),
            is_default=record.is_default,
            created_at=existing.created_at if existing is not None else now,
        )
        created = await self._store.save_tariff(saved, now)
        if saved.is_default:
            await self._only_default(saved.tariff.id, now)
        self._changed()
        if changed:
            await self._notify(tariff, False)
        return saved, created

    async def _only_default(self, tariff_id: str, now: datetime) -> None:
        """One default tariff: the others stop being it."""
        offset = 0
        while True:
            page = await self._store.list_tariffs(200, offset)
            for other in page.items:
                if other.is_default and other.tariff.id != tariff_id:
                    await self._store.save_tariff(dataclasses.replace(other, is_default=False), now)
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    async def delete(self, tariff_id: str) -> bool:
        found = await self._store.get_tariff(tariff_id)
        if found is None or not await self._store.delete_tariff(tariff_id, self._clock()):
            return False
        self._changed()
        await self._notify(found.tariff, True)
        return True

    async def changed(
        self, date_from: datetime | None, date_to: datetime | None, offset: int, limit: int
    ) -> Page:
        """Our tariffs last updated in [date_from, date_to) (the OCPI sender GET);
        items: Tariff."""
        page = await self._store.list_tariffs(limit, offset, date_from, date_to)
        return Page([r.tariff for r in page.items], page.total, page.limit, page.offset)

    def _changed(self) -> None:
        self._versions = None
        for callback in self._invalidated:
            try:
                callback()
            except Exception:
                log.exception("tariff change callback")

    async def _notify(self, tariff: Tariff, deleted: bool) -> None:
        for listener in self._listeners:
            try:
                await listener(tariff, deleted)
            except Exception:
                log.exception("tariff change listener (tariff %s)", tariff.id)

    # ------------------------------------------------------------------ which tariff

    async def _all_versions(self) -> dict[str, list[TariffVersion]]:
        ttl = self._settings.tariff_cache_seconds
        if self._versions is None or monotonic_time.monotonic() - self._loaded_at >= ttl:
            grouped: dict[str, list[TariffVersion]] = {}
            for version in await self._store.tariff_versions():
                grouped.setdefault(version.tariff_id, []).append(version)
            self._versions = grouped
            self._loaded_at = monotonic_time.monotonic()
        return self._versions

    async def has_tariffs(self) -> bool:
        """Whether any tariff exists now (cheap: answered from memory)."""
        versions = await self._all_versions()
        return any(v[-1].tariff is not None for v in versions.values())

    async def _candidates(self, station_id: str, at: datetime) -> list[TariffVersion]:
        versions = await self._all_versions()
        in_force = []
        for history in versions.values():
            current = None
            for version in history:  # oldest first
                if version.valid_from <= at:
                    current = version
            if current is not None and current.tariff is not None and current.tariff.valid_at(at):
                in_force.append(current)
        scoped = [v for v in in_force if station_id in v.station_ids]
        pool = scoped or [v for v in in_force if v.is_default]
        return sorted(pool, key=_preference)

    async def tariff_for(
        self,
        station_id: str,
        evse_id: int | None = None,
        connector_id: int | None = None,
        at: datetime | None = None,
    ) -> Tariff | None:
        """The tariff that applies at this station at `at` (default now); None: no
        tariff (the session is not priced). Tariffs are scoped per station: every EVSE
        and connector of it has the same one."""
        found = await self._candidates(station_id, at or self._clock())
        tariff = found[0].tariff if found else None
        return tariff

    async def tariff_ids_for(
        self, station_id: str, evse_id: int | None = None, connector_id: int | None = None
    ) -> list[str]:
        """The ids of the tariffs valid at this station now (OCPI Connector.tariff_ids):
        the one `tariff_for` picks first."""
        found = await self._candidates(station_id, self._clock())
        return [v.tariff_id for v in found]

    # ------------------------------------------------------------------ pricing

    async def price_transaction(
        self, transaction_pk: int, until: datetime | None = None
    ) -> PricedSession | None:
        """The cost of a transaction with the tariff in force at its start: up to its
        end, or while it runs up to `until` (default now). None for an unknown
        transaction or one no tariff applies to."""
        usage = await self._usage.transaction_usage(transaction_pk)
        if usage is None:
            return None
        tariff = await self.tariff_for(
            usage.station_id, usage.evse_id, usage.connector_id, at=usage.started_at
        )
        if tariff is None:
            return None
        end = usage.ended_at if usage.ended_at is not None else (until or self._clock())
        if until is not None and until < end:
            end = until
        end = max(end, usage.started_at)
        samples = [s for s in usage.samples if s.at <= end]
        states = [s for s in usage.states if s.at <= end]
        # The stop meter is the register at the end when the whole transaction is priced;
        # priced up to an earlier `until`, only if it was read by then (so the energy is
        # meter_stop - meter_start, domain/usage.py).
        whole = usage.ended_at is not None and end >= usage.ended_at
        stop = usage.meter_stop
        if stop is not None and not whole and stop.at > end:
            stop = None
        timeline = build_usage(
            usage.started_at,
            end,
            samples,
            states,
            usage.reservation,
            meter_start=usage.meter_start,
            meter_stop=stop,
        )
        return price_session(tariff, timeline, await self.time_zone_of(usage.station_id))

    def preview(self, tariff: Tariff, usage: Usage, time_zone: str | None = None) -> PricedSession:
        """Price a made-up session (the dashboard's live preview). Raise ValueError for
        an unknown time zone."""
        try:
            zone: tzinfo = zoneinfo.ZoneInfo(time_zone or self._settings.tariff_time_zone)
        except zoneinfo.ZoneInfoNotFoundError:
            raise ValueError(f"unknown time zone {time_zone!r}") from None
        return price_session(tariff, usage, zone)

    # ------------------------------------------------------------------ received (eMSP)

    async def receive(self, partner_id: int, tariff: Tariff) -> ReceivedTariff:
        """Store (or replace) a partner's tariff."""
        return await self._store.save_received(partner_id, tariff, self._clock())

    async def received(
        self, country_code: str, party_id: str, tariff_id: str
    ) -> ReceivedTariff | None:
        return await self._store.get_received(country_code, party_id, tariff_id)

    async def forget_received(self, country_code: str, party_id: str, tariff_id: str) -> bool:
        return await self._store.delete_received(country_code, party_id, tariff_id)

    async def list_received(self, partner_id: int | None, limit: int, offset: int) -> Page:
        """items: ReceivedTariff, newest first."""
        return await self._store.list_received(partner_id, limit, offset)


def _preference(version: TariffVersion) -> tuple[int, str]:
    kind = version.tariff.type if version.tariff is not None else None
    return (0 if kind in (None, TariffType.REGULAR) else 1, version.tariff_id)


def _ocpi_differs(old: Tariff, new: Tariff) -> bool:
    """Whether the OCPI object changed (everything but last_updated)."""
    return dataclasses.replace(old, last_updated=new.last_updated) != new
