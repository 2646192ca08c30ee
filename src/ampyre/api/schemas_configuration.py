"""Request and response bodies of the configuration routes (api/routes/configuration.py):
stored variables, reads, changes, reports and bulk changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ampyre.api.routes._common import INT32_MAX
from ampyre.domain.device_model import (
    ConfigReport,
    ReportKind,
    StationVariable,
    VariableRef,
    VariableResult,
)
from ampyre.domain.secrets import secret_setting
from ampyre.services.configuration import Setting, StationOutcome

_Name = Field(None, min_length=1, max_length=50)
_Attribute = Literal["Actual", "Target", "MinSet", "MaxSet"]


class VariableOut(BaseModel):
    station_id: str
    component: str | None = Field(description="2.x component; null for a 1.6 key")
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str = Field(description="2.x variable name, or the 1.6 configuration key")
    variable_instance: str | None
    attribute_type: str
    value: str | None = Field(description='as last known; "***" for a secret')
    mutability: str | None
    persistent: bool | None
    constant: bool | None
    characteristics: dict[str, Any] | None
    source: str = Field(description="report, get (read from the station) or set (by an operator)")
    reboot_required: bool = Field(description="set, and applies after the station reboots")
    updated_at: datetime | None

    @classmethod
    def build(cls, v: StationVariable) -> VariableOut:
        r = v.ref
        return cls(
            station_id=v.station_id,
            component=r.component or None,
            component_instance=r.component_instance or None,
            evse_id=r.evse_id or None,
            connector_id=r.connector_id or None,
            variable=r.variable,
            variable_instance=r.variable_instance or None,
            attribute_type=r.attribute_type,
            value=v.value,
            mutability=v.mutability,
            persistent=v.persistent,
            constant=v.constant,
            characteristics=v.characteristics,
            source=v.source,
            reboot_required=v.reboot_required,
            updated_at=v.updated_at,
        )


class VariablePage(BaseModel):
    items: list[VariableOut]
    total: int
    limit: int
    offset: int


class VariableIn(BaseModel):
    """A variable to read: `key` (1.6), or `component` + `variable` (2.x)."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(None, min_length=1, max_length=50, description="1.6 key")
    component: str | None = _Name
    component_instance: str = Field("", max_length=50)
    evse_id: int = Field(0, ge=0, le=INT32_MAX, description="0: not on an EVSE")
    connector_id: int = Field(0, ge=0, le=INT32_MAX, description="0: not on a connector")
    variable: str | None = _Name
    variable_instance: str = Field("", max_length=50)
    attribute_type: _Attribute = "Actual"

    def setting(self, value: str = "") -> Setting:
        return Setting(
            value=value,
            variable=self.variable,
            component=self.component,
            key=self.key,
            component_instance=self.component_instance,
            variable_instance=self.variable_instance,
            evse_id=self.evse_id,
            connector_id=self.connector_id,
            attribute_type=self.attribute_type,
        )


class ValueIn(VariableIn):
    """A value to set. For a fleet of mixed versions give both `key` (1.6) and
    `component` + `variable` (2.x); a 1.6 station takes `variable` as its key when no
    component is given."""

    value: str = Field(max_length=2500, description="1.6: at most 500; 2.0.1: 1000")

    def to_setting(self) -> Setting:
        return self.setting(self.value)


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variables: list[VariableIn] | None = Field(
        None,
        max_length=500,
        description="what to read; left out: every key of a 1.6 station (2.x: 422, use a report)",
    )


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: list[ValueIn] = Field(min_length=1, max_length=100)


class ResultOut(BaseModel):
    component: str | None
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str
    variable_instance: str | None
    attribute_type: str
    status: str = Field(
        description="accepted, reboot_required, rejected, not_supported (1.6 unknown key), "
        "unknown_component, unknown_variable, not_supported_attribute_type"
    )
    station_status: str | None = Field(description="the status as the station sent it")
    value: str | None
    mutability: str | None
    detail: str | None

    @classmethod
    def build(cls, r: VariableResult) -> ResultOut:
        ref: VariableRef = r.ref
        secret = r.value is not None and secret_setting(ref.variable)
        return cls(
            component=ref.component or None,
            component_instance=ref.component_instance or None,
            evse_id=ref.evse_id or None,
            connector_id=ref.connector_id or None,
            variable=ref.variable,
            variable_instance=ref.variable_instance or None,
            attribute_type=ref.attribute_type,
            status=r.status.value,
            station_status=r.station_status,
            value="***" if secret else r.value,
            mutability=r.mutability,
            detail=r.detail,
        )


class ConfigResultOut(BaseModel):
    station_id: str
    ocpp_version: str | None
    results: list[ResultOut]
    reboot_required: bool = Field(description="some value applies only after a reboot")


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["FullInventory", "ConfigurationInventory", "SummaryInventory", "Custom"] = Field(
        "FullInventory", description="2.x GetBaseReport base, or Custom (GetReport)"
    )
    component_criteria: list[Literal["Active", "Available", "Enabled", "Problem"]] = Field(
        default_factory=list, max_length=4, description="Custom: components in these states"
    )
    components: list[VariableIn] = Field(
        default_factory=list,
        max_length=500,
        description="Custom: these components (a variable, or all of the component's)",
    )


class ReportOut(BaseModel):
    id: int
    station_id: str
    request_id: int | None = Field(description="2.x requestId of its NotifyReport parts")
    kind: str
    state: str = Field(
        description="requested, receiving, complete, incomplete (parts missing or no last "
        "part in time), rejected, not_supported, empty, timeout, failed"
    )
    requested_at: datetime
    parts: int
    last_seq_no: int | None
    variables: int = Field(description="attributes stored from it")
    last_part_at: datetime | None
    finished_at: datetime | None
    detail: str | None
    criteria: dict[str, Any]

    @classmethod
    def build(cls, r: ConfigReport) -> ReportOut:
        assert r.id is not None
        return cls(
            id=r.id,
            station_id=r.station_id,
            request_id=r.request_id,
            kind=r.kind.value,
            state=r.state.value,
            requested_at=r.requested_at,
            parts=r.parts,
            last_seq_no=r.last_seq_no,
            variables=r.variables,
            last_part_at=r.last_part_at,
            finished_at=r.finished_at,
            detail=r.detail,
            criteria=r.criteria,
        )


class ReportPage(BaseModel):
    items: list[ReportOut]
    total: int
    limit: int
    offset: int


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_ids: list[str] | None = Field(
        None, max_length=10_000, description="these stations (else: all that match below)"
    )
    vendor: str | None = Field(None, max_length=255)
    model: str | None = Field(None, max_length=255)
    firmware_version: str | None = Field(None, max_length=255)
    values: list[ValueIn] = Field(min_length=1, max_length=100)
    concurrency: int = Field(20, ge=1, le=200, description="stations asked at once")


class StationOutcomeOut(BaseModel):
    station_id: str
    ocpp_version: str | None
    status: str = Field(
        description="accepted (all), partial, rejected (none), not_found, not_addressable (a value "
        "has no name in the station's version; nothing sent), not_connected, timeout, error"
    )
    detail: str | None
    results: list[ResultOut]

    @classmethod
    def build(cls, o: StationOutcome) -> StationOutcomeOut:
        return cls(
            station_id=o.station_id,
            ocpp_version=o.version,
            status=o.status,
            detail=o.detail,
            results=[ResultOut.build(r) for r in o.results],
        )


class BulkOut(BaseModel):
    stations: int
    counts: dict[str, int] = Field(description="stations per outcome status")
    results: list[StationOutcomeOut]


KINDS = {k.value: k for k in ReportKind}
