"""Alerts (issue 17 part 2): station faults from 1.6 StatusNotification error codes and
2.x NotifyEvent, listed, filtered and acknowledged (services/alerts.py)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT64_MAX, Limit, Offset, problems
from ampyre.api.routes.stations import StationId
from ampyre.domain.alerts import SEVERITY_NAMES, Alert, AlertQuery, AlertState
from ampyre.domain.models import ApiToken, Role
from ampyre.services.alerts import AlertAlreadyCleared, AlertNotFound, AlertService

AlertId = Annotated[int, Path(ge=1, le=INT64_MAX, description="the alert's id")]
_UNRESOLVED = (AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value)


class AlertOut(BaseModel):
    id: int
    station_id: str
    source: str = Field(description="status_notification (1.6) or notify_event (2.x)")
    evse_id: int = Field(description="0: the station as a whole")
    connector_id: int
    component: str | None = Field(None, description="2.x component of the event")
    component_instance: str | None = None
    variable: str | None = Field(None, description="2.x variable of the event")
    variable_instance: str | None = None
    code: str = Field(
        description="1.6 errorCode (':' vendorErrorCode); 2.x techCode, else the variable"
    )
    severity: int = Field(description="0 (Danger) .. 9 (Debug), OCPP 2.0.1's scale")
    severity_name: str
    state: AlertState
    count: int = Field(description="times the fault was reported while not cleared")
    first_seen: datetime
    last_seen: datetime
    info: str | None = None
    vendor_error_code: str | None = None
    status: str | None = Field(None, description="1.6 connector status when last reported")
    trigger: str | None = None
    event_type: str | None = Field(None, description="2.x eventNotificationType")
    event_id: int | None = None
    monitor_id: int | None = None
    tech_code: str | None = None
    tech_info: str | None = None
    actual_value: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    cleared_at: datetime | None = None

    @classmethod
    def build(cls, a: Alert) -> "AlertOut":
        k = a.key
        return cls(
            id=a.id or 0,
            station_id=k.station_id,
            source=k.source.value,
            evse_id=k.evse_id,
            connector_id=k.connector_id,
            component=k.component or None,
            component_instance=k.component_instance or None,
            variable=k.variable or None,
            variable_instance=k.variable_instance or None,
            code=a.code,
            severity=a.severity,
            severity_name=SEVERITY_NAMES[min(max(a.severity, 0), 9)],
            state=a.state,
            count=a.count,
            first_seen=a.first_seen,
            last_seen=a.last_seen,
            info=a.info,
            vendor_error_code=a.vendor_error_code,
            status=a.status,
            trigger=a.trigger,
            event_type=a.event_type,
            event_id=a.event_id,
            monitor_id=a.monitor_id,
            tech_code=a.tech_code,
            tech_info=a.tech_info,
            actual_value=a.actual_value,
            acknowledged_by=a.acknowledged_by,
            acknowledged_at=a.acknowledged_at,
            cleared_at=a.cleared_at,
        )


class AlertPage(BaseModel):
    items: list[AlertOut]
    total: int
    limit: int
    offset: int


class AcknowledgeOut(BaseModel):
    alert: AlertOut
    changed: bool = Field(description="false: it was acknowledged already")


def alerts_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["alerts"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator_check = auth.require(Role.OPERATOR)

    def service() -> AlertService:
        if deps.alerts is None:
            raise ApiProblem(503, "alerts are not available in this process")
        return deps.alerts

    async def page(
        station_id: str | None,
        state: list[AlertState] | None,
        severity_at_most: int | None,
        severity_at_least: int | None,
        since: datetime | None,
        unresolved: bool,
        limit: int,
        offset: int,
    ) -> AlertPage:
        states = tuple(s.value for s in state or ())
        if unresolved:
            states = tuple(s for s in states or _UNRESOLVED if s in _UNRESOLVED) or ("none",)
        query = AlertQuery(
            station_id=station_id,
            states=states,
            severity_at_most=severity_at_most,
            severity_at_least=severity_at_least,
            since=since,
        )
        found = await service().list(query, limit, offset)
        return AlertPage(
            items=[AlertOut.build(a) for a in found.items],
            total=found.total,
            limit=limit,
            offset=offset,
        )

    StateFilter = Annotated[
        list[AlertState] | None,
        Query(max_length=3, description="open, acknowledged, cleared (repeatable)"),
    ]
    AtMost = Annotated[
        int | None,
        Query(ge=0, le=9, description="this severity or worse (0 is the worst)"),
    ]
    AtLeast = Annotated[int | None, Query(ge=0, le=9, description="this severity or milder")]
    Since = Annotated[datetime | None, Query(description="last seen at or after")]
    Unresolved = Annotated[
        bool, Query(description="only alerts not cleared yet (open or acknowledged)")
    ]

    @router.get("/alerts", dependencies=viewer, responses=problems(422, 503))
    async def list_alerts(
        limit: Limit = 50,
        offset: Offset = 0,
        station_id: Annotated[str | None, Query(max_length=255)] = None,
        state: StateFilter = None,
        severity_at_most: AtMost = None,
        severity_at_least: AtLeast = None,
        since: Since = None,
        unresolved: Unresolved = False,
    ) -> AlertPage:
        """Alerts, the most recently seen first."""
        return await page(
            station_id,
            state,
            severity_at_most,
            severity_at_least,
            since,
            unresolved,
            limit,
            offset,
        )

    @router.get("/alerts/{alert_id}", dependencies=viewer, responses=problems(404, 422, 503))
    async def get_alert(alert_id: AlertId) -> AlertOut:
        try:
            return AlertOut.build(await service().get(alert_id))
        except AlertNotFound as exc:
            raise ApiProblem(404, str(exc)) from None

    @router.post("/alerts/{alert_id}/acknowledge", responses=problems(404, 409, 422, 503))
    async def acknowledge_alert(
        alert_id: AlertId, caller: Annotated[ApiToken, Depends(operator_check)]
    ) -> AcknowledgeOut:
        """Acknowledge an open alert: who (the API token's or dashboard user's name) and
        when are kept, and an `alert.acknowledged` webhook event is sent. Acknowledging
        one acknowledged already changes nothing; a cleared one is 409."""
        try:
            alert, changed = await service().acknowledge(alert_id, caller.name)
        except AlertNotFound as exc:
            raise ApiProblem(404, str(exc)) from None
        except AlertAlreadyCleared as exc:
            raise ApiProblem(409, str(exc), slug="alert-cleared") from None
        return AcknowledgeOut(alert=AlertOut.build(alert), changed=changed)

    @router.get(
        "/stations/{station_id}/alerts", dependencies=viewer, responses=problems(404, 422, 503)
    )
    async def station_alerts(
        station_id: StationId,
        limit: Limit = 50,
        offset: Offset = 0,
        state: StateFilter = None,
        severity_at_most: AtMost = None,
        severity_at_least: AtLeast = None,
        since: Since = None,
        unresolved: Unresolved = False,
    ) -> AlertPage:
        """One station's alerts, the most recently seen first."""
        await deps.stations.require(station_id)
        return await page(
            station_id,
            state,
            severity_at_most,
            severity_at_least,
            since,
            unresolved,
            limit,
            offset,
        )

    return router
