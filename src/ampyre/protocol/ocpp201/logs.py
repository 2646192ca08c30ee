"""OCPP 2.0.1 (and 2.1, same messages) log requests: GetLog (N01) and its answer. The
1.6 security extension's GetLog has the same shape (protocol/ocpp16/logs.py uses it)."""

from __future__ import annotations

from typing import Any

from ampyre.protocol.codec import Request
from ampyre.protocol.timefmt import to_ocpp
from ampyre.services.logs import LogSpec, LogType


def get_log(spec: LogSpec) -> Request:
    log: dict[str, Any] = {"remoteLocation": spec.location}
    if spec.oldest is not None:
        log["oldestTimestamp"] = to_ocpp(spec.oldest)
    if spec.latest is not None:
        log["latestTimestamp"] = to_ocpp(spec.latest)
    payload: dict[str, Any] = {
        "log": log,
        "logType": "SecurityLog" if spec.log_type == LogType.SECURITY else "DiagnosticsLog",
        "requestId": spec.request_id,
    }
    if spec.retries is not None:
        payload["retries"] = spec.retries
    if spec.retry_interval is not None:
        payload["retryInterval"] = spec.retry_interval
    return "GetLog", payload


def filename(action: str, answer: dict[str, Any]) -> str | None:
    value = answer.get("filename")
    return value if isinstance(value, str) and value else None
