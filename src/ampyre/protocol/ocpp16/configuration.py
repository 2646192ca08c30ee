"""OCPP 1.6J configuration keys: GetConfiguration (section 5.8) and ChangeConfiguration
(section 5.3), encoded from and decoded to the version-neutral device-model terms (a key
is a variable of the unnamed component, attribute Actual)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ampyre.domain.device_model import ChangeStatus, VariableRef, VariableResult
from ampyre.protocol.codec import Request
from ampyre.services.station_port import NotAddressable

KEY_MAX: Final = 50  # CiString50Type
VALUE_MAX: Final = 500  # CiString500Type

# ChangeConfiguration.conf status (section 7.9 ConfigurationStatus).
_CHANGE: Final = {
    "Accepted": ChangeStatus.ACCEPTED,
    "Rejected": ChangeStatus.REJECTED,
    "RebootRequired": ChangeStatus.REBOOT_REQUIRED,
    "NotSupported": ChangeStatus.NOT_SUPPORTED,
}


def _key(ref: VariableRef) -> str:
    if not ref.is_key or ref.attribute_type != "Actual" or ref.variable_instance:
        raise NotAddressable(
            f"OCPP 1.6 has configuration keys, not component variables: {ref.label()} "
            "has no name there"
        )
    if not 1 <= len(ref.variable) <= KEY_MAX:
        raise NotAddressable(f"an OCPP 1.6 configuration key has 1..{KEY_MAX} characters")
    return ref.variable


def get_request(refs: Sequence[VariableRef] | None) -> Request:
    """GetConfiguration.req: without keys the station answers with all of them."""
    if not refs:
        return "GetConfiguration", {}
    return "GetConfiguration", {"key": [_key(r) for r in refs]}


def get_results(answer: dict[str, Any]) -> list[VariableResult]:
    """GetConfiguration.conf: configurationKey (key, readonly, value) and unknownKey."""
    results: list[VariableResult] = []
    for item in answer.get("configurationKey") or []:
        key = str(item.get("key", ""))
        readonly = bool(item.get("readonly", False))
        value = item.get("value")
        results.append(
            VariableResult(
                VariableRef(variable=key),
                ChangeStatus.ACCEPTED,
                station_status="Accepted",
                value=None if value is None else str(value),
                mutability="ReadOnly" if readonly else "ReadWrite",
            )
        )
    for key in answer.get("unknownKey") or []:
        results.append(
            VariableResult(
                VariableRef(variable=str(key)),
                ChangeStatus.NOT_SUPPORTED,
                station_status="UnknownKey",
                detail="the station does not know this key",
            )
        )
    return results


def change_request(ref: VariableRef, value: str) -> Request:
    """ChangeConfiguration.req: one key per message."""
    key = _key(ref)
    if len(value) > VALUE_MAX:
        raise NotAddressable(f"an OCPP 1.6 configuration value has at most {VALUE_MAX} characters")
    return "ChangeConfiguration", {"key": key, "value": value}


def change_result(ref: VariableRef, value: str, answer: dict[str, Any]) -> VariableResult:
    station_status = str(answer.get("status", ""))
    status = _CHANGE.get(station_status, ChangeStatus.REJECTED)
    return VariableResult(ref, status, station_status=station_status, value=value)
