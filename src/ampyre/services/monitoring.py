"""Variable monitoring of 2.x stations, version-neutral (issue 17 part 2): set and clear
monitors, the monitoring base and level, and monitoring reports assembled from their
NotifyMonitoringReport parts into the station's stored monitors.

The station is reached through the MonitoringCommands port (protocol/monitoring.py),
which encodes for its version and raises NotAddressable for 1.6 (no monitoring there).
Commands that get no answer come back as an Answer whose status says why
(not_connected, timeout, error)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from ampyre.config import Settings
from ampyre.domain.models import StationReport
from ampyre.domain.monitoring import (
    MONITOR_TYPES_21,
    MONITOR_TYPES_201,
    ClearResult,
    InvalidMonitor,
    Monitor,
    MonitoringBase,
    MonitoringCriterion,
    MonitoringReport,
    MonitorResult,
    ReportState,
    VariableAddress,
    check_monitor,
)
from ampyre.services.clock import utcnow
from ampyre.services.station_port import NOT_CONNECTED, Answer, NotAddressable

log = logging.getLogger(__name__)


class MonitoringCommands(Protocol):
    def connected_version(self, station_id: str) -> str | None: ...

    async def set_monitors(
        self, station_id: str, monitors: Sequence[Monitor], timeout: float
    ) -> tuple[Answer, list[MonitorResult]]: ...

    async def clear_monitors(
        self, station_id: str, ids: Sequence[int], timeout: float
    ) -> tuple[Answer, list[ClearResult]]: ...

    async def set_base(self, station_id: str, base: MonitoringBase, timeout: float) -> Answer: ...

    async def set_level(self, station_id: str, severity: int, timeout: float) -> Answer: ...

    async def get_report(
        self,
        station_id: str,
        request_id: int,
        criteria: Sequence[MonitoringCriterion],
        variables: Sequence[VariableAddress],
        timeout: float,
    ) -> Answer: ...


class MonitorStore(Protocol):
    async def save_monitors(self, station_id: str, monitors: Sequence[Monitor]) -> None: ...

    async def delete_monitors(self, station_id: str, ids: Sequence[int]) -> None: ...

    async def list_monitors(self, station_id: str) -> list[Monitor]: ...

    async def create_monitoring_report(
        self, station_id: str, at: datetime, full: bool = False
    ) -> MonitoringReport: ...

    async def finish_monitoring_report(
        self, station_id: str, request_id: int, state: ReportState, at: datetime, detail: str
    ) -> None: ...

    async def record_monitoring_part(
        self,
        station_id: str,
        request_id: int,
        seq_no: int | None,
        tbc: bool,
        monitors: Sequence[Monitor],
        at: datetime,
    ) -> None: ...

    async def close_stale_monitoring_reports(self, before: datetime, at: datetime) -> int: ...

    async def list_monitoring_reports(
        self, station_id: str, limit: int
    ) -> list[MonitoringReport]: ...


def monitor_types(version: str | None) -> tuple[str, ...]:
    return MONITOR_TYPES_21 if version == "ocpp2.1" else MONITOR_TYPES_201


class MonitoringService:
    def __init__(
        self,
        commands: MonitoringCommands,
        store: MonitorStore,
        settings: Settings,
        history: Callable[[Sequence[StationReport]], Awaitable[None]],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._commands = commands
        self._store = store
        self._history = history  # the station's report history (Store.record_reports)
        self._closer: asyncio.Task[None] | None = None
        self._settings = settings
        self._clock = clock

    def _wait(self, timeout: float | None) -> float:
        return timeout if timeout is not None else self._settings.call_timeout

    def connected_version(self, station_id: str) -> str | None:
        return self._commands.connected_version(station_id)

    # ------------------------------------------------------------------ commands

    async def set_monitors(
        self, station_id: str, monitors: Sequence[Monitor], timeout: float | None = None
    ) -> tuple[Answer, list[MonitorResult]]:
        """SetVariableMonitoring (OCPP 2.0.1 N04): the accepted monitors are stored with
        the id the station gave them. Raises InvalidMonitor before anything is sent."""
        types = monitor_types(self._commands.connected_version(station_id))
        for index, monitor in enumerate(monitors):
            try:
                check_monitor(monitor, types)
            except InvalidMonitor as exc:
                exc.index = index
                raise
        answer, results = await self._commands.set_monitors(
            station_id, monitors, self._wait(timeout)
        )
        accepted = [
            r.monitor for r in results if r.status == "Accepted" and r.monitor.id is not None
        ]
        if accepted:
            await self._store.save_monitors(station_id, accepted)
        return answer, results

    async def clear_monitors(
        self, station_id: str, ids: Sequence[int], timeout: float | None = None
    ) -> tuple[Answer, list[ClearResult]]:
        """ClearVariableMonitoring (N06): monitors the station cleared, or does not know
        (NotFound), are removed from the stored ones."""
        answer, results = await self._commands.clear_monitors(station_id, ids, self._wait(timeout))
        gone = [r.id for r in results if r.status in ("Accepted", "NotFound")]
        if gone:
            await self._store.delete_monitors(station_id, gone)
        return answer, results

    async def set_base(
        self, station_id: str, base: MonitoringBase, timeout: float | None = None
    ) -> Answer:
        return await self._commands.set_base(station_id, base, self._wait(timeout))

    async def set_level(
        self, station_id: str, severity: int, timeout: float | None = None
    ) -> Answer:
        return await self._commands.set_level(station_id, severity, self._wait(timeout))

    async def request_report(
        self,
        station_id: str,
        criteria: Sequence[MonitoringCriterion] = (),
        variables: Sequence[VariableAddress] = (),
        timeout: float | None = None,
    ) -> tuple[Answer, MonitoringReport | None]:
        """GetMonitoringReport (N02): the request is stored (pending) before it is sent,
        so that parts arriving before the answer find it; an answer other than Accepted
        closes it at once. Not connected: nothing stored (None)."""
        version = self._commands.connected_version(station_id)
        if version is None:
            return Answer(NOT_CONNECTED, detail="the station is not connected"), None
        if version == "ocpp1.6":
            raise NotAddressable("OCPP 1.6 has no variable monitoring")
        report = await self._store.create_monitoring_report(
            station_id, self._clock(), full=not criteria and not variables
        )
        answer = await self._commands.get_report(
            station_id, report.request_id, criteria, variables, self._wait(timeout)
        )
        state: ReportState | None = None
        if answer.status == "timeout":
            state = ReportState.TIMED_OUT
        elif answer.status != "accepted":
            state = ReportState.REJECTED
        if state is not None:
            detail = answer.detail or f"the station answered {answer.station_answer}"
            await self._store.finish_monitoring_report(
                station_id, report.request_id, state, self._clock(), detail[:512]
            )
            report.state, report.detail = state, detail[:512]
        return answer, report

    # ------------------------------------------------------------------ station side

    async def report_part(
        self,
        station_id: str,
        request_id: int,
        tbc: bool,
        monitors: Sequence[Monitor],
        raw: StationReport,
    ) -> None:
        """One NotifyMonitoringReport: kept in the station's report history, its monitors
        stored, the report complete when the part with tbc false arrives and every seqNo
        before it did (otherwise incomplete), durable on return."""
        await self._history([raw])
        await self._store.record_monitoring_part(
            station_id, request_id, raw.seq_no, tbc, monitors, self._clock()
        )

    # ------------------------------------------------------------------ reads

    async def monitors(self, station_id: str) -> list[Monitor]:
        return await self._store.list_monitors(station_id)

    async def reports(self, station_id: str, limit: int = 20) -> list[MonitoringReport]:
        await self.close_stale()
        return await self._store.list_monitoring_reports(station_id, limit)

    async def close_stale(self) -> int:
        """Close reports whose next part did not come within the report timeout as
        incomplete (issue 17: multi-part reports that never finish)."""
        now = self._clock()
        before = now - timedelta(seconds=self._settings.report_timeout)
        return await self._store.close_stale_monitoring_reports(before, now)

    def start(self) -> None:
        if self._closer is None or self._closer.done():
            self._closer = asyncio.get_running_loop().create_task(
                self.run_closer(), name="ampyre-monitoring-reports"
            )

    async def close(self) -> None:
        task, self._closer = self._closer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run_closer(self, interval: float | None = None) -> None:
        """Close stale reports every `interval` seconds until cancelled."""
        period = interval if interval is not None else max(1.0, self._settings.report_timeout / 4)
        while True:
            await asyncio.sleep(period)
            try:
                closed = await self.close_stale()
            except Exception as exc:  # the database may be away for a while
                log.warning("closing stale monitoring reports failed: %s", exc)
                continue
            if closed:
                log.info("closed %d monitoring report(s) as incomplete", closed)
