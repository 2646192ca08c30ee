"""OCPP 2.1 tariffs on stations (issue 20 part 5; services/ocpp_costs.py): give a station
one of Ampyre's tariffs for local cost calculation, change a running transaction's
tariff, ask a station which tariffs it has, clear them; and what a station reported
about a transaction's cost next to Ampyre's own.

- `POST /stations/{id}/tariffs/default` SetDefaultTariff (I07)
- `POST /stations/{id}/tariffs/query` GetTariffs (I09)
- `POST /stations/{id}/tariffs/clear` ClearTariffs (I10)
- `POST /transactions/{pk}/tariff` ChangeTransactionTariff (I08)
- `GET /transactions/{pk}/station-cost` the station's costDetails / tariffId reports

Commands answer 409 when the station is not connected, 504 without an answer in time,
502 on a CALLERROR, 422 `not-in-version` for a station not on OCPP 2.1 and 422 for a
tariff OCPP 2.1 cannot express (nothing sent).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from ampyre.api.auth import Auth
from ampyre.api.command_errors import check_answer, invalid_request, not_in_version
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, INT64_MAX, problems
from ampyre.api.routes.commands import Timeout
from ampyre.api.routes.stations import StationId
from ampyre.domain.models import Role
from ampyre.services.ocpp_costs import (
    OcppCosts,
    TariffNotExpressible,
    TariffPush,
    TransactionEnded,
)
from ampyre.services.station_port import NotAddressable

TransactionPk = Annotated[int, Path(ge=1, le=INT64_MAX, description="Ampyre's transaction id")]
TariffId = Annotated[str, Field(min_length=1, max_length=36, pattern=r"^[\x20-\x7e]+$")]
EvseId = Annotated[int, Field(ge=0, le=INT32_MAX)]


class DefaultTariffIn(BaseModel):
    tariff_id: TariffId | None = Field(
        None, description="one of Ampyre's tariffs; null: the one Ampyre prices the EVSE with"
    )
    evse_id: EvseId = Field(0, description="0: every EVSE of the station")


class TransactionTariffIn(BaseModel):
    tariff_id: TariffId


class TariffQueryIn(BaseModel):
    evse_id: EvseId = Field(0, description="0: the tariffs of every EVSE")


class ClearTariffsIn(BaseModel):
    tariff_ids: list[TariffId] | None = Field(None, min_length=1, max_length=100)
    evse_id: EvseId | None = None


class TariffCommandOut(BaseModel):
    status: str = Field(description="the station's status in lower case")
    station_answer: str | None
    status_info: dict[str, Any] | None = None
    tariff_id: str
    evse_id: int | None = None
    transaction_id: int | None = None


class TariffAssignmentOut(BaseModel):
    tariff_id: str
    tariff_kind: str
    valid_from: datetime | None
    evse_ids: list[int]
    id_tokens: list[str]


class TariffQueryOut(BaseModel):
    status: str
    station_answer: str | None
    status_info: dict[str, Any] | None = None
    tariff_assignments: list[TariffAssignmentOut]


class ClearResultOut(BaseModel):
    tariff_id: str | None
    status: str
    status_info: dict[str, Any] | None = None


class ClearTariffsOut(BaseModel):
    status: str
    results: list[ClearResultOut]


class StationReportOut(BaseModel):
    seq_no: int | None
    event: str
    timestamp: datetime
    tariff_id: str | None
    cost_details: dict[str, Any] | None


class CostOut(BaseModel):
    total: Decimal = Field(description="including taxes, rounded to the currency's minor unit")
    currency: str


class StationCostOut(BaseModel):
    transaction_pk: int
    station_id: str
    transaction_id: str
    station_reports: list[StationReportOut]
    ampyre_cost: CostOut | None = Field(description="Ampyre's own cost now; null: no tariff")


def station_tariffs_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["tariffs"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]
    commands = problems(404, 409, 422, 502, 503, 504)

    def service() -> OcppCosts:
        costs = deps.ocpp_costs
        if costs is None:
            raise ApiProblem(503, "OCPP cost messages are not available in this process")
        return costs

    def wait_of(timeout_s: float | None) -> float:
        return timeout_s if timeout_s is not None else deps.settings.call_timeout

    def version(station_id: str) -> str | None:
        return service().messenger.connected_version(station_id)

    def pushed(
        station_id: str, action: str, push: TariffPush, wait: float, **extra: Any
    ) -> TariffCommandOut:
        check_answer(station_id, action, push.answer, wait)
        return TariffCommandOut(
            status=push.answer.status,
            station_answer=push.answer.station_answer,
            status_info=push.status_info,
            tariff_id=push.tariff_id,
            **extra,
        )

    @router.post(
        "/stations/{station_id}/tariffs/default", dependencies=operator, responses=commands
    )
    async def set_default_tariff(
        station_id: StationId, body: DefaultTariffIn, timeout_s: Timeout = None
    ) -> TariffCommandOut:
        """SetDefaultTariff (OCPP 2.1 I07): the station calculates costs locally with
        this tariff (TariffSetStatus: Accepted, Rejected, TooManyElements,
        ConditionNotSupported, DuplicateTariffId). Ampyre's final cost still comes from
        its own engine."""
        svc = service()
        await deps.stations.require(station_id)
        wait = wait_of(timeout_s)
        try:
            push = await svc.push_default_tariff(station_id, body.evse_id, body.tariff_id, wait)
        except NotAddressable as exc:
            not_in_version(station_id, exc, version(station_id))
        except TariffNotExpressible as exc:
            invalid_request(f"the tariff cannot be expressed in OCPP 2.1: {exc}", "tariff_id")
        if push is None:
            what = body.tariff_id or f"for EVSE {body.evse_id} of station {station_id!r}"
            raise ApiProblem(404, f"no tariff {what}")
        return pushed(station_id, "SetDefaultTariff", push, wait, evse_id=body.evse_id)

    @router.post("/stations/{station_id}/tariffs/query", dependencies=operator, responses=commands)
    async def get_tariffs(
        station_id: StationId, body: TariffQueryIn, timeout_s: Timeout = None
    ) -> TariffQueryOut:
        """GetTariffs (OCPP 2.1 I09): the tariffs the station holds and where they apply
        (status NoTariff when it has none)."""
        svc = service()
        await deps.stations.require(station_id)
        wait = wait_of(timeout_s)
        try:
            got = await svc.station_tariffs(station_id, body.evse_id, wait)
        except NotAddressable as exc:
            not_in_version(station_id, exc, version(station_id))
        check_answer(station_id, "GetTariffs", got.answer, wait)
        return TariffQueryOut(
            status=got.answer.status,
            station_answer=got.answer.station_answer,
            status_info=got.status_info,
            tariff_assignments=[
                TariffAssignmentOut(
                    tariff_id=a.tariff_id,
                    tariff_kind=a.tariff_kind,
                    valid_from=a.valid_from,
                    evse_ids=list(a.evse_ids),
                    id_tokens=list(a.id_tokens),
                )
                for a in got.assignments
            ],
        )

    @router.post("/stations/{station_id}/tariffs/clear", dependencies=operator, responses=commands)
    async def clear_tariffs(
        station_id: StationId, body: ClearTariffsIn, timeout_s: Timeout = None
    ) -> ClearTariffsOut:
        """ClearTariffs (OCPP 2.1 I10): without `tariff_ids` every tariff (at `evse_id`
        when given); one result per tariff."""
        svc = service()
        await deps.stations.require(station_id)
        wait = wait_of(timeout_s)
        try:
            cleared = await svc.clear_station_tariffs(
                station_id, body.tariff_ids, body.evse_id, wait
            )
        except NotAddressable as exc:
            not_in_version(station_id, exc, version(station_id))
        check_answer(station_id, "ClearTariffs", cleared.answer, wait)
        return ClearTariffsOut(
            status=cleared.answer.status,
            results=[
                ClearResultOut(tariff_id=r.tariff_id, status=r.status, status_info=r.status_info)
                for r in cleared.results
            ],
        )

    @router.post("/transactions/{pk}/tariff", dependencies=operator, responses=commands)
    async def change_transaction_tariff(
        pk: TransactionPk, body: TransactionTariffIn, timeout_s: Timeout = None
    ) -> TariffCommandOut:
        """ChangeTransactionTariff (OCPP 2.1 I08) of a running transaction (409 when it
        has ended; TariffChangeStatus: Accepted, Rejected, TooManyElements,
        ConditionNotSupported, TxNotFound, NoCurrencyChange)."""
        svc = service()
        tx = await svc.transactions.get(pk)
        if tx is None:
            raise ApiProblem(404, f"no transaction {pk}")
        wait = wait_of(timeout_s)
        try:
            push = await svc.change_transaction_tariff(tx, body.tariff_id, wait)
        except TransactionEnded as exc:
            raise ApiProblem(409, str(exc), slug="transaction-ended") from None
        except NotAddressable as exc:
            not_in_version(tx.station_id, exc, version(tx.station_id))
        except TariffNotExpressible as exc:
            invalid_request(f"the tariff cannot be expressed in OCPP 2.1: {exc}", "tariff_id")
        if push is None:
            raise ApiProblem(404, f"no tariff {body.tariff_id}")
        return pushed(tx.station_id, "ChangeTransactionTariff", push, wait, transaction_id=tx.id)

    @router.get(
        "/transactions/{pk}/station-cost", dependencies=viewer, responses=problems(404, 503)
    )
    async def station_cost(pk: TransactionPk) -> StationCostOut:
        """What the station said about the cost of the transaction (OCPP 2.1 local cost
        calculation: `transactionInfo.tariffId` and `costDetails` per event, as sent) and
        Ampyre's own cost now (null when no tariff applies)."""
        view = await service().station_cost(pk)
        if view is None:
            raise ApiProblem(404, f"no transaction {pk}")
        tx = view.transaction
        return StationCostOut(
            transaction_pk=tx.id,
            station_id=tx.station_id,
            transaction_id=tx.transaction_id,
            station_reports=[
                StationReportOut(
                    seq_no=r.seq_no,
                    event=r.event,
                    timestamp=r.timestamp,
                    tariff_id=r.tariff_id,
                    cost_details=r.cost_details,
                )
                for r in view.reports
            ],
            ampyre_cost=(
                CostOut(total=view.quote.total, currency=view.quote.currency)
                if view.quote is not None
                else None
            ),
        )

    return router
