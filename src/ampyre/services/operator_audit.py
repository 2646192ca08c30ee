"""The operator audit trail: who changed what through the REST API, and how it ended.

Every write (POST/PUT/PATCH/DELETE, OCPP commands included) made with an API token is
recorded by the API's guard (api/guard.py) and listed by `GET /api/v1/audit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ampyre.domain.models import Page

# Column sizes (adapters/db/tables.py): longer values are cut, never refused.
TARGET_MAX = 2048
SUMMARY_MAX = 4000
OUTCOME_MAX = 255
NAME_MAX = 255
STATION_MAX = 255


@dataclass(slots=True, frozen=True)
class OperatorAction:
    created_at: datetime
    token_id: int | None
    token_name: str | None
    role: str | None
    method: str
    target: str  # the path, e.g. /api/v1/stations/CP-1/ocpp/Reset
    station_id: str | None
    summary: str | None  # the request (JSON, secrets masked), cut to SUMMARY_MAX
    status_code: int
    outcome: str | None  # e.g. "accepted", or the problem's detail
    duration_ms: int
    id: int | None = None


@dataclass(slots=True, frozen=True)
class OperatorActionFilter:
    token_id: int | None = None
    token_name: str | None = None
    station_id: str | None = None
    since: datetime | None = None  # at or after
    until: datetime | None = None  # before


class OperatorAuditLog(Protocol):
    async def record(self, action: OperatorAction) -> None: ...

    async def list(self, where: OperatorActionFilter, limit: int, offset: int) -> Page:
        """Newest first; items are OperatorAction."""
        ...

    async def prune(self, older_than: datetime) -> int: ...


def clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."
