"""A station's configuration as Ampyre knows it, one shape for every OCPP version.

OCPP 2.x has a device model: components (optionally an instance, on an EVSE or one of its
connectors) holding variables (optionally an instance), each with up to four attributes
(Actual, Target, MinSet, MaxSet) and characteristics (OCPP 2.0.1 Part 1 section 3 and
Part 2 B05-B08). OCPP 1.6 has flat configuration keys (section 9): Ampyre files a key as a
variable of the unnamed component ("" below), attribute Actual, ReadOnly or ReadWrite.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

ACTUAL: Final = "Actual"
ATTRIBUTE_TYPES: Final = ("Actual", "Target", "MinSet", "MaxSet")
MUTABILITIES: Final = ("ReadOnly", "WriteOnly", "ReadWrite")
NAME_MAX: Final = 50  # 2.x ComponentType/VariableType name and instance; 1.6 key
VALUE_MAX: Final = 2500  # 2.x VariableAttributeType.value (1.6: 500)
SET_VALUE_MAX: Final = 2500  # 2.1 SetVariableDataType.attributeValue (2.0.1: 1000; 1.6: 500)
# Values Ampyre never keeps nor shows: write-only secrets (OCPP 2.0.1 A00.FR.205
# BasicAuthPassword; the 1.6 security extension's AuthorizationKey).
HIDDEN: Final = "***"


@dataclass(slots=True, frozen=True)
class VariableRef:
    """The address of one attribute of one variable. `component` is "" for a 1.6 key;
    `evse_id` / `connector_id` 0 mean "not on an EVSE / connector"."""

    variable: str
    component: str = ""
    component_instance: str = ""
    variable_instance: str = ""
    evse_id: int = 0
    connector_id: int = 0
    attribute_type: str = ACTUAL

    @property
    def is_key(self) -> bool:
        """A 1.6 configuration key (no component)."""
        return not self.component

    def label(self) -> str:
        if self.is_key:
            return self.variable
        parts = [self.component]
        if self.component_instance:
            parts[0] += f"[{self.component_instance}]"
        if self.evse_id:
            parts.append(
                f"EVSE {self.evse_id}" + (f"/{self.connector_id}" if self.connector_id else "")
            )
        name = self.variable + (f"[{self.variable_instance}]" if self.variable_instance else "")
        suffix = "" if self.attribute_type == ACTUAL else f" ({self.attribute_type})"
        return ".".join([" ".join(parts), name]) + suffix


@dataclass(slots=True, frozen=True)
class StationVariable:
    """One attribute's value as last reported, read or set."""

    station_id: str
    ref: VariableRef
    value: str | None
    mutability: str | None = None  # ReadOnly / WriteOnly / ReadWrite (1.6: readonly flag)
    persistent: bool | None = None
    constant: bool | None = None
    # 2.x VariableCharacteristicsType, as JSON (unit, dataType, minLimit, maxLimit,
    # valuesList, supportsMonitoring); None for 1.6 keys.
    characteristics: dict[str, Any] | None = None
    source: str = "report"  # report | get | set
    reboot_required: bool = False  # set, and the station said it applies after a reboot
    report_id: int | None = None
    updated_at: datetime | None = None


class ReportKind(enum.StrEnum):
    # OCPP 2.0.1 ReportBaseEnumType (B07), a custom GetReport (B08), 1.6 GetConfiguration.
    FULL = "FullInventory"
    CONFIGURATION = "ConfigurationInventory"
    SUMMARY = "SummaryInventory"
    CUSTOM = "Custom"
    KEYS = "GetConfiguration"
    UNREQUESTED = "Unrequested"  # NotifyReport for a request Ampyre did not make


class ReportState(enum.StrEnum):
    REQUESTED = "requested"  # sent, no answer yet
    RECEIVING = "receiving"  # accepted; parts arrive
    COMPLETE = "complete"  # the part with tbc=false arrived and no part is missing
    INCOMPLETE = "incomplete"  # parts missing, or no last part within the timeout
    REJECTED = "rejected"
    NOT_SUPPORTED = "not_supported"
    EMPTY = "empty"  # EmptyResultSet: nothing matched the criteria
    TIMEOUT = "timeout"  # the station did not answer the request in time
    FAILED = "failed"  # not delivered, or answered with a CALLERROR


FINAL_STATES: Final = frozenset(ReportState) - {ReportState.REQUESTED, ReportState.RECEIVING}


@dataclass(slots=True)
class ConfigReport:
    """A request for a station's configuration (2.x GetBaseReport/GetReport with its
    NotifyReport parts, 1.6 GetConfiguration) and how far it got."""

    station_id: str
    kind: ReportKind
    state: ReportState
    requested_at: datetime
    id: int | None = None
    request_id: int | None = None  # the 2.x requestId (Ampyre's requests: the id)
    parts: int = 0
    last_seq_no: int | None = None
    variables: int = 0  # attributes stored from it
    last_part_at: datetime | None = None
    finished_at: datetime | None = None
    detail: str | None = None
    criteria: dict[str, Any] = field(default_factory=dict)


class ChangeStatus(enum.StrEnum):
    """The answer to one get/set, version-neutral (1.6 ConfigurationStatus,
    2.x SetVariableStatusEnumType / GetVariableStatusEnumType)."""

    ACCEPTED = "accepted"
    REBOOT_REQUIRED = "reboot_required"
    REJECTED = "rejected"
    NOT_SUPPORTED = "not_supported"  # 1.6: an unknown key
    UNKNOWN_COMPONENT = "unknown_component"
    UNKNOWN_VARIABLE = "unknown_variable"
    NOT_SUPPORTED_ATTRIBUTE_TYPE = "not_supported_attribute_type"
    NOT_ADDRESSABLE = "not_addressable"  # the station's version cannot name it; not sent


@dataclass(slots=True, frozen=True)
class VariableResult:
    ref: VariableRef
    status: ChangeStatus
    station_status: str | None = None  # as the station sent it
    value: str | None = None  # read: the value; set: the value asked for
    detail: str | None = None  # the station's statusInfo, or why it was not sent
    mutability: str | None = None


def clip(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]
