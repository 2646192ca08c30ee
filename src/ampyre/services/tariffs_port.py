"""What the tariff service needs from storage: our tariffs and their versions, partners'
tariffs, and the usage of a transaction (its meter samples, charging states and
reservation) read in one go. adapters/db/tariffs.py and adapters/db/tariff_usage.py
implement it; tests may give fakes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ampyre.domain.models import Page
from ampyre.domain.tariffs import Tariff
from ampyre.domain.usage import ChargingState, MeterSample, RegisterReading, ReservationUsage


@dataclass(frozen=True, slots=True)
class TariffRecord:
    """One of our tariffs: the OCPI Tariff and where Ampyre uses it."""

    tariff: Tariff
    station_ids: tuple[str, ...] = ()  # scoped to these stations; () = not scoped
    is_default: bool = False  # used where no scoped tariff applies
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TariffVersion:
    """A tariff as it was from `valid_from` on (`tariff` None: deleted then)."""

    tariff_id: str
    valid_from: datetime
    tariff: Tariff | None
    station_ids: tuple[str, ...] = ()
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class ReceivedTariff:
    """A tariff a CPO partner pushed to us (we are their eMSP)."""

    id: int
    partner_id: int
    tariff: Tariff
    received_at: datetime


@dataclass(frozen=True, slots=True)
class TransactionUsage:
    """A transaction as the tariff engine needs it."""

    transaction_pk: int
    station_id: str
    evse_id: int | None
    connector_id: int | None
    started_at: datetime
    ended_at: datetime | None  # None while it runs
    samples: Sequence[MeterSample]
    states: Sequence[ChargingState]
    reservation: ReservationUsage | None = None
    # The transaction's start/stop meters (1.6 meterStart/meterStop, 2.x
    # Transaction.Begin/End, else its first/last register reading; ADR 0004).
    meter_start: RegisterReading | None = None
    meter_stop: RegisterReading | None = None


class TariffStore(Protocol):
    async def list_tariffs(
        self,
        limit: int,
        offset: int,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
    ) -> Page:
        """items: TariffRecord, by id; `updated_from` <= last_updated < `updated_to`."""
        ...

    async def get_tariff(self, tariff_id: str) -> TariffRecord | None: ...

    async def save_tariff(self, record: TariffRecord, at: datetime) -> bool:
        """Insert or replace, and record the version (valid from `at`) in the same
        transaction. True when it was created."""
        ...

    async def delete_tariff(self, tariff_id: str, at: datetime) -> bool:
        """Delete, recording a deletion version valid from `at`; False if unknown."""
        ...

    async def tariff_versions(self) -> list[TariffVersion]:
        """Every version of every tariff, oldest first."""
        ...

    async def save_received(self, partner_id: int, tariff: Tariff, at: datetime) -> ReceivedTariff:
        """Insert or replace by (country_code, party_id, id), case-insensitively."""
        ...

    async def get_received(
        self, country_code: str, party_id: str, tariff_id: str
    ) -> ReceivedTariff | None: ...

    async def delete_received(self, country_code: str, party_id: str, tariff_id: str) -> bool: ...

    async def list_received(self, partner_id: int | None, limit: int, offset: int) -> Page:
        """items: ReceivedTariff, newest first."""
        ...


class UsageSource(Protocol):
    async def transaction_usage(self, transaction_pk: int) -> TransactionUsage | None:
        """None for an unknown transaction or one without a start time."""
        ...
