"""Fleet firmware rollouts (issue 17 part 4): a firmware file sent to a set of stations
in batches of N, with a pause between batches and an abort once failures reach a
threshold.

All state is in the database (the rollout row and one firmware update per station), so a
restart loses nothing: the cluster's leader runs `tick` every AMPYRE_ROLLOUT_TICK seconds
and carries on where the rollout stands. A station's update is moved to SENDING and
committed before its UpdateFirmware goes out; one left SENDING by a crash is never sent
again (it ends by the station's notifications, its next boot, or the update timeout).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from ampyre.domain.events import DomainEvent, EventType
from ampyre.domain.firmware import (
    FirmwareUpdate,
    Rollout,
    RolloutState,
    RolloutTargets,
    UpdateState,
    plan_rollout,
)
from ampyre.domain.models import Page
from ampyre.services.firmware import FirmwareError, FirmwareService, UnknownFile
from ampyre.services.firmware_ports import FirmwareStore
from ampyre.services.periodic import Periodic

log = logging.getLogger(__name__)

MAX_BATCH = 10_000
EXPIRE_EVERY = 15.0  # seconds between looks for updates past AMPYRE_FIRMWARE_UPDATE_TIMEOUT


class RolloutConflict(FirmwareError):
    """The rollout is not in a state that allows the operation."""


class RolloutService:
    def __init__(
        self,
        store: FirmwareStore,
        firmware: FirmwareService,
        tick_every: float,
        leads: Callable[[], bool] = lambda: True,
    ) -> None:
        self._store = store
        self._firmware = firmware
        self._loop = Periodic(
            "firmware rollouts", self.tick, tick_every, log=log, leads=leads, first_wait=True
        )
        # The counts last announced per rollout (rollout.progress only when they move).
        self._announced: dict[int, dict[str, int]] = {}
        self._expired_at: datetime | None = None
        firmware.on_rollout_update = self.wake

    # ----------------------------------------------------------------- operations

    async def create(
        self,
        name: str,
        file_id: int,
        targets: RolloutTargets,
        batch_size: int,
        pause_seconds: float,
        abort_threshold: int,
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> Rollout:
        file = await self._store.get_file(file_id)
        if file is None:
            raise UnknownFile(f"no firmware file {file_id}", "file_id")
        if not 1 <= batch_size <= MAX_BATCH:
            raise FirmwareError(f"batch_size must be 1..{MAX_BATCH}", "batch_size")
        if pause_seconds < 0 or abort_threshold < 0:
            raise FirmwareError("pause_seconds and abort_threshold must not be negative")
        stations = await self._store.matching_stations(targets)
        if not stations:
            raise FirmwareError("no station matches the targets", "targets")
        now = self._firmware.now()
        rollout = Rollout(
            id=0,
            file_id=file.id,
            name=name or f"{file.version} rollout",
            state=RolloutState.RUNNING,
            batch_size=batch_size,
            pause_seconds=pause_seconds,
            abort_threshold=abort_threshold,
            targets=targets,
            created_at=now,
            updated_at=now,
            retries=retries,
            retry_interval=retry_interval,
        )
        updates = [
            FirmwareUpdate(
                id=0,
                station_id=station_id,
                target_version=file.version,
                state=UpdateState.PENDING,
                created_at=now,
                updated_at=now,
                file_id=file.id,
                ocpp_version=version,
                retries=retries,
                retry_interval=retry_interval,
            )
            for station_id, version in stations
        ]
        event = DomainEvent(
            EventType.ROLLOUT_PROGRESS, now, "", {"state": "running", "stations": len(updates)}
        )
        created = await self._store.add_rollout(rollout, updates, [event])
        self.wake()
        return created

    async def get(self, rollout_id: int) -> Rollout | None:
        return await self._store.get_rollout(rollout_id)

    async def list_rollouts(self, limit: int, offset: int) -> Page:
        return await self._store.list_rollouts(limit, offset)

    async def pause(self, rollout_id: int) -> Rollout:
        return await self._change(rollout_id, {RolloutState.RUNNING}, RolloutState.PAUSED)

    async def resume(self, rollout_id: int) -> Rollout:
        return await self._change(rollout_id, {RolloutState.PAUSED}, RolloutState.RUNNING)

    async def abort(self, rollout_id: int) -> Rollout:
        rollout = await self._change(
            rollout_id, {RolloutState.RUNNING, RolloutState.PAUSED}, RolloutState.ABORTED
        )
        return rollout

    async def _change(
        self, rollout_id: int, allowed: set[RolloutState], to: RolloutState
    ) -> Rollout:
        rollout = await self._store.get_rollout(rollout_id)
        if rollout is None:
            raise KeyError(rollout_id)
        if rollout.state not in allowed:
            raise RolloutConflict(f"rollout {rollout_id} is {rollout.state.value}")
        if to is RolloutState.ABORTED:
            await self._finish(rollout, RolloutState.ABORTED, "aborted by an operator")
        else:
            rollout.state = to
            rollout.updated_at = self._firmware.now()
            await self._store.save_rollout(rollout, [self._progress(rollout)])
            self.wake()
        return await self._store.get_rollout(rollout_id) or rollout

    # --------------------------------------------------------------------- runner

    def wake(self) -> None:
        self._loop.wake()

    def start(self) -> None:
        self._loop.start()

    async def close(self) -> None:
        await self._loop.close()

    async def tick(self) -> None:
        """One step of every open rollout, and (every EXPIRE_EVERY s) the update timeout."""
        now = self._firmware.now()
        if self._expired_at is None or (now - self._expired_at).total_seconds() >= EXPIRE_EVERY:
            self._expired_at = now
            await self._firmware.expire()
        for rollout in await self._store.open_rollouts():
            await self._advance(rollout)

    async def _advance(self, rollout: Rollout) -> None:
        now = self._firmware.now()
        plan = plan_rollout(rollout, now)
        if plan.abort:
            await self._finish(
                rollout,
                RolloutState.ABORTED,
                f"{_failures(rollout)} failure(s) reached the abort threshold "
                f"of {rollout.abort_threshold}",
            )
            return
        if plan.finish:
            await self._finish(rollout, RolloutState.FINISHED, None)
            return
        if plan.wait_until is not None:
            rollout.next_batch_at = plan.wait_until
            rollout.updated_at = now
            await self._store.save_rollout(rollout, self._progress_if_moved(rollout))
            return
        if plan.send:
            await self._send_batch(rollout, plan.send, now)
            return
        events = self._progress_if_moved(rollout)
        if events:
            rollout.updated_at = now
            await self._store.save_rollout(rollout, events)

    async def _send_batch(self, rollout: Rollout, n: int, now: datetime) -> None:
        file = await self._store.get_file(rollout.file_id)
        if file is None:  # cannot happen while the rollout exists (RESTRICT)
            await self._finish(rollout, RolloutState.ABORTED, "the firmware file is gone")
            return
        claimed = await self._store.claim_pending(rollout.id, n, now)
        rollout.batches_sent += 1
        rollout.next_batch_at = None
        rollout.updated_at = now
        pending, sending = UpdateState.PENDING.value, UpdateState.SENDING.value
        rollout.counts[pending] = rollout.counts.get(pending, 0) - len(claimed)
        rollout.counts[sending] = rollout.counts.get(sending, 0) + len(claimed)
        await self._store.save_rollout(rollout, self._progress_if_moved(rollout))
        request = self._firmware.request_for(
            file, retries=rollout.retries, retry_interval=rollout.retry_interval
        )
        # One batch at once; a station that does not answer costs the call timeout only.
        await asyncio.gather(
            *(self._firmware.send(u, request) for u in claimed), return_exceptions=True
        )
        self.wake()

    async def _finish(self, rollout: Rollout, state: RolloutState, detail: str | None) -> None:
        now = self._firmware.now()
        if state is RolloutState.ABORTED:
            cancelled = await self._store.cancel_pending(
                rollout.id, now, detail or "the rollout was aborted"
            )
            if cancelled:
                rollout.counts[UpdateState.PENDING.value] = 0
                rollout.counts[UpdateState.CANCELLED.value] = (
                    rollout.counts.get(UpdateState.CANCELLED.value, 0) + cancelled
                )
        rollout.state = state
        rollout.detail = detail
        rollout.finished_at = now
        rollout.updated_at = now
        event = DomainEvent(EventType.ROLLOUT_FINISHED, now, "", rollout_data(rollout))
        await self._store.save_rollout(rollout, [event])
        self._announced.pop(rollout.id, None)

    def _progress(self, rollout: Rollout) -> DomainEvent:
        self._announced[rollout.id] = dict(rollout.counts)
        return DomainEvent(
            EventType.ROLLOUT_PROGRESS, self._firmware.now(), "", rollout_data(rollout)
        )

    def _progress_if_moved(self, rollout: Rollout) -> list[DomainEvent]:
        if self._announced.get(rollout.id) == rollout.counts:
            return []
        return [self._progress(rollout)]


def _failures(rollout: Rollout) -> int:
    return sum(
        rollout.counts.get(s.value, 0)
        for s in (UpdateState.FAILED, UpdateState.REJECTED, UpdateState.TIMED_OUT)
    )


def rollout_data(r: Rollout) -> dict[str, object]:
    """JSON-ready description of a rollout (webhook and stream payloads)."""
    return {
        "rollout_id": r.id,
        "name": r.name,
        "file_id": r.file_id,
        "state": r.state.value,
        "batches_sent": r.batches_sent,
        "counts": dict(r.counts),
        "detail": r.detail,
    }
