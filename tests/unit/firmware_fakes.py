"""In-memory fakes of the firmware ports (FirmwareStore, FirmwareCommands) for unit tests."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ampyre.domain.events import DomainEvent
from ampyre.domain.firmware import (
    ACTIVE_STATES,
    FirmwareFile,
    FirmwareUpdate,
    Rollout,
    RolloutState,
    RolloutTargets,
    UpdateRequest,
    UpdateState,
)
from ampyre.domain.models import Page
from ampyre.services.firmware_ports import FileInUse
from ampyre.services.station_port import Answer


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeStation:
    id: str
    ocpp_version: str | None = "ocpp2.0.1"
    vendor: str | None = "Ampyre"
    model: str | None = "SimCharger"
    firmware_version: str | None = "1.0"


class FakeFirmwareStore:
    def __init__(self) -> None:
        self.files: dict[int, FirmwareFile] = {}
        self.updates: dict[int, FirmwareUpdate] = {}
        self.rollouts: dict[int, Rollout] = {}
        self.stations: list[FakeStation] = []
        self.events: list[DomainEvent] = []

    async def add_file(self, file: FirmwareFile) -> FirmwareFile:
        file.id = len(self.files) + 1
        self.files[file.id] = copy.deepcopy(file)
        return file

    async def get_file(self, file_id: int) -> FirmwareFile | None:
        f = self.files.get(file_id)
        return copy.deepcopy(f)

    async def update_file(self, file: FirmwareFile) -> None:
        self.files[file.id] = copy.deepcopy(file)

    async def file_by_token(self, token: str) -> FirmwareFile | None:
        return next((copy.deepcopy(f) for f in self.files.values() if f.token == token), None)

    async def list_files(self, limit: int, offset: int) -> Page:
        items = list(self.files.values())
        return Page(
            items=items[offset : offset + limit], total=len(items), limit=limit, offset=offset
        )

    async def delete_file(self, file_id: int) -> bool:
        if any(r.file_id == file_id for r in self.rollouts.values()):
            raise FileInUse("in use")
        return self.files.pop(file_id, None) is not None

    async def add_update(self, update: FirmwareUpdate) -> FirmwareUpdate:
        update.id = len(self.updates) + 1
        self.updates[update.id] = copy.deepcopy(update)
        return update

    async def save_update(self, update: FirmwareUpdate, events: Sequence[DomainEvent] = ()) -> bool:
        stored = self.updates.get(update.id)
        if stored is None or stored.revision != update.revision:
            return False
        update.revision += 1
        self.updates[update.id] = copy.deepcopy(update)
        self.events.extend(events)
        return True

    async def get_update(self, update_id: int) -> FirmwareUpdate | None:
        return copy.deepcopy(self.updates.get(update_id))

    async def active_updates(self, station_id: str) -> list[FirmwareUpdate]:
        found = [
            copy.deepcopy(u)
            for u in self.updates.values()
            if u.station_id == station_id and u.state in ACTIVE_STATES
        ]
        return sorted(found, key=lambda u: -u.id)

    async def list_updates(
        self,
        limit: int,
        offset: int,
        station_id: str | None = None,
        rollout_id: int | None = None,
    ) -> Page:
        items = [
            copy.deepcopy(u)
            for u in self.updates.values()
            if (station_id is None or u.station_id == station_id)
            and (rollout_id is None or u.rollout_id == rollout_id)
        ]
        if rollout_id is None:
            items.reverse()  # newest first, as the SQL store lists them
        return Page(
            items=items[offset : offset + limit], total=len(items), limit=limit, offset=offset
        )

    async def stale_updates(self, sent_before: datetime) -> list[FirmwareUpdate]:
        return [
            copy.deepcopy(u)
            for u in self.updates.values()
            if u.state in ACTIVE_STATES and (u.sent_at or u.updated_at) < sent_before
        ]

    async def matching_stations(self, targets: RolloutTargets) -> list[tuple[str, str | None]]:
        out = []
        for s in self.stations:
            if targets.station_ids and s.id not in targets.station_ids:
                continue
            if targets.vendor is not None and s.vendor != targets.vendor:
                continue
            if targets.model is not None and s.model != targets.model:
                continue
            if (
                targets.firmware_version is not None
                and s.firmware_version != targets.firmware_version
            ):
                continue
            out.append((s.id, s.ocpp_version))
        return out

    async def add_rollout(
        self, rollout: Rollout, updates: Sequence[FirmwareUpdate], events: Sequence[DomainEvent]
    ) -> Rollout:
        rollout.id = len(self.rollouts) + 1
        self.rollouts[rollout.id] = copy.deepcopy(rollout)
        for u in updates:
            u.rollout_id = rollout.id
            await self.add_update(u)
        self.events.extend(events)
        return await self.get_rollout(rollout.id) or rollout

    async def save_rollout(self, rollout: Rollout, events: Sequence[DomainEvent] = ()) -> None:
        self.rollouts[rollout.id] = copy.deepcopy(rollout)
        self.events.extend(events)

    def _counted(self, r: Rollout) -> Rollout:
        r = copy.deepcopy(r)
        counts: dict[str, int] = {}
        for u in self.updates.values():
            if u.rollout_id == r.id:
                counts[u.state.value] = counts.get(u.state.value, 0) + 1
        r.counts = counts
        return r

    async def get_rollout(self, rollout_id: int) -> Rollout | None:
        r = self.rollouts.get(rollout_id)
        return None if r is None else self._counted(r)

    async def list_rollouts(self, limit: int, offset: int) -> Page:
        items = [self._counted(r) for r in self.rollouts.values()]
        return Page(items=items, total=len(items), limit=limit, offset=offset)

    async def open_rollouts(self) -> list[Rollout]:
        return [
            self._counted(r)
            for r in self.rollouts.values()
            if r.state in (RolloutState.RUNNING, RolloutState.PAUSED)
        ]

    async def claim_pending(self, rollout_id: int, n: int, now: datetime) -> list[FirmwareUpdate]:
        out = []
        for u in sorted(self.updates.values(), key=lambda x: x.id):
            if len(out) >= n:
                break
            if u.rollout_id == rollout_id and u.state is UpdateState.PENDING:
                u.state = UpdateState.SENDING
                u.updated_at = now
                u.revision += 1
                out.append(copy.deepcopy(u))
        return out

    async def cancel_pending(self, rollout_id: int, now: datetime, detail: str) -> int:
        n = 0
        for u in self.updates.values():
            if u.rollout_id == rollout_id and u.state is UpdateState.PENDING:
                u.state = UpdateState.CANCELLED
                u.detail = detail
                u.finished_at = now
                u.revision += 1
                n += 1
        return n


@dataclass
class FakeFirmwareCommands:
    """Answers UpdateFirmware with `answers[station]` (default accepted); offline
    stations (not in `versions`) are not connected."""

    versions: dict[str, str] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    sent: list[tuple[str, int, UpdateRequest]] = field(default_factory=list)
    # Runs while the station "answers" (e.g. its notifications overtaking the answer).
    during: Callable[[str, int], Awaitable[None]] | None = None

    def connected_version(self, station_id: str) -> str | None:
        return self.versions.get(station_id)

    async def update_firmware(
        self,
        station_id: str,
        request_id: int,
        request: UpdateRequest,
        timeout: float | None = None,
    ) -> Answer:
        if station_id not in self.versions:
            return Answer("not_connected", detail="the station is not connected")
        self.sent.append((station_id, request_id, request))
        if self.during is not None:
            await self.during(station_id, request_id)
        default = "ok" if self.versions[station_id] == "ocpp1.6" else "accepted"
        status = self.answers.get(station_id, default)
        if status in ("timeout", "error"):
            return Answer(status, detail=status)
        return Answer(status, status.capitalize())


def event_types(store: FakeFirmwareStore) -> list[str]:
    return [str(e.type) for e in store.events]


def data_of(store: FakeFirmwareStore, type_: str) -> list[dict[str, Any]]:
    return [e.data for e in store.events if str(e.type) == type_]
