"""Rollout logic with fakes: batches of N, the pause between batches, the abort threshold,
operator pause/resume/abort, a restart that must not send twice, and a station followed
through the firmware version it boots with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from firmware_fakes import Clock, FakeFirmwareCommands, FakeFirmwareStore, FakeStation, data_of

from ampyre.config import Settings
from ampyre.domain.firmware import RolloutState, RolloutTargets, UpdateState
from ampyre.services.firmware import FileMeta, FirmwareError, FirmwareService
from ampyre.services.firmware_rollouts import RolloutConflict, RolloutService

IDS = [f"CP-{n}" for n in range(1, 6)]


class World:
    def __init__(self, tmp_path: Path, offline: tuple[str, ...] = ()) -> None:
        self.clock = Clock()
        self.store = FakeFirmwareStore()
        self.store.stations = [FakeStation(i) for i in IDS] + [
            FakeStation("OTHER", vendor="Else", firmware_version="0.9")
        ]
        self.commands = FakeFirmwareCommands(
            {i: "ocpp2.0.1" for i in [*IDS, "OTHER"] if i not in offline}
        )
        self.firmware = FirmwareService(
            self.store,
            self.commands,
            Settings(firmware_dir=str(tmp_path)),
            base_url=lambda: "http://csms",
            clock=self.clock,
        )
        self.rollouts = RolloutService(self.store, self.firmware, tick_every=1.0)

    async def file(self) -> int:
        async def one() -> AsyncIterator[bytes]:
            yield b"image"

        return (await self.firmware.upload(FileMeta("2.0", "f.bin"), one())).id

    def sent_to(self) -> list[str]:
        return [s for s, _, _ in self.commands.sent]

    async def installed(self, *stations: str) -> None:
        for sid in stations:
            await self.firmware.booted(sid, "2.0")

    async def state(self, rollout_id: int) -> tuple[RolloutState, dict[str, int]]:
        r = await self.store.get_rollout(rollout_id)
        assert r is not None
        return r.state, r.counts


async def test_batches_with_pause_until_finished(tmp_path: Path) -> None:
    w = World(tmp_path)
    r = await w.rollouts.create(
        "r", await w.file(), RolloutTargets(vendor="Ampyre"), batch_size=2,
        pause_seconds=60, abort_threshold=1,
    )  # fmt: skip
    assert r.counts == {"pending": 5}
    await w.rollouts.tick()
    assert w.sent_to() == ["CP-1", "CP-2"]
    await w.rollouts.tick()  # the batch is in flight: nothing more
    assert len(w.sent_to()) == 2
    await w.installed("CP-1", "CP-2")  # both rebooted into 2.0
    await w.rollouts.tick()  # batch done: the pause starts
    await w.rollouts.tick()
    assert len(w.sent_to()) == 2
    w.clock.advance(61)
    await w.rollouts.tick()
    assert w.sent_to()[2:] == ["CP-3", "CP-4"]
    await w.installed("CP-3", "CP-4")
    await w.rollouts.tick()
    w.clock.advance(61)
    await w.rollouts.tick()
    assert w.sent_to()[4:] == ["CP-5"]
    await w.installed("CP-5")
    await w.rollouts.tick()
    state, counts = await w.state(r.id)
    assert state is RolloutState.FINISHED and counts == {"installed": 5}
    types = [str(e.type) for e in w.store.events]
    assert "rollout.finished" in types and "rollout.progress" in types
    finished = data_of(w.store, "rollout.finished")[-1]
    assert finished["counts"] == {"installed": 5} and finished["batches_sent"] == 3


async def test_abort_threshold_cancels_the_rest(tmp_path: Path) -> None:
    w = World(tmp_path, offline=("CP-2",))
    w.commands.answers["CP-1"] = "rejected"
    r = await w.rollouts.create(
        "r", await w.file(), RolloutTargets(station_ids=IDS), batch_size=3,
        pause_seconds=0, abort_threshold=2,
    )  # fmt: skip
    await w.rollouts.tick()  # CP-1 rejects, CP-2 is offline, CP-3 accepts
    await w.rollouts.tick()
    state, counts = await w.state(r.id)
    assert state is RolloutState.ABORTED
    assert counts == {"rejected": 1, "failed": 1, "in_progress": 1, "cancelled": 2}
    assert "CP-4" not in w.sent_to() and "CP-5" not in w.sent_to()
    # The station underway is still followed after the abort.
    await w.installed("CP-3")
    assert (await w.state(r.id))[1]["installed"] == 1


async def test_threshold_zero_never_aborts(tmp_path: Path) -> None:
    w = World(tmp_path, offline=tuple(IDS))
    r = await w.rollouts.create(
        "r", await w.file(), RolloutTargets(station_ids=IDS), batch_size=5,
        pause_seconds=0, abort_threshold=0,
    )  # fmt: skip
    await w.rollouts.tick()
    await w.rollouts.tick()
    state, counts = await w.state(r.id)
    assert state is RolloutState.FINISHED and counts == {"failed": 5}


async def test_pause_resume_and_abort_by_an_operator(tmp_path: Path) -> None:
    w = World(tmp_path)
    r = await w.rollouts.create(
        "r", await w.file(), RolloutTargets(station_ids=IDS), batch_size=1,
        pause_seconds=0, abort_threshold=1,
    )  # fmt: skip
    await w.rollouts.tick()
    assert w.sent_to() == ["CP-1"]
    await w.rollouts.pause(r.id)
    await w.installed("CP-1")
    await w.rollouts.tick()
    await w.rollouts.tick()
    assert w.sent_to() == ["CP-1"]  # paused: no new batch
    with pytest.raises(RolloutConflict):
        await w.rollouts.pause(r.id)
    await w.rollouts.resume(r.id)
    await w.rollouts.tick()
    assert w.sent_to() == ["CP-1", "CP-2"]
    await w.rollouts.abort(r.id)
    state, counts = await w.state(r.id)
    assert state is RolloutState.ABORTED and counts["cancelled"] == 3
    with pytest.raises(RolloutConflict):
        await w.rollouts.resume(r.id)
    with pytest.raises(KeyError):
        await w.rollouts.pause(999)


async def test_a_restart_never_sends_twice(tmp_path: Path) -> None:
    w = World(tmp_path)
    r = await w.rollouts.create(
        "r", await w.file(), RolloutTargets(station_ids=IDS[:2]), batch_size=2,
        pause_seconds=0, abort_threshold=1,
    )  # fmt: skip
    # A crash right after the batch was claimed (committed SENDING) and before it went out.
    claimed = await w.store.claim_pending(r.id, 2, w.clock())
    assert [u.station_id for u in claimed] == ["CP-1", "CP-2"]
    restarted = RolloutService(w.store, w.firmware, tick_every=1.0)
    await restarted.tick()
    await restarted.tick()
    assert w.sent_to() == []  # never sent again: followed by boots, or timed out
    await w.installed("CP-1")
    w.clock.advance(3601)
    await restarted.tick()  # CP-2 never reports: the update timeout fails it
    state, counts = await w.state(r.id)
    assert counts == {"installed": 1, "failed": 1}
    assert state is RolloutState.ABORTED  # one failure reached the threshold of 1


async def test_targets_and_bad_input(tmp_path: Path) -> None:
    w = World(tmp_path)
    file_id = await w.file()
    r = await w.rollouts.create("", file_id, RolloutTargets(firmware_version="0.9"), 5, 0, 1)
    assert r.counts == {"pending": 1} and r.name == "2.0 rollout"
    assert [u.station_id for u in w.store.updates.values()] == ["OTHER"]
    with pytest.raises(FirmwareError, match="no station"):
        await w.rollouts.create("", file_id, RolloutTargets(model="nope"), 5, 0, 1)
    with pytest.raises(FirmwareError):
        await w.rollouts.create("", 999, RolloutTargets(vendor="Ampyre"), 5, 0, 1)
    with pytest.raises(FirmwareError):
        await w.rollouts.create("", file_id, RolloutTargets(vendor="Ampyre"), 0, 0, 1)


async def test_the_updates_carry_the_hosted_url_and_rollout_options(tmp_path: Path) -> None:
    w = World(tmp_path)
    await w.rollouts.create(
        "r", await w.file(), RolloutTargets(station_ids=["CP-1"]), batch_size=1,
        pause_seconds=0, abort_threshold=1, retries=3, retry_interval=30,
    )  # fmt: skip
    await w.rollouts.tick()
    ((sid, request_id, request),) = w.commands.sent
    token = next(iter(w.store.files.values())).token
    assert request.location == f"http://csms/firmware/{token}"
    assert (request.retries, request.retry_interval, request.version) == (3, 30, "2.0")
    assert w.store.updates[request_id].station_id == sid == "CP-1"
    assert w.store.updates[request_id].state is UpdateState.IN_PROGRESS
