"""The operator dashboard's reads (overview, live counts, chart series): the port the API
uses, implemented with aggregate SQL by adapters/db/dashboard.py. What the states and
numbers mean is defined in domain/dashboard.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from ampyre.domain.dashboard import ChartPoint, Overview

ALERTS = 20  # recent alerts on the overview
SERIES_MAX = 5000  # chart points per request (the client asks again with `after`)


class DashboardReads(Protocol):
    async def overview(self, day_start: datetime, alerts: int) -> Overview:
        """Station counts by state, active transactions, energy delivered since
        `day_start`, the newest `alerts` problem reports (a few aggregate queries)."""
        ...

    async def live_counts(self) -> tuple[int, int]:
        """(online stations, active transactions): two counts, for the stream's stats."""
        ...

    async def meter_series(
        self, transaction_pk: int, after: datetime | None, limit: int
    ) -> tuple[list[ChartPoint], bool]:
        """Up to `limit` chart points of a transaction after `after` (meter time), oldest
        first, and whether more follow."""
        ...


def utc_day_start(now: datetime) -> datetime:
    """Midnight UTC of `now`'s UTC day: "today" of the overview."""
    now = now.astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)
