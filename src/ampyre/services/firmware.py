"""Firmware management, version-neutral (issue 17 part 4): hosted firmware files, one
station's update, and what stations report about it.

Files are stored under AMPYRE_FIRMWARE_DIR by a name Ampyre makes (never the uploaded
name, so no path can be smuggled in), with their sha256; stations fetch them at
`{public_url}/firmware/{token}`, the token unguessable. An update is stored before
UpdateFirmware is sent (its id is the 2.x requestId) and follows the station's status
notifications and, after the reboot, the firmware version it boots with.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ampyre.config import Settings
from ampyre.domain.events import DomainEvent, EventType
from ampyre.domain.firmware import (
    FINAL_STATES,
    SUCCESS_STATUSES,
    FirmwareFile,
    FirmwareUpdate,
    StatusStep,
    UpdateRequest,
    UpdateState,
    step_for_boot,
    step_for_status,
)
from ampyre.domain.models import Page, StationReport
from ampyre.services.clock import utcnow
from ampyre.services.firmware_ports import FirmwareCommands, FirmwareStore
from ampyre.services.station_port import Answer

_INT32_MAX = 2**31 - 1
_RETRIES = 8  # attempts of an optimistic update write before giving up
_WRITE_CHUNK = 1024 * 1024
# Answers to UpdateFirmware that start the update (1.6 answers nothing: "ok").
_ACCEPTED = frozenset({"accepted", "acceptedcanceled", "ok"})


class FirmwareError(ValueError):
    """Bad input for a firmware operation; `field` names it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StoreConflict(RuntimeError):
    """An update could not be written: it kept changing under the writer."""


# What a change does to an update: None (nothing), or (step or None, history note).
Decision = Callable[[FirmwareUpdate], "tuple[StatusStep | None, str] | None"]


class FileTooLarge(FirmwareError):
    pass


class UnknownFile(FirmwareError):
    pass


@dataclass(slots=True, frozen=True)
class FileMeta:
    version: str
    filename: str
    vendor: str | None = None
    model: str | None = None
    description: str | None = None
    signing_certificate: str | None = None
    signature: str | None = None


ReportSink = Callable[[StationReport], Any]


class FirmwareService:
    def __init__(
        self,
        store: FirmwareStore,
        commands: FirmwareCommands,
        settings: Settings,
        base_url: Callable[[], str],
        report: Callable[[StationReport], Any] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self.store = store  # shared with the rollout service
        self._commands = commands
        self._settings = settings
        self._base_url = base_url
        self._report = report
        self._clock = clock
        self.dir = Path(settings.firmware_dir)
        # Wakes the rollout runner when an update of a rollout ends.
        self.on_rollout_update: Callable[[], None] = lambda: None

    def now(self) -> datetime:
        return self._clock()

    # ------------------------------------------------------------------------ files

    async def upload(self, meta: FileMeta, chunks: AsyncIterator[bytes]) -> FirmwareFile:
        """Store the bytes under a name of Ampyre's, hashing them on the way; refuses
        more than AMPYRE_FIRMWARE_UPLOAD_MAX bytes (FileTooLarge) and empty files."""
        _check_meta(meta)
        limit = self._settings.firmware_upload_max
        await asyncio.to_thread(self.dir.mkdir, parents=True, exist_ok=True)
        stored_name = f"{uuid.uuid4().hex}.bin"
        path = self.dir / stored_name
        digest = hashlib.sha256()
        size = 0
        fh = await asyncio.to_thread(open, path, "wb")
        try:
            buffer = bytearray()
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise FileTooLarge(
                        f"the file is larger than {limit} bytes (AMPYRE_FIRMWARE_UPLOAD_MAX)"
                    )
                digest.update(chunk)
                buffer += chunk
                if len(buffer) >= _WRITE_CHUNK:
                    await asyncio.to_thread(fh.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await asyncio.to_thread(fh.write, bytes(buffer))
            await asyncio.to_thread(fh.flush)
            await asyncio.to_thread(os.fsync, fh.fileno())
        except BaseException:
            await asyncio.to_thread(fh.close)
            with contextlib.suppress(OSError):
                await asyncio.to_thread(path.unlink)
            raise
        await asyncio.to_thread(fh.close)
        if size == 0:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(path.unlink)
            raise FirmwareError("the file is empty", "body")
        file = FirmwareFile(
            id=0,
            version=meta.version,
            filename=meta.filename,
            size=size,
            sha256=digest.hexdigest(),
            token=secrets.token_urlsafe(32),
            stored_name=stored_name,
            created_at=self._clock(),
            vendor=meta.vendor,
            model=meta.model,
            description=meta.description,
            signing_certificate=meta.signing_certificate,
            signature=meta.signature,
        )
        try:
            return await self._store.add_file(file)
        except BaseException:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(path.unlink)
            raise

    async def get_file(self, file_id: int) -> FirmwareFile | None:
        return await self._store.get_file(file_id)

    async def set_signature(
        self, file_id: int, signing_certificate: str, signature: str
    ) -> FirmwareFile:
        """Make a file a secure firmware (2.x L01): updates of it carry both."""
        _check_meta(
            FileMeta("x", "x", signing_certificate=signing_certificate, signature=signature)
        )
        file = await self._store.get_file(file_id)
        if file is None:
            raise UnknownFile(f"no firmware file {file_id}", "file_id")
        file.signing_certificate = signing_certificate
        file.signature = signature
        await self._store.update_file(file)
        return file

    async def list_files(self, limit: int, offset: int) -> Page:
        return await self._store.list_files(limit, offset)

    async def delete_file(self, file_id: int) -> bool:
        """Raises FileInUse while a rollout refers to it."""
        file = await self._store.get_file(file_id)
        if file is None or not await self._store.delete_file(file_id):
            return False
        with contextlib.suppress(OSError):
            await asyncio.to_thread((self.dir / file.stored_name).unlink)
        return True

    async def download(self, token: str) -> tuple[FirmwareFile, Path] | None:
        """The file a download token names and where its bytes are; None if unknown (or
        its bytes are gone). The path is built from the stored name only."""
        file = await self._store.file_by_token(token)
        if file is None:
            return None
        path = self.dir / file.stored_name
        if not await asyncio.to_thread(path.is_file):
            return None
        return file, path

    def location(self, file: FirmwareFile) -> str:
        return f"{self._base_url().rstrip('/')}/firmware/{file.token}"

    def request_for(
        self,
        file: FirmwareFile,
        retrieve_at: datetime | None = None,
        install_at: datetime | None = None,
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> UpdateRequest:
        return UpdateRequest(
            location=self.location(file),
            version=file.version,
            retrieve_at=retrieve_at or self._clock(),
            install_at=install_at,
            retries=retries,
            retry_interval=retry_interval,
            signing_certificate=file.signing_certificate,
            signature=file.signature,
        )

    # ---------------------------------------------------------------------- updates

    def connected_version(self, station_id: str) -> str | None:
        return self._commands.connected_version(station_id)

    async def update_station(
        self,
        station_id: str,
        file_id: int,
        retrieve_at: datetime | None = None,
        install_at: datetime | None = None,
        retries: int | None = None,
        retry_interval: int | None = None,
        timeout: float | None = None,
    ) -> tuple[FirmwareUpdate | None, Answer]:
        """Send one station a hosted file. Not connected: nothing is stored (the update
        is None). Otherwise the update is stored first and left in the state the answer
        (or its absence) gives it: in_progress, rejected, timed_out or failed."""
        file = await self._store.get_file(file_id)
        if file is None:
            raise UnknownFile(f"no firmware file {file_id}", "file_id")
        version = self._commands.connected_version(station_id)
        if version is None:
            return None, Answer("not_connected", detail="the station is not connected")
        request = self.request_for(file, retrieve_at, install_at, retries, retry_interval)
        now = self._clock()
        update = FirmwareUpdate(
            id=0,
            station_id=station_id,
            target_version=file.version,
            state=UpdateState.SENDING,
            created_at=now,
            updated_at=now,
            file_id=file.id,
            ocpp_version=version,
            retrieve_at=request.retrieve_at,
            install_at=install_at,
            retries=retries,
            retry_interval=retry_interval,
        )
        update = await self._store.add_update(update)
        answer = await self.send(update, request, timeout)
        return (await self._store.get_update(update.id)) or update, answer

    async def send(
        self, update: FirmwareUpdate, request: UpdateRequest, timeout: float | None = None
    ) -> Answer:
        """Send a stored update (state SENDING) and record the answer."""
        wait = timeout if timeout is not None else self._settings.call_timeout
        superseded = [
            u for u in await self._store.active_updates(update.station_id) if u.id != update.id
        ]
        answer = await self._commands.update_firmware(
            update.station_id, update.id, request, timeout=wait
        )
        now = self._clock()
        update.ocpp_version = update.ocpp_version or self._commands.connected_version(
            update.station_id
        )
        update.sent_at = now
        if answer.status in _ACCEPTED:
            step = StatusStep(UpdateState.IN_PROGRESS, None)
            note = "Accepted" if answer.status != "ok" else "Sent"
        elif answer.status == "timeout":
            step = StatusStep(UpdateState.TIMED_OUT, answer.detail or "no answer in time")
            note = "Timeout"
        elif answer.status == "not_connected":
            step = StatusStep(UpdateState.FAILED, "the station is not connected")
            note = "NotConnected"
        elif answer.status == "error":
            step = StatusStep(UpdateState.FAILED, answer.detail or "error")
            note = "Error"
        else:
            # 2.x Rejected, InvalidCertificate, RevokedCertificate (UpdateFirmwareStatusEnumType).
            step = StatusStep(UpdateState.REJECTED, f"the station answered {answer.station_answer}")
            note = answer.station_answer or "Rejected"
        sent_at = now

        def answered(u: FirmwareUpdate) -> tuple[StatusStep | None, str]:
            u.sent_at = u.sent_at or sent_at
            u.ocpp_version = u.ocpp_version or update.ocpp_version
            if u.state is not UpdateState.SENDING:
                # The station's notifications came before its answer was recorded: it
                # got the request; the answer only goes into the history.
                return None, note
            return step, note

        await self._change(update, answered)
        if step.state is UpdateState.IN_PROGRESS:
            # 2.x AcceptedCanceled (L01/L02) / 1.6: a station runs one update at a
            # time; a newer request replaces what it was doing.
            replaced = StatusStep(UpdateState.CANCELLED, f"replaced by firmware update {update.id}")
            for old in superseded:
                await self._change(old, lambda u: (replaced, "Replaced") if u.active else None)
        return answer

    async def status_reported(
        self,
        station_id: str,
        action: str,
        payload: dict[str, Any],
        status: str,
        request_id: int | None,
    ) -> None:
        """A (Signed)FirmwareStatusNotification: stored in the station's report history,
        and applied to the update it is about (by requestId; 1.6 without one: the
        station's newest active update). One station's odd report never fails another's."""
        now = self._clock()
        if self._report is not None:
            in_range = request_id is not None and -_INT32_MAX <= request_id <= _INT32_MAX
            rid = request_id if in_range else None
            await self._report(
                StationReport(
                    station_id=station_id,
                    action=action,
                    payload=payload,
                    received_at=now,
                    request_id=rid,
                )
            )
        update = await self._find(station_id, request_id)
        if update is None and request_id is None and status in SUCCESS_STATUSES:
            # 1.6 reports Installed after the reboot, when its boot (with the new
            # version) has already finished the update: note it there.
            latest = (await self._store.list_updates(1, 0, station_id=station_id)).items
            if latest and latest[0].state is UpdateState.INSTALLED:
                update = latest[0]
        if update is None:
            return

        def reported(u: FirmwareUpdate) -> tuple[StatusStep | None, str]:
            if status != "Idle":
                u.status = status
            return step_for_status(u, status), status

        await self._change(update, reported)

    async def _find(self, station_id: str, request_id: int | None) -> FirmwareUpdate | None:
        if request_id is not None:
            if not 0 < request_id <= _INT32_MAX:
                return None
            found = await self._store.get_update(request_id)
            if found is None or found.station_id != station_id:
                return None
            # Not sent yet (a rollout's later batch): the id cannot be about it.
            return None if found.state is UpdateState.PENDING else found
        active = await self._store.active_updates(station_id)
        return active[0] if active else None

    async def booted(self, station_id: str, firmware_version: str | None) -> None:
        """The station booted (Accepted) with `firmware_version`: its active updates
        learn whether the new firmware took."""
        updates = await self._store.active_updates(station_id)
        if not updates:
            return

        def boot(u: FirmwareUpdate) -> tuple[StatusStep | None, str] | None:
            step = step_for_boot(u, firmware_version)
            return None if step is None else (step, "Booted")

        for update in updates:
            await self._change(update, boot)

    async def expire(self) -> int:
        """Fail active updates without a final status AMPYRE_FIRMWARE_UPDATE_TIMEOUT
        after they were sent (or after their install time, if later)."""
        now = self._clock()
        limit = timedelta(seconds=self._settings.firmware_update_timeout)
        n = 0
        failed = StatusStep(UpdateState.FAILED, "no final firmware status in time")

        def overdue(u: FirmwareUpdate) -> tuple[StatusStep | None, str] | None:
            sent = u.sent_at or u.updated_at  # SENDING after a crash: no sent_at
            since = max(sent, u.install_at) if u.install_at is not None else sent
            return (failed, "TimedOut") if u.active and now - since >= limit else None

        for update in await self._store.stale_updates(now - limit):
            changed = await self._change(update, overdue)
            n += changed is not None and changed.state is UpdateState.FAILED
        return n

    async def _change(self, update: FirmwareUpdate, decide: Decision) -> FirmwareUpdate | None:
        """Apply `decide` to the update and store it, with its firmware.status_changed
        event. Optimistic: the write holds only if nobody stored the update meanwhile
        (its revision); otherwise the update is read again and decided again (a station's
        notification may overtake the recording of its answer, from another node too).
        `decide` returns None (no change), or the step (None: keep the state) and the note
        for the history. The stored update, or None if nothing was written."""
        for _ in range(_RETRIES):
            decision = decide(update)
            if decision is None:
                return None
            step, note = decision
            now = self._clock()
            entry: dict[str, Any] = {"status": note, "at": now.isoformat()}
            if step is not None:
                update.state = step.state
                if step.detail is not None or step.state is UpdateState.IN_PROGRESS:
                    update.detail = step.detail
                update.finished_at = now if step.state in FINAL_STATES else None
                entry["state"] = step.state.value
            update.updated_at = now
            update.history.append(entry)
            if await self._store.save_update(update, [self._event(update, now)]):
                if update.rollout_id is not None and update.state in FINAL_STATES:
                    self.on_rollout_update()
                return update
            fresh = await self._store.get_update(update.id)
            if fresh is None:
                return None
            update = fresh
        raise StoreConflict(f"firmware update {update.id} keeps changing; not recorded")

    def _event(self, update: FirmwareUpdate, at: datetime) -> DomainEvent:
        return DomainEvent(
            EventType.FIRMWARE_STATUS_CHANGED, at, update.station_id, update_data(update)
        )

    async def get_update(self, update_id: int) -> FirmwareUpdate | None:
        return await self._store.get_update(update_id)

    async def list_updates(
        self,
        limit: int,
        offset: int,
        station_id: str | None = None,
        rollout_id: int | None = None,
    ) -> Page:
        return await self._store.list_updates(limit, offset, station_id, rollout_id)


def update_data(u: FirmwareUpdate) -> dict[str, Any]:
    """JSON-ready description of an update (webhook and stream payloads)."""
    return {
        "update_id": u.id,
        "station_id": u.station_id,
        "rollout_id": u.rollout_id,
        "file_id": u.file_id,
        "target_version": u.target_version,
        "state": u.state.value,
        "status": u.status,
        "detail": u.detail,
    }


def _check_meta(meta: FileMeta) -> None:
    if not meta.version.strip() or len(meta.version) > 50:
        raise FirmwareError("version must be 1 to 50 characters", "version")
    for name, value, most in (
        ("vendor", meta.vendor, 50),
        ("model", meta.model, 50),
        ("description", meta.description, 255),
        ("filename", meta.filename, 255),
        ("signing_certificate", meta.signing_certificate, 5500),
        ("signature", meta.signature, 800),
    ):
        if value is not None and len(value) > most:
            raise FirmwareError(f"{name} is longer than {most} characters", name)
    if bool(meta.signing_certificate) != bool(meta.signature):
        raise FirmwareError(
            "a signed firmware needs both signing_certificate and signature", "signature"
        )
