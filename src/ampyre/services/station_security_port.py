"""What the station security service stores (adapters/db/station_security.py): credential
changes (password rotations, security profile upgrades) and the stations' security
columns (configured profile, pending password hash, profile of the last connection)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ampyre.domain.models import Page


class ChangeKind(enum.StrEnum):
    PASSWORD = "password"
    PROFILE = "profile"


class ChangeStatus(enum.StrEnum):
    """sent: asked, no answer yet; accepted / rejected: the station's answer; completed:
    it reconnected with the new credentials; failed: no answer, superseded, ..."""

    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    COMPLETED = "completed"
    FAILED = "failed"


OPEN: tuple[ChangeStatus, ...] = (ChangeStatus.SENT, ChangeStatus.ACCEPTED)


@dataclass(slots=True)
class SecurityChange:
    station_id: str
    kind: ChangeKind
    status: ChangeStatus
    requested_at: datetime
    target_profile: int | None = None
    requested_by: str | None = None
    station_status: str | None = None
    detail: str | None = None
    answered_at: datetime | None = None
    completed_at: datetime | None = None
    id: int | None = None


class SecurityChangeStore(Protocol):
    async def add_change(self, change: SecurityChange) -> SecurityChange: ...

    async def settle(
        self,
        change_id: int,
        status: ChangeStatus,
        at: datetime,
        *,
        station_status: str | None = None,
        detail: str | None = None,
    ) -> bool:
        """Move an open change (sent/accepted) to `status`; False if it was not open."""
        ...

    async def open_changes(self, station_id: str, kind: ChangeKind) -> list[SecurityChange]: ...

    async def list_changes(self, station_id: str, limit: int, offset: int) -> Page: ...

    async def set_pending_password(self, station_id: str, password_hash: str | None) -> None: ...

    async def promote_pending_password(self, station_id: str) -> bool:
        """The pending password becomes the station's password (the old one stops
        working); False when there is none pending."""
        ...

    async def set_connection_profile(self, station_id: str, profile: int) -> None: ...

    async def raise_configured_profile(self, station_id: str, profile: int) -> None:
        """The configured profile becomes `profile` unless it is already that or higher."""
        ...
