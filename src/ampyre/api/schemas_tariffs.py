"""REST bodies of the tariff routes (api/routes/tariffs.py). A tariff comes in shaped as
the OCPI 2.2.1 Tariff object (without the owner and last_updated, which are ours) plus
where Ampyre uses it; the rules beyond the schema are domain/tariffs.py's, so the API and
OCPI refuse the same tariffs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ampyre.domain.tariff_json import tariff_from_json, tariff_to_json
from ampyre.domain.tariffs import Tariff
from ampyre.domain.usage import ReservationUsage, Segment, Usage, simple_usage, usage_from_segments
from ampyre.services.tariffs_port import ReceivedTariff, TariffRecord

TARIFF_ID_PATTERN = r"^[A-Za-z0-9._-]{1,36}$"
TariffId = Annotated[str, Field(pattern=TARIFF_ID_PATTERN, description="CiString(36)")]
Money = Annotated[Decimal, Field(ge=0, le=1_000_000, max_digits=16, decimal_places=6)]
Quantity = Annotated[Decimal, Field(ge=0, le=1_000_000, max_digits=16, decimal_places=6)]
Seconds = Annotated[int, Field(ge=0, le=2**31 - 1)]
HhMm = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Day = Annotated[str, Field(pattern=r"^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
MAX_MINUTES = 31 * 24 * 60  # a month: no session is longer


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PriceIn(_Strict):
    excl_vat: Money
    incl_vat: Money | None = None


class PriceComponentIn(_Strict):
    type: Literal["ENERGY", "FLAT", "PARKING_TIME", "TIME"]
    price: Money = Field(description="per kWh (ENERGY), per hour (TIME, PARKING_TIME), or the fee")
    step_size: Seconds = Field(1, description="Wh for ENERGY, seconds for TIME/PARKING_TIME")
    vat: Annotated[Decimal, Field(ge=0, le=100, max_digits=7, decimal_places=4)] | None = None


class RestrictionsIn(_Strict):
    start_time: HhMm | None = None
    end_time: HhMm | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    min_kwh: Quantity | None = None
    max_kwh: Quantity | None = None
    min_current: Quantity | None = None
    max_current: Quantity | None = None
    min_power: Quantity | None = None
    max_power: Quantity | None = None
    min_duration: Seconds | None = None
    max_duration: Seconds | None = None
    day_of_week: Annotated[
        list[Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]],
        Field(max_length=7),
    ] = []
    reservation: Literal["RESERVATION", "RESERVATION_EXPIRES"] | None = None


class ElementIn(_Strict):
    price_components: Annotated[list[PriceComponentIn], Field(min_length=1, max_length=8)]
    restrictions: RestrictionsIn | None = None


class DisplayTextIn(_Strict):
    language: Annotated[str, Field(pattern=r"^[a-zA-Z]{2}$")]
    text: Annotated[str, Field(max_length=512)]


class TariffIn(_Strict):
    """A tariff: the OCPI 2.2.1 Tariff fields, and where Ampyre uses it."""

    id: TariffId | None = Field(None, description="required on POST; on PUT the path's")
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")]
    type: (
        Literal["AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"]
        | None
    ) = None
    elements: Annotated[list[ElementIn], Field(min_length=1, max_length=100)]
    tariff_alt_text: Annotated[list[DisplayTextIn], Field(max_length=20)] = []
    tariff_alt_url: Annotated[str, Field(max_length=255)] | None = None
    min_price: PriceIn | None = None
    max_price: PriceIn | None = None
    start_date_time: AwareDatetime | None = None
    end_date_time: AwareDatetime | None = None
    energy_mix: dict[str, Any] | None = None
    station_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=255)]], Field(max_length=1000)
    ] = Field([], description="stations this tariff applies at (empty: not scoped)")
    is_default: bool = Field(False, description="used where no scoped tariff applies")

    def to_tariff(self, tariff_id: str) -> Tariff:
        """The domain Tariff (owner and last_updated are placeholders the service sets).
        Raise TariffInvalid for a rule beyond the schema."""
        body = self.model_dump(
            mode="json", exclude={"id", "station_ids", "is_default"}, exclude_none=True
        )
        body.update(
            country_code="XX",
            party_id="XXX",
            id=tariff_id,
            last_updated=datetime.now(UTC).isoformat(),
        )
        return tariff_from_json(body)

    def to_record(self, tariff_id: str) -> TariffRecord:
        return TariffRecord(
            tariff=self.to_tariff(tariff_id),
            station_ids=tuple(self.station_ids),
            is_default=self.is_default,
        )


class TariffOut(BaseModel):
    tariff: dict[str, Any] = Field(description="the OCPI 2.2.1 Tariff object")
    station_ids: list[str]
    is_default: bool
    created_at: datetime | None = None

    @classmethod
    def of(cls, record: TariffRecord) -> TariffOut:
        return cls(
            tariff=tariff_to_json(record.tariff),
            station_ids=list(record.station_ids),
            is_default=record.is_default,
            created_at=record.created_at,
        )


class TariffPage(BaseModel):
    items: list[TariffOut]
    total: int
    limit: int
    offset: int


class SegmentIn(_Strict):
    minutes: Annotated[float, Field(ge=0, le=MAX_MINUTES)]
    energy_kwh: Quantity = Decimal(0)
    charging: bool = True
    power_kw: Quantity | None = None
    current_a: Quantity | None = None


class SessionIn(_Strict):
    """A made-up session: charging then parking, or a list of segments."""

    start: AwareDatetime
    charging_minutes: Annotated[float, Field(ge=0, le=MAX_MINUTES)] = 0
    parking_minutes: Annotated[float, Field(ge=0, le=MAX_MINUTES)] = 0
    energy_kwh: Quantity = Decimal(0)
    power_kw: Quantity | None = None
    current_a: Quantity | None = None
    reservation_minutes: Annotated[float, Field(ge=0, le=MAX_MINUTES)] | None = None
    reservation_expired: bool = False
    segments: Annotated[list[SegmentIn], Field(max_length=200)] | None = Field(
        None, description="instead of charging/parking minutes: the session piece by piece"
    )

    def usage(self) -> Usage:
        start = self.start.astimezone(UTC)
        if self.segments is None:
            return simple_usage(
                start,
                charging=timedelta(minutes=self.charging_minutes),
                energy_kwh=self.energy_kwh,
                parking=timedelta(minutes=self.parking_minutes),
                power_kw=self.power_kw,
                current_a=self.current_a,
                reservation=(
                    None
                    if self.reservation_minutes is None
                    else timedelta(minutes=self.reservation_minutes)
                ),
                reservation_expired=self.reservation_expired,
            )
        booked = None
        if self.reservation_minutes is not None:
            before = timedelta(minutes=self.reservation_minutes)
            booked = ReservationUsage(start - before, start, self.reservation_expired)
        return usage_from_segments(
            start,
            [
                Segment(
                    timedelta(minutes=s.minutes), s.energy_kwh, s.charging, s.power_kw, s.current_a
                )
                for s in self.segments
            ],
            booked,
        )


class PreviewIn(_Strict):
    tariff: TariffIn | None = Field(None, description="a tariff being edited")
    tariff_id: TariffId | None = Field(None, description="or one of ours, by id")
    session: SessionIn
    time_zone: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="IANA zone of the restrictions (default: tariff_time_zone)"
    )


class ReceivedTariffOut(BaseModel):
    id: int
    partner_id: int
    received_at: datetime
    tariff: dict[str, Any]

    @classmethod
    def of(cls, item: ReceivedTariff) -> ReceivedTariffOut:
        return cls(
            id=item.id,
            partner_id=item.partner_id,
            received_at=item.received_at,
            tariff=tariff_to_json(item.tariff),
        )


class ReceivedTariffPage(BaseModel):
    items: list[ReceivedTariffOut]
    total: int
    limit: int
    offset: int
