"""OCPP 2.0.1 (and 2.1) device model: GetVariables (B06), SetVariables (B05), GetBaseReport
(B07), GetReport (B08) encoded from version-neutral terms, and NotifyReport (B07/B08)
decoded into stored attributes. 2.1 has the same messages (a longer set value)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ampyre.domain.device_model import (
    ChangeStatus,
    ReportKind,
    StationVariable,
    VariableRef,
    VariableResult,
)
from ampyre.protocol.codec import Request
from ampyre.protocol.errors import ErrorKind, OcppError
from ampyre.protocol.session import CallContext, Handler
from ampyre.services.configuration import ConfigurationService
from ampyre.services.station_port import NotAddressable

# GetVariableStatusEnumType / SetVariableStatusEnumType.
_STATUS: Final = {
    "Accepted": ChangeStatus.ACCEPTED,
    "Rejected": ChangeStatus.REJECTED,
    "UnknownComponent": ChangeStatus.UNKNOWN_COMPONENT,
    "UnknownVariable": ChangeStatus.UNKNOWN_VARIABLE,
    "NotSupportedAttributeType": ChangeStatus.NOT_SUPPORTED_ATTRIBUTE_TYPE,
    "RebootRequired": ChangeStatus.REBOOT_REQUIRED,
}
COMPONENT_CRITERIA: Final = ("Active", "Available", "Enabled", "Problem")


def component(ref: VariableRef) -> dict[str, Any]:
    """ComponentType of a ref."""
    if ref.is_key:
        raise NotAddressable(
            f"OCPP 2.x names a variable within its component: {ref.variable!r} needs one"
        )
    out: dict[str, Any] = {"name": ref.component}
    if ref.component_instance:
        out["instance"] = ref.component_instance
    if ref.evse_id:
        evse: dict[str, Any] = {"id": ref.evse_id}
        if ref.connector_id:
            evse["connectorId"] = ref.connector_id
        out["evse"] = evse
    elif ref.connector_id:
        raise NotAddressable("a connector is named within its EVSE: give evse_id too")
    return out


def variable(ref: VariableRef) -> dict[str, Any]:
    out: dict[str, Any] = {"name": ref.variable}
    if ref.variable_instance:
        out["instance"] = ref.variable_instance
    return out


def ref_of(comp: dict[str, Any], var: dict[str, Any], attribute_type: Any) -> VariableRef:
    evse = comp.get("evse") or {}
    return VariableRef(
        variable=str(var.get("name", "")),
        component=str(comp.get("name", "")),
        component_instance=str(comp.get("instance") or ""),
        variable_instance=str(var.get("instance") or ""),
        evse_id=_int(evse.get("id")),
        connector_id=_int(evse.get("connectorId")),
        attribute_type=str(attribute_type or "Actual"),
    )


def _int(value: Any) -> int:
    # Column range; a schema-valid but absurd id is filed as "none" rather than fail.
    return value if isinstance(value, int) and 0 <= value < 2**31 else 0


def get_request(refs: Sequence[VariableRef]) -> Request:
    data = []
    for r in refs:
        item: dict[str, Any] = {"component": component(r), "variable": variable(r)}
        if r.attribute_type != "Actual":
            item["attributeType"] = r.attribute_type
        data.append(item)
    return "GetVariables", {"getVariableData": data}


def _info(result: dict[str, Any]) -> str | None:
    info = result.get("attributeStatusInfo") or {}
    if not info:
        return None
    text = str(info.get("reasonCode", ""))
    if info.get("additionalInfo"):
        text += f": {info['additionalInfo']}"
    return text or None


def get_results(answer: dict[str, Any]) -> list[VariableResult]:
    out = []
    for r in answer.get("getVariableResult") or []:
        station_status = str(r.get("attributeStatus", ""))
        value = r.get("attributeValue")
        out.append(
            VariableResult(
                ref_of(r.get("component") or {}, r.get("variable") or {}, r.get("attributeType")),
                _STATUS.get(station_status, ChangeStatus.REJECTED),
                station_status=station_status,
                value=None if value is None else str(value),
                detail=_info(r),
            )
        )
    return out


def set_request(changes: Sequence[tuple[VariableRef, str]], value_max: int) -> Request:
    data = []
    for ref, value in changes:
        if len(value) > value_max:
            raise NotAddressable(f"this OCPP version sets values of at most {value_max} characters")
        item: dict[str, Any] = {
            "attributeValue": value,
            "component": component(ref),
            "variable": variable(ref),
        }
        if ref.attribute_type != "Actual":
            item["attributeType"] = ref.attribute_type
        data.append(item)
    return "SetVariables", {"setVariableData": data}


def set_results(
    answer: dict[str, Any], changes: Sequence[tuple[VariableRef, str]]
) -> list[VariableResult]:
    """SetVariables results, each with the value that was asked for (B05.FR.xx: one
    result per setVariableData, matched by component, variable and attribute type)."""
    asked = {ref: value for ref, value in changes}
    results = answer.get("setVariableResult") or []
    out = []
    for index, r in enumerate(results):
        ref = ref_of(r.get("component") or {}, r.get("variable") or {}, r.get("attributeType"))
        if ref not in asked and len(results) == len(changes):
            # An answer that names the variable differently (an instance or EVSE left
            # out) is taken to be the one asked for in its place.
            ref = changes[index][0]
        station_status = str(r.get("attributeStatus", ""))
        out.append(
            VariableResult(
                ref,
                _STATUS.get(station_status, ChangeStatus.REJECTED),
                station_status=station_status,
                value=asked.get(ref),
                detail=_info(r),
            )
        )
    return out


def report_request(request_id: int, kind: ReportKind, criteria: dict[str, Any]) -> Request:
    """GetBaseReport (B07) for the three base reports; GetReport (B08) for a custom one,
    with component criteria and/or component variables."""
    if kind in (ReportKind.FULL, ReportKind.CONFIGURATION, ReportKind.SUMMARY):
        return "GetBaseReport", {"requestId": request_id, "reportBase": kind.value}
    payload: dict[str, Any] = {"requestId": request_id}
    wanted = criteria.get("component_criteria") or []
    if wanted:
        payload["componentCriteria"] = list(wanted)
    variables = []
    for item in criteria.get("components") or []:
        ref = VariableRef(
            variable=str(item.get("variable") or ""),
            component=str(item.get("component") or ""),
            component_instance=str(item.get("component_instance") or ""),
            variable_instance=str(item.get("variable_instance") or ""),
            evse_id=int(item.get("evse_id") or 0),
            connector_id=int(item.get("connector_id") or 0),
        )
        entry: dict[str, Any] = {"component": component(ref)}
        if ref.variable:
            entry["variable"] = variable(ref)
        variables.append(entry)
    if variables:
        payload["componentVariable"] = variables
    return "GetReport", payload


def report_variables(
    station_id: str, report_data: Sequence[dict[str, Any]]
) -> list[StationVariable]:
    """NotifyReport reportData: one StationVariable per variableAttribute."""
    out: list[StationVariable] = []
    for item in report_data:
        comp, var = item.get("component") or {}, item.get("variable") or {}
        characteristics = item.get("variableCharacteristics")
        for attr in item.get("variableAttribute") or []:
            value = attr.get("value")
            out.append(
                StationVariable(
                    station_id=station_id,
                    ref=ref_of(comp, var, attr.get("type")),
                    value=None if value is None else str(value),
                    # VariableAttributeType defaults (2.0.1 Part 2, 2.52).
                    mutability=str(attr.get("mutability") or "ReadWrite"),
                    persistent=bool(attr.get("persistent", False)),
                    constant=bool(attr.get("constant", False)),
                    characteristics=dict(characteristics) if characteristics else None,
                    source="report",
                )
            )
    return out


def handlers(svc: ConfigurationService) -> dict[str, Handler]:
    async def notify_report(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        # B07.FR.xx / B08: parts of one report share requestId and count seqNo up from
        # 0; tbc=true says more follow. Each part is stored before it is answered.
        request_id, seq_no = p["requestId"], p["seqNo"]
        if not (0 <= seq_no < 2**31 and -(2**31) <= request_id < 2**31):
            raise OcppError(ErrorKind.PROPERTY, "requestId and seqNo must fit 32 bits")
        await svc.report_part(
            ctx.station_id,
            request_id,
            seq_no,
            bool(p.get("tbc", False)),
            report_variables(ctx.station_id, p.get("reportData") or []),
        )
        return {}

    return {"NotifyReport": notify_report}
