"""The ports the firmware services use: where files, updates and rollouts are stored
(adapters/db/firmware.py), and how a station is asked to update (protocol/firmware.py).
Services never see an action name or a payload."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from ampyre.domain.events import DomainEvent
from ampyre.domain.firmware import (
    FirmwareFile,
    FirmwareUpdate,
    Rollout,
    RolloutTargets,
    UpdateRequest,
)
from ampyre.domain.models import Page
from ampyre.services.station_port import Answer


class FirmwareStore(Protocol):
    """Events given to a write are committed with it (the outbox)."""

    async def add_file(self, file: FirmwareFile) -> FirmwareFile: ...

    async def get_file(self, file_id: int) -> FirmwareFile | None: ...

    async def update_file(self, file: FirmwareFile) -> None:
        """Store the file's signing certificate and signature."""
        ...

    async def file_by_token(self, token: str) -> FirmwareFile | None: ...

    async def list_files(self, limit: int, offset: int) -> Page: ...

    async def delete_file(self, file_id: int) -> bool:
        """False if no such file; raises FileInUse if a rollout still needs it."""
        ...

    async def add_update(self, update: FirmwareUpdate) -> FirmwareUpdate:
        """Stored with a new id (its 2.x requestId)."""
        ...

    async def save_update(self, update: FirmwareUpdate, events: Sequence[DomainEvent] = ()) -> bool:
        """Write the update (and its events) if its stored revision is still
        `update.revision`, bumping it; False (nothing written) if someone wrote first."""
        ...

    async def get_update(self, update_id: int) -> FirmwareUpdate | None: ...

    async def active_updates(self, station_id: str) -> list[FirmwareUpdate]:
        """The station's updates in SENDING / IN_PROGRESS, newest first."""
        ...

    async def list_updates(
        self,
        limit: int,
        offset: int,
        station_id: str | None = None,
        rollout_id: int | None = None,
    ) -> Page: ...

    async def stale_updates(self, sent_before: datetime) -> list[FirmwareUpdate]:
        """Active updates sent before `sent_before` (candidates for the timeout)."""
        ...

    async def matching_stations(self, targets: RolloutTargets) -> list[tuple[str, str | None]]:
        """(station id, its OCPP version) of the stations the targets select."""
        ...

    async def add_rollout(
        self, rollout: Rollout, updates: Sequence[FirmwareUpdate], events: Sequence[DomainEvent]
    ) -> Rollout:
        """The rollout and its (pending) updates, in one commit."""
        ...

    async def save_rollout(self, rollout: Rollout, events: Sequence[DomainEvent] = ()) -> None: ...

    async def get_rollout(self, rollout_id: int) -> Rollout | None:
        """With its update counts per state."""
        ...

    async def list_rollouts(self, limit: int, offset: int) -> Page: ...

    async def open_rollouts(self) -> list[Rollout]:
        """Running and paused rollouts, with their counts."""
        ...

    async def claim_pending(self, rollout_id: int, n: int, now: datetime) -> list[FirmwareUpdate]:
        """Move up to `n` pending updates of the rollout to SENDING (committed before
        anything is sent, so a restart never sends twice) and return them."""
        ...

    async def cancel_pending(self, rollout_id: int, now: datetime, detail: str) -> int: ...


class FileInUse(Exception):
    """A rollout still refers to the file."""


class FirmwareCommands(Protocol):
    """UpdateFirmware in domain terms, for the station's connected version."""

    def connected_version(self, station_id: str) -> str | None: ...

    async def update_firmware(
        self,
        station_id: str,
        request_id: int,
        request: UpdateRequest,
        timeout: float | None = None,
    ) -> Answer:
        """status: accepted / rejected / acceptedcanceled / invalidcertificate /
        revokedcertificate ("ok" from 1.6, whose answer has no status), or not_connected
        / timeout / error without an answer."""
        ...
