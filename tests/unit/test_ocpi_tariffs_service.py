"""TariffService over in-memory fakes: which tariff applies, the cache, listeners that
fail, time zones, pricing a transaction, the push of changes, and the demo tariff."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from ampyre import demo_tariffs
from ampyre.config import Settings
from ampyre.domain.models import Page
from ampyre.domain.ocpi import OcpiRole
from ampyre.domain.tariff_json import tariff_from_json
from ampyre.domain.tariffs import Tariff
from ampyre.domain.usage import ChargingState, MeterSample, simple_usage
from ampyre.services.tariff_push import TariffPublisher
from ampyre.services.tariffs import TariffService
from ampyre.services.tariffs_port import (
    ReceivedTariff,
    TariffRecord,
    TariffVersion,
    TransactionUsage,
)

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class MemoryTariffs:
    def __init__(self) -> None:
        self.rows: dict[str, TariffRecord] = {}
        self.versions: list[TariffVersion] = []
        self.version_reads = 0

    async def list_tariffs(
        self,
        limit: int,
        offset: int,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
    ) -> Page:
        items = [
            r
            for _, r in sorted(self.rows.items())
            if (updated_from is None or r.tariff.last_updated >= updated_from)
            and (updated_to is None or r.tariff.last_updated < updated_to)
        ]
        return Page(items[offset : offset + limit], len(items), limit, offset)

    async def get_tariff(self, tariff_id: str) -> TariffRecord | None:
        return self.rows.get(tariff_id)

    async def save_tariff(self, record: TariffRecord, at: datetime) -> bool:
        created = record.tariff.id not in self.rows
        self.rows[record.tariff.id] = record
        self.versions.append(
            TariffVersion(
                record.tariff.id, at, record.tariff, record.station_ids, record.is_default
            )
        )
        return created

    async def delete_tariff(self, tariff_id: str, at: datetime) -> bool:
        if self.rows.pop(tariff_id, None) is None:
            return False
        self.versions.append(TariffVersion(tariff_id, at, None))
        return True

    async def tariff_versions(self) -> list[TariffVersion]:
        self.version_reads += 1
        return list(self.versions)

    async def save_received(self, partner_id: int, tariff: Tariff, at: datetime) -> ReceivedTariff:
        raise NotImplementedError

    async def get_received(self, country_code: str, party_id: str, tariff_id: str) -> None:
        return None

    async def delete_received(self, country_code: str, party_id: str, tariff_id: str) -> bool:
        return False

    async def list_received(self, partner_id: int | None, limit: int, offset: int) -> Page:
        return Page([], 0, limit, offset)


class Usages:
    def __init__(self) -> None:
        self.by_pk: dict[int, TransactionUsage] = {}

    async def transaction_usage(self, transaction_pk: int) -> TransactionUsage | None:
        return self.by_pk.get(transaction_pk)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def make(**settings: Any) -> tuple[TariffService, MemoryTariffs, Usages, Clock]:
    store, usages, clock = MemoryTariffs(), Usages(), Clock()
    service = TariffService(store, usages, Settings(**settings), clock)
    return service, store, usages, clock


def tariff(tariff_id: str, price: float = 0.3, **extra: Any) -> Tariff:
    return tariff_from_json(
        {
            "country_code": "XX",
            "party_id": "XXX",
            "id": tariff_id,
            "currency": "EUR",
            "elements": [
                {"price_components": [{"type": "ENERGY", "price": price, "step_size": 1}]}
            ],
            "last_updated": "2020-01-01T00:00:00Z",
            **extra,
        }
    )


async def test_which_tariff_is_answered_from_memory_until_a_change() -> None:
    service, store, _, clock = make(tariff_cache_seconds=3600)
    await service.put(TariffRecord(tariff("std"), is_default=True))
    assert (t := await service.tariff_for("CP1")) is not None and t.id == "std"
    reads = store.version_reads
    for _ in range(5):
        await service.tariff_for("CP1")
    assert store.version_reads == reads  # cached
    # Another node's change (straight into the store) is not seen until the cache ages...
    clock.now += timedelta(minutes=1)
    await store.save_tariff(TariffRecord(tariff("cp1"), station_ids=("CP1",)), clock.now)
    assert (t := await service.tariff_for("CP1")) is not None and t.id == "std"
    # ...this node's own change is seen at once.
    await service.put(TariffRecord(tariff("cp2"), station_ids=("CP2",)))
    assert (t := await service.tariff_for("CP1")) is not None and t.id == "cp1"
    assert await service.has_tariffs()


async def test_listeners_that_fail_do_not_undo_the_change() -> None:
    service, _, _, _ = make()
    seen: list[tuple[str, bool]] = []

    async def broken(t: Tariff, deleted: bool) -> None:
        raise RuntimeError("partner down")

    async def recording(t: Tariff, deleted: bool) -> None:
        seen.append((t.id, deleted))

    def broken_sync() -> None:
        raise RuntimeError("cache")

    service.on_change(broken)
    service.on_change(recording)
    service.add_listener(broken_sync)
    await service.put(TariffRecord(tariff("a")))
    assert await service.delete("a")
    assert seen == [("a", False), ("a", True)]
    assert await service.get("a") is None


async def test_time_zone_from_the_location_else_the_setting() -> None:
    service, _, _, _ = make(tariff_time_zone="Europe/Berlin")
    assert await service.time_zone_of("CP1") == ZoneInfo("Europe/Berlin")

    async def zones(station_id: str) -> str | None:
        if station_id == "bad":
            raise RuntimeError("db down")
        return {"CP1": "America/New_York", "odd": "Nowhere/Land"}.get(station_id)

    service.set_time_zone_resolver(zones)
    assert await service.time_zone_of("CP1") == ZoneInfo("America/New_York")
    for fallback in ("CP2", "odd", "bad"):
        assert await service.time_zone_of(fallback) == ZoneInfo("Europe/Berlin")
    with pytest.raises(ValueError):
        service.preview(
            tariff("a"),
            simple_usage(T0, charging=timedelta(0), energy_kwh=Decimal(0)),
            "Nowhere/Land",
        )


async def test_price_a_running_transaction_until_now_or_until() -> None:
    service, _, usages, clock = make()
    clock.now = T0 - timedelta(hours=1)
    await service.put(TariffRecord(tariff("std", 0.5), is_default=True))
    usages.by_pk[7] = TransactionUsage(
        transaction_pk=7,
        station_id="CP1",
        evse_id=1,
        connector_id=1,
        started_at=T0,
        ended_at=None,
        samples=[
            MeterSample(T0, energy_wh=0),
            MeterSample(T0 + timedelta(minutes=30), energy_wh=5000),
            MeterSample(T0 + timedelta(minutes=60), energy_wh=9000),
        ],
        states=[ChargingState(T0, True)],
    )
    clock.now = T0 + timedelta(minutes=45)
    live = await service.price_transaction(7)
    assert live is not None
    assert live.end_date_time == clock.now
    assert live.total_energy == Decimal(5)  # the reading at 60 min is in the future
    assert live.total_cost.excl_vat == Decimal("2.50")
    earlier = await service.price_transaction(7, until=T0 + timedelta(minutes=15))
    assert earlier is not None and earlier.total_cost.excl_vat == Decimal(0)
    usages.by_pk[7] = dataclasses.replace(usages.by_pk[7], ended_at=T0 + timedelta(minutes=60))
    clock.now = T0 + timedelta(days=1)
    final = await service.price_transaction(7)
    assert final is not None and final.total_cost.excl_vat == Decimal("4.50")
    assert await service.price_transaction(8) is None
    # A station no tariff applies to: not priced.
    usages.by_pk[9] = dataclasses.replace(
        usages.by_pk[7], transaction_pk=9, started_at=T0 - timedelta(days=1)
    )
    assert await service.price_transaction(9) is None


class FakePush:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def to_receivers(
        self,
        module: str,
        method: str,
        path: str,
        body: object | None,
        object_key: str,
        party_role: OcpiRole = OcpiRole.EMSP,
    ) -> int:
        self.calls.append((module, method, path, body, object_key))
        return 2


async def test_changes_are_pushed_as_put_and_delete() -> None:
    service, _, _, _ = make(ocpi_country_code="BE", ocpi_party_id="BEC")
    push = FakePush()
    publisher = TariffPublisher(push)
    service.on_change(publisher.changed)
    await service.put(TariffRecord(tariff("T1")))
    await service.put(TariffRecord(tariff("T1"), station_ids=("CP9",)))  # not an OCPI change
    await service.delete("T1")
    assert [(c[1], c[2], c[4]) for c in push.calls] == [
        ("PUT", "/BE/BEC/T1", "tariff:T1"),
        ("DELETE", "/BE/BEC/T1", "tariff:T1"),
    ]
    body = push.calls[0][3]
    assert isinstance(body, dict) and body["id"] == "T1" and body["country_code"] == "BE"
    assert push.calls[1][3] is None and publisher.queued == 4


async def test_demo_tariff_is_seeded_once_and_prices_a_session() -> None:
    service, store, _, _ = make()
    app = cast(Any, SimpleNamespace(roaming=SimpleNamespace(tariffs=service)))
    await demo_tariffs.seed(app)
    await demo_tariffs.seed(app)
    assert list(store.rows) == [demo_tariffs.DEMO_TARIFF_ID]
    demo = store.rows[demo_tariffs.DEMO_TARIFF_ID]
    assert demo.is_default
    # 18:00 UTC is in the 17-21 h window: 0.50 + 10 kWh at 0.39; parked from 1 h to 3 h
    # of the session, billed only after 2 h: 1 h at 3.00. 7.40 excl., 8.954 incl. 21 %.
    usage = simple_usage(
        T0.replace(hour=18),
        charging=timedelta(hours=1),
        energy_kwh=Decimal(10),
        parking=timedelta(hours=2),
    )
    priced = service.preview(demo.tariff, usage, "UTC")
    assert priced.total_cost.excl_vat == Decimal("7.40")
    assert priced.total_cost.incl_vat == Decimal("8.954")
