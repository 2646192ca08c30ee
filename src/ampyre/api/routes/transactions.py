"""REST routes: transactions (reads), remote start and remote stop, administrative close."""

import dataclasses
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from ampyre.api import csv_export
from ampyre.api.auth import Auth
from ampyre.api.command_errors import check_outcome, command_failed
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, INT64_MAX, Limit, Offset, problems
from ampyre.api.routes.charging_profiles import remote_start_profile
from ampyre.api.routes.stations import StationId
from ampyre.api.schemas_dashboard import ChartPointOut, MeterSeriesOut
from ampyre.api.schemas_transactions import (
    CloseIn,
    MeterValueOut,
    MeterValuePage,
    RemoteStartIn,
    RemoteStartOut,
    RemoteStopIn,
    RemoteStopOut,
    TransactionEventList,
    TransactionEventOut,
    TransactionOut,
    TransactionPage,
)
from ampyre.domain.models import ApiToken, Page, Role
from ampyre.domain.transactions import Transaction, TransactionFilter, TransactionStatus
from ampyre.services.commands import (
    CommandError,
)
from ampyre.services.dashboard import SERIES_MAX
from ampyre.services.transactions import (
    TransactionNotActive,
    TransactionNotFound,
    TransactionNotStale,
    TransactionService,
)

TransactionPk = Annotated[int, Path(ge=1, le=INT64_MAX, description="Ampyre's transaction id")]


def transaction_filter(
    station_id: Annotated[str | None, Query(max_length=255)] = None,
    id_token: Annotated[
        str | None, Query(max_length=255, description="exact, ignoring case")
    ] = None,
    status: Literal["active", "ended"] | None = None,
    started_from: Annotated[
        datetime | None, Query(description="started at or after (ISO 8601)")
    ] = None,
    started_to: Annotated[datetime | None, Query(description="started before")] = None,
    remote_start_id: Annotated[int | None, Query(ge=-INT32_MAX - 1, le=INT32_MAX)] = None,
    stale: Annotated[
        bool | None,
        Query(description="only stale (true) or only not stale (false) transactions"),
    ] = None,
) -> TransactionFilter:
    """The filters of the list and of the CSV export (one definition for both)."""
    return TransactionFilter(
        station_id=station_id,
        id_token=id_token,
        status=TransactionStatus(status) if status else None,
        started_from=started_from,
        started_to=started_to,
        remote_start_id=remote_start_id,
        stale=stale,
    )


Filter = Annotated[TransactionFilter, Depends(transaction_filter)]


def transactions_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["transactions"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]

    def service() -> TransactionService:
        if deps.transactions is None:
            raise ApiProblem(
                503, "transactions are not available in this process", slug="not-available"
            )
        return deps.transactions

    async def require(pk: int) -> Transaction:
        tx = await service().get(pk)
        if tx is None:
            raise ApiProblem(404, f"transaction {pk} does not exist", slug="transaction-not-found")
        return tx

    @router.get("/transactions", dependencies=viewer, responses=problems(422, 503))
    async def list_transactions(
        where: Filter, limit: Limit = 50, offset: Offset = 0
    ) -> TransactionPage:
        """Transactions, newest started first."""
        svc = service()
        page = await svc.list_transactions(where, limit, offset)
        return TransactionPage(
            items=[TransactionOut.build(t, svc.stale(t)) for t in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @router.get(
        "/transactions/export.csv",
        dependencies=viewer,
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
            **problems(422, 503),
        },
    )
    async def export_transactions(where: Filter) -> StreamingResponse:
        """The transactions `GET /transactions` lists with the same filters, as CSV
        (RFC 4180, header row, newest first, all of them: no paging), streamed. Text cells
        that a spreadsheet would run as a formula start with a single quote."""
        svc = service()

        async def read(before: int | None, size: int) -> Page:
            return await svc.list_transactions(
                dataclasses.replace(where, before_id=before), size, 0
            )

        first = await read(None, csv_export.PAGE)
        return StreamingResponse(
            csv_export.export(first, read, svc.stale),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="transactions.csv"',
                "Cache-Control": "no-store",
            },
        )

    @router.get("/transactions/{pk}", dependencies=viewer, responses=problems(404, 503))
    async def get_transaction(pk: TransactionPk) -> TransactionOut:
        tx = await require(pk)
        return TransactionOut.build(tx, service().stale(tx))

    @router.get(
        "/transactions/{pk}/meter-values", dependencies=viewer, responses=problems(404, 422, 503)
    )
    async def meter_values(
        pk: TransactionPk, limit: Limit = 50, offset: Offset = 0
    ) -> MeterValuePage:
        """Sampled values by meter timestamp: every measurand, phase and unit as sent,
        with the value in SI units beside it."""
        await require(pk)
        page = await service().meter_values(pk, limit, offset)
        return MeterValuePage(
            items=[MeterValueOut.build(m) for m in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @router.get(
        "/transactions/{pk}/meter-series",
        dependencies=viewer,
        responses=problems(404, 422, 503),
    )
    async def meter_series(
        pk: TransactionPk,
        after: Annotated[
            datetime | None,
            Query(description="only points after this meter time (a growing chart)"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=SERIES_MAX)] = SERIES_MAX,
    ) -> MeterSeriesOut:
        """The transaction's meter values for a chart: one point per meter timestamp,
        oldest first, with power (W), the energy register (Wh) and SoC (%) where the
        station sent them."""
        tx = await require(pk)
        if deps.dashboard is None:
            raise ApiProblem(503, "the dashboard is not available", slug="not-available")
        points, more = await deps.dashboard.meter_series(pk, after, limit)
        return MeterSeriesOut(
            transaction_id=pk,
            meter_start_wh=tx.meter_start_wh,
            points=[ChartPointOut.build(p) for p in points],
            more=more,
        )

    @router.get("/transactions/{pk}/events", dependencies=viewer, responses=problems(404, 503))
    async def events(pk: TransactionPk) -> TransactionEventList:
        """The transaction's messages (2.x TransactionEvents with seqNo, triggerReason,
        chargingState; 1.6 start and stop) as received, oldest first."""
        tx = await require(pk)
        records = await service().events(pk)
        return TransactionEventList(
            items=[TransactionEventOut.build(r) for r in records],
            total=len(records),
            missing_seq_nos=list(tx.missing_seq_nos),
        )

    @router.post(
        "/stations/{station_id}/remote-start",
        dependencies=operator,
        responses=problems(404, 409, 422, 502, 503, 504),
    )
    async def remote_start(station_id: StationId, body: RemoteStartIn) -> RemoteStartOut:
        """Ask the station to start charging (1.6 RemoteStartTransaction, 2.x
        RequestStartTransaction) and return its answer. If it accepts and reports the
        transaction within `wait` seconds, the transaction is included; otherwise poll
        `GET /transactions?remote_start_id=N`."""
        svc = service()
        await deps.stations.require(station_id)
        action = "RemoteStartTransaction/RequestStartTransaction"
        profile, charging_profile = None, body.charging_profile
        if charging_profile is not None:  # Ampyre's profile shape: checked and encoded
            profile, charging_profile = await remote_start_profile(
                deps, station_id, body.evse_id, charging_profile
            )
        try:
            result = await svc.remote_start(
                station_id,
                body.id_token,
                evse_id=body.evse_id,
                id_token_type=body.id_token_type.value if body.id_token_type else None,
                charging_profile=charging_profile,
                wait=body.wait,
            )
        except CommandError as exc:
            command_failed(station_id, action, exc)
        check_outcome(station_id, action, result.outcome)
        if (
            profile is not None
            and deps.charging_profiles is not None
            and result.outcome.status == "accepted"
        ):
            tx = result.transaction
            await deps.charging_profiles.remote_started(
                station_id,
                tx.evse_id if tx is not None and tx.evse_id else body.evse_id,
                profile,
                tx.transaction_id if tx is not None else None,
            )
        return RemoteStartOut(
            status=result.outcome.status,
            remote_start_id=result.remote_start_id,
            response=result.outcome.payload,
            transaction=TransactionOut.build(result.transaction) if result.transaction else None,
        )

    async def stop(pk: int, station_id: str | None) -> RemoteStopOut:
        svc = service()
        tx = await require(pk)
        if station_id is not None and tx.station_id != station_id:
            raise ApiProblem(
                404,
                f"transaction {pk} is not at station {station_id!r}",
                slug="transaction-not-found",
            )
        action = "RemoteStopTransaction/RequestStopTransaction"
        try:
            tx, outcome = await svc.remote_stop(pk)
        except TransactionNotFound:
            raise ApiProblem(
                404, f"transaction {pk} does not exist", slug="transaction-not-found"
            ) from None
        except TransactionNotActive as exc:
            raise ApiProblem(409, str(exc), slug="transaction-not-active") from None
        except CommandError as exc:
            command_failed(tx.station_id, action, exc)
        check_outcome(tx.station_id, action, outcome)
        return RemoteStopOut(status=outcome.status, transaction_id=tx.id, response=outcome.payload)

    @router.post(
        "/stations/{station_id}/remote-stop",
        dependencies=operator,
        responses=problems(404, 409, 422, 502, 503, 504),
    )
    async def remote_stop(station_id: StationId, body: RemoteStopIn) -> RemoteStopOut:
        """Ask the station to stop a transaction (1.6 RemoteStopTransaction, 2.x
        RequestStopTransaction) and return its answer; the transaction ends when the
        station reports it."""
        await deps.stations.require(station_id)
        return await stop(body.transaction_id, station_id)

    @router.post(
        "/transactions/{pk}/stop",
        dependencies=operator,
        responses=problems(404, 409, 502, 503, 504),
    )
    async def stop_transaction(pk: TransactionPk) -> RemoteStopOut:
        """Same as `POST /stations/{station_id}/remote-stop` for this transaction."""
        return await stop(pk, None)

    @router.post("/transactions/{pk}/close", responses=problems(404, 409, 422, 503))
    async def close_transaction(
        pk: TransactionPk,
        body: CloseIn,
        caller: Annotated[ApiToken, Depends(auth.require(Role.OPERATOR))],
    ) -> TransactionOut:
        """Administrative close of a transaction its station will not end (offline,
        replaced, gone; see `stale`): it ends now with stop_reason ClosedByOperator, the
        energy known so far is final, and who (this API token's name), why and when are
        stored. A transaction.ended webhook event with `closed_administratively: true` is
        sent. A stop the station reports later still replaces the end time, reason and
        stop meter. 409 if it has ended, or is not stale and `force` is not set."""
        try:
            tx = await service().close_administratively(pk, body.reason, caller.name, body.force)
        except TransactionNotFound:
            raise ApiProblem(
                404, f"transaction {pk} does not exist", slug="transaction-not-found"
            ) from None
        except TransactionNotActive as exc:
            raise ApiProblem(409, str(exc), slug="transaction-not-active") from None
        except TransactionNotStale as exc:
            raise ApiProblem(409, str(exc), slug="transaction-not-stale") from None
        return TransactionOut.build(tx, service().stale(tx))

    return router
