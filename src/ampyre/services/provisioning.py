"""Provisioning and availability, version-neutral: boot, heartbeat, status, device reports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ampyre.config import Settings
from ampyre.domain.models import (
    BootInfo,
    RegistrationStatus,
    StationReport,
    StatusReport,
)
from ampyre.services.clock import utcnow
from ampyre.services.ports import Store


@dataclass(slots=True, frozen=True)
class BootDecision:
    status: RegistrationStatus
    interval: int
    current_time: datetime


class ProvisioningService:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        # Where status reports are written: the store, or the alert service in front of
        # it (bootstrap; services/alerts.py), which raises and clears alerts with them.
        self.status_writer: Callable[[Sequence[StatusReport]], Awaitable[None]] = (
            store.record_status
        )

    async def boot(self, station_id: str, ocpp_version: str, info: BootInfo) -> BootDecision:
        now = self._clock()
        station = await self._store.get_station(station_id)
        if station is not None:
            status = station.registration_status
        else:
            # Deleted while connected: do not resurrect it unless the lab mode says so.
            status = (
                RegistrationStatus.ACCEPTED
                if self._settings.auto_register
                else RegistrationStatus.REJECTED
            )
        if station is not None or self._settings.auto_register:
            await self._store.record_boot(station_id, ocpp_version, info, now)
        # 1.6 4.2 / 2.0.1 B01-B03: Accepted -> heartbeat interval; otherwise the interval
        # is the minimum wait before the next BootNotification.
        interval = (
            self._settings.heartbeat_interval
            if status is RegistrationStatus.ACCEPTED
            else self._settings.pending_retry_interval
        )
        return BootDecision(status, interval, now)

    def heartbeat(self, station_id: str) -> datetime:
        now = self._clock()
        # last_seen is operational state, not billing data: buffered, not awaited.
        self._store.touch(station_id, now)
        return now

    async def status(self, reports: Sequence[StatusReport]) -> None:
        # The store writes a station.status_changed event per report in the same commit.
        await self.status_writer(reports)

    async def device_report(self, report: StationReport) -> None:
        await self._store.record_reports([report])

    def now(self) -> datetime:
        return self._clock()
