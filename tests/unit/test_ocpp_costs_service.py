"""OCPP cost messages, version-neutral (issue 20 part 5): the unit prices a station shows
between updates (first matching element per dimension, time of day wrapping midnight,
the next change), the cached "any tariff?" answer (no tariff service call per message,
dropped on a change), quotes (incl. VAT, rounded; none when pricing fails or is slow),
and the live cost updates: coalesced (one in flight, one more after), periodic only when
the cost changed, dropped when the connection closed or the transaction ended, bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

import pytest

from ampyre.config import ConfigError, Settings, load_settings
from ampyre.domain.pricing import (
    CdrDimension,
    CdrDimensionType,
    ChargingPeriod,
    PricedPeriod,
    PricedSession,
)
from ampyre.domain.tariffs import (
    DayOfWeek,
    Price,
    PriceComponent,
    Tariff,
    TariffDimensionType,
    TariffElement,
    TariffRestrictions,
)
from ampyre.domain.transactions import EventRecord, Transaction, TransactionStatus
from ampyre.services import ocpp_cost_live
from ampyre.services.ocpp_cost_live import LiveCosts
from ampyre.services.ocpp_cost_prices import UnitPrices, next_period, unit_prices
from ampyre.services.ocpp_costs import (
    ClearAnswer,
    FinalCost,
    OcppCosts,
    RunningCost,
    TariffPush,
    TariffsAnswer,
    TransactionEnded,
)
from ampyre.services.station_port import NOT_CONNECTED, Answer

E, T, P, F = (
    TariffDimensionType.ENERGY,
    TariffDimensionType.TIME,
    TariffDimensionType.PARKING_TIME,
    TariffDimensionType.FLAT,
)
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def pc(kind: TariffDimensionType, price: str, vat: str | None = None) -> PriceComponent:
    return PriceComponent(kind, Decimal(price), 1, Decimal(vat) if vat else None)


def el(*components: PriceComponent, **r: Any) -> TariffElement:
    return TariffElement(components, TariffRestrictions(**r) if r else None)


def tariff(*elements: TariffElement) -> Tariff:
    return Tariff("NL", "AMP", "T1", "EUR", elements, T0)


DAY_NIGHT = tariff(
    el(pc(E, "0.30", "21"), pc(P, "6.00"), start_time=time(7), end_time=time(22)),
    el(pc(E, "0.20", "21"), start_time=time(22), end_time=time(7)),  # wraps midnight
    el(pc(F, "1.00")),
)


# ---------------------------------------------------------------- unit prices


def test_first_matching_element_per_dimension_with_vat() -> None:
    noon = unit_prices(DAY_NIGHT, T0)
    assert noon == UnitPrices(
        kwh=Decimal("0.363"), hour=None, flat=Decimal("1.00"), idle_hour=Decimal("6.00")
    )
    night = unit_prices(DAY_NIGHT, T0.replace(hour=23))
    assert night.kwh == Decimal("0.242") and night.idle_hour is None
    assert unit_prices(DAY_NIGHT, T0.replace(hour=3)).kwh == Decimal("0.242")
    assert unit_prices(DAY_NIGHT, T0.replace(hour=7)).kwh == Decimal("0.363")  # start incl.
    assert unit_prices(DAY_NIGHT, T0.replace(hour=22)).kwh == Decimal("0.242")  # end excl.


def test_energy_day_and_unknown_power_restrictions() -> None:
    t = tariff(
        el(pc(E, "0.50"), min_power=Decimal(50)),  # power unknown between meter values
        el(pc(E, "0.40"), min_kwh=Decimal(20)),
        el(pc(E, "0.35"), day_of_week=(DayOfWeek.SATURDAY, DayOfWeek.SUNDAY)),
        el(pc(E, "0.30"), max_duration=3600),
        el(pc(E, "0.25")),
    )
    assert unit_prices(t, T0).kwh == Decimal("0.30")
    assert unit_prices(t, T0, duration_s=4000).kwh == Decimal("0.25")
    assert unit_prices(t, T0, energy_kwh=Decimal(25)).kwh == Decimal("0.40")
    assert unit_prices(t, T0 + timedelta(days=5), duration_s=4000).kwh == Decimal("0.35")
    assert unit_prices(tariff(), T0).empty


def test_next_period_is_the_next_time_the_prices_change() -> None:
    at, then = next_period(DAY_NIGHT, T0) or (None, None)
    assert at == T0.replace(hour=22) and then is not None and then.kwh == Decimal("0.242")
    at, then = next_period(DAY_NIGHT, T0.replace(hour=23)) or (None, None)
    assert at == datetime(2026, 3, 3, 7, tzinfo=UTC)
    assert next_period(tariff(el(pc(E, "0.3"))), T0) is None
    weekend = tariff(el(pc(E, "0.5"), day_of_week=(DayOfWeek.SATURDAY,)), el(pc(E, "0.3")))
    assert (next_period(weekend, T0) or (None,))[0] == datetime(2026, 3, 7, tzinfo=UTC)


# ---------------------------------------------------------------- fakes


def priced(total: str, *, parking: bool = False, currency: str = "EUR") -> PricedSession:
    dims = (
        CdrDimension(
            CdrDimensionType.PARKING_TIME if parking else CdrDimensionType.ENERGY, Decimal(1)
        ),
    )
    period = PricedPeriod(ChargingPeriod(T0, dims, "T1"), T0, Price(Decimal(total)))
    return PricedSession(
        tariff=DAY_NIGHT,
        currency=currency,
        start_date_time=T0,
        end_date_time=T0,
        periods=(period,),
        total_cost=Price(Decimal(total), Decimal(total) * Decimal("1.21")),
        total_fixed_cost=None,
        total_energy=Decimal("12.345"),
        total_energy_cost=None,
        total_time=Decimal("1.5"),
        total_time_cost=None,
        total_parking_time=Decimal("0.25") if parking else Decimal(0),
        total_parking_cost=None,
        total_reservation_cost=None,
    )


@dataclass
class FakeTariffs:
    tariff: Tariff | None = DAY_NIGHT
    totals: list[str] = field(default_factory=lambda: ["1.00"])
    count: int = 1
    lists: int = 0
    priced_calls: int = 0
    delay: float = 0.0
    fail: bool = False

    async def tariff_for(
        self, station_id: str, evse_id: int | None = None, connector_id: int | None = None,
        at: datetime | None = None,
    ) -> Tariff | None:  # fmt: skip
        return self.tariff

    async def price_transaction(
        self, pk: int, until: datetime | None = None
    ) -> PricedSession | None:
        self.priced_calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("engine broke")
        if self.tariff is None:
            return None
        total = self.totals[0] if len(self.totals) == 1 else self.totals.pop(0)
        return priced(total)

    async def has_tariffs(self) -> bool:
        self.lists += 1
        return self.count > 0

    async def get(self, tariff_id: str) -> Tariff | None:
        return None

    async def time_zone_of(self, station_id: str) -> tzinfo:
        return UTC


@dataclass
class FakeMessenger:
    sent: list[RunningCost] = field(default_factory=list)
    finals: list[FinalCost] = field(default_factory=list)
    status: str = "ok"
    station_answer: str | None = None
    gate: asyncio.Event | None = None

    def connected_version(self, station_id: str) -> str | None:
        return "ocpp2.0.1"

    async def running_cost(
        self, station_id: str, update: RunningCost, timeout: float | None = None
    ) -> Answer:
        if self.gate is not None:
            await self.gate.wait()
        self.sent.append(update)
        return Answer(self.status, self.station_answer)

    async def final_cost(
        self, station_id: str, final: FinalCost, timeout: float | None = None
    ) -> Answer:
        self.finals.append(final)
        return Answer("accepted")

    async def set_default_tariff(self, *a: Any, **k: Any) -> TariffPush:
        raise AssertionError

    async def change_transaction_tariff(self, *a: Any, **k: Any) -> TariffPush:
        raise AssertionError

    async def get_tariffs(self, *a: Any, **k: Any) -> TariffsAnswer:
        raise AssertionError

    async def clear_tariffs(
        self,
        station_id: str,
        tariff_ids: Sequence[str] | None,
        evse_id: int | None,
        timeout: float | None = None,
    ) -> ClearAnswer:
        raise AssertionError


TX = Transaction(
    id=7, station_id="CP1", transaction_id="TX-7", status=TransactionStatus.ACTIVE,
    evse_id=1, connector_id=1, started_at=T0, meter_stop_wh=5000.0, meter_stop_at=T0,
)  # fmt: skip


@dataclass
class FakeTransactions:
    tx: Transaction | None = field(default_factory=lambda: TX)
    records: list[EventRecord] = field(default_factory=list)

    async def get(self, pk: int) -> Transaction | None:
        return self.tx

    async def events(self, pk: int) -> list[EventRecord]:
        return self.records


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(
    tariffs: FakeTariffs | None = None,
    messenger: FakeMessenger | None = None,
    transactions: FakeTransactions | None = None,
    **settings: Any,
) -> tuple[OcppCosts, LiveCosts, FakeTariffs, FakeMessenger, Clock]:
    t = tariffs or FakeTariffs()
    m = messenger or FakeMessenger()
    clock = Clock()
    costs = OcppCosts(
        t, m, transactions or FakeTransactions(), Settings(**settings),
        clock=lambda: T0, monotonic=clock,
    )  # fmt: skip
    return costs, LiveCosts(costs), t, m, clock


async def settle(live: LiveCosts) -> None:
    for _ in range(50):
        await asyncio.sleep(0)
        if not live._tasks:
            return
    await asyncio.gather(*live._tasks)


# ---------------------------------------------------------------- the cache, quotes


async def test_any_tariff_is_asked_once_until_a_change_or_the_ttl() -> None:
    costs, _, t, _, clock = make()
    assert not costs.known_free()  # not asked yet
    assert await costs.has_tariffs() and await costs.has_tariffs()
    assert t.lists == 1 and not costs.known_free()
    t.count = 0
    costs.tariffs_changed()
    assert not costs.known_free()
    assert not await costs.has_tariffs()
    assert costs.known_free()  # the OCPP wrappers' synchronous check
    assert await costs.tariff_of(TX) is None and t.lists == 2
    t.count = 3
    clock.now += 9.0
    assert not await costs.has_tariffs()  # still cached (cache_seconds)
    clock.now += 2.0
    assert not costs.known_free()
    assert await costs.has_tariffs() and t.lists == 3


async def test_an_answer_from_before_a_change_is_not_kept() -> None:
    gate, asked = asyncio.Event(), asyncio.Event()

    class Slow(FakeTariffs):
        async def has_tariffs(self) -> bool:
            self.lists += 1
            asked.set()
            await gate.wait()
            return False

    costs, _, t, _, _ = make(Slow())
    asking = asyncio.create_task(costs.has_tariffs())
    await asked.wait()  # the question is on its way
    costs.tariffs_changed()  # a tariff was created while the old answer was coming
    gate.set()
    assert not await asking
    assert not costs.known_free()
    await costs.has_tariffs()
    assert t.lists == 2


async def test_concurrent_callers_share_one_count() -> None:
    costs, _, t, _, _ = make()
    assert all(await asyncio.gather(*(costs.has_tariffs() for _ in range(20))))
    assert t.lists == 1


async def test_quote_incl_vat_rounded_and_none_on_failure_or_slowness(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    costs, _, t, _, _ = make(FakeTariffs(totals=["10.00"]))
    quote = await costs.quote(7)
    assert quote is not None and quote.total == Decimal("12.10") and quote.currency == "EUR"
    assert costs.final_text(quote) == "Total 12.10 EUR (12.35 kWh, 1:30 h)"
    t.fail = True
    assert await costs.quote(7) is None
    t.fail, t.delay = False, 0.2
    monkeypatch.setattr("ampyre.services.ocpp_costs.QUOTE_TIMEOUT", 0.05)
    assert await costs.quote(7) is None
    t.tariff, t.delay = None, 0.0
    assert await costs.final_quote(TX) is None


async def test_receipt_url_and_final_cost() -> None:
    costs, *_ = make(tariff_cost_receipt_url="https://cpo.example/r/{transaction_id}")
    quote = await costs.quote(7)
    assert quote is not None
    final = costs.final_cost(TX, quote)
    assert final.receipt_url == "https://cpo.example/r/7" and final.transaction_id == "TX-7"
    assert final.total == Decimal("1.21")


async def test_running_cost_has_prices_next_period_and_triggers() -> None:
    costs, *_ = make()
    update = await costs.running_cost(TX, DAY_NIGHT)
    assert update is not None
    assert update.total == Decimal("1.21") and update.meter_wh == 5000 and not update.idle
    assert update.prices.kwh == Decimal("0.363")
    assert update.next_at == T0.replace(hour=22)
    assert update.triggers is not None and update.triggers.at_status == (
        "SuspendedEV",
        "SuspendedEVSE",
    )


async def test_idle_only_where_an_idle_price_applies() -> None:
    class Parked(FakeTariffs):
        async def price_transaction(self, pk: int, until: datetime | None = None) -> PricedSession:
            return priced("1.00", parking=True)

    costs, *_ = make(Parked())
    update = await costs.running_cost(TX, DAY_NIGHT)  # noon: a parking price applies
    assert update is not None and update.idle
    night = tariff(el(pc(E, "0.20")))  # no parking price: still charging time
    update = await costs.running_cost(TX, night)
    assert update is not None and not update.idle and update.triggers is None


async def test_change_transaction_tariff_refuses_an_ended_transaction() -> None:
    costs, *_ = make()
    with pytest.raises(TransactionEnded):
        await costs.change_transaction_tariff(replace(TX, status=TransactionStatus.ENDED), "T1")


# ---------------------------------------------------------------- live updates


async def test_updates_are_coalesced_one_in_flight_one_more_after() -> None:
    gate = asyncio.Event()
    _costs, live, t, m, _ = make(
        FakeTariffs(totals=["1.00", "2.00", "3.00"]), FakeMessenger(gate=gate)
    )
    entry = live.track(TX, DAY_NIGHT, lambda: True)
    assert entry is not None
    for _ in range(3):  # before the pricing starts: one pricing covers them all
        live.kick(entry)
    for _ in range(5):
        await asyncio.sleep(0)
    assert t.priced_calls == 1  # and now waiting for the station
    for _ in range(4):  # meanwhile: one more afterwards
        live.kick(entry)
    gate.set()
    await settle(live)
    assert [u.total for u in m.sent] == [Decimal("1.21"), Decimal("2.42")]
    assert t.priced_calls == 2 and live.sent == 2 and not entry.busy


async def test_sweep_sends_only_changed_costs_after_the_interval() -> None:
    _costs, live, t, m, clock = make(tariff_cost_update_interval=60.0)
    entry = live.track(TX, DAY_NIGHT, lambda: True)
    assert entry is not None
    assert live.sweep_once(60.0) == 1  # never updated yet
    await settle(live)
    assert len(m.sent) == 1
    clock.now += 30
    assert live.sweep_once(60.0) == 0
    clock.now += 31
    assert live.sweep_once(60.0) == 1
    await settle(live)
    assert len(m.sent) == 1  # same cost: nothing sent
    t.totals = ["5.00"]
    clock.now += 61
    live.sweep_once(60.0)
    await settle(live)
    assert [u.total for u in m.sent] == [Decimal("1.21"), Decimal("6.05")]


async def test_dropped_when_closed_ended_or_disconnected() -> None:
    _costs, live, _, m, _ = make()
    open_ = [True]
    entry = live.track(TX, DAY_NIGHT, lambda: open_[0])
    assert entry is not None
    open_[0] = False
    live.kick(entry)
    await settle(live)
    assert live.get(7) is None and m.sent == []

    ended = FakeTransactions(replace(TX, ended_at=T0))
    _costs, live, _, m, _ = make(transactions=ended)
    entry = live.track(TX, DAY_NIGHT, lambda: True)
    assert entry is not None
    live.kick(entry)
    await settle(live)
    assert live.get(7) is None and m.sent == []

    _costs, live, _, m, _ = make(messenger=FakeMessenger(status=NOT_CONNECTED))
    entry = live.track(TX, DAY_NIGHT, lambda: True)
    assert entry is not None
    live.kick(entry)
    await settle(live)
    assert live.get(7) is None and len(m.sent) == 1


async def test_local_cost_stations_get_no_running_cost() -> None:
    _costs, live, _, m, _ = make()
    entry = live.track(TX, DAY_NIGHT, lambda: True, local_cost=True)
    assert entry is not None
    live.kick(entry)
    assert live.sweep_once(0.0) == 0
    await settle(live)
    assert m.sent == []


async def test_tracking_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocpp_cost_live, "LIVE_MAX", 3)
    _costs, live, *_ = make()
    alive = [True, True, True]
    for i in range(3):
        assert live.track(replace(TX, id=i), DAY_NIGHT, lambda i=i: alive[i]) is not None
    assert live.track(replace(TX, id=9), DAY_NIGHT, lambda: True) is None
    alive[1] = False  # a closed connection makes room
    assert live.track(replace(TX, id=9), DAY_NIGHT, lambda: True) is not None
    assert len(live) == 3


async def test_final_cost_is_sent_in_the_background() -> None:
    _costs, live, _, m, _ = make()
    live.send_final(replace(TX, transaction_id="42", ended_at=T0))
    await settle(live)
    assert [f.transaction_id for f in m.finals] == ["42"] and live.sent == 1


async def test_start_and_close_the_sweeper() -> None:
    _costs, live, _, m, _ = make(tariff_cost_update_interval=0.4)
    live.track(TX, DAY_NIGHT, lambda: True)
    await live.start()
    for _ in range(100):
        if m.sent:
            break
        await asyncio.sleep(0.02)
    await live.close()
    assert m.sent and len(live) == 0


@pytest.mark.parametrize(
    ("status", "said"),
    [
        ("error", "NotImplemented"),
        ("error", "NotSupported"),
        ("unknownvendorid", "UnknownVendorId"),
    ],
)
async def test_a_station_without_cost_messages_is_left_alone_for_a_while(
    status: str, said: str
) -> None:
    _costs, live, t, m, clock = make(messenger=FakeMessenger(status=status, station_answer=said))
    entry = live.track(TX, DAY_NIGHT, lambda: True)
    assert entry is not None
    live.kick(entry)
    await settle(live)
    assert len(m.sent) == 1 and not live.takes_costs("CP1")
    t.totals = ["9.00"]
    live.kick(entry)
    live.send_final(replace(TX, ended_at=T0))
    assert live.sweep_once(0.0) == 0
    await settle(live)
    assert len(m.sent) == 1 and m.finals == []
    clock.now += ocpp_cost_live.UNSUPPORTED_FOR
    assert live.takes_costs("CP1")
    live.kick(entry)
    await settle(live)
    assert len(m.sent) == 2


@pytest.mark.parametrize(
    "env",
    [
        {"AMPYRE_TARIFF_COST_UPDATE_INTERVAL": "-1"},
        {"AMPYRE_TARIFF_COST_UPDATE_INTERVAL": "nan"},
        {"AMPYRE_TARIFF_COST_UPDATE_INTERVAL": "86401"},
        {"AMPYRE_TARIFF_COST_RECEIPT_URL": "https://x/" + "r" * 600},
        {"AMPYRE_TARIFF_COST_MESSAGES": "perhaps"},
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=next(iter(env))):
        load_settings(environ=env)


def test_settings_from_the_environment() -> None:
    s = load_settings(
        environ={
            "AMPYRE_TARIFF_COST_MESSAGES": "false",
            "AMPYRE_TARIFF_COST_UPDATE_INTERVAL": "0",
            "AMPYRE_TARIFF_COST_RECEIPT_URL": "https://cpo/r/{transaction_id}",
        }
    )
    assert not s.tariff_cost_messages and s.tariff_cost_update_interval == 0
    assert s.tariff_cost_receipt_url == "https://cpo/r/{transaction_id}"
