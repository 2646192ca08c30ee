"""OCPP's own cost messages, version-neutral (issue 20 part 5): when and what Ampyre tells
a station about the cost of a transaction, from the tariff engine (services/tariffs.py).

- The final cost of an ended transaction (2.x `totalCost` in the TransactionEventResponse,
  OCPP 2.0.1 I03; 1.6 the OCA California Pricing `FinalCost` DataTransfer).
- The running cost while it runs (2.x CostUpdated, I02.FR.01 "at a relevant
  interval/moment"; 2.1 also `totalCost` in the response to an Updated event; 1.6
  `RunningCost`): after the events that carry meter values (coalesced, one pricing in
  flight per transaction) and, for a transaction that got no update for
  `tariff_cost_update_interval` seconds, from a periodic sweep (services/ocpp_cost_live.py).
- OCPP 2.1's tariff commands (SetDefaultTariff, ChangeTransactionTariff, GetTariffs,
  ClearTariffs) from Ampyre's tariffs, for the REST API.

The protocol side encodes it for each version (protocol/cost_messages.py and the codecs
it picks). Nothing here runs for a station when no tariff exists at all: the answer to
"any tariff?" is cached and dropped when tariffs change (and after
`cache_seconds`, the tariff service's own cache time, for changes made on another node).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from ampyre.config import Settings
from ampyre.domain.pricing import PricedSession
from ampyre.domain.tariffs import Tariff
from ampyre.domain.transactions import EventRecord, Transaction, TransactionStatus
from ampyre.services.clock import utcnow
from ampyre.services.ocpp_cost_prices import CostTriggers, UnitPrices, next_period, unit_prices
from ampyre.services.station_port import Answer

log = logging.getLogger(__name__)

# Pricing a transaction reads its meter values: on the OCPP path (the Ended answer, a 2.1
# Updated answer) it may take this long at most, else the answer goes without a cost.
QUOTE_TIMEOUT = 5.0
# ISO 4217 currencies whose minor unit is not 2 digits (the rest are rounded to cents).
_MINOR_UNITS = {
    "BHD": 3, "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3,
    "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0,
    "TND": 3, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}  # fmt: skip
LOCAL_COST_KEY = "costDetails"


def money(amount: Decimal, currency: str) -> Decimal:
    """Rounded to the currency's minor unit (half up), as shown to a driver."""
    places = _MINOR_UNITS.get(currency.upper(), 2)
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


class TariffSource(Protocol):
    """What this service needs of the tariff service (services/tariffs.py)."""

    async def tariff_for(
        self,
        station_id: str,
        evse_id: int | None = None,
        connector_id: int | None = None,
        at: datetime | None = None,
    ) -> Tariff | None: ...

    async def price_transaction(
        self, transaction_pk: int, until: datetime | None = None
    ) -> PricedSession | None: ...

    async def has_tariffs(self) -> bool: ...

    async def get(self, tariff_id: str) -> Tariff | None: ...

    async def time_zone_of(self, station_id: str) -> tzinfo: ...


class TransactionReader(Protocol):
    async def get(self, transaction_pk: int) -> Transaction | None: ...
    async def events(self, transaction_pk: int) -> list[EventRecord]: ...


@dataclass(slots=True, frozen=True)
class Quote:
    """A transaction's cost as a station is told it: including taxes (2.0.1
    CostUpdatedRequest.totalCost), rounded to the currency's minor unit."""

    total: Decimal
    currency: str
    priced: PricedSession


@dataclass(slots=True, frozen=True)
class RunningCost:
    """A running cost update (2.x CostUpdated; 1.6 RunningCost with its unit prices)."""

    transaction_id: str  # as the station knows it
    total: Decimal
    currency: str
    at: datetime  # the time the cost is computed for
    meter_wh: int | None = None  # the energy register it is based on (1.6 meterValue)
    idle: bool = False  # 1.6 state "Idle" (parking prices apply) or "Charging"
    prices: UnitPrices = field(default_factory=UnitPrices)
    next_at: datetime | None = None  # when `next_prices` take over (1.6 nextPeriod)
    next_prices: UnitPrices | None = None
    triggers: CostTriggers | None = None  # when the station should send a meter value


@dataclass(slots=True, frozen=True)
class FinalCost:
    """The final cost of an ended transaction (1.6 FinalCost; 2.x uses the text as its
    updatedPersonalMessage)."""

    transaction_id: str
    total: Decimal
    currency: str
    text: str
    receipt_url: str | None = None


@dataclass(slots=True, frozen=True)
class TariffAssignment:  # 2.1 TariffAssignmentType
    tariff_id: str
    tariff_kind: str
    valid_from: datetime | None = None
    evse_ids: tuple[int, ...] = ()
    id_tokens: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class TariffsAnswer:
    answer: Answer
    assignments: tuple[TariffAssignment, ...] = ()
    status_info: dict[str, Any] | None = None


@dataclass(slots=True, frozen=True)
class ClearResult:  # 2.1 ClearTariffsResultType
    status: str
    tariff_id: str | None = None
    status_info: dict[str, Any] | None = None


@dataclass(slots=True, frozen=True)
class ClearAnswer:
    answer: Answer
    results: tuple[ClearResult, ...] = ()


@dataclass(slots=True, frozen=True)
class TariffPush:
    """What a station answered to a tariff it was given (2.1)."""

    answer: Answer
    tariff_id: str
    status_info: dict[str, Any] | None = None


@dataclass(slots=True, frozen=True)
class StationReport:
    """What a 2.1 station said about cost in one TransactionEvent (local cost
    calculation): the tariff it uses and its own costDetails, as sent."""

    seq_no: int | None
    event: str
    timestamp: datetime
    tariff_id: str | None
    cost_details: dict[str, Any] | None


@dataclass(slots=True, frozen=True)
class StationCostView:
    transaction: Transaction
    reports: tuple[StationReport, ...]
    quote: Quote | None  # Ampyre's own cost now (None: no tariff applies)


class TariffNotExpressible(ValueError):
    """An Ampyre (OCPI) tariff that OCPP 2.1's TariffType cannot carry."""


class CostMessenger(Protocol):
    """The protocol side (protocol/cost_messages.py): encodes for the station's connected
    version. Answers fold every way of getting no answer into `Answer.status`; a command
    the version does not have raises NotAddressable."""

    def connected_version(self, station_id: str) -> str | None: ...

    async def running_cost(
        self, station_id: str, update: RunningCost, timeout: float | None = None
    ) -> Answer: ...

    async def final_cost(
        self, station_id: str, final: FinalCost, timeout: float | None = None
    ) -> Answer: ...

    async def set_default_tariff(
        self, station_id: str, evse_id: int, tariff: Tariff, timeout: float | None = None
    ) -> TariffPush:
        """Raises TariffNotExpressible (nothing sent)."""
        ...

    async def change_transaction_tariff(
        self, station_id: str, transaction_id: str, tariff: Tariff, timeout: float | None = None
    ) -> TariffPush: ...

    async def get_tariffs(
        self, station_id: str, evse_id: int, timeout: float | None = None
    ) -> TariffsAnswer: ...

    async def clear_tariffs(
        self,
        station_id: str,
        tariff_ids: Sequence[str] | None,
        evse_id: int | None,
        timeout: float | None = None,
    ) -> ClearAnswer: ...


class TransactionEnded(Exception):
    """A command for a running transaction given one that has ended."""


class OcppCosts:
    """See the module docstring. `live` (services/ocpp_cost_live.py) keeps the running
    priced transactions of the stations this node holds."""

    def __init__(
        self,
        tariffs: TariffSource,
        messenger: CostMessenger,
        transactions: TransactionReader,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        cache_seconds: float = 10.0,
    ) -> None:
        """`cache_seconds`: how long "any tariff?" is answered from memory (tariffs
        changed on another node are seen after at most this long)."""
        self.tariffs = tariffs
        self.messenger = messenger
        self.transactions = transactions
        self.settings = settings
        self.clock = clock
        self.monotonic = monotonic
        self._cache_seconds = max(1.0, cache_seconds)
        self._any: bool | None = None
        self._any_until = 0.0
        self._any_refresh: asyncio.Task[bool] | None = None
        self._generation = 0  # tariff changes seen (an answer from before one is stale)
        self._listeners: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ the cache

    def tariffs_changed(self, *_: Any) -> None:
        """Tariffs were created, changed or deleted: forget what was cached."""
        self._any = None
        self._generation += 1
        self._any_refresh = None
        for listener in self._listeners:
            listener()

    def when_changed(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def known_free(self) -> bool:
        """True when it is known (and fresh) that no tariff exists: the OCPP wrappers
        then return the base answer without awaiting anything."""
        return self._any is False and self.monotonic() < self._any_until

    async def has_tariffs(self) -> bool:
        """Whether any tariff exists; from memory nearly always (the OCPP hot path asks
        this for every transaction message)."""
        if self._any is not None and self.monotonic() < self._any_until:
            return self._any
        task = self._any_refresh
        if task is None:
            task = self._any_refresh = asyncio.get_running_loop().create_task(self._count())
            task.add_done_callback(self._refreshed)
        return await asyncio.shield(task)

    def _refreshed(self, task: asyncio.Task[bool]) -> None:
        if self._any_refresh is task:
            self._any_refresh = None

    async def _count(self) -> bool:
        generation = self._generation
        try:
            found = await self.tariffs.has_tariffs()
        except Exception:
            log.exception("cannot tell whether tariffs exist; no cost messages for now")
            return False
        if generation != self._generation:
            return found  # a change came meanwhile: this answer is not kept
        self._any = found
        self._any_until = self.monotonic() + self._cache_seconds
        return found

    async def tariff_of(self, tx: Transaction) -> Tariff | None:
        """The tariff that prices the transaction (None: no cost messages for it)."""
        if not await self.has_tariffs():
            return None
        return await self.tariffs.tariff_for(
            tx.station_id, tx.evse_id, tx.connector_id, tx.started_at
        )

    # ------------------------------------------------------------------ quotes

    async def quote(self, transaction_pk: int, until: datetime | None = None) -> Quote | None:
        """The cost now (or at `until`); None when no tariff prices it or pricing failed
        (logged: the station is then told nothing rather than something wrong)."""
        try:
            async with asyncio.timeout(QUOTE_TIMEOUT):
                priced = await self.tariffs.price_transaction(transaction_pk, until)
        except TimeoutError:
            log.warning("pricing transaction %s took over %g s", transaction_pk, QUOTE_TIMEOUT)
            return None
        except Exception:
            log.exception("pricing transaction %s failed", transaction_pk)
            return None
        if priced is None:
            return None
        cost = priced.total_cost
        total = cost.incl_vat if cost.incl_vat is not None else cost.excl_vat
        return Quote(money(total, priced.currency), priced.currency, priced)

    async def final_quote(self, tx: Transaction) -> Quote | None:
        """The final cost of an ended transaction (2.x TransactionEventResponse.totalCost;
        OCPP 2.0.1 I03: "SHALL only be sent when charging has ended"), None without a
        tariff."""
        if await self.tariff_of(tx) is None:
            return None
        return await self.quote(tx.id)

    def final_text(self, quote: Quote) -> str:
        """A short receipt line for a display (the 2.x updatedPersonalMessage, the 1.6
        FinalCost priceText)."""
        p = quote.priced
        parts = [f"{_kwh(p.total_energy)} kWh", f"{_hours(p.total_time)}"]
        if p.total_parking_time > 0:
            parts.append(f"idle {_hours(p.total_parking_time)}")
        return f"Total {quote.total} {quote.currency} ({', '.join(parts)})"

    def receipt_url(self, tx: Transaction) -> str | None:
        template = self.settings.tariff_cost_receipt_url
        if not template:
            return None
        return template.replace("{transaction_id}", str(tx.id))

    def final_cost(self, tx: Transaction, quote: Quote) -> FinalCost:
        return FinalCost(
            tx.transaction_id,
            quote.total,
            quote.currency,
            self.final_text(quote),
            self.receipt_url(tx),
        )

    async def running_cost(self, tx: Transaction, tariff: Tariff) -> RunningCost | None:
        """The running cost update for a transaction still running, with the prices a 1.6
        station shows and counts on with until the next update."""
        now = self.clock()
        quote = await self.quote(tx.id, now)
        if quote is None:
            return None
        local = now.astimezone(await self._zone(tx.station_id))
        energy = quote.priced.total_energy
        prices = unit_prices(tariff, local, energy_kwh=energy)
        # "Idle" (the OCA note's state) only where an idle price applies: the CSMS decides
        # when idle time is billed; without a parking price it is charging time.
        idle = prices.idle_hour is not None and _idle(quote.priced)
        upcoming = next_period(tariff, local, energy_kwh=energy)
        meter = int(tx.meter_stop_wh) if tx.meter_stop_wh is not None else None
        triggers = CostTriggers(
            at_time=upcoming[0] if upcoming else None,
            at_status=("SuspendedEV", "SuspendedEVSE") if prices.idle_hour else (),
        )
        return RunningCost(
            transaction_id=tx.transaction_id,
            total=quote.total,
            currency=quote.currency,
            # OCA note: "the timestamp of the meter value this cost is based on".
            at=tx.meter_stop_at if tx.meter_stop_at is not None else now,
            meter_wh=meter,
            idle=idle,
            prices=prices,
            next_at=upcoming[0] if upcoming else None,
            next_prices=upcoming[1] if upcoming else None,
            triggers=triggers if triggers.at_time or triggers.at_status else None,
        )

    async def _zone(self, station_id: str) -> tzinfo:
        """The local time zone of the station's tariff restrictions."""
        try:
            return await self.tariffs.time_zone_of(station_id)
        except Exception:
            log.exception("no time zone for %s; tariff times read in UTC", station_id)
            return UTC

    # ------------------------------------------------------------------ 2.1 commands

    async def _tariff(self, tariff_id: str) -> Tariff | None:
        return await self.tariffs.get(tariff_id)

    async def push_default_tariff(
        self, station_id: str, evse_id: int, tariff_id: str | None, timeout: float | None = None
    ) -> TariffPush | None:
        """SetDefaultTariff (2.1) with one of Ampyre's tariffs, or, without an id, the one
        Ampyre prices that EVSE with. None: no such tariff. Raises NotAddressable
        (not 2.1), TariffNotExpressible."""
        if tariff_id is None:
            tariff = await self.tariffs.tariff_for(station_id, evse_id or None, None)
        else:
            tariff = await self._tariff(tariff_id)
        if tariff is None:
            return None
        return await self.messenger.set_default_tariff(station_id, evse_id, tariff, timeout)

    async def change_transaction_tariff(
        self, tx: Transaction, tariff_id: str, timeout: float | None = None
    ) -> TariffPush | None:
        """ChangeTransactionTariff (2.1) for a running transaction. None: no such tariff.
        Raises TransactionEnded, NotAddressable, TariffNotExpressible."""
        if tx.status is not TransactionStatus.ACTIVE:
            raise TransactionEnded(f"transaction {tx.id} has ended")
        tariff = await self._tariff(tariff_id)
        if tariff is None:
            return None
        return await self.messenger.change_transaction_tariff(
            tx.station_id, tx.transaction_id, tariff, timeout
        )

    async def station_tariffs(
        self, station_id: str, evse_id: int, timeout: float | None = None
    ) -> TariffsAnswer:
        return await self.messenger.get_tariffs(station_id, evse_id, timeout)

    async def clear_station_tariffs(
        self,
        station_id: str,
        tariff_ids: Sequence[str] | None,
        evse_id: int | None,
        timeout: float | None = None,
    ) -> ClearAnswer:
        return await self.messenger.clear_tariffs(station_id, tariff_ids, evse_id, timeout)

    async def station_cost(self, transaction_pk: int) -> StationCostView | None:
        """What a 2.1 station reported about the cost (its tariff id, its costDetails)
        next to Ampyre's own cost; None for an unknown transaction."""
        tx = await self.transactions.get(transaction_pk)
        if tx is None:
            return None
        reports = []
        for record in await self.transactions.events(transaction_pk):
            info = record.payload.get("transactionInfo") or {}
            details = record.payload.get(LOCAL_COST_KEY)
            tariff_id = info.get("tariffId")
            if details is None and tariff_id is None:
                continue
            reports.append(
                StationReport(
                    record.seq_no,
                    record.kind,
                    record.timestamp,
                    tariff_id if isinstance(tariff_id, str) else None,
                    details if isinstance(details, dict) else None,
                )
            )
        quote = await self.quote(tx.id) if await self.tariff_of(tx) is not None else None
        return StationCostView(tx, tuple(reports), quote)


def _idle(priced: PricedSession) -> bool:
    """Whether the session is in a parking (idle) period now: its last charging period
    counts PARKING_TIME (the engine's reading of the meter values and charging states)."""
    if not priced.periods:
        return False
    last = priced.periods[-1].period
    return any(d.type.value == "PARKING_TIME" and d.volume > 0 for d in last.dimensions)


def _kwh(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _hours(hours: Decimal) -> str:
    minutes = int((hours * 60).to_integral_value(rounding=ROUND_HALF_UP))
    return f"{minutes // 60}:{minutes % 60:02d} h"
