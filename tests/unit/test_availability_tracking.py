"""When a Scheduled ChangeAvailability counts as applied (services/availability.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ampyre.domain.models import Connector
from ampyre.services.availability import AvailabilityChange, applied_at

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(seconds=5)


def c(evse: int, connector: int, status: str, at: datetime = LATER) -> Connector:
    return Connector("S", evse, connector, status, updated_at=at)


def test_an_evse_change_needs_every_connector_of_it_fresh() -> None:
    change = AvailabilityChange("S", 1, 0, False, T0)
    two = [c(1, 1, "Unavailable"), c(1, 2, "Occupied"), c(2, 1, "Available")]
    assert applied_at(change, two) is None
    done = [c(1, 1, "Unavailable"), c(1, 2, "Unavailable", LATER + timedelta(1)), two[2]]
    assert applied_at(change, done) == LATER + timedelta(1)
    # A status from before the request does not count.
    stale = [c(1, 1, "Unavailable", T0 - timedelta(1)), c(1, 2, "Unavailable")]
    assert applied_at(change, stale) is None


def test_one_connector_and_back_to_operative() -> None:
    change = AvailabilityChange("S", 1, 2, True, T0)
    assert applied_at(change, [c(1, 1, "Unavailable"), c(1, 2, "Available")]) == LATER
    assert applied_at(change, [c(1, 2, "Unavailable")]) is None
    assert applied_at(change, []) is None


def test_a_whole_station_change_shows_on_connector_zero_or_on_all() -> None:
    change = AvailabilityChange("S", 0, 0, False, T0)
    # 1.6 reports the Charge Point as connector 0 (EVSE 0).
    assert applied_at(change, [c(0, 0, "Unavailable"), c(1, 1, "Charging")]) == LATER
    assert applied_at(change, [c(1, 1, "Unavailable"), c(2, 2, "Unavailable")]) == LATER
    assert applied_at(change, [c(1, 1, "Unavailable"), c(2, 2, "Charging")]) is None
