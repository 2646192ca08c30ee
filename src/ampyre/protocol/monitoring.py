"""The MonitoringCommands port (services/monitoring.py) over OCPP: 2.0.1 and 2.1 share
the encoders of protocol/ocpp201/monitoring.py; 1.6 has no variable monitoring
(NotAddressable, nothing sent)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ampyre.domain.models import OcppVersion
from ampyre.domain.monitoring import (
    ClearResult,
    Monitor,
    MonitoringBase,
    MonitoringCriterion,
    MonitorResult,
    VariableAddress,
)
from ampyre.protocol.codec import ask
from ampyre.protocol.ocpp201 import monitoring as m201
from ampyre.protocol.session import Handler
from ampyre.services.alerts import AlertService
from ampyre.services.commands import CommandRouter
from ampyre.services.monitoring import MonitoringService
from ampyre.services.station_port import NOT_CONNECTED, Answer, NotAddressable

_MONITORING_VERSIONS = frozenset({"ocpp2.0.1", "ocpp2.1"})


class OcppMonitoringCommands:
    def __init__(self, router: CommandRouter) -> None:
        self._router = router

    def connected_version(self, station_id: str) -> str | None:
        return self._router.ocpp_version(station_id)

    def _check(self, station_id: str) -> bool:
        """True if the station is connected with a version that has monitoring."""
        version = self._router.ocpp_version(station_id)
        if version is None:
            return False
        if version not in _MONITORING_VERSIONS:
            raise NotAddressable(f"OCPP {version.removeprefix('ocpp')} has no variable monitoring")
        return True

    async def _ask(
        self, station_id: str, action: str, payload: dict[str, Any], timeout: float
    ) -> tuple[Answer, dict[str, Any] | None]:
        if not self._check(station_id):
            return Answer(NOT_CONNECTED, detail="the station is not connected"), None
        return await ask(self._router, station_id, (action, payload), timeout)

    async def set_monitors(
        self, station_id: str, monitors: Sequence[Monitor], timeout: float
    ) -> tuple[Answer, list[MonitorResult]]:
        answer, payload = await self._ask(
            station_id,
            "SetVariableMonitoring",
            m201.set_monitoring_request(monitors),
            timeout,
        )
        results = m201.set_monitoring_results(monitors, payload) if payload is not None else []
        return answer, results

    async def clear_monitors(
        self, station_id: str, ids: Sequence[int], timeout: float
    ) -> tuple[Answer, list[ClearResult]]:
        answer, payload = await self._ask(
            station_id, "ClearVariableMonitoring", {"id": list(ids)}, timeout
        )
        return answer, m201.clear_results(payload) if payload is not None else []

    async def set_base(self, station_id: str, base: MonitoringBase, timeout: float) -> Answer:
        answer, _ = await self._ask(
            station_id, "SetMonitoringBase", {"monitoringBase": base.value}, timeout
        )
        return answer

    async def set_level(self, station_id: str, severity: int, timeout: float) -> Answer:
        answer, _ = await self._ask(
            station_id, "SetMonitoringLevel", {"severity": severity}, timeout
        )
        return answer

    async def get_report(
        self,
        station_id: str,
        request_id: int,
        criteria: Sequence[MonitoringCriterion],
        variables: Sequence[VariableAddress],
        timeout: float,
    ) -> Answer:
        answer, _ = await self._ask(
            station_id,
            "GetMonitoringReport",
            m201.get_report_request(request_id, criteria, variables),
            timeout,
        )
        return answer


def handlers(
    alerts: AlertService, monitoring: MonitoringService
) -> dict[OcppVersion, dict[str, Handler]]:
    """NotifyEvent and NotifyMonitoringReport of 2.0.1 and 2.1 (a block for
    build_tables); 1.6 alerts come with StatusNotification (services/alerts.py)."""
    calls = m201.handlers(alerts, monitoring)
    return {OcppVersion.V201: calls, OcppVersion.V21: dict(calls)}
