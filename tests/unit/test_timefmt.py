"""protocol.timefmt.to_ocpp: the per-millisecond cache answers exactly what isoformat does."""

from datetime import UTC, datetime, timedelta, timezone

from ampyre.protocol.timefmt import to_ocpp


def _reference(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def test_same_text_as_isoformat_around_millisecond_boundaries() -> None:
    base = datetime(2026, 11, 30, 23, 59, 59, 998_000, tzinfo=UTC)
    steps = (0, 1, 999, 1, 1000, -1, -1000, 137, 1_000_000, -2_000_000, 1)
    dt = base
    for step in steps * 50:
        dt += timedelta(microseconds=step)
        assert to_ocpp(dt) == _reference(dt)


def test_other_time_zones_and_extremes() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert to_ocpp(datetime(2026, 1, 1, 1, 0, 0, 123_999, tzinfo=plus2)) == (
        "2025-12-31T23:00:00.123Z"
    )
    assert to_ocpp(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000Z"
    top = datetime.max.replace(tzinfo=UTC)
    assert to_ocpp(top) == _reference(top)
    assert to_ocpp(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000Z"
