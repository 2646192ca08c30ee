"""Version-neutral station commands that wait for the station's answer (reset, change
availability, unlock, trigger message), and the raw command's helpers: the actions a
station's version offers and a dry run of a payload against the action's schema.

Each command answers 200 {"status", "response"} with the CALLRESULT (status in lower
case), 409 when the station is not connected, 504 without an answer in time, 502 on a
CALLERROR, and 422 (nothing sent) when the station's OCPP version cannot express it."""

from collections.abc import Awaitable, Callable
from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, Query

from ampyre.api.auth import Auth
from ampyre.api.command_errors import (
    check_answer,
    command_failed,
    invalid_request,
    not_in_version,
)
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import Limit, Offset, problems
from ampyre.api.routes.commands import TYPED_ENDPOINTS, Action, Payload, Timeout, refuse_raw
from ampyre.api.routes.stations import StationId
from ampyre.api.schemas import CommandResult
from ampyre.api.schemas_control import (
    AvailabilityChangeOut,
    AvailabilityChangePage,
    AvailabilityIn,
    DataTransferIn,
    OcppActionsOut,
    ResetIn,
    TransactionStatusIn,
    TransactionStatusOut,
    TriggerIn,
    UnlockIn,
    ValidOut,
)
from ampyre.domain.models import OcppVersion, Role
from ampyre.protocol.actions import station_initiated
from ampyre.protocol.commands import default_codecs
from ampyre.protocol.errors import error_code
from ampyre.protocol.schemas import Schemas
from ampyre.services.commands import InvalidPayload, UnknownAction
from ampyre.services.station_control import InvalidCommand, StationControl, TriggerNotSupported
from ampyre.services.station_port import Answer, NotAddressable

# A command given to the service: (service, seconds to wait) -> its answer.
_Send = Callable[[StationControl, float], Awaitable[Answer]]

VersionQuery = Annotated[
    OcppVersion | None,
    Query(
        alias="version",
        description="the OCPP version to use (default: the station's live connection, "
        "else the version it last connected with)",
    ),
]


def _not_addressable(station_id: str, exc: NotAddressable, version: str | None) -> NoReturn:
    if isinstance(exc, TriggerNotSupported):
        raise ApiProblem(
            422,
            str(exc),
            slug="trigger-not-supported",
            title="Not a trigger of this OCPP version",
            ocpp_version=version,
            supported=[t.value for t in exc.supported],
            errors=[{"loc": ["body", "message"], "msg": str(exc), "type": "value_error"}],
        ) from None
    not_in_version(station_id, exc, version)


def _actions(schemas: Schemas, version: OcppVersion) -> list[str]:
    """CSMS -> station actions: those that can be a CALL (with a response schema) and
    are not sent only by stations (DataTransfer goes both ways and is one)."""
    registry = schemas[version]
    return sorted(
        a
        for a in registry.actions
        if registry.has_response(a) and not station_initiated(a, version.value)
    )


def station_control_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(prefix="/stations", tags=["commands"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]
    schemas = deps.schemas if deps.schemas is not None else Schemas()
    # Per version, computed on first use (schema files are listed, nothing is compiled).
    listed: dict[OcppVersion, list[str]] = {}

    def actions_of(version: OcppVersion) -> list[str]:
        found = listed.get(version)
        if found is None:
            found = listed[version] = _actions(schemas, version)
        return found

    def service() -> StationControl:
        if deps.station_control is None:
            raise ApiProblem(503, "station commands are not available in this process")
        return deps.station_control

    async def run(
        station_id: str, action: str, timeout: float | None, send: _Send
    ) -> CommandResult:
        svc = service()
        await deps.stations.require(station_id)
        wait = timeout if timeout is not None else deps.settings.call_timeout
        try:
            answer = await send(svc, wait)
        except InvalidCommand as exc:
            invalid_request(str(exc), exc.field)
        except NotAddressable as exc:
            _not_addressable(station_id, exc, svc.connected_version(station_id))
        check_answer(station_id, action, answer, wait)
        return CommandResult(status=answer.status, response=answer.response)

    commands = problems(404, 409, 422, 502, 503, 504)

    @router.post("/{station_id}/reset", dependencies=operator, responses=commands)
    async def reset(
        station_id: StationId, body: ResetIn, timeout_s: Timeout = None
    ) -> CommandResult:
        """Reset the station (or, 2.x, one EVSE). 1.6: kind soft -> Soft, hard -> Hard;
        `when` on_idle and `evse_id` are 422 (1.6 has neither). 2.x: immediate ->
        Immediate (soft and hard alike: 2.x has no hard reset), on_idle -> OnIdle (the
        station answers Scheduled while a transaction runs); hard + on_idle is 422."""
        return await run(
            station_id,
            "Reset",
            timeout_s,
            lambda svc, wait: svc.reset(station_id, body.kind, body.when, body.evse_id, wait),
        )

    @router.post("/{station_id}/availability", dependencies=operator, responses=commands)
    async def availability(
        station_id: StationId, body: AvailabilityIn, timeout_s: Timeout = None
    ) -> CommandResult:
        """ChangeAvailability: Operative or Inoperative, for the whole station (no
        `evse_id`, or 0), an EVSE, or one connector of it. 1.6: connectorId 0 for the
        station, else the EVSE id (a 1.6 connector n is EVSE n, connector n). The station
        answers Scheduled while a transaction runs there and reports the new status."""
        return await run(
            station_id,
            "ChangeAvailability",
            timeout_s,
            lambda svc, wait: svc.change_availability(
                station_id, body.operative, body.evse_id, body.connector_id, wait
            ),
        )

    @router.post("/{station_id}/unlock", dependencies=operator, responses=commands)
    async def unlock(
        station_id: StationId, body: UnlockIn, timeout_s: Timeout = None
    ) -> CommandResult:
        """UnlockConnector. 1.6 addresses the connector by `evse_id` (`connector_id` must
        equal it); a 1.6 station ends a transaction running there first, a 2.x one answers
        `ongoingauthorizedtransaction` instead."""
        return await run(
            station_id,
            "UnlockConnector",
            timeout_s,
            lambda svc, wait: svc.unlock(station_id, body.evse_id, body.connector_id, wait),
        )

    @router.post("/{station_id}/trigger", dependencies=operator, responses=commands)
    async def trigger(
        station_id: StationId, body: TriggerIn, timeout_s: Timeout = None
    ) -> CommandResult:
        """TriggerMessage: ask the station to send `message` now (optionally for one EVSE
        or connector). 422 with the version's `supported` list when the station's version
        has no such trigger (e.g. TransactionEvent or LogStatusNotification for 1.6,
        DiagnosticsStatusNotification for 2.x)."""
        return await run(
            station_id,
            "TriggerMessage",
            timeout_s,
            lambda svc, wait: svc.trigger(
                station_id, body.message, body.evse_id, body.connector_id, wait
            ),
        )

    @router.get(
        "/{station_id}/availability-changes",
        dependencies=viewer,
        responses=problems(404, 422, 503),
    )
    async def availability_changes(
        station_id: StationId, limit: Limit = 50, offset: Offset = 0
    ) -> AvailabilityChangePage:
        """ChangeAvailability commands the station answered `Scheduled` (a transaction
        ran there), newest first: `scheduled` until the station's status notifications
        show the new availability on every connector it covers, then `applied`."""
        tracker = service().availability
        if tracker is None:
            raise ApiProblem(503, "availability tracking is not available in this process")
        await deps.stations.require(station_id)
        page = await tracker.changes(station_id, limit, offset)
        return AvailabilityChangePage(
            items=[
                AvailabilityChangeOut(
                    id=c.id,
                    evse_id=c.evse_id or None,
                    connector_id=c.connector_id or None,
                    operative=c.operative,
                    state=c.state,
                    requested_at=c.requested_at,
                    applied_at=c.applied_at,
                )
                for c in page.items
            ],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @router.post("/{station_id}/data-transfer", dependencies=operator, responses=commands)
    async def data_transfer(
        station_id: StationId, body: DataTransferIn, timeout_s: Timeout = None
    ) -> CommandResult:
        """DataTransfer to the station: a vendor-specific message. The station answers
        accepted, rejected, unknownmessageid or unknownvendorid; its `data` is in
        `response`. 1.6 carries only string data (422 otherwise)."""
        return await run(
            station_id,
            "DataTransfer",
            timeout_s,
            lambda svc, wait: svc.data_transfer(
                station_id, body.vendor_id, body.message_id, body.data, wait
            ),
        )

    @router.post("/{station_id}/transaction-status", dependencies=operator, responses=commands)
    async def transaction_status(
        station_id: StationId, body: TransactionStatusIn, timeout_s: Timeout = None
    ) -> TransactionStatusOut:
        """2.x GetTransactionStatus: whether a transaction is still ongoing at the station
        and whether it has transaction messages queued (422 for 1.6)."""
        svc = service()
        await deps.stations.require(station_id)
        wait = timeout_s if timeout_s is not None else deps.settings.call_timeout
        try:
            answer = await svc.transaction_status(station_id, body.transaction_id, wait)
        except InvalidCommand as exc:
            invalid_request(str(exc), exc.field)
        except NotAddressable as exc:
            _not_addressable(station_id, exc, svc.connected_version(station_id))
        check_answer(station_id, "GetTransactionStatus", answer, wait)
        return TransactionStatusOut(
            status=answer.status,
            ongoing=answer.ongoing,
            messages_in_queue=answer.messages_in_queue,
            response=answer.response,
        )

    async def version_of(station_id: str, wanted: OcppVersion | None) -> OcppVersion:
        station = await deps.stations.require(station_id)
        if wanted is not None:
            return wanted
        found = deps.commands.ocpp_version(station_id) or station.ocpp_version
        if found is None:
            raise ApiProblem(
                409,
                f"station {station_id!r} has never connected: its OCPP version is unknown "
                "(give ?version=ocpp1.6|ocpp2.0.1|ocpp2.1)",
                slug="ocpp-version-unknown",
            )
        return OcppVersion(found)

    @router.get(
        "/{station_id}/ocpp-actions", dependencies=viewer, responses=problems(404, 409, 422)
    )
    async def ocpp_actions(station_id: StationId, version: VersionQuery = None) -> OcppActionsOut:
        """What the raw command endpoint can send to this station: the CSMS-to-station
        actions of its OCPP version, the ones it refuses in favour of a typed endpoint,
        and the messages POST .../trigger can ask for."""
        v = await version_of(station_id, version)
        codec_triggers = (
            deps.station_control.trigger_messages(v.value)
            if deps.station_control is not None
            else default_codecs()[v.value].triggers()
        )
        actions = actions_of(v)
        return OcppActionsOut(
            station_id=station_id,
            ocpp_version=v.value,
            connected=deps.commands.ocpp_version(station_id) is not None,
            actions=actions,
            typed_endpoints={
                a: e.replace("{station_id}", station_id)
                for a, e in TYPED_ENDPOINTS.items()
                if a in actions
            },
            trigger_messages=[t.value for t in codec_triggers],
        )

    @router.post(
        "/{station_id}/ocpp/{action}/validate",
        dependencies=operator,
        responses=problems(400, 404, 409, 422),
    )
    async def validate(
        station_id: StationId,
        action: Action,
        payload: Payload = None,
        version: VersionQuery = None,
    ) -> ValidOut:
        """Check a raw command without sending it: 200 {"valid": true} if POST
        .../ocpp/{action} would send it; otherwise the problem that endpoint would answer
        before sending (400 unknown action, 422 payload refused by the schema with the
        violation in `errors`, 409/422 for actions it refuses). Same validators as the
        raw endpoint; they stop at the first violation."""
        v = await version_of(station_id, version)
        refuse_raw(station_id, action)
        registry = schemas[v]
        if action not in actions_of(v):
            command_failed(
                station_id, action, UnknownAction(f"{action} is not an action of {v.value}"),
                version=v.value,
            )  # fmt: skip
        violation = registry.validate(action, payload or {}, response=False)
        if violation is not None:
            command_failed(
                station_id,
                action,
                InvalidPayload(violation.message, error_code(violation.kind, v), violation.path),
                version=v.value,
            )
        return ValidOut(valid=True, ocpp_version=v.value)

    return router
