"""The protocol side of OCPP cost messages (services/ocpp_costs.py): the CostMessenger
port over the CommandRouter, picking the codec of the station's connected version
(1.6: protocol/ocpp16/costs.py, the OCA California Pricing DataTransfer messages; 2.0.1
and 2.1: protocol/ocpp201/costs.py; 2.1's tariff commands: protocol/ocpp21/tariffs.py),
and the handler block that adds costs to the transaction messages' answers.

The block wraps the base transaction handlers (protocol/ocpp16/transactions.py,
protocol/ocpp201/transactions.py) instead of changing them: they run on a TransactionService
whose `record` also notes what it stored (`RecordTap`), so the wrapper learns the
transaction without reading it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any, cast

from ampyre.domain.models import OcppVersion
from ampyre.domain.tariffs import Tariff
from ampyre.domain.transactions import StationMeterValues, TransactionEvent
from ampyre.protocol.codec import Request, answer_status
from ampyre.protocol.ocpp16 import costs as costs16
from ampyre.protocol.ocpp16 import transactions as transactions16
from ampyre.protocol.ocpp21 import tariffs as tariffs21
from ampyre.protocol.ocpp201 import costs as costs201
from ampyre.protocol.ocpp201 import transactions as transactions201
from ampyre.protocol.session import CallContext, Handler
from ampyre.services.commands import (
    CommandError,
    CommandRouter,
    CommandTimeout,
    InvalidPayload,
    StationNotConnected,
)
from ampyre.services.ocpp_cost_live import LiveCosts
from ampyre.services.ocpp_costs import (
    ClearAnswer,
    FinalCost,
    OcppCosts,
    RunningCost,
    TariffPush,
    TariffsAnswer,
)
from ampyre.services.station_port import ERROR, NOT_CONNECTED, TIMEOUT, Answer, NotAddressable
from ampyre.services.transactions import Recorded, TransactionService

_V16 = OcppVersion.V16.value
_V21 = OcppVersion.V21.value

# What the base handler's `record` stored, for the wrapper around it (the handler runs in
# the wrapper's task, so the value set inside is seen after it returns).
_RECORDED: ContextVar[Recorded | None] = ContextVar("ampyre_cost_recorded", default=None)


class RecordTap:
    """The TransactionService as the base transaction handlers use it (`now`, `record`,
    `record_station_meter_values`), noting what `record` stored."""

    def __init__(self, inner: TransactionService) -> None:
        self._inner = inner

    def now(self) -> Any:
        return self._inner.now()

    async def record(self, event: TransactionEvent) -> Recorded:
        recorded = await self._inner.record(event)
        _RECORDED.set(recorded)
        return recorded

    async def record_station_meter_values(self, values: StationMeterValues) -> None:
        await self._inner.record_station_meter_values(values)


def tapped(inner: TransactionService) -> TransactionService:
    return cast(TransactionService, RecordTap(inner))


async def call_recording(
    base: Handler, ctx: CallContext, payload: dict[str, Any]
) -> tuple[dict[str, Any], Recorded | None]:
    """Run a base handler built on `tapped(...)`: its answer and what it recorded."""
    token = _RECORDED.set(None)
    try:
        answer = await base(ctx, payload)
        return answer, _RECORDED.get()
    finally:
        _RECORDED.reset(token)


def cost_handlers(
    costs: OcppCosts, live: LiveCosts, transactions: TransactionService
) -> dict[OcppVersion, dict[str, Handler]]:
    """The handler block (roaming.blocks) of OCPP cost messages."""
    base16 = transactions16.handlers(tapped(transactions))
    base201 = transactions201.handlers(tapped(transactions))["TransactionEvent"]
    return {
        OcppVersion.V16: costs16.handlers(costs, live, base16, call_recording),
        OcppVersion.V201: costs201.handlers(costs, live, base201, call_recording, OcppVersion.V201),
        OcppVersion.V21: costs201.handlers(costs, live, base201, call_recording, OcppVersion.V21),
    }


class OcppCostMessenger:
    """services.ocpp_costs.CostMessenger over OCPP."""

    def __init__(self, router: CommandRouter) -> None:
        self._router = router

    def connected_version(self, station_id: str) -> str | None:
        return self._router.ocpp_version(station_id)

    async def _ask(self, station_id: str, request: Request, timeout: float | None) -> Answer:
        action, payload = request
        try:
            outcome = await self._router.call(station_id, action, payload, timeout=timeout)
        except InvalidPayload as exc:
            raise NotAddressable(f"{action} refused by the OCPP schema: {exc}") from None
        except StationNotConnected:
            return Answer(NOT_CONNECTED, detail="the station is not connected")
        except CommandTimeout:
            return Answer(TIMEOUT, detail=f"the station did not answer {action} in time")
        except CommandError as exc:
            return Answer(ERROR, detail=f"{action} could not be delivered: {exc}")
        if not outcome.ok:
            detail = f"the station answered {action} with {outcome.error_code}"
            return Answer(ERROR, outcome.error_code, detail, outcome)
        return Answer(outcome.status, answer_status(outcome.payload), outcome=outcome)

    def _v21(self, station_id: str, what: str) -> bool:
        """True for a connected 2.1 station, False when not connected; NotAddressable for
        1.6 and 2.0.1 (no tariff messages before 2.1)."""
        version = self._router.ocpp_version(station_id)
        if version is None:
            return False
        if version != _V21:
            raise NotAddressable(f"OCPP {version.removeprefix('ocpp')} has no {what}")
        return True

    async def running_cost(
        self, station_id: str, update: RunningCost, timeout: float | None = None
    ) -> Answer:
        version = self._router.ocpp_version(station_id)
        if version is None:
            return Answer(NOT_CONNECTED, detail="the station is not connected")
        encode = costs16.running_cost if version == _V16 else costs201.cost_updated
        return await self._ask(station_id, encode(update), timeout)

    async def final_cost(
        self, station_id: str, final: FinalCost, timeout: float | None = None
    ) -> Answer:
        version = self._router.ocpp_version(station_id)
        if version is None:
            return Answer(NOT_CONNECTED, detail="the station is not connected")
        if version != _V16:
            # 2.x: the final cost is in the TransactionEventResponse (I03).
            raise NotAddressable("OCPP 2.x gets the final cost in TransactionEventResponse")
        return await self._ask(station_id, costs16.final_cost(final), timeout)

    async def set_default_tariff(
        self, station_id: str, evse_id: int, tariff: Tariff, timeout: float | None = None
    ) -> TariffPush:
        request = tariffs21.set_default_tariff(evse_id, tariff)  # TariffNotExpressible first
        if not self._v21(station_id, "SetDefaultTariff"):
            return TariffPush(
                Answer(NOT_CONNECTED, detail="the station is not connected"), tariff.id
            )
        answer = await self._ask(station_id, request, timeout)
        return TariffPush(answer, tariff.id, tariffs21.status_info(answer.response))

    async def change_transaction_tariff(
        self, station_id: str, transaction_id: str, tariff: Tariff, timeout: float | None = None
    ) -> TariffPush:
        request = tariffs21.change_transaction_tariff(transaction_id, tariff)
        if not self._v21(station_id, "ChangeTransactionTariff"):
            return TariffPush(
                Answer(NOT_CONNECTED, detail="the station is not connected"), tariff.id
            )
        answer = await self._ask(station_id, request, timeout)
        return TariffPush(answer, tariff.id, tariffs21.status_info(answer.response))

    async def get_tariffs(
        self, station_id: str, evse_id: int, timeout: float | None = None
    ) -> TariffsAnswer:
        if not self._v21(station_id, "GetTariffs"):
            return TariffsAnswer(Answer(NOT_CONNECTED, detail="the station is not connected"))
        answer = await self._ask(station_id, tariffs21.get_tariffs(evse_id), timeout)
        return TariffsAnswer(
            answer,
            tariffs21.assignments(answer.response),
            tariffs21.status_info(answer.response),
        )

    async def clear_tariffs(
        self,
        station_id: str,
        tariff_ids: Sequence[str] | None,
        evse_id: int | None,
        timeout: float | None = None,
    ) -> ClearAnswer:
        if not self._v21(station_id, "ClearTariffs"):
            return ClearAnswer(Answer(NOT_CONNECTED, detail="the station is not connected"))
        answer = await self._ask(station_id, tariffs21.clear_tariffs(tariff_ids, evse_id), timeout)
        return ClearAnswer(answer, tariffs21.clear_results(answer.response))
