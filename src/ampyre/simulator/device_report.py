"""The simulated 2.x station's device-model reports: GetBaseReport (B07) and GetReport
(B08) are answered at once, and the report follows as NotifyReport parts (requestId,
seqNo from 0, tbc on every part but the last), sent after the answer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

Payload = dict[str, Any]
Variables = dict[tuple[str, str], tuple[str, bool]]

PART_SIZE: Final = 4  # reportData entries per NotifyReport (small: several parts)


def _entry(component: str, variable: str, value: str, readonly: bool) -> Payload:
    numeric = value.lstrip("-").isdigit()
    return {
        "component": {"name": component},
        "variable": {"name": variable},
        "variableAttribute": [
            {
                "type": "Actual",
                "value": value,
                "mutability": "ReadOnly" if readonly else "ReadWrite",
            }
        ],
        "variableCharacteristics": {
            "dataType": "integer" if numeric else "string",
            "supportsMonitoring": numeric,
        },
    }


def base_report(variables: Variables, base: str) -> list[Payload]:
    """FullInventory: everything; ConfigurationInventory: what can be set;
    SummaryInventory: the station's own component."""
    out = []
    for (component, variable), (value, readonly) in sorted(variables.items()):
        if base == "ConfigurationInventory" and readonly:
            continue
        if base == "SummaryInventory" and component != "ChargingStation":
            continue
        out.append(_entry(component, variable, value, readonly))
    return out


def custom_report(variables: Variables, payload: Payload) -> list[Payload]:
    """GetReport: the named components (and variables); the simulator has no problems,
    so criterion Problem alone matches nothing."""
    criteria = set(payload.get("componentCriteria") or [])
    if criteria and criteria <= {"Problem"}:
        return []
    wanted = payload.get("componentVariable") or []
    out = []
    for (component, variable), (value, readonly) in sorted(variables.items()):
        if wanted and not any(_matches(w, component, variable) for w in wanted):
            continue
        out.append(_entry(component, variable, value, readonly))
    return out


def _matches(wanted: Payload, component: str, variable: str) -> bool:
    if (wanted.get("component") or {}).get("name") != component:
        return False
    name = (wanted.get("variable") or {}).get("name")
    return name is None or name == variable


def parts(request_id: int, data: list[Payload], size: int = PART_SIZE) -> Iterable[Payload]:
    """The NotifyReport payloads of one report."""
    chunks = [data[i : i + size] for i in range(0, len(data), size)] or [[]]
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    for seq_no, chunk in enumerate(chunks):
        payload: Payload = {
            "requestId": request_id,
            "generatedAt": now,
            "seqNo": seq_no,
            "tbc": seq_no < len(chunks) - 1,
        }
        if chunk:
            payload["reportData"] = chunk
        yield payload
