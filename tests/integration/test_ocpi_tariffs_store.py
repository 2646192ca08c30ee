"""Tariffs in SQL and the tariff service over them, on SQLite and PostgreSQL: CRUD with
versions, which tariff applies where and when, received tariffs, and the cost of a
stored transaction from its meter values and charging states (2.x events, 1.6 status
notifications, a reservation)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from ampyre.adapters.db import tables_ocpi
from ampyre.adapters.db.store import SqlStore
from ampyre.adapters.db.tariff_usage import TariffUsageSql
from ampyre.adapters.db.tariffs import TariffsSql
from ampyre.config import Settings
from ampyre.domain.authz import IdTokenType, Reservation, ReservationStatus
from ampyre.domain.models import Station, StatusReport
from ampyre.domain.pricing import CdrDimensionType
from ampyre.domain.tariff_json import tariff_from_json
from ampyre.domain.tariffs import Tariff, TariffInvalid
from ampyre.domain.transactions import (
    EventKind,
    MeterReading,
    SampledValue,
    TransactionEvent,
)
from ampyre.services.tariffs import TariffConflict, TariffService
from ampyre.services.tariffs_port import TariffRecord

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
D = Decimal


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    s = SqlStore(Settings(database_url=store_url))
    await s.start()
    yield s
    await s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: SqlStore, clock: Clock) -> TariffService:
    settings = Settings(database_url=store.database_url, tariff_cache_seconds=0)
    return TariffService(TariffsSql(store.db), TariffUsageSql(store.db), settings, clock)


def tariff(tariff_id: str, *elements: dict[str, Any], **extra: Any) -> Tariff:
    return tariff_from_json(
        {
            "country_code": "XX",
            "party_id": "XXX",
            "id": tariff_id,
            "currency": "EUR",
            "elements": list(elements)
            or [{"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]}],
            "last_updated": "2020-01-01T00:00:00Z",
            **extra,
        }
    )


def energy(price: float, vat: float = 21.0) -> dict[str, Any]:
    return {"price_components": [{"type": "ENERGY", "price": price, "vat": vat, "step_size": 1}]}


async def test_crud_versions_and_which_tariff_applies(service: TariffService, clock: Clock) -> None:
    changes: list[tuple[str, bool]] = []

    async def changed(t: Tariff, deleted: bool) -> None:
        changes.append((t.id, deleted))

    service.on_change(changed)
    invalidated: list[int] = []
    service.add_listener(lambda: invalidated.append(1))
    assert await service.tariff_for("CP1") is None
    assert not await service.has_tariffs()

    saved, created = await service.put(TariffRecord(tariff("std", energy(0.30)), is_default=True))
    assert created
    # Owned by our party, last_updated is now (whole seconds).
    assert (saved.tariff.country_code, saved.tariff.party_id) == ("NL", "AMP")
    assert saved.tariff.last_updated == T0
    assert (await service.get("std")) == saved.tariff
    with pytest.raises(TariffConflict):
        await service.put(TariffRecord(tariff("std")), create_only=True)

    clock.now = T0 + timedelta(hours=1)
    await service.put(TariffRecord(tariff("cp1", energy(0.50)), station_ids=("CP1", "CP1")))
    assert (await service.record("cp1")) == TariffRecord(
        tariff=(await service.get("cp1")) or tariff("x"),
        station_ids=("CP1",),
        created_at=clock.now,
    )
    assert [r.tariff.id for r in (await service.list_tariffs(10, 0)).items] == ["cp1", "std"]
    # Scoped beats default; others get the default.
    assert (await service.tariff_for("CP1", 1, 1)) == await service.get("cp1")
    assert (await service.tariff_for("CP2")) == await service.get("std")
    assert await service.tariff_ids_for("CP1") == ["cp1"]
    # Earlier the scoped tariff did not exist yet: the version in force then applies.
    assert (await service.tariff_for("CP1", at=T0 + timedelta(minutes=30))) == (
        await service.get("std")
    )
    assert await service.tariff_for("CP1", at=T0 - timedelta(minutes=1)) is None

    # A price change is a new version; before it the old one applies.
    clock.now = T0 + timedelta(hours=2)
    await service.put(TariffRecord(tariff("std", energy(0.40)), is_default=True))
    old = await service.tariff_for("CP2", at=T0 + timedelta(hours=1))
    new = await service.tariff_for("CP2")
    assert old is not None and new is not None
    assert old.elements[0].price_components[0].price == D("0.30")
    assert new.elements[0].price_components[0].price == D("0.40")
    assert new.last_updated == clock.now

    # Saving the same OCPI object again changes nothing visible to partners.
    clock.now = T0 + timedelta(hours=3)
    again, created = await service.put(TariffRecord(tariff("std", energy(0.40)), is_default=True))
    assert not created and again.tariff.last_updated == T0 + timedelta(hours=2)

    # One default: making another the default takes it from the first.
    await service.put(TariffRecord(tariff("other", energy(0.10)), is_default=True))
    assert not (await service.record("std") or saved).is_default
    assert (await service.tariff_for("CP2")) == await service.get("other")

    # Deleting: gone now, still in force for transactions that started before.
    clock.now = T0 + timedelta(hours=4)
    assert await service.delete("cp1")
    assert not await service.delete("cp1")
    assert (await service.tariff_for("CP1")) == await service.get("other")
    assert (await service.tariff_for("CP1", at=T0 + timedelta(hours=2, minutes=30))) is not None
    assert changes == [
        ("std", False),
        ("cp1", False),
        ("std", False),
        ("other", False),
        ("cp1", True),
    ]
    assert invalidated

    # OCPI sender: last_updated in [date_from, date_to).
    page = await service.changed(T0 + timedelta(hours=2), T0 + timedelta(hours=3), 0, 10)
    assert [t.id for t in page.items] == ["std"]
    page = await service.changed(None, None, 1, 1)
    assert page.total == 2 and len(page.items) == 1


async def test_tariff_validity_window_and_type_preference(
    service: TariffService, clock: Clock
) -> None:
    await service.put(
        TariffRecord(tariff("adhoc", energy(0.9), type="AD_HOC_PAYMENT"), station_ids=("CP1",))
    )
    await service.put(
        TariffRecord(
            tariff("later", energy(0.2), start_date_time="2026-03-02T10:00:00Z"),
            station_ids=("CP1",),
        )
    )
    assert (t := await service.tariff_for("CP1")) is not None and t.id == "adhoc"
    clock.now = T0 + timedelta(hours=3)
    assert (t := await service.tariff_for("CP1")) is not None and t.id == "later"


async def test_invalid_tariff_is_refused(service: TariffService) -> None:
    bad = tariff("bad")
    broken = Tariff(
        country_code="NL",
        party_id="AMP",
        id="bad",
        currency="euro",
        elements=bad.elements,
        last_updated=T0,
    )
    with pytest.raises(TariffInvalid) as info:
        await service.put(TariffRecord(broken))
    assert info.value.field == "currency"
    assert await service.get("bad") is None


async def _partner(store: SqlStore, name: str) -> int:
    async with store.db.tx() as conn:
        row = await conn.execute(
            sa.insert(tables_ocpi.ocpi_partners)
            .values(
                name=name,
                status="REGISTERED",
                endpoints=[],
                roles=[],
                created_at=T0,
                updated_at=T0,
            )
            .returning(tables_ocpi.ocpi_partners.c.id)
        )
        return int(row.scalar_one())


async def test_received_tariffs_are_keyed_case_insensitively(
    store: SqlStore, service: TariffService
) -> None:
    partner = await _partner(store, "CPO partner")
    other = await _partner(store, "another")
    theirs = tariff("t-1", energy(0.25))
    first = await service.receive(partner, theirs)
    again = await service.receive(partner, tariff("T-1", energy(0.35)))
    assert again.id == first.id
    found = await service.received("xx", "xxx", "t-1")
    assert found is not None and found.tariff.id == "T-1"
    assert found.tariff.elements[0].price_components[0].price == D("0.35")
    await service.receive(other, tariff("t-2"))
    assert (await service.list_received(None, 10, 0)).total == 2
    assert [r.tariff.id for r in (await service.list_received(partner, 10, 0)).items] == ["T-1"]
    assert await service.forget_received("XX", "XXX", "T-1")
    assert not await service.forget_received("XX", "XXX", "T-1")
    assert await service.received("XX", "XXX", "t-1") is None


def _register(wh: float, context: str = "Sample.Periodic") -> SampledValue:
    return SampledValue(wh, str(wh), context=context, si_value=wh, si_unit="Wh")


def _measure(measurand: str, value: float, unit: str, phase: str | None = None) -> SampledValue:
    return SampledValue(
        value, str(value), measurand=measurand, unit=unit, phase=phase, si_value=value, si_unit=unit
    )


def _event(
    kind: EventKind, minute: int, seq: int, state: str | None, *values: SampledValue
) -> TransactionEvent:
    at = T0 + timedelta(minutes=minute)
    return TransactionEvent(
        station_id="CP1",
        kind=kind,
        timestamp=at,
        received_at=at,
        transaction_id="TX-1",
        event_key=f"seq:{seq}",
        seq_no=seq,
        evse_id=1,
        connector_id=1,
        id_token="TAG",
        id_token_type="ISO14443",
        charging_state=state,
        meter_values=(MeterReading(at, values),) if values else (),
        ocpp_version="2.0.1",
    )


async def test_price_a_201_transaction_from_its_meter_values_and_states(
    store: SqlStore, service: TariffService, clock: Clock
) -> None:
    await store.create_station(Station(id="CP1"))
    clock.now = T0 - timedelta(hours=1)
    parking = {"type": "PARKING_TIME", "price": 6.0, "vat": 21.0, "step_size": 60}
    energy_pc = {"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1}
    await service.put(
        TariffRecord(
            tariff("std", {"price_components": [energy_pc, parking]}, currency="EUR"),
            is_default=True,
        )
    )
    await store.record_transaction_events(
        [
            _event(EventKind.STARTED, 0, 0, "Charging", _register(1000, "Transaction.Begin")),
            _event(
                EventKind.UPDATED,
                30,
                1,
                None,
                _register(6000),
                _measure("Power.Active.Import", 10000, "W"),
                _measure("Current.Import", 16, "A", "L1"),
                _measure("Current.Import", 16, "A", "L2"),
            ),
            _event(EventKind.UPDATED, 60, 2, "SuspendedEV", _register(11000)),
        ]
    )
    tx = await store.find_transaction("CP1", "TX-1")
    assert tx is not None
    # Running: priced up to now (no energy after the last reading, parking since 60).
    clock.now = T0 + timedelta(minutes=90)
    live = await service.price_transaction(tx.id)
    assert live is not None
    # 10 kWh x 0.30 = 3.00; 30 min parking x 6.00/h = 3.00.
    assert live.total_cost.excl_vat == D("6.00")
    assert live.total_cost.incl_vat == D("7.26")
    early = await service.price_transaction(tx.id, until=T0 + timedelta(minutes=30))
    assert early is not None and early.total_cost.excl_vat == D("1.50")
    assert [p.period.start_date_time for p in live.periods] == [T0, T0 + timedelta(minutes=60)]
    dims = {d.type: d.volume for d in live.periods[0].period.dimensions}
    assert dims[CdrDimensionType.ENERGY] == D(10)
    assert dims[CdrDimensionType.MAX_CURRENT] == D(32)  # summed over the phases

    await store.record_transaction_events(
        [_event(EventKind.ENDED, 75, 3, "EVConnected", _register(11000, "Transaction.End"))]
    )
    clock.now = T0 + timedelta(hours=5)
    final = await service.price_transaction(tx.id)
    assert final is not None
    assert final.end_date_time == T0 + timedelta(minutes=75)
    assert final.total_cost.excl_vat == D("4.50")  # 3.00 + 15 min parking 1.50
    assert final.total_parking_time == D("0.25")
    assert await service.price_transaction(tx.id + 1000) is None


async def test_price_a_16_transaction_with_status_and_reservation(
    store: SqlStore, service: TariffService, clock: Clock
) -> None:
    await store.create_station(Station(id="CP1"))
    clock.now = T0 - timedelta(hours=1)
    await service.put(
        TariffRecord(
            tariff(
                "std",
                {
                    "price_components": [{"type": "TIME", "price": 2.0, "step_size": 60}],
                    "restrictions": {"reservation": "RESERVATION"},
                },
                {
                    "price_components": [
                        {"type": "TIME", "price": 1.0, "step_size": 60},
                        {"type": "PARKING_TIME", "price": 4.0, "step_size": 60},
                    ]
                },
            ),
            is_default=True,
        )
    )
    booked = await store.create_reservation(
        Reservation(
            id=7,
            station_id="CP1",
            id_token="TAG",
            id_token_type=IdTokenType.ISO14443,
            expires_at=T0 + timedelta(hours=1),
            status=ReservationStatus.USED,
            evse_id=1,
            created_at=T0 - timedelta(minutes=30),
            updated_at=T0,
        )
    )
    start = TransactionEvent(
        station_id="CP1",
        kind=EventKind.STARTED,
        timestamp=T0,
        received_at=T0,
        transaction_id="16",
        event_key="Started",
        evse_id=1,
        connector_id=1,
        id_token="TAG",
        reservation_id=booked.id,
        meter_values=(MeterReading(T0, (_register(0, "Transaction.Begin"),)),),
        ocpp_version="1.6",
    )
    stop = TransactionEvent(
        station_id="CP1",
        kind=EventKind.ENDED,
        timestamp=T0 + timedelta(minutes=90),
        received_at=T0 + timedelta(minutes=90),
        transaction_id="16",
        event_key="Ended",
        meter_values=(
            MeterReading(T0 + timedelta(minutes=90), (_register(9000, "Transaction.End"),)),
        ),
        ocpp_version="1.6",
    )
    await store.record_transaction_events([start, stop])

    def status(minute: int, value: str) -> StatusReport:
        at = T0 + timedelta(minutes=minute)
        return StatusReport("CP1", 1, 1, value, at, at)

    await store.record_status(
        [status(-2, "Preparing"), status(1, "Charging"), status(60, "SuspendedEV")]
    )
    await store.flush()
    tx = await store.find_transaction("CP1", "16")
    assert tx is not None
    priced = await service.price_transaction(tx.id)
    assert priced is not None
    # Reservation 30 min x 2.00 = 1.00; minute 0-1 Preparing (parking, 4.00/h) = 0.0667;
    # charging 59 min x 1.00 = 0.9833; parking 30 min x 4.00 = 2.00.
    assert priced.total_reservation_cost is not None
    assert priced.total_reservation_cost.excl_vat == D("1.00")
    assert priced.total_time_cost is not None
    assert priced.total_time_cost.excl_vat == D("0.9833")
    assert priced.total_parking_cost is not None
    assert priced.total_parking_cost.excl_vat == D("2.0667")
    assert priced.total_cost.excl_vat == D("4.05")
    assert priced.start_date_time == T0 - timedelta(minutes=30)
    assert priced.total_cost.incl_vat is None  # no VAT in this tariff


async def test_a_16_transaction_is_priced_with_its_meter_start_and_stop(
    store: SqlStore, service: TariffService, clock: Clock
) -> None:
    """1.6: meterStart 1000, a MeterValues reading of 4000 at the very StartTransaction
    timestamp, later readings, a Sample.Clock reading of 8000 beside meterStop 8500 in
    StopTransaction's transactionData. Priced energy = meterStop - meterStart = 7.5 kWh,
    whichever row the database returns first among those sharing a timestamp."""
    await store.create_station(Station(id="CP1"))
    clock.now = T0 - timedelta(hours=1)
    await service.put(
        TariffRecord(
            tariff("std", energy(0.25), currency="EUR"),
            is_default=True,
        )
    )

    def at(minute: int) -> datetime:
        return T0 + timedelta(minutes=minute)

    def meter_values(minute: int, *values: SampledValue) -> TransactionEvent:
        # What ocpp16/transactions.py records for MeterValues with a transactionId.
        return TransactionEvent(
            station_id="CP1",
            kind=EventKind.UPDATED,
            timestamp=at(minute),
            received_at=at(minute),
            transaction_id="16",
            event_key=None,
            evse_id=1,
            connector_id=1,
            meter_values=(MeterReading(at(minute), values),),
            ocpp_version="1.6",
        )

    start = TransactionEvent(
        station_id="CP1",
        kind=EventKind.STARTED,
        timestamp=T0,
        received_at=T0,
        transaction_id="16",
        start_key="1|TAG|start|1000",
        event_key="Started",
        evse_id=1,
        connector_id=1,
        id_token="TAG",
        meter_values=(MeterReading(T0, (_register(1000, "Transaction.Begin"),)),),
        ocpp_version="1.6",
    )
    stop = TransactionEvent(
        station_id="CP1",
        kind=EventKind.ENDED,
        timestamp=at(60),
        received_at=at(60),
        transaction_id="16",
        event_key="Ended",
        stop_reason="Local",
        meter_values=(
            MeterReading(at(60), (_register(8000, "Sample.Clock"),)),
            MeterReading(at(60), (_register(8500, "Transaction.End"),)),
        ),
        ocpp_version="1.6",
    )
    for event in (
        start,
        meter_values(0, _register(4000)),
        meter_values(20, _register(5000)),
        meter_values(40, _register(7000)),
    ):
        await store.record_transaction_events([event])
    tx = await store.find_transaction("CP1", "16")
    assert tx is not None
    # Running, priced up to minute 50: the energy up to the last reading (40).
    clock.now = at(50)
    live = await service.price_transaction(tx.id)
    assert live is not None and live.total_energy == D(6)

    await store.record_transaction_events([stop])
    await store.flush()
    tx = await store.find_transaction("CP1", "16")
    assert tx is not None and tx.energy_wh == 7500
    clock.now = at(120)
    priced = await service.price_transaction(tx.id)
    assert priced is not None
    assert priced.total_energy == D("7.5")
    assert priced.total_cost.excl_vat == D("1.875")  # 7.5 kWh x 0.25
    assert priced.total_cost.incl_vat == D("2.2688")  # + 21 % VAT, 4 decimals
    # Priced up to minute 30 of the ended transaction: what was read by then, 1000 ->
    # 5000 (the stop meter, read later, is not used).
    part = await service.price_transaction(tx.id, until=at(30))
    assert part is not None and part.total_energy == D(4)
