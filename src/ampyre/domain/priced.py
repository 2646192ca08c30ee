"""What the tariff engine (domain/pricing.py) answers: the OCPI 2.2.1 charging periods
(mod_cdrs 10.4.6) with their dimensions, what each period cost, and the session's
totals; and their JSON (OCPI ChargingPeriod objects, the REST shape of a priced
session)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ampyre.domain.tariff_json import number, ocpi_datetime, price_to_json, tariff_to_json
from ampyre.domain.tariffs import Price, Tariff


class CdrDimensionType(enum.StrEnum):
    """OCPI 2.2.1 mod_cdrs 10.4.2."""

    ENERGY = "ENERGY"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    RESERVATION_TIME = "RESERVATION_TIME"
    TIME = "TIME"


@dataclass(frozen=True, slots=True)
class CdrDimension:
    type: CdrDimensionType
    volume: Decimal  # kWh, hours, A or kW


@dataclass(frozen=True, slots=True)
class ChargingPeriod:
    """OCPI 2.2.1 mod_cdrs 10.4.6: it ends when the next one starts (the last one when
    the session ends)."""

    start_date_time: datetime
    dimensions: tuple[CdrDimension, ...]
    tariff_id: str | None = None


@dataclass(frozen=True, slots=True)
class PricedPeriod:
    period: ChargingPeriod
    end_date_time: datetime
    cost: Price  # what was billed in it (step_size extras and the flat fee included)


@dataclass(frozen=True, slots=True)
class PricedSession:
    tariff: Tariff
    currency: str
    start_date_time: datetime  # the reservation's start when there was one
    end_date_time: datetime
    periods: tuple[PricedPeriod, ...]
    total_cost: Price
    total_fixed_cost: Price | None
    total_energy: Decimal  # kWh delivered
    total_energy_cost: Price | None
    total_time: Decimal  # hours, charging and parking (not the reservation)
    total_time_cost: Price | None
    total_parking_time: Decimal  # hours
    total_parking_cost: Price | None
    total_reservation_cost: Price | None
    price_limit: str | None = None  # "min_price" / "max_price" when one applied

    @property
    def charging_periods(self) -> tuple[ChargingPeriod, ...]:
        return tuple(p.period for p in self.periods)


def charging_period_json(p: ChargingPeriod) -> dict[str, Any]:
    """The OCPI 2.2.1 ChargingPeriod object."""
    out: dict[str, Any] = {
        "start_date_time": ocpi_datetime(p.start_date_time),
        "dimensions": [{"type": d.type.value, "volume": number(d.volume)} for d in p.dimensions],
    }
    if p.tariff_id is not None:
        out["tariff_id"] = p.tariff_id
    return out


def _optional_price(price: Price | None) -> dict[str, int | float] | None:
    return None if price is None else price_to_json(price)


def priced_session_json(s: PricedSession) -> dict[str, Any]:
    """The REST shape of a priced session (the OCPI fields, each period with its end and
    cost, and the tariff used)."""
    return {
        "tariff_id": s.tariff.id,
        "currency": s.currency,
        "start_date_time": ocpi_datetime(s.start_date_time),
        "end_date_time": ocpi_datetime(s.end_date_time),
        "charging_periods": [
            {
                **charging_period_json(p.period),
                "end_date_time": ocpi_datetime(p.end_date_time),
                "cost": price_to_json(p.cost),
            }
            for p in s.periods
        ],
        "total_cost": price_to_json(s.total_cost),
        "total_fixed_cost": _optional_price(s.total_fixed_cost),
        "total_energy": number(s.total_energy),
        "total_energy_cost": _optional_price(s.total_energy_cost),
        "total_time": number(s.total_time),
        "total_time_cost": _optional_price(s.total_time_cost),
        "total_parking_time": number(s.total_parking_time),
        "total_parking_cost": _optional_price(s.total_parking_cost),
        "total_reservation_cost": _optional_price(s.total_reservation_cost),
        "price_limit": s.price_limit,
        "tariff": tariff_to_json(s.tariff),
    }
