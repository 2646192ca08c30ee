"""Request and response bodies of the location routes (issue 20, OCPI Locations): our
locations (the OCPI Location fields that describe the place), their EVSEs and connectors
as the operator configures them, and the Locations partners pushed to us. The field
limits are OCPI 2.2.1 mod_locations'; nested OCPI classes (opening times, business
details, images, ...) are checked by domain/locations_validate.py (422 with the field)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ampyre.domain.locations import ConnectorKind, Location, ReceivedLocation
from ampyre.services.locations import ConnectorView, EvseView

_LIST = 1000


class Coordinates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latitude: str = Field(max_length=10, examples=["52.090730"])
    longitude: str = Field(max_length=11, examples=["5.121420"])


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        None,
        max_length=36,
        description="OCPI Location.id (A-Z a-z 0-9 . _ - ~); generated when left out. "
        "Never changes.",
    )
    name: str | None = Field(None, max_length=255)
    address: str = Field(max_length=45, description="street and number")
    city: str = Field(max_length=45)
    postal_code: str | None = Field(None, max_length=10)
    state: str | None = Field(None, max_length=20)
    country: str = Field(min_length=3, max_length=3, description="ISO 3166-1 alpha-3, e.g. NLD")
    coordinates: Coordinates
    time_zone: str = Field(max_length=255, examples=["Europe/Amsterdam"])
    parking_type: str | None = Field(None, description="OCPI ParkingType, e.g. PARKING_LOT")
    facilities: list[str] = Field(default_factory=list, max_length=_LIST)
    opening_times: dict[str, Any] | None = Field(
        None, description='OCPI Hours, e.g. {"twentyfourseven": true}'
    )
    charging_when_closed: bool | None = None
    publish: bool = Field(True, description="may be shown in apps and on websites")
    publish_allowed_to: list[dict[str, Any]] = Field(
        default_factory=list, max_length=_LIST, description="OCPI PublishTokenType (publish=false)"
    )
    directions: list[dict[str, Any]] = Field(default_factory=list, max_length=_LIST)
    related_locations: list[dict[str, Any]] = Field(default_factory=list, max_length=_LIST)
    operator: dict[str, Any] | None = Field(None, description="OCPI BusinessDetails")
    suboperator: dict[str, Any] | None = None
    owner: dict[str, Any] | None = None
    images: list[dict[str, Any]] = Field(default_factory=list, max_length=_LIST)
    energy_mix: dict[str, Any] | None = None
    roaming: bool = Field(True, description="offered to roaming partners over OCPI")

    def place(self) -> dict[str, Any]:
        """The OCPI place fields (checked by the service)."""
        return self.model_dump(exclude={"id", "roaming"}, exclude_none=True)


class LocationOut(LocationIn):
    model_config = ConfigDict(extra="ignore")

    id: str
    stations: list[str]
    created_at: datetime
    updated_at: datetime
    last_updated: datetime = Field(description="the OCPI last_updated (place, EVSEs, status)")

    @classmethod
    def of(cls, location: Location) -> LocationOut:
        place = dict(location.place)
        return cls(
            id=location.id,
            roaming=location.roaming,
            stations=list(location.stations),
            created_at=location.created_at,
            updated_at=location.updated_at,
            last_updated=location.last_updated,
            **place,
        )


class LocationPage(BaseModel):
    items: list[LocationOut]
    total: int
    limit: int
    offset: int


class EvseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evse_id: str | None = Field(
        None, max_length=48, description="eMI3 EVSE ID; null: derived from the station id"
    )
    floor_level: str | None = Field(None, max_length=4)
    physical_reference: str | None = Field(None, max_length=16)
    capabilities: list[str] | None = Field(
        None, max_length=_LIST, description="OCPI Capability values; null: the defaults"
    )
    parking_restrictions: list[str] = Field(default_factory=list, max_length=_LIST)
    directions: list[dict[str, Any]] = Field(default_factory=list, max_length=_LIST)


class ConnectorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    standard: str = Field(description="OCPI ConnectorType, e.g. IEC_62196_T2")
    format: str = Field(description="SOCKET or CABLE")
    power_type: str = Field(description="AC_1_PHASE, AC_2_PHASE, AC_2_PHASE_SPLIT, AC_3_PHASE, DC")
    max_voltage: int = Field(description="V (line to neutral for AC_3_PHASE)")
    max_amperage: int = Field(description="A")
    max_electric_power: int | None = Field(None, description="W, when below voltage x amperage")
    terms_and_conditions: str | None = Field(None, max_length=255)


class ConnectorOut(BaseModel):
    connector_id: int
    ocpp_status: str | None
    standard: str
    format: str
    power_type: str
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None
    terms_and_conditions: str | None
    tariff_ids: list[str]
    customized: bool = Field(description="false: the defaults (AMPYRE_OCPI_CONNECTOR_*)")

    @classmethod
    def of(cls, view: ConnectorView) -> ConnectorOut:
        k: ConnectorKind = view.kind
        return cls(
            connector_id=view.connector_id,
            ocpp_status=view.ocpp_status,
            standard=k.standard,
            format=k.format,
            power_type=k.power_type,
            max_voltage=k.max_voltage,
            max_amperage=k.max_amperage,
            max_electric_power=k.max_electric_power,
            terms_and_conditions=k.terms_and_conditions,
            tariff_ids=list(view.tariff_ids),
            customized=view.customized,
        )


class EvseOut(BaseModel):
    station_id: str
    evse_id: int
    uid: str = Field(description="OCPI EVSE.uid")
    emi3_id: str | None = Field(description="OCPI EVSE.evse_id")
    status: str = Field(description="OCPI EVSE status")
    connected: bool
    floor_level: str | None
    physical_reference: str | None
    capabilities: list[str] | None
    parking_restrictions: list[str]
    directions: list[dict[str, Any]]
    customized: bool
    connectors: list[ConnectorOut]

    @classmethod
    def of(cls, view: EvseView) -> EvseOut:
        a = view.attributes
        return cls(
            station_id=view.station_id,
            evse_id=view.evse_id,
            uid=view.uid,
            emi3_id=view.emi3_id,
            status=str(view.status),
            connected=view.connected,
            floor_level=a.floor_level,
            physical_reference=a.physical_reference,
            capabilities=None if a.capabilities is None else list(a.capabilities),
            parking_restrictions=list(a.parking_restrictions),
            directions=[dict(d) for d in a.directions],
            customized=view.customized,
            connectors=[ConnectorOut.of(c) for c in view.connectors],
        )


class EvseList(BaseModel):
    items: list[EvseOut]


class PushOut(BaseModel):
    queued: int = Field(description="receivers the Location was queued for")


class PullOut(BaseModel):
    stored: int = Field(description="Locations fetched and stored")


class ReceivedLocationOut(BaseModel):
    id: int
    partner_id: int | None
    country_code: str
    party_id: str
    location_id: str
    name: str | None
    city: str | None
    country: str | None
    evse_count: int
    last_updated: datetime
    received_at: datetime
    location: dict[str, Any] = Field(description="the OCPI Location as pushed")

    @classmethod
    def of(cls, found: ReceivedLocation) -> ReceivedLocationOut:
        data = found.data
        return cls(
            id=found.id,
            partner_id=found.partner_id,
            country_code=found.country_code,
            party_id=found.party_id,
            location_id=found.location_id,
            name=data.get("name"),
            city=data.get("city"),
            country=data.get("country"),
            evse_count=len(data.get("evses") or []),
            last_updated=found.last_updated,
            received_at=found.received_at,
            location=data,
        )


class ReceivedLocationPage(BaseModel):
    items: list[ReceivedLocationOut]
    total: int
    limit: int
    offset: int
