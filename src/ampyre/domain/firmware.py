"""Firmware files, firmware updates of stations and fleet rollouts (issue 17 part 4):
plain dataclasses and the pure rules that decide how an update progresses. No I/O.

An update's `state` is Ampyre's view (where the operation is); its `status` is the last
firmware status the station reported (1.6 FirmwareStatus, 2.x FirmwareStatusEnumType).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


class UpdateState(enum.StrEnum):
    PENDING = "pending"  # in a rollout, waiting for its batch
    SENDING = "sending"  # UpdateFirmware on its way (or its fate unknown after a restart)
    IN_PROGRESS = "in_progress"  # accepted; the station reports its progress
    INSTALLED = "installed"  # success
    FAILED = "failed"  # the station reported a failure, or nothing came in time
    REJECTED = "rejected"  # the station refused the request
    TIMED_OUT = "timed_out"  # the station did not answer UpdateFirmware in time
    CANCELLED = "cancelled"  # never sent (rollout aborted) or replaced by a newer update


ACTIVE_STATES = frozenset({UpdateState.SENDING, UpdateState.IN_PROGRESS})
FINAL_STATES = frozenset(
    {
        UpdateState.INSTALLED,
        UpdateState.FAILED,
        UpdateState.REJECTED,
        UpdateState.TIMED_OUT,
        UpdateState.CANCELLED,
    }
)
# What counts against a rollout's abort threshold.
FAILURE_STATES = frozenset({UpdateState.FAILED, UpdateState.REJECTED, UpdateState.TIMED_OUT})

# Firmware statuses (1.6 FirmwareStatus is a subset of 2.0.1 FirmwareStatusEnumType).
SUCCESS_STATUSES = frozenset({"Installed"})
# OCPP 2.0.1 L01: DownloadFailed is sent once the station gave up (after its retries);
# InstallationFailed, InstallVerificationFailed and InvalidSignature end the update too.
FAILURE_STATUSES = frozenset(
    {"DownloadFailed", "InstallationFailed", "InstallVerificationFailed", "InvalidSignature"}
)
# Past these, the station has (or is about to have) replaced its firmware: a boot with
# any other version than the expected one means the installation did not take.
INSTALLING_STATUSES = frozenset({"Installing", "InstallRebooting"})


class RolloutState(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    ABORTED = "aborted"  # by an operator, or by reaching its failure threshold
    FINISHED = "finished"


@dataclass(slots=True)
class FirmwareFile:
    id: int
    version: str
    filename: str
    size: int
    sha256: str
    token: str  # the unguessable part of its download URL
    stored_name: str  # its file name under AMPYRE_FIRMWARE_DIR (never user input)
    created_at: datetime
    vendor: str | None = None
    model: str | None = None
    description: str | None = None
    # OCPP 2.0.1 secure firmware (L01): PEM certificate and base64 signature.
    signing_certificate: str | None = None
    signature: str | None = None


@dataclass(slots=True)
class UpdateRequest:
    """What to ask a station: the file, where it is, and the station's freedom."""

    location: str
    version: str
    retrieve_at: datetime
    install_at: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None
    signing_certificate: str | None = None
    signature: str | None = None


@dataclass(slots=True)
class FirmwareUpdate:
    id: int  # also the 2.x requestId
    station_id: str
    target_version: str
    state: UpdateState
    created_at: datetime
    updated_at: datetime
    file_id: int | None = None
    rollout_id: int | None = None
    status: str | None = None
    detail: str | None = None
    ocpp_version: str | None = None
    retrieve_at: datetime | None = None
    install_at: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None
    sent_at: datetime | None = None
    finished_at: datetime | None = None
    # [{"status": ..., "at": iso}] in the order received (Ampyre's own steps included).
    history: list[dict[str, Any]] = field(default_factory=list)
    revision: int = 0  # bumped by every write (optimistic concurrency)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclass(slots=True)
class RolloutTargets:
    """Which stations a rollout is for: all given criteria must hold (ids: any of)."""

    station_ids: list[str] = field(default_factory=list)
    vendor: str | None = None
    model: str | None = None
    firmware_version: str | None = None  # their current version

    def as_json(self) -> dict[str, Any]:
        return {
            "station_ids": list(self.station_ids),
            "vendor": self.vendor,
            "model": self.model,
            "firmware_version": self.firmware_version,
        }


@dataclass(slots=True)
class Rollout:
    id: int
    file_id: int
    name: str
    state: RolloutState
    batch_size: int
    pause_seconds: float
    abort_threshold: int  # failures that abort it (0: never)
    targets: RolloutTargets
    created_at: datetime
    updated_at: datetime
    retries: int | None = None
    retry_interval: int | None = None
    next_batch_at: datetime | None = None
    batches_sent: int = 0
    finished_at: datetime | None = None
    detail: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # updates per state


_REOPENED_BY_PROGRESS = frozenset(
    {UpdateState.SENDING, UpdateState.IN_PROGRESS, UpdateState.FAILED, UpdateState.TIMED_OUT}
)


@dataclass(slots=True, frozen=True)
class StatusStep:
    """How a reported firmware status moves an update: its new state and detail."""

    state: UpdateState
    detail: str | None = None


def step_for_status(update: FirmwareUpdate, status: str) -> StatusStep | None:
    """The update's next state after the station reported `status`; None: no change.

    Idle says the station does nothing firmware-related: it does not move an update
    (it answers a TriggerMessage). A progress status re-opens a failed or timed-out
    update of the same request (the station retried, or got the request after all)."""
    if status == "Idle":
        return None
    if status in SUCCESS_STATUSES:
        return StatusStep(UpdateState.INSTALLED)
    if status in FAILURE_STATUSES:
        return StatusStep(UpdateState.FAILED, f"the station reported {status}")
    if update.state in _REOPENED_BY_PROGRESS:
        return StatusStep(UpdateState.IN_PROGRESS)
    return None


def step_for_boot(update: FirmwareUpdate, firmware_version: str | None) -> StatusStep | None:
    """The update's next state after its station booted with `firmware_version`: the
    expected version installs it; another one after installation had started fails it
    (the station fell back); a boot before that changes nothing (it may go on)."""
    if not update.active:
        return None
    if firmware_version is not None and firmware_version == update.target_version:
        return StatusStep(UpdateState.INSTALLED, f"booted with {firmware_version}")
    if update.status in INSTALLING_STATUSES:
        return StatusStep(
            UpdateState.FAILED,
            f"booted with {firmware_version or 'no version'}, expected {update.target_version}",
        )
    return None


@dataclass(slots=True, frozen=True)
class RolloutPlan:
    """What the runner does next for one rollout (pure decision, see plan_rollout)."""

    abort: bool = False
    finish: bool = False
    send: int = 0  # how many pending stations to send to now
    wait_until: datetime | None = None  # set next_batch_at to this (pause between batches)


def plan_rollout(rollout: Rollout, now: datetime) -> RolloutPlan:
    """The next step of a running rollout from its update counts: abort once failures
    reach the threshold; wait while a batch is in flight; after a batch, pause; then send
    the next batch; finish when nothing is left."""
    counts = rollout.counts
    failures = sum(counts.get(s.value, 0) for s in FAILURE_STATES)
    if rollout.abort_threshold > 0 and failures >= rollout.abort_threshold:
        return RolloutPlan(abort=True)
    active = sum(counts.get(s.value, 0) for s in ACTIVE_STATES)
    pending = counts.get(UpdateState.PENDING.value, 0)
    if rollout.state is not RolloutState.RUNNING:
        return RolloutPlan()
    if active:
        return RolloutPlan()
    if not pending:
        return RolloutPlan(finish=True)
    if rollout.batches_sent and rollout.next_batch_at is None and rollout.pause_seconds > 0:
        return RolloutPlan(wait_until=now + timedelta(seconds=rollout.pause_seconds))
    if rollout.next_batch_at is not None and now < rollout.next_batch_at:
        return RolloutPlan()
    return RolloutPlan(send=min(rollout.batch_size, pending))
