"""OCPP date-time text in and out (OCPP-J: RFC 3339, UTC, 'Z')."""

from __future__ import annotations

from datetime import UTC, datetime


def to_ocpp(dt: datetime) -> str:
    """RFC 3339 UTC with millisecond precision and a 'Z', as OCPP stations expect."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    # isoformat of an aware UTC datetime ends in "+00:00"; it is ~2x faster than strftime.
    return dt.isoformat(timespec="milliseconds")[:-6] + "Z"


def from_ocpp(text: str | None) -> datetime | None:
    """Parse a station's date-time; None if absent or unreadable (never raises)."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
