"""Payloads a simulated station sends, and its answers to CSMS-initiated CALLs.

Two dialects: OCPP 1.6J (``ocpp1.6``) and OCPP 2.x (``ocpp2.0.1`` / ``ocpp2.1``
share every message the simulator uses). Nothing here does I/O; the functions
are plain so they are cheap to call for thousands of stations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ampyre.simulator import device_report

PROTOCOLS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")

# OCPP-J message type ids.
CALL = 2
CALLRESULT = 3
CALLERROR = 4
CALLRESULTERROR = 5  # OCPP 2.1 only
SEND = 6  # OCPP 2.1 only

# 1.6 cycle for a connector that gets used; 2.x only knows Available/Occupied.
STATUS_CYCLE_16 = ("Available", "Preparing", "Charging", "Finishing")
STATUS_CYCLE_2X = ("Available", "Occupied")

FIRMWARE_VERSION = "ampyre-sim-1.0"
VENDOR = "Ampyre"
MODEL = "SimCharger"

Payload = dict[str, Any]


def is_v16(protocol: str) -> bool:
    return protocol == "ocpp1.6"


def check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")


def now_iso() -> str:
    """UTC timestamp in the RFC 3339 form OCPP wants (millisecond precision, Z)."""
    t = datetime.now(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def boot_notification(
    protocol: str, station_id: str, firmware_version: str = FIRMWARE_VERSION
) -> Payload:
    if is_v16(protocol):
        return {
            "chargePointVendor": VENDOR,
            "chargePointModel": MODEL,
            "chargePointSerialNumber": station_id,
            "chargeBoxSerialNumber": station_id,
            "firmwareVersion": firmware_version,
        }
    return {
        "chargingStation": {
            "model": MODEL,
            "vendorName": VENDOR,
            "serialNumber": station_id,
            "firmwareVersion": firmware_version,
        },
        "reason": "PowerUp",
    }


def connectors(protocol: str) -> list[int]:
    """Connector ids (1.6, 0 = the whole station) or EVSE ids (2.x) reported at boot."""
    return [0, 1, 2] if is_v16(protocol) else [1, 2]


def status_notification(protocol: str, connector: int, status: str) -> Payload:
    if is_v16(protocol):
        return {
            "connectorId": connector,
            "errorCode": "NoError",
            "status": status,
            "timestamp": now_iso(),
        }
    return {
        "timestamp": now_iso(),
        "connectorStatus": status,
        "evseId": connector,
        "connectorId": 1,
    }


def next_status(protocol: str, current: str) -> str:
    cycle = STATUS_CYCLE_16 if is_v16(protocol) else STATUS_CYCLE_2X
    try:
        index = cycle.index(current)
    except ValueError:
        return cycle[0]
    return cycle[(index + 1) % len(cycle)]


@dataclass(slots=True)
class StationState:
    """What a CSMS can read or change on a simulated station."""

    protocol: str
    station_id: str
    heartbeat_interval: float = 60.0
    # 1.6 configuration keys: key -> (value, readonly)
    config16: dict[str, tuple[str, bool]] = field(default_factory=dict)
    # 2.x device model: (component, variable) -> (value, readonly)
    variables: dict[tuple[str, str], tuple[str, bool]] = field(default_factory=dict)
    reset_requested: bool = False
    triggered: list[str] = field(default_factory=list)
    firmware_version: str = FIRMWARE_VERSION  # what it boots with (a firmware update changes it)
    # CALLs to send, in order, once the current answer has left (e.g. NotifyReport parts).
    follow_ups: list[tuple[str, Payload]] = field(default_factory=list)
    # 2.x SetNetworkProfile: slot -> connectionData.
    network_profiles: dict[int, Payload] = field(default_factory=dict)

    def __post_init__(self) -> None:
        hb = str(int(self.heartbeat_interval))
        self.config16 = {
            "HeartbeatInterval": (hb, False),
            "MeterValueSampleInterval": ("60", False),
            "NumberOfConnectors": ("2", True),
            "ConnectionTimeOut": ("60", False),
            "AuthorizeRemoteTxRequests": ("false", False),
            "LocalAuthorizeOffline": ("true", False),
            "SupportedFeatureProfiles": ("Core,RemoteTrigger", True),
        }
        self.variables = {
            ("OCPPCommCtrlr", "HeartbeatInterval"): (hb, False),
            ("SampledDataCtrlr", "TxUpdatedInterval"): ("60", False),
            ("SecurityCtrlr", "Identity"): (self.station_id, True),
            ("SecurityCtrlr", "SecurityProfile"): ("1", True),
            ("ChargingStation", "Model"): (MODEL, True),
            ("ChargingStation", "VendorName"): (VENDOR, True),
            ("ChargingStation", "AvailabilityState"): ("Available", True),
            ("AuthCtrlr", "AuthorizeRemoteStart"): ("false", False),
            ("OCPPCommCtrlr", "NetworkConfigurationPriority"): ("0", False),
        }

    def set_heartbeat(self, seconds: float) -> None:
        self.heartbeat_interval = seconds
        value = str(int(seconds))
        self.config16["HeartbeatInterval"] = (value, False)
        self.variables[("OCPPCommCtrlr", "HeartbeatInterval")] = (value, False)


class NotImplementedAction(Exception):
    """The simulator does not support this CSMS-initiated action."""


TRIGGERABLE = frozenset({"BootNotification", "Heartbeat", "StatusNotification"})


def answer_call(state: StationState, action: str, payload: Payload) -> Payload:
    """Answer a CSMS CALL; raises NotImplementedAction for anything unknown.

    Side effects the station loop acts on are recorded in ``state``
    (``reset_requested``, ``triggered``).
    """
    table = _HANDLERS_16 if is_v16(state.protocol) else _HANDLERS_2X
    handler = table.get(action)
    if handler is None:
        raise NotImplementedAction(action)
    return handler(state, payload)


# ---- OCPP 1.6 ----------------------------------------------------------------


def _reset(state: StationState, payload: Payload) -> Payload:
    state.reset_requested = True
    return {"status": "Accepted"}


def _accepted(state: StationState, payload: Payload) -> Payload:
    return {"status": "Accepted"}


def _unlocked(state: StationState, payload: Payload) -> Payload:
    return {"status": "Unlocked"}


SIM_VENDOR = "org.ampyre.simulator"  # the simulator's own DataTransfer vendorId


def _data_transfer(state: StationState, payload: Payload) -> Payload:
    """The simulator speaks one vendor extension: messageId "echo" answers with the data
    it got. Other message ids of that vendor are UnknownMessageId, other vendors
    UnknownVendorId (1.6 section 5.5, 2.x P01.FR.xx)."""
    if payload.get("vendorId") != SIM_VENDOR:
        return {"status": "UnknownVendorId"}
    if payload.get("messageId") != "echo":
        return {"status": "UnknownMessageId"}
    answer: Payload = {"status": "Accepted"}
    if "data" in payload:
        answer["data"] = payload["data"]
    return answer


def _trigger_16(state: StationState, payload: Payload) -> Payload:
    requested = str(payload.get("requestedMessage", ""))
    if requested not in TRIGGERABLE:
        return {"status": "NotImplemented"}
    state.triggered.append(requested)
    return {"status": "Accepted"}


def _change_configuration(state: StationState, payload: Payload) -> Payload:
    key = str(payload.get("key", ""))
    value = str(payload.get("value", ""))
    current = state.config16.get(key)
    if current is None:
        return {"status": "NotSupported"}
    if current[1]:
        return {"status": "Rejected"}
    if key == "HeartbeatInterval":
        try:
            seconds = float(value)
        except ValueError:
            return {"status": "Rejected"}
        if seconds <= 0:
            return {"status": "Rejected"}
        state.set_heartbeat(seconds)
    else:
        state.config16[key] = (value, False)
    return {"status": "Accepted"}


def _get_configuration(state: StationState, payload: Payload) -> Payload:
    wanted = payload.get("key") or list(state.config16)
    known: list[Payload] = []
    unknown: list[str] = []
    for key in wanted:
        entry = state.config16.get(key)
        if entry is None:
            unknown.append(key)
        else:
            known.append({"key": key, "readonly": entry[1], "value": entry[0]})
    result: Payload = {"configurationKey": known}
    if unknown:
        result["unknownKey"] = unknown
    return result


_Handler = Callable[[StationState, Payload], Payload]

_HANDLERS_16: dict[str, _Handler] = {
    "Reset": _reset,
    "ChangeAvailability": _accepted,
    "ClearCache": _accepted,
    "UnlockConnector": _unlocked,
    "DataTransfer": _data_transfer,
    "TriggerMessage": _trigger_16,
    "ChangeConfiguration": _change_configuration,
    "GetConfiguration": _get_configuration,
}


# ---- OCPP 2.0.1 / 2.1 ------------------------------------------------------------


def _trigger_2x(state: StationState, payload: Payload) -> Payload:
    requested = str(payload.get("requestedMessage", ""))
    if requested not in TRIGGERABLE:
        return {"status": "NotImplemented"}
    state.triggered.append(requested)
    return {"status": "Accepted"}


def _component_known(state: StationState, component: str) -> bool:
    return any(c == component for c, _ in state.variables)


def _get_variables(state: StationState, payload: Payload) -> Payload:
    results: list[Payload] = []
    for item in payload.get("getVariableData", []):
        component = item.get("component", {})
        variable = item.get("variable", {})
        key = (str(component.get("name", "")), str(variable.get("name", "")))
        result: Payload = {"component": component, "variable": variable}
        attribute_type = item.get("attributeType")
        if attribute_type is not None:
            result["attributeType"] = attribute_type
        entry = state.variables.get(key)
        if entry is not None and attribute_type not in (None, "Actual"):
            result["attributeStatus"] = "NotSupportedAttributeType"
        elif entry is not None:
            result["attributeStatus"] = "Accepted"
            result["attributeValue"] = entry[0]
        elif _component_known(state, key[0]):
            result["attributeStatus"] = "UnknownVariable"
        else:
            result["attributeStatus"] = "UnknownComponent"
        results.append(result)
    return {"getVariableResult": results}


def _set_variables(state: StationState, payload: Payload) -> Payload:
    results: list[Payload] = []
    for item in payload.get("setVariableData", []):
        component = item.get("component", {})
        variable = item.get("variable", {})
        key = (str(component.get("name", "")), str(variable.get("name", "")))
        value = str(item.get("attributeValue", ""))
        result: Payload = {"component": component, "variable": variable}
        if "attributeType" in item:
            result["attributeType"] = item["attributeType"]
        entry = state.variables.get(key)
        if entry is None:
            known = _component_known(state, key[0])
            result["attributeStatus"] = "UnknownVariable" if known else "UnknownComponent"
        elif entry[1]:
            result["attributeStatus"] = "Rejected"
        elif key == ("OCPPCommCtrlr", "HeartbeatInterval"):
            try:
                seconds = float(value)
            except ValueError:
                seconds = 0.0
            if seconds > 0:
                state.set_heartbeat(seconds)
                result["attributeStatus"] = "Accepted"
            else:
                result["attributeStatus"] = "Rejected"
        else:
            state.variables[key] = (value, False)
            result["attributeStatus"] = "Accepted"
        results.append(result)
    return {"setVariableResult": results}


NETWORK_SLOTS = 3  # the simulated station's NetworkConfigurationPriority slots: 0..2


def _set_network_profile(state: StationState, payload: Payload) -> Payload:
    """B09: a profile for a slot the station has, with a URL of the right scheme for
    its security profile, is stored (the station keeps using its current one until
    NetworkConfigurationPriority says otherwise); anything else is Rejected."""
    slot = payload.get("configurationSlot")
    data = payload.get("connectionData") or {}
    url = str(data.get("ocppCsmsUrl", ""))
    scheme = "ws://" if data.get("securityProfile") == 1 else "wss://"
    if not isinstance(slot, int) or not 0 <= slot < NETWORK_SLOTS or not url.startswith(scheme):
        return {"status": "Rejected"}
    state.network_profiles[slot] = dict(data)
    return {"status": "Accepted"}


def _report(state: StationState, request_id: int, data: list[Payload]) -> Payload:
    if not data:
        return {"status": "EmptyResultSet"}
    state.follow_ups.extend(("NotifyReport", p) for p in device_report.parts(request_id, data))
    return {"status": "Accepted"}


def _get_base_report(state: StationState, payload: Payload) -> Payload:
    data = device_report.base_report(state.variables, str(payload.get("reportBase", "")))
    return _report(state, int(payload.get("requestId", 0)), data)


def _get_report(state: StationState, payload: Payload) -> Payload:
    data = device_report.custom_report(state.variables, payload)
    return _report(state, int(payload.get("requestId", 0)), data)


_HANDLERS_2X: dict[str, _Handler] = {
    "Reset": _reset,
    "ChangeAvailability": _accepted,
    "ClearCache": _accepted,
    "UnlockConnector": _unlocked,
    "DataTransfer": _data_transfer,
    "TriggerMessage": _trigger_2x,
    "GetVariables": _get_variables,
    "SetVariables": _set_variables,
    "GetBaseReport": _get_base_report,
    "SetNetworkProfile": _set_network_profile,
    "GetReport": _get_report,
}
