"""Variable monitoring of 2.0.1 / 2.1 stations (issue 17 part 2): set and clear
monitors, the monitoring base and level, monitoring reports, the stored monitors.

Commands answer 200 with the station's answer, 409 when it is not connected, 504
without an answer in time, 502 on a CALLERROR, and 422 (nothing sent) for a 1.6 station
("not in version") or a monitor no station can take."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from ampyre.api.auth import Auth
from ampyre.api.command_errors import check_answer, invalid_request, not_in_version
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, problems
from ampyre.api.routes.commands import Timeout
from ampyre.api.routes.stations import StationId
from ampyre.domain.models import Role
from ampyre.domain.monitoring import (
    MAX_MONITOR_VALUE,
    InvalidMonitor,
    Monitor,
    MonitoringBase,
    MonitoringCriterion,
    MonitoringReport,
    ReportState,
    VariableAddress,
)
from ampyre.services.monitoring import MonitoringService
from ampyre.services.station_port import Answer, NotAddressable

Name50 = Annotated[str, Field(min_length=1, max_length=50)]
Instance50 = Annotated[str, Field(max_length=50)]
Id32 = Annotated[int, Field(ge=0, le=INT32_MAX)]


class VariableIn(BaseModel):
    component: Name50
    component_instance: Instance50 = ""
    evse_id: Id32 = Field(0, description="0: the station as a whole")
    connector_id: Id32 = 0
    variable: Name50
    variable_instance: Instance50 = ""

    def address(self) -> VariableAddress:
        return VariableAddress(
            component=self.component,
            variable=self.variable,
            component_instance=self.component_instance,
            variable_instance=self.variable_instance,
            evse_id=self.evse_id,
            connector_id=self.connector_id,
        )


class MonitorIn(VariableIn):
    id: Id32 | None = Field(None, description="a monitor id the station knows: replace it")
    type: str = Field(
        max_length=32,
        description="UpperThreshold, LowerThreshold, Delta, Periodic, PeriodicClockAligned "
        "(2.1 also TargetDelta, TargetDeltaRelative)",
    )
    value: float = Field(
        ge=-MAX_MONITOR_VALUE,
        le=MAX_MONITOR_VALUE,
        allow_inf_nan=False,
        description="threshold or delta; for periodic monitors the interval in seconds",
    )
    severity: int = Field(5, ge=0, le=9, description="0 Danger .. 9 Debug")
    transaction: bool = Field(False, description="only while a transaction runs there")

    def monitor(self) -> Monitor:
        return Monitor(
            address=self.address(),
            type=self.type,
            value=self.value,
            severity=self.severity,
            transaction=self.transaction,
            id=self.id,
        )


class SetMonitorsIn(BaseModel):
    monitors: list[MonitorIn] = Field(min_length=1, max_length=100)


class MonitorOut(VariableIn):
    id: int | None
    type: str
    value: float
    severity: int
    transaction: bool
    source: str = Field(description="set (through Ampyre) or report (from the station)")
    updated_at: datetime | None = None

    @classmethod
    def build(cls, m: Monitor) -> "MonitorOut":
        a = m.address
        return cls(
            id=m.id,
            component=a.component,
            component_instance=a.component_instance,
            evse_id=a.evse_id,
            connector_id=a.connector_id,
            variable=a.variable,
            variable_instance=a.variable_instance,
            type=m.type,
            value=m.value,
            severity=m.severity,
            transaction=m.transaction,
            source=m.source,
            updated_at=m.updated_at,
        )


class MonitorResultOut(BaseModel):
    status: str = Field(description="the station's SetMonitoringResult status")
    reason: str | None = None
    monitor: MonitorOut


class SetMonitorsOut(BaseModel):
    status: str
    results: list[MonitorResultOut]
    response: dict[str, Any]


class ClearResultOut(BaseModel):
    id: int
    status: str = Field(description="Accepted, Rejected or NotFound")
    reason: str | None = None


class ClearOut(BaseModel):
    status: str
    results: list[ClearResultOut]
    response: dict[str, Any]


class MonitorList(BaseModel):
    items: list[MonitorOut]
    total: int


class BaseIn(BaseModel):
    base: MonitoringBase


class LevelIn(BaseModel):
    severity: int = Field(ge=0, le=9, description="report events of this severity or worse")


class ReportIn(BaseModel):
    criteria: list[MonitoringCriterion] = Field(default_factory=list, max_length=3)
    variables: list[VariableIn] = Field(default_factory=list, max_length=100)


class MonitoringReportOut(BaseModel):
    request_id: int
    state: ReportState
    requested_at: datetime
    parts: int
    monitors: int
    last_part_at: datetime | None = None
    finished_at: datetime | None = None
    detail: str | None = None

    @classmethod
    def build(cls, r: MonitoringReport) -> "MonitoringReportOut":
        return cls(
            request_id=r.request_id,
            state=r.state,
            requested_at=r.requested_at,
            parts=r.parts,
            monitors=r.monitors,
            last_part_at=r.last_part_at,
            finished_at=r.finished_at,
            detail=r.detail,
        )


class ReportRequestOut(BaseModel):
    status: str
    response: dict[str, Any]
    report: MonitoringReportOut | None


class ReportList(BaseModel):
    items: list[MonitoringReportOut]


class CommandOut(BaseModel):
    status: str
    response: dict[str, Any]


def monitoring_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(prefix="/stations", tags=["monitoring"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]
    commands = problems(404, 409, 422, 502, 503, 504)

    def service() -> MonitoringService:
        if deps.monitoring is None:
            raise ApiProblem(503, "monitoring is not available in this process")
        return deps.monitoring

    def wait_of(timeout: float | None) -> float:
        return timeout if timeout is not None else deps.settings.call_timeout

    @router.post("/{station_id}/monitors", dependencies=operator, responses=commands)
    async def set_monitors(
        station_id: StationId, body: SetMonitorsIn, timeout_s: Timeout = None
    ) -> SetMonitorsOut:
        """SetVariableMonitoring (OCPP 2.0.1 N04). Monitors the station accepts are
        stored with the id it gave them; each monitor's own result is in `results`."""
        svc = service()
        await deps.stations.require(station_id)
        monitors = [m.monitor() for m in body.monitors]
        wait = wait_of(timeout_s)
        try:
            answer, results = await svc.set_monitors(station_id, monitors, wait)
        except InvalidMonitor as exc:
            invalid_request(
                str(exc),
                loc=["body", "monitors", exc.index or 0, *([exc.field] if exc.field else [])],
            )
        except NotAddressable as exc:
            not_in_version(station_id, exc, svc.connected_version(station_id))
        check_answer(station_id, "SetVariableMonitoring", answer, wait)
        return SetMonitorsOut(
            status=answer.status,
            results=[
                MonitorResultOut(
                    status=r.status, reason=r.reason, monitor=MonitorOut.build(r.monitor)
                )
                for r in results
            ],
            response=answer.response,
        )

    @router.delete("/{station_id}/monitors/{monitor_id}", dependencies=operator, responses=commands)
    async def clear_monitor(
        station_id: StationId,
        monitor_id: Annotated[int, Path(ge=0, le=INT32_MAX)],
        timeout_s: Timeout = None,
    ) -> ClearOut:
        """ClearVariableMonitoring (N06) of one monitor; removed from the stored ones
        when the station cleared it or does not know it."""
        svc = service()
        await deps.stations.require(station_id)
        wait = wait_of(timeout_s)
        try:
            answer, results = await svc.clear_monitors(station_id, [monitor_id], wait)
        except NotAddressable as exc:
            not_in_version(station_id, exc, svc.connected_version(station_id))
        check_answer(station_id, "ClearVariableMonitoring", answer, wait)
        return ClearOut(
            status=answer.status,
            results=[ClearResultOut(id=r.id, status=r.status, reason=r.reason) for r in results],
            response=answer.response,
        )

    async def simple(station_id: str, action: str, wait: float, send: Any) -> CommandOut:
        svc = service()
        await deps.stations.require(station_id)
        try:
            answer: Answer = await send(svc)
        except NotAddressable as exc:
            not_in_version(station_id, exc, svc.connected_version(station_id))
        check_answer(station_id, action, answer, wait)
        return CommandOut(status=answer.status, response=answer.response)

    @router.post("/{station_id}/monitoring-base", dependencies=operator, responses=commands)
    async def set_monitoring_base(
        station_id: StationId, body: BaseIn, timeout_s: Timeout = None
    ) -> CommandOut:
        """SetMonitoringBase (N03): All, FactoryDefault or HardWiredOnly."""
        wait = wait_of(timeout_s)
        return await simple(
            station_id,
            "SetMonitoringBase",
            wait,
            lambda svc: svc.set_base(station_id, body.base, wait),
        )

    @router.post("/{station_id}/monitoring-level", dependencies=operator, responses=commands)
    async def set_monitoring_level(
        station_id: StationId, body: LevelIn, timeout_s: Timeout = None
    ) -> CommandOut:
        """SetMonitoringLevel (N05): the station reports events of this severity or
        worse (0 Danger .. 9 Debug)."""
        wait = wait_of(timeout_s)
        return await simple(
            station_id,
            "SetMonitoringLevel",
            wait,
            lambda svc: svc.set_level(station_id, body.severity, wait),
        )

    @router.post("/{station_id}/monitoring-report", dependencies=operator, responses=commands)
    async def request_monitoring_report(
        station_id: StationId, body: ReportIn, timeout_s: Timeout = None
    ) -> ReportRequestOut:
        """GetMonitoringReport (N02). The station then sends NotifyMonitoringReport in
        parts; they update the stored monitors, and the report (GET
        .../monitoring-reports) becomes complete with the part whose tbc is false, or
        incomplete when none comes within AMPYRE_REPORT_TIMEOUT seconds."""
        svc = service()
        await deps.stations.require(station_id)
        wait = wait_of(timeout_s)
        try:
            answer, report = await svc.request_report(
                station_id, body.criteria, [v.address() for v in body.variables], wait
            )
        except NotAddressable as exc:
            not_in_version(station_id, exc, svc.connected_version(station_id))
        check_answer(station_id, "GetMonitoringReport", answer, wait)
        return ReportRequestOut(
            status=answer.status,
            response=answer.response,
            report=MonitoringReportOut.build(report) if report is not None else None,
        )

    @router.get("/{station_id}/monitors", dependencies=viewer, responses=problems(404, 503))
    async def list_monitors(station_id: StationId) -> MonitorList:
        """The station's monitors as Ampyre last knew them (set here or reported)."""
        await deps.stations.require(station_id)
        monitors = await service().monitors(station_id)
        return MonitorList(items=[MonitorOut.build(m) for m in monitors], total=len(monitors))

    @router.get(
        "/{station_id}/monitoring-reports", dependencies=viewer, responses=problems(404, 503)
    )
    async def list_monitoring_reports(station_id: StationId) -> ReportList:
        """The station's latest monitoring report requests and how far they got."""
        await deps.stations.require(station_id)
        reports = await service().reports(station_id)
        return ReportList(items=[MonitoringReportOut.build(r) for r in reports])

    return router
