"""services/cluster.py without a database or a broker: two nodes over one in-process bus,
an in-memory lease table, fake local registries."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeRouter

from ampyre.adapters.bus import MemoryBus, open_bus
from ampyre.config import ConfigError, Settings, load_settings
from ampyre.domain.nodes import NodeInfo
from ampyre.services.bus import token
from ampyre.services.cluster import Cluster
from ampyre.services.commands import (
    CallOutcome,
    CommandTimeout,
    InvalidPayload,
    StationNotConnected,
    UnknownAction,
)
from ampyre.workers import worker_argv

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Leases:
    """NodeStore in memory (one shared by the nodes of a test)."""

    def __init__(self) -> None:
        self.rows: dict[str, NodeInfo] = {}
        self.connected: dict[str, tuple[str, str]] = {}  # station -> (node, version)
        self.released: list[str] = []

    async def renew_node(self, node: NodeInfo) -> bool:
        existed = node.node_id in self.rows
        self.rows[node.node_id] = node
        return existed

    async def list_nodes(self) -> list[NodeInfo]:
        return sorted(self.rows.values(), key=lambda n: n.node_id)

    async def claim_expired_nodes(self, renewed_before: datetime) -> list[str]:
        dead = sorted(n for n, info in self.rows.items() if info.renewed_at < renewed_before)
        for node in dead:
            del self.rows[node]
        return dead

    async def remove_node(self, node_id: str) -> None:
        self.rows.pop(node_id, None)

    async def connected_stations(self) -> list[tuple[str, str, str]]:
        return [(sid, node, version) for sid, (node, version) in self.connected.items()]

    async def release_node(self, node: str, at: datetime) -> list[str]:
        gone = sorted(sid for sid, (n, _) in self.connected.items() if n == node)
        for sid in gone:
            del self.connected[sid]
        self.released.append(node)
        return gone


class Local(FakeRouter):
    """The gateway's registry as the cluster sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.since: dict[str, float] = {}
        self.replaced: list[tuple[str, str]] = []
        self.closed_all = 0

    def hold(self, station_id: str, version: str = "ocpp1.6", since: float | None = None) -> None:
        self.versions[station_id] = version
        self.since[station_id] = time.time() if since is None else since

    def connected_since(self, station_id: str) -> float | None:
        return self.since.get(station_id) if station_id in self.versions else None

    async def replace(self, station_id: str, reason: str) -> bool:
        self.replaced.append((station_id, reason))
        return self.versions.pop(station_id, None) is not None

    async def close_all(self, reason: str) -> int:
        self.closed_all += 1
        n = len(self.versions)
        self.versions.clear()
        return n

    def __len__(self) -> int:
        return len(self.versions)


def _settings(node_id: str) -> Settings:
    return Settings(node_id=node_id, node_lease=10.0, node_renew_interval=2.0, call_timeout=1.0)


async def _pair() -> tuple[Cluster, Local, Cluster, Local, Leases, Clock]:
    bus, leases, clock = MemoryBus(), Leases(), Clock()
    local_a, local_b = Local(), Local()
    a = Cluster(_settings("A"), bus, leases, local_a, clock=clock)
    b = Cluster(_settings("B"), bus, leases, local_b, clock=clock)
    await a.start()
    clock.now += timedelta(seconds=1)
    await b.start()
    return a, local_a, b, local_b, leases, clock


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def _close(*clusters: Cluster) -> None:
    for c in clusters:
        await c.close()


async def test_commands_go_to_the_node_that_holds_the_station() -> None:
    a, local_a, b, local_b, _, _ = await _pair()
    try:
        local_a.hold("CP1")
        await a.station_changed("CP1", "ocpp1.6", True)
        await _settle()
        assert b.ocpp_version("CP1") == "ocpp1.6" and b.where("CP1").node == "A"  # type: ignore[union-attr]
        local_a.answer = CallOutcome(ok=True, payload={"status": "Accepted"})
        outcome = await b.call("CP1", "Reset", {"type": "Soft"}, timeout=3.0)
        assert outcome == CallOutcome(ok=True, payload={"status": "Accepted"})
        assert local_a.calls == [("CP1", "Reset", {"type": "Soft"}, 3.0)]
        assert local_b.calls == []
        # Each way of failing on A arrives on B as the same exception.
        for error in (
            StationNotConnected("CP1"),
            CommandTimeout("late"),
            UnknownAction("Nope"),
            InvalidPayload("bad", "FormatViolation", "type"),
        ):
            local_a.answer = error
            with pytest.raises(type(error)) as raised:
                await b.call("CP1", "Reset", {})
            if isinstance(error, InvalidPayload):
                assert isinstance(raised.value, InvalidPayload)
                assert (raised.value.error_code, raised.value.path) == ("FormatViolation", "type")
        local_a.answer = CallOutcome(ok=False, error_code="NotSupported", error_description="x")
        assert (await b.call("CP1", "Reset", {})).error_code == "NotSupported"
        with pytest.raises(StationNotConnected):
            await b.call("ELSEWHERE", "Reset", {})
        assert await b.disconnect("CP1", "deleted") is True
        assert local_a.disconnected == ["CP1"]
    finally:
        await _close(a, b)


async def test_a_node_that_does_not_answer_means_not_connected() -> None:
    a, local_a, b, _, _, _ = await _pair()
    try:
        local_a.hold("CP1")
        await a.station_changed("CP1", "ocpp1.6", True)
        await _settle()
        await a.close()  # gone, before its lease ran out: nobody answers on its subject
        assert isinstance(b.bus, MemoryBus)
        b.bus._subs.pop("ampyre.node.A.call")  # as its process is gone
        with pytest.raises(StationNotConnected):
            await b.call("CP1", "Reset", {})
        assert b.ocpp_version("CP1") is None  # forgotten with its node
    finally:
        await _close(b)


async def test_an_older_connection_is_replaced_a_newer_one_kept() -> None:
    a, local_a, b, local_b, _, _ = await _pair()
    try:
        local_a.hold("OLD", since=time.time() - 5)
        local_a.hold("NEW", since=time.time() + 5)  # opened after B's (clock skew aside)
        for sid in ("OLD", "NEW"):
            local_b.hold(sid)
            await b.station_changed(sid, "ocpp1.6", True)
        await _settle()
        assert [sid for sid, _ in local_a.replaced] == ["OLD"]
        assert "replaced by a newer connection on B" in local_a.replaced[0][1]
        assert a.where("OLD").node == "B" and a.where("NEW").node == "A"  # type: ignore[union-attr]
        # A late "disconnected" from a node the station has left changes nothing.
        await a.station_changed("OLD", "ocpp1.6", False)
        await _settle()
        assert b.where("OLD").node == "B"  # type: ignore[union-attr]
        await b.station_changed("OLD", "ocpp1.6", False)
        local_b.versions.pop("OLD")
        await _settle()
        assert a.where("OLD") is None
    finally:
        await _close(a, b)


async def test_resync_reads_the_table_and_keeps_what_was_heard_since() -> None:
    a, _, b, _, leases, _ = await _pair()
    try:
        leases.connected = {"T1": ("A", "ocpp2.0.1"), "T2": ("B", "ocpp1.6"), "T3": ("Z", "x")}
        await b.resync()
        # Its own stations are the registry's business; Z has no lease.
        assert b.where("T1").version == "ocpp2.0.1"  # type: ignore[union-attr]
        assert b.where("T2") is None and b.where("T3") is None
        # Heard of after a read began wins over it.
        began = asyncio.Event()
        real = leases.connected_stations

        async def slow() -> list[tuple[str, str, str]]:
            rows = await real()
            began.set()
            await asyncio.sleep(0.01)
            return rows

        leases.connected_stations = slow  # type: ignore[method-assign]
        resync = asyncio.create_task(b.resync())
        await began.wait()
        await a.station_changed("T1", "ocpp2.0.1", False)  # left meanwhile
        await a.station_changed("T4", "ocpp1.6", True)  # came meanwhile
        await resync
        assert b.where("T1") is None and b.where("T4").node == "A"  # type: ignore[union-attr]
    finally:
        await _close(a, b)


async def test_a_dead_node_is_claimed_once_and_leadership_moves() -> None:
    a, local_a, b, _, leases, clock = await _pair()
    try:
        assert a.leader and not b.leader  # A started first
        leases.connected = {"S1": ("A", "ocpp1.6"), "S2": ("B", "ocpp1.6")}
        clock.now += timedelta(seconds=11)
        await b.tick()  # A has not renewed for 11 s (lease 10 s)
        assert leases.released == ["A"] and "A" not in leases.rows
        assert leases.connected == {"S2": ("B", "ocpp1.6")}
        assert b.leader
        await b.tick()
        assert leases.released == ["A"]  # claimed once
        # A comes back after being cut off: its stations must reconnect to be recorded.
        local_a.hold("S1")
        await a.tick()
        assert local_a.closed_all == 1 and len(local_a) == 0
        assert not a.leader and b.leader  # A rejoined as a new member; B keeps the lead
    finally:
        await _close(a, b)


async def test_after_an_outage_a_node_first_renews_then_judges() -> None:
    a, _, b, _, leases, clock = await _pair()
    try:
        leases.connected = {"S1": ("A", "ocpp1.6")}
        clock.now += timedelta(seconds=30)  # the database was away: no lease renewed
        b._renewed = time.monotonic() - 30  # B's own renewals failed all that time
        await b.tick()
        assert leases.released == [] and "A" in leases.rows  # A gets its round
        await a.tick()
        await b.tick()
        assert leases.released == [] and leases.connected == {"S1": ("A", "ocpp1.6")}
        clock.now += timedelta(seconds=11)  # now A really stops
        await b.tick()
        assert leases.released == ["A"]
    finally:
        await _close(a, b)


async def test_nodes_view_marks_lease_age_leader_and_self() -> None:
    a, _, b, _, leases, clock = await _pair()
    try:
        clock.now += timedelta(seconds=3)
        views = {v.info.node_id: v for v in await b.nodes()}
        assert views["A"].leader and not views["B"].leader
        assert views["B"].this_node and not views["A"].this_node
        assert views["A"].lease_age == pytest.approx(4.0) and views["A"].alive
        leases.rows["A"] = replace(leases.rows["A"], renewed_at=T0 - timedelta(seconds=30))
        views = {v.info.node_id: v for v in await b.nodes()}
        assert not views["A"].alive and views["B"].leader
    finally:
        await _close(a, b)


async def test_changes_are_announced_to_other_nodes_only() -> None:
    a, _, b, _, _, _ = await _pair()
    heard: list[str] = []
    a.when_changed("id-tokens", lambda: heard.append("A"))
    b.when_changed("id-tokens", lambda: heard.append("B"))
    try:
        a.changed("id-tokens")
        for _ in range(10):
            await asyncio.sleep(0)
        assert heard == ["B"]
    finally:
        await _close(a, b)


def test_subject_tokens_are_safe_and_distinct() -> None:
    ids = ["CP-1", "cp.1", "cp 1", "cp*1", "x41", "A", "", "x", "Ünï", "cp>1"]
    tokens = [token(i) for i in ids]
    assert len(set(tokens)) == len(ids)
    for t in tokens:
        assert t and all(c.isascii() and (c.isalnum() or c in "_-") for c in t)
    assert token("CP-1") == "CP-1"  # plain ids stay readable


def test_settings_and_bus_urls_are_checked() -> None:
    with pytest.raises(ConfigError, match="AMPYRE_NODE_LEASE"):
        load_settings(environ={"AMPYRE_NODE_LEASE": "1", "AMPYRE_NODE_RENEW_INTERVAL": "1"})
    with pytest.raises(ConfigError, match="AMPYRE_BUS_PREFIX"):
        load_settings(environ={"AMPYRE_BUS_PREFIX": "a.*"})
    with pytest.raises(ConfigError, match="AMPYRE_BUS_URL"):
        load_settings(environ={"AMPYRE_BUS_URL": "redis://x"})
    with pytest.raises(ConfigError, match="both 9100"):
        load_settings(environ={"AMPYRE_OCPP_PORT": "9100", "AMPYRE_HTTP_PORT": "9100"})
    with pytest.raises(ConfigError, match="AMPYRE_WORKERS"):
        load_settings(environ={"AMPYRE_WORKERS": "0"})
    assert load_settings(environ={"AMPYRE_BUS_PREFIX": "site-1.prod"}).bus_prefix == "site-1.prod"
    assert isinstance(open_bus("memory://"), MemoryBus)
    assert open_bus("nats://127.0.0.1:4222").clustered
    with pytest.raises(ValueError):
        open_bus("amqp://x")


def test_workers_do_not_inherit_the_parents_own_flags() -> None:
    argv = ["serve", "--workers", "3", "--node-id=n1", "--http-port", "8001", "--node-id", "z"]
    assert worker_argv(argv) == ["serve", "--http-port", "8001"]
