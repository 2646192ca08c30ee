"""The services' clock. (OCPP date-time text is the protocol layer's: protocol/timefmt.py.)"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_rfc3339(dt: datetime) -> str:
    """RFC 3339 UTC with millisecond precision and a 'Z' (webhook payloads)."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return dt.isoformat(timespec="milliseconds")[:-6] + "Z"
