"""OCPP date-time text in and out (OCPP-J: RFC 3339, UTC, 'Z')."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_MS = timedelta(milliseconds=1)
_NEVER = datetime.max.replace(tzinfo=UTC)
# The last text formatted and the millisecond it stands for: [start, end) in UTC. Every
# Heartbeat answer formats the current time, and a busy node answers several in the same
# millisecond; a hit costs two comparisons instead of isoformat (about a third of the
# instructions overall at seven calls per millisecond). One tuple, replaced whole.
_last: tuple[datetime, datetime, str] = (_NEVER, _NEVER, "")


def to_ocpp(dt: datetime) -> str:
    """RFC 3339 UTC with millisecond precision and a 'Z', as OCPP stations expect."""
    global _last
    if dt.tzinfo is UTC:
        start, end, text = _last
        if start <= dt < end:
            return text
    else:
        dt = dt.astimezone(UTC)
    # isoformat of an aware UTC datetime ends in "+00:00"; it is ~2x faster than strftime.
    # timespec="milliseconds" truncates: every instant of the same millisecond reads the same.
    text = dt.isoformat(timespec="milliseconds")[:-6] + "Z"
    start = dt.replace(microsecond=dt.microsecond - dt.microsecond % 1000)
    if start < _NEVER - _MS:
        _last = (start, start + _MS, text)
    return text


def from_ocpp(text: str | None) -> datetime | None:
    """Parse a station's date-time; None if absent or unreadable (never raises)."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
