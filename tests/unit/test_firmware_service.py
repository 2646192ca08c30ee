"""The firmware service with fakes: uploads (hash, limits, stored names), one station's
update and how status notifications and boots move it (1.6 and 2.x)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from firmware_fakes import Clock, FakeFirmwareCommands, FakeFirmwareStore, data_of

from ampyre.config import Settings
from ampyre.domain.firmware import FirmwareUpdate, UpdateState, step_for_boot, step_for_status
from ampyre.domain.models import StationReport
from ampyre.services.firmware import FileMeta, FileTooLarge, FirmwareError, FirmwareService


def _service(
    tmp_path: Path, commands: FakeFirmwareCommands | None = None, **settings: Any
) -> tuple[FirmwareService, FakeFirmwareStore, list[StationReport], Clock]:
    store = FakeFirmwareStore()
    reports: list[StationReport] = []

    async def report(r: StationReport) -> None:
        reports.append(r)

    clock = Clock()
    svc = FirmwareService(
        store,
        commands or FakeFirmwareCommands({"CP-1": "ocpp2.0.1", "CP16": "ocpp1.6"}),
        Settings(firmware_dir=str(tmp_path / "fw"), **settings),
        base_url=lambda: "http://csms.example:8000",
        report=report,
        clock=clock,
    )
    return svc, store, reports, clock


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for p in parts:
        yield p


async def _upload(svc: FirmwareService, version: str = "2.0") -> int:
    f = await svc.upload(FileMeta(version, "../../etc/passwd"), _chunks(b"abc", b"def"))
    return f.id


async def test_upload_hashes_and_stores_under_its_own_name(tmp_path: Path) -> None:
    svc, _, _, _ = _service(tmp_path)
    f = await svc.upload(FileMeta("2.0", "../../evil.bin"), _chunks(b"abc", b"def"))
    assert f.sha256 == hashlib.sha256(b"abcdef").hexdigest() and f.size == 6
    assert f.filename == "../../evil.bin"  # kept as a label only
    stored = tmp_path / "fw" / f.stored_name
    assert stored.read_bytes() == b"abcdef" and stored.parent == tmp_path / "fw"
    assert svc.location(f) == f"http://csms.example:8000/firmware/{f.token}"
    assert len(f.token) >= 40
    found = await svc.download(f.token)
    assert found is not None and found[1] == stored
    assert await svc.download("nope") is None
    assert await svc.delete_file(f.id) and not stored.exists()


async def test_upload_limit_and_bad_metadata(tmp_path: Path) -> None:
    svc, store, _, _ = _service(tmp_path, firmware_upload_max=1024)
    with pytest.raises(FileTooLarge):
        await svc.upload(FileMeta("2.0", "f"), _chunks(b"x" * 1000, b"x" * 25))
    with pytest.raises(FirmwareError):
        await svc.upload(FileMeta("2.0", "f"), _chunks())
    with pytest.raises(FirmwareError, match="version"):
        await svc.upload(FileMeta(" ", "f"), _chunks(b"x"))
    with pytest.raises(FirmwareError, match="both"):
        await svc.upload(FileMeta("2.0", "f", signature="sig"), _chunks(b"x"))
    assert store.files == {} and list((tmp_path / "fw").iterdir()) == []  # nothing left


async def test_update_of_a_2x_station_follows_its_request_id(tmp_path: Path) -> None:
    svc, store, reports, _ = _service(tmp_path)
    file_id = await _upload(svc)
    update, answer = await svc.update_station("CP-1", file_id, retries=3, retry_interval=10)
    assert update is not None and answer.status == "accepted"
    assert update.state is UpdateState.IN_PROGRESS
    for status in ("Downloading", "Downloaded", "SignatureVerified", "Installing"):
        await svc.status_reported("CP-1", "FirmwareStatusNotification", {}, status, update.id)
    assert store.updates[update.id].state is UpdateState.IN_PROGRESS
    assert store.updates[update.id].status == "Installing"
    # A notification with another station's request id changes nothing of this one.
    await svc.status_reported("CP-2", "FirmwareStatusNotification", {}, "Installed", update.id)
    assert store.updates[update.id].state is UpdateState.IN_PROGRESS
    await svc.status_reported("CP-1", "FirmwareStatusNotification", {}, "Installed", update.id)
    done = store.updates[update.id]
    assert done.state is UpdateState.INSTALLED and done.finished_at is not None
    assert [r.action for r in reports] == ["FirmwareStatusNotification"] * 6  # history kept
    states = [d["state"] for d in data_of(store, "firmware.status_changed")]
    assert states[0] == "in_progress" and states[-1] == "installed"


@pytest.mark.parametrize(
    "failure",
    ["DownloadFailed", "InstallationFailed", "InstallVerificationFailed", "InvalidSignature"],
)
async def test_failure_statuses_end_the_update(tmp_path: Path, failure: str) -> None:
    svc, store, _, _ = _service(tmp_path)
    update, _ = await svc.update_station("CP-1", await _upload(svc))
    assert update is not None
    await svc.status_reported("CP-1", "FirmwareStatusNotification", {}, failure, update.id)
    assert store.updates[update.id].state is UpdateState.FAILED
    assert failure in (store.updates[update.id].detail or "")


async def test_16_station_without_request_id_and_the_boot_that_finishes_it(tmp_path: Path) -> None:
    svc, store, _, _ = _service(tmp_path)
    update, answer = await svc.update_station("CP16", await _upload(svc, "2.0"))
    assert update is not None and answer.status == "ok"  # 1.6 answers without a status
    await svc.status_reported("CP16", "FirmwareStatusNotification", {}, "Idle", None)
    assert store.updates[update.id].state is UpdateState.IN_PROGRESS
    await svc.status_reported("CP16", "FirmwareStatusNotification", {}, "Installing", None)
    await svc.booted("CP16", "1.0")  # fell back to the old firmware after installing
    failed = store.updates[update.id]
    assert failed.state is UpdateState.FAILED and "expected 2.0" in (failed.detail or "")

    again, _ = await svc.update_station("CP16", await _upload(svc, "2.1"))
    assert again is not None
    await svc.booted("CP16", "1.0")  # a boot before installing: it goes on
    assert store.updates[again.id].state is UpdateState.IN_PROGRESS
    await svc.booted("CP16", "2.1")
    assert store.updates[again.id].state is UpdateState.INSTALLED
    # The Installed it sends after that boot lands on the update it finished.
    await svc.status_reported("CP16", "FirmwareStatusNotification", {}, "Installed", None)
    assert store.updates[again.id].status == "Installed"


async def test_answers_without_acceptance(tmp_path: Path) -> None:
    commands = FakeFirmwareCommands(
        {"A": "ocpp2.0.1", "B": "ocpp2.0.1", "C": "ocpp2.0.1"},
        {"A": "rejected", "B": "timeout", "C": "invalidcertificate"},
    )
    svc, store, _, _ = _service(tmp_path, commands)
    file_id = await _upload(svc)
    states = {}
    for sid in ("A", "B", "C"):
        update, _ = await svc.update_station(sid, file_id)
        assert update is not None
        states[sid] = store.updates[update.id].state
    assert states == {
        "A": UpdateState.REJECTED,
        "B": UpdateState.TIMED_OUT,
        "C": UpdateState.REJECTED,
    }
    none, answer = await svc.update_station("OFFLINE", file_id)
    assert none is None and answer.status == "not_connected"


async def test_a_request_id_of_an_update_not_sent_yet_is_ignored(tmp_path: Path) -> None:
    svc, store, reports, clock = _service(tmp_path)
    now = clock()
    pending = await store.add_update(
        FirmwareUpdate(0, "CP-1", "2.0", UpdateState.PENDING, now, now, rollout_id=1)
    )
    await svc.status_reported("CP-1", "FirmwareStatusNotification", {}, "Installed", pending.id)
    assert store.updates[pending.id].state is UpdateState.PENDING
    assert len(reports) == 1  # still kept in the station's history


@pytest.mark.parametrize("answer", ["accepted", "timeout"])
async def test_notifications_that_overtake_the_answer_are_kept(tmp_path: Path, answer: str) -> None:
    commands = FakeFirmwareCommands({"CP-1": "ocpp2.0.1"}, {"CP-1": answer})
    svc, store, _, _ = _service(tmp_path, commands)

    async def early(station_id: str, request_id: int) -> None:
        for status in ("Downloading", "Downloaded"):
            await svc.status_reported(
                station_id, "FirmwareStatusNotification", {}, status, request_id
            )

    commands.during = early
    update, _ = await svc.update_station("CP-1", await _upload(svc))
    assert update is not None
    stored = store.updates[update.id]
    # Written by the notifications first; the answer (even a lost one) neither erases
    # their history nor moves the update back.
    assert stored.state is UpdateState.IN_PROGRESS and stored.status == "Downloaded"
    notes = [h["status"] for h in stored.history]
    assert notes[:2] == ["Downloading", "Downloaded"] and len(notes) == 3
    assert update.status == "Downloaded"  # what the API answers is the stored update


async def test_a_new_update_replaces_the_running_one(tmp_path: Path) -> None:
    svc, store, _, _ = _service(tmp_path)
    file_id = await _upload(svc)
    first, _ = await svc.update_station("CP-1", file_id)
    second, _ = await svc.update_station("CP-1", file_id)
    assert first is not None and second is not None
    assert store.updates[first.id].state is UpdateState.CANCELLED
    assert store.updates[second.id].state is UpdateState.IN_PROGRESS


async def test_updates_without_final_status_time_out(tmp_path: Path) -> None:
    svc, store, _, clock = _service(tmp_path, firmware_update_timeout=600)
    update, _ = await svc.update_station("CP-1", await _upload(svc))
    assert update is not None
    clock.advance(599)
    assert await svc.expire() == 0
    clock.advance(2)
    assert await svc.expire() == 1
    assert store.updates[update.id].state is UpdateState.FAILED


def test_status_rules() -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    u = FirmwareUpdate(1, "CP", "2.0", UpdateState.IN_PROGRESS, now, now)
    assert step_for_status(u, "Idle") is None
    assert step_for_status(u, "DownloadScheduled").state is UpdateState.IN_PROGRESS  # type: ignore[union-attr]
    assert step_for_status(u, "DownloadPaused").state is UpdateState.IN_PROGRESS  # type: ignore[union-attr]
    assert step_for_status(u, "InstallScheduled").state is UpdateState.IN_PROGRESS  # type: ignore[union-attr]
    u.state = UpdateState.FAILED  # the station retried after reporting a failure
    assert step_for_status(u, "Downloading").state is UpdateState.IN_PROGRESS  # type: ignore[union-attr]
    u.state = UpdateState.TIMED_OUT  # the answer was lost, the request was not
    assert step_for_status(u, "Downloading").state is UpdateState.IN_PROGRESS  # type: ignore[union-attr]
    u.state = UpdateState.CANCELLED
    assert step_for_status(u, "Downloading") is None
    u.state, u.status = UpdateState.IN_PROGRESS, "InstallRebooting"
    assert step_for_boot(u, None).state is UpdateState.FAILED  # type: ignore[union-attr]
    assert step_for_boot(u, "2.0").state is UpdateState.INSTALLED  # type: ignore[union-attr]
