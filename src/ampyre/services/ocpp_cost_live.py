"""The running priced transactions of the stations this node holds, and their cost
updates (2.x CostUpdated, 1.6 RunningCost; OCPP 2.0.1 I02.FR.01: "at a relevant
interval/moment").

A transaction is tracked when one of its messages arrives here (the handlers run on the
node holding the station's socket) and a tariff prices it; it is dropped when it ends,
when its station's connection closes, or when an update finds it gone. An update is
sent:

- after each message with new meter values (the OCA California Pricing note: "for every
  meter value the Central System receives ... a RunningCost message"); coalesced: one
  pricing in flight per transaction, a message arriving meanwhile asks for one more;
- by a sweep every few seconds for transactions without an update for
  `tariff_cost_update_interval` seconds (time-based prices go up without meter values),
  only when the cost changed since the last update.

Bounded: at most LIVE_MAX tracked transactions, SEND_CONCURRENCY pricings at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from ampyre.domain.tariffs import Tariff
from ampyre.domain.transactions import Transaction
from ampyre.services.ocpp_costs import OcppCosts
from ampyre.services.station_port import NOT_CONNECTED, Answer, NotAddressable

log = logging.getLogger(__name__)

LIVE_MAX = 50_000
SEND_CONCURRENCY = 8
UPDATE_TIMEOUT = 10.0  # waiting for the station's answer to one update
# A station that does not take cost messages (a 2.x CALLERROR NotImplemented /
# NotSupported, a 1.6 station without the California Pricing extension: UnknownVendorId
# or UnknownMessageId) gets none for this long; then Ampyre tries again.
UNSUPPORTED_FOR = 3600.0
_UNSUPPORTED = frozenset({"notimplemented", "notsupported", "unknownvendorid", "unknownmessageid"})


def refused(answer: Answer) -> bool:
    """The station does not take this kind of message at all."""
    said = (answer.station_answer or "").lower()
    return said in _UNSUPPORTED


@dataclass(slots=True)
class Live:
    pk: int
    station_id: str
    tariff: Tariff
    alive: Callable[[], bool]  # the connection this transaction was seen on is open
    last_sent: float | None = None  # monotonic time of the last update
    last_total: Decimal | None = None
    busy: bool = False
    again: bool = False
    local_cost: bool = False  # a 2.1 station computes the cost itself (costDetails)


class LiveCosts:
    def __init__(self, costs: OcppCosts) -> None:
        self.costs = costs
        self._live: dict[int, Live] = {}
        self._sem = asyncio.Semaphore(SEND_CONCURRENCY)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.sent = 0  # updates the stations answered (for tests and logs)
        self._unsupported: dict[str, float] = {}  # station -> monotonic time to try again
        costs.when_changed(self._retariff)

    def __len__(self) -> int:
        return len(self._live)

    def get(self, pk: int) -> Live | None:
        return self._live.get(pk)

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        interval = self.costs.settings.tariff_cost_update_interval
        if interval > 0 and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(interval), name="ocpp-cost-sweep")

    async def close(self) -> None:
        tasks = [t for t in (self._sweeper, *self._tasks) if t is not None]
        self._sweeper = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._live.clear()

    # ------------------------------------------------------------------ tracking

    def track(
        self, tx: Transaction, tariff: Tariff, alive: Callable[[], bool], local_cost: bool = False
    ) -> Live | None:
        """Keep the transaction for updates; None when the bound is reached."""
        live = self._live.get(tx.id)
        if live is None:
            if len(self._live) >= LIVE_MAX:
                self._drop_dead()
                if len(self._live) >= LIVE_MAX:
                    log.warning("cost updates: %d transactions tracked, not one more", LIVE_MAX)
                    return None
            live = self._live[tx.id] = Live(tx.id, tx.station_id, tariff, alive)
        else:
            live.alive = alive
            live.tariff = tariff
        live.local_cost = live.local_cost or local_cost
        return live

    def forget(self, pk: int) -> None:
        self._live.pop(pk, None)

    def answered(self, pk: int, total: Decimal, now: float) -> None:
        """The station got the running cost another way (2.1: in the TransactionEvent
        response)."""
        live = self._live.get(pk)
        if live is not None:
            live.last_sent, live.last_total = now, total

    def takes_costs(self, station_id: str) -> bool:
        """False while the station is known not to take cost messages."""
        until = self._unsupported.get(station_id)
        if until is None:
            return True
        if self.costs.monotonic() < until:
            return False
        del self._unsupported[station_id]
        return True

    def _refused_by(self, station_id: str, answer: Answer) -> None:
        if not refused(answer):
            return
        now = self.costs.monotonic()
        if len(self._unsupported) >= LIVE_MAX:
            self._unsupported = {k: v for k, v in self._unsupported.items() if v > now}
        self._unsupported[station_id] = now + UNSUPPORTED_FOR
        log.info(
            "%s does not take cost messages (%s): none for %g s",
            station_id,
            answer.station_answer,
            UNSUPPORTED_FOR,
        )

    def kick(self, live: Live, *, force: bool = True) -> None:
        """Send an update (after the current one, if one is in flight). `force`: even if
        the cost did not change."""
        if live.local_cost or not self.takes_costs(live.station_id):
            return
        if live.busy:
            live.again = True
            return
        live.busy = True
        task = asyncio.get_running_loop().create_task(self._update(live, force))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def send_final(self, tx: Transaction) -> None:
        """Price the ended transaction and send its final cost (1.6 FinalCost), after the
        answer being built is sent."""
        if not self.takes_costs(tx.station_id):
            return
        task = asyncio.get_running_loop().create_task(self._final(tx))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _final(self, tx: Transaction) -> None:
        costs = self.costs
        try:
            async with self._sem:
                quote = await costs.quote(tx.id)
                if quote is None:
                    return
                answer = await costs.messenger.final_cost(
                    tx.station_id, costs.final_cost(tx, quote), timeout=UPDATE_TIMEOUT
                )
            self._refused_by(tx.station_id, answer)
            if answer.answered:
                self.sent += 1
            else:
                log.info("%s: final cost not delivered: %s", tx.station_id, answer.detail)
        except asyncio.CancelledError:
            raise
        except NotAddressable as exc:
            log.info("%s: no final cost for transaction %s: %s", tx.station_id, tx.id, exc)
        except Exception:
            log.exception("final cost of transaction %s failed", tx.id)

    def _retariff(self) -> None:
        """Tariffs changed: the next update re-reads which one applies."""
        for live in self._live.values():
            live.last_total = None

    def _drop_dead(self) -> None:
        for pk in [pk for pk, live in self._live.items() if not live.alive()]:
            del self._live[pk]

    # ------------------------------------------------------------------ updates

    async def _update(self, live: Live, force: bool) -> None:
        try:
            while True:
                live.again = False
                async with self._sem:
                    await self._send(live, force)
                if not live.again or self._live.get(live.pk) is not live:
                    return
                force = True
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("cost update of transaction %s failed", live.pk)
        finally:
            live.busy = False

    async def _send(self, live: Live, force: bool) -> None:
        if not live.alive():
            self.forget(live.pk)
            return
        costs = self.costs
        tx = await costs.transactions.get(live.pk)
        if tx is None or tx.ended_at is not None:
            self.forget(live.pk)
            return
        update = await costs.running_cost(tx, live.tariff)
        if update is None or self._live.get(live.pk) is not live:
            return  # (or it ended while being priced: the final cost is on its way)
        if not force and update.total == live.last_total:
            live.last_sent = costs.monotonic()
            return
        try:
            answer = await costs.messenger.running_cost(
                live.station_id, update, timeout=UPDATE_TIMEOUT
            )
        except NotAddressable as exc:
            log.info("%s: no cost updates for transaction %s: %s", live.station_id, live.pk, exc)
            self.forget(live.pk)
            return
        if answer.status == NOT_CONNECTED:
            self.forget(live.pk)
            return
        live.last_sent, live.last_total = costs.monotonic(), update.total
        self._refused_by(live.station_id, answer)
        if answer.answered:
            self.sent += 1
        else:
            log.info("%s: cost update not answered: %s", live.station_id, answer.detail)

    async def _sweep(self, interval: float) -> None:
        tick = min(max(interval / 4, 0.2), 15.0)
        while True:
            await asyncio.sleep(tick)
            try:
                self.sweep_once(interval)
            except Exception:
                log.exception("cost update sweep failed")

    def sweep_once(self, interval: float) -> int:
        """Kick the transactions due for a periodic update; how many were kicked."""
        now = self.costs.monotonic()
        kicked = 0
        for live in list(self._live.values()):
            if not live.alive():
                self.forget(live.pk)
                continue
            if live.busy or live.local_cost or not self.takes_costs(live.station_id):
                continue
            if live.last_sent is None or now - live.last_sent >= interval:
                self.kick(live, force=False)
                kicked += 1
        return kicked
