"""Station configuration (issue 17 part 1): the stored configuration / device model of a
station and across stations, reading and changing values (1.6 GetConfiguration /
ChangeConfiguration, 2.x GetVariables / SetVariables), device-model reports (2.x
GetBaseReport / GetReport with NotifyReport) and a change across many stations.

Commands answer 409 when the station is not connected, 504 without an answer in time,
502 on a CALLERROR, 422 when a value has no name in the station's version."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from ampyre.api.auth import Auth
from ampyre.api.command_errors import (
    check_answer,
    command_failed,
    invalid_request,
    not_in_version,
)
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, Limit, Offset, problems
from ampyre.api.routes.commands import Timeout
from ampyre.api.routes.stations import StationId
from ampyre.api.schemas_configuration import (
    KINDS,
    BulkIn,
    BulkOut,
    ChangeIn,
    ConfigResultOut,
    ReadIn,
    ReportIn,
    ReportOut,
    ReportPage,
    ResultOut,
    StationOutcomeOut,
    VariableOut,
    VariablePage,
)
from ampyre.domain.device_model import ChangeStatus
from ampyre.domain.models import Role
from ampyre.services.commands import StationNotConnected
from ampyre.services.configuration import ConfigurationService, StationOutcome, is_v16
from ampyre.services.configuration_port import ConfigAnswer
from ampyre.services.configuration_store import VariableQuery
from ampyre.services.station_control import InvalidCommand
from ampyre.services.station_port import NotAddressable

_Text = Annotated[str | None, Query(max_length=100)]
_Name = Annotated[str | None, Query(max_length=50)]


def configuration_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["configuration"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]
    commands = problems(404, 409, 422, 502, 503, 504)

    def service() -> ConfigurationService:
        if deps.configuration is None:
            raise ApiProblem(503, "station configuration is not available in this process")
        return deps.configuration

    def result(station_id: str, action: str, answer: ConfigAnswer, wait: float) -> ConfigResultOut:
        # A 1.6 change that got some answers before one failed still reports the failure.
        check_answer(station_id, action, answer.answer, wait)
        return ConfigResultOut(
            station_id=station_id,
            ocpp_version=service().connected_version(station_id),
            results=[ResultOut.build(r) for r in answer.results],
            reboot_required=any(r.status is ChangeStatus.REBOOT_REQUIRED for r in answer.results),
        )

    def wait_of(timeout: float | None) -> float:
        return timeout if timeout is not None else deps.settings.call_timeout

    @router.get(
        "/stations/{station_id}/configuration",
        dependencies=viewer,
        responses=problems(404, 422, 503),
    )
    async def stored(
        station_id: StationId,
        q: _Text = None,
        component: _Name = None,
        variable: _Name = None,
        evse_id: Annotated[int | None, Query(ge=0, le=INT32_MAX)] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> VariablePage:
        """The station's configuration as last reported, read or set: 1.6 keys
        (`component` null) or 2.x device-model attributes. `q` searches component,
        variable and value (case-insensitive substring)."""
        svc = service()
        await deps.stations.require(station_id)
        page = await svc.variables(
            VariableQuery(
                station_id=station_id,
                component=component,
                variable=variable,
                evse_id=evse_id,
                text=q,
            ),
            limit,
            offset,
        )
        return VariablePage(
            items=[VariableOut.build(v) for v in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @router.get("/configuration", dependencies=viewer, responses=problems(422, 503))
    async def search(
        station_id: Annotated[str | None, Query(max_length=48)] = None,
        component: _Name = None,
        variable: _Name = None,
        value: Annotated[str | None, Query(max_length=2500)] = None,
        q: _Text = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> VariablePage:
        """Stored configuration across stations, e.g. `?variable=HeartbeatInterval` for
        every station's heartbeat interval, `&value=300` for those where it is 300."""
        page = await service().variables(
            VariableQuery(
                station_id=station_id,
                component=component,
                variable=variable,
                value=value,
                text=q,
            ),
            limit,
            offset,
        )
        return VariablePage(
            items=[VariableOut.build(v) for v in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @router.post(
        "/stations/{station_id}/configuration/get", dependencies=operator, responses=commands
    )
    async def read(
        station_id: StationId, body: ReadIn, timeout_s: Timeout = None
    ) -> ConfigResultOut:
        """Read values from the station now (1.6 GetConfiguration, 2.x GetVariables) and
        store what it answers. Without `variables` a 1.6 station sends every key."""
        svc = service()
        await deps.stations.require(station_id)
        wait = wait_of(timeout_s)
        refs = None
        try:
            if body.variables:
                v16 = is_v16(svc.connected_version(station_id) or "")
                refs = [v.setting().ref(v16) for v in body.variables]
            answer = await svc.read(station_id, refs, wait)
        except InvalidCommand as exc:
            invalid_request(str(exc), exc.field)
        except NotAddressable as exc:
            not_in_version(station_id, exc, svc.connected_version(station_id))
        action = "GetConfiguration" if refs is None else "GetVariables"
        return result(station_id, action, answer, wait)

    @router.post("/stations/{station_id}/configuration", dependencies=operator, responses=commands)
    async def change(
        station_id: StationId, body: ChangeIn, timeout_s: Timeout = None
    ) -> ConfigResultOut:
        """Set values (1.6 one ChangeConfiguration per key, 2.x one SetVariables). Each
        result says accepted, reboot_required, rejected, ...; accepted values are stored.
        Nothing is sent if one value has no name in the station's version (422)."""
        svc = service()
        await deps.stations.require(station_id)
        wait = wait_of(timeout_s)
        try:
            answer = await svc.change(station_id, [v.to_setting() for v in body.values], wait)
        except InvalidCommand as exc:
            invalid_request(str(exc), exc.field)
        except NotAddressable as exc:
            not_in_version(station_id, exc, svc.connected_version(station_id))
        return result(station_id, "ChangeConfiguration/SetVariables", answer, wait)

    @router.post(
        "/stations/{station_id}/configuration/reports", dependencies=operator, responses=commands
    )
    async def request_report(
        station_id: StationId, body: ReportIn, timeout_s: Timeout = None
    ) -> ReportOut:
        """Ask for a report of the configuration. 2.x: GetBaseReport (FullInventory,
        ConfigurationInventory, SummaryInventory) or GetReport (Custom); the report's
        NotifyReport parts arrive afterwards (follow `state` at GET .../reports/{id}).
        A complete FullInventory replaces the stored device model. 1.6: every key is read
        at once (GetConfiguration) and the report is already complete."""
        svc = service()
        await deps.stations.require(station_id)
        wait = wait_of(timeout_s)
        criteria = {
            "component_criteria": list(body.component_criteria),
            "components": [
                {
                    "component": c.component,
                    "component_instance": c.component_instance,
                    "evse_id": c.evse_id,
                    "connector_id": c.connector_id,
                    "variable": c.variable,
                    "variable_instance": c.variable_instance,
                }
                for c in body.components
            ],
        }
        if body.kind == "Custom" and not (body.component_criteria or body.components):
            invalid_request("a Custom report names components or criteria", "kind")
        if body.kind != "Custom":
            criteria = {}
        try:
            report, answer = await svc.request_report(station_id, KINDS[body.kind], criteria, wait)
        except StationNotConnected as exc:
            command_failed(station_id, "GetBaseReport", exc)
        except InvalidCommand as exc:
            invalid_request(str(exc), exc.field)
        except NotAddressable as exc:
            not_in_version(station_id, exc, svc.connected_version(station_id))
        check_answer(station_id, "GetBaseReport", answer, wait)
        return ReportOut.build(report)

    @router.get(
        "/stations/{station_id}/configuration/reports",
        dependencies=viewer,
        responses=problems(404, 422, 503),
    )
    async def reports(station_id: StationId, limit: Limit = 50, offset: Offset = 0) -> ReportPage:
        """The station's configuration reports, newest first."""
        svc = service()
        await deps.stations.require(station_id)
        page = await svc.reports(station_id, limit, offset)
        return ReportPage(
            items=[ReportOut.build(r) for r in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @router.get(
        "/stations/{station_id}/configuration/reports/{report_id}",
        dependencies=viewer,
        responses=problems(404, 422, 503),
    )
    async def report(
        station_id: StationId, report_id: Annotated[int, Path(ge=1, le=INT32_MAX)]
    ) -> ReportOut:
        found = await service().report(station_id, report_id)
        if found is None:
            raise ApiProblem(404, f"station {station_id!r} has no report {report_id}")
        return ReportOut.build(found)

    @router.post("/configuration/bulk", dependencies=operator, responses=problems(422, 503))
    async def bulk(body: BulkIn, timeout_s: Timeout = None) -> BulkOut:
        """Set the same values on many stations: those listed in `station_ids`, or every
        station matching `vendor` / `model` / `firmware_version` (exact). Stations are
        asked `concurrency` at a time; each gets its own outcome (a station that is not
        connected or does not answer does not fail the others)."""
        svc = service()
        if body.station_ids is None and not (body.vendor or body.model or body.firmware_version):
            invalid_request(
                "name the stations: station_ids, or vendor / model / firmware_version",
                "station_ids",
            )
        ids, unknown = await svc.fleet(
            body.station_ids, body.vendor, body.model, body.firmware_version
        )
        outcomes = await svc.bulk_change(
            ids, [v.to_setting() for v in body.values], timeout_s, body.concurrency
        )
        outcomes += [
            StationOutcome(i, None, "not_found", detail="no such station") for i in unknown
        ]
        return BulkOut(
            stations=len(outcomes),
            counts=dict(Counter(o.status for o in outcomes)),
            results=[StationOutcomeOut.build(o) for o in outcomes],
        )

    return router
