"""OCPP 1.6J log requests: GetDiagnostics (core profile) for diagnostics, GetLog of the
1.6 security extension for security logs; and the decoding of their answers."""

from __future__ import annotations

from typing import Any

from ampyre.protocol.codec import Request
from ampyre.protocol.ocpp201.logs import get_log as get_log_2x
from ampyre.protocol.timefmt import to_ocpp
from ampyre.services.logs import LogSpec, LogType


def get_log(spec: LogSpec) -> Request:
    if spec.log_type == LogType.SECURITY:
        # Security extension (Improved security for OCPP 1.6-J): same shape as 2.0.1.
        return get_log_2x(spec)
    payload: dict[str, Any] = {"location": spec.location}
    if spec.retries is not None:
        payload["retries"] = spec.retries
    if spec.retry_interval is not None:
        payload["retryInterval"] = spec.retry_interval
    if spec.oldest is not None:
        payload["startTime"] = to_ocpp(spec.oldest)
    if spec.latest is not None:
        payload["stopTime"] = to_ocpp(spec.latest)
    return "GetDiagnostics", payload


def filename(action: str, answer: dict[str, Any]) -> str | None:
    """GetDiagnostics.conf fileName (absent: nothing to upload); GetLog: filename."""
    value = answer.get("fileName" if action == "GetDiagnostics" else "filename")
    return value if isinstance(value, str) and value else None
