"""This node in a cluster of `ampyre serve` processes: its lease, the directory of which
node holds which station, and commands routed to that node.

* Lease: every `node_renew_interval` seconds the node renews its row in the `nodes`
  table. A row not renewed for `node_lease` seconds belongs to a dead node (kill -9, a
  lost machine): the first live node to see it claims it (one DELETE ... RETURNING, so
  exactly one does), marks that node's stations disconnected and tells the others. Only
  a node whose own previous renewal is recent judges others: after a database outage
  every lease looks expired, and the first node back must not claim the rest.
  A node that finds its own row claimed (it was cut off from the database for longer
  than the lease) closes its connections: the stations reconnect and are recorded anew.
* Directory: station -> (node, OCPP version) for stations held by other nodes, from
  their connect/disconnect messages on the bus, resynchronized from the stations table
  every `directory_resync` seconds (a missed message heals there).
* Routing: `call` and `disconnect` go to this node's own sockets when it holds the
  station, else by bus request/reply to the node that does (CommandRouter).
* Replacement: a station that connects to another node while this one still holds an
  older connection of it gets that older connection closed here.
* Caches: a change that makes other nodes' caches stale (id tokens, webhooks) is
  announced (`changed(kind)`); each node runs what was registered for that kind. So are
  new outbox events, so that every node's event streams and webhooks see them at once.
* Leadership: cluster-wide periodic work (retention) runs on one node, the live node
  that started first (ties: node id); another takes over within one lease.

One node alone (SQLite, `memory://`) runs the same code: its directory stays empty and
it is always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ampyre.config import Settings
from ampyre.domain.nodes import NodeInfo
from ampyre.services.bus import Bus, BusError, BusTimeout, Message, NoResponders, subject
from ampyre.services.clock import utcnow
from ampyre.services.commands import (
    CallOutcome,
    CommandError,
    CommandRouter,
    CommandTimeout,
    InvalidPayload,
    StationNotConnected,
    UnknownAction,
)

log = logging.getLogger(__name__)
BUS_MARGIN = 2.0  # seconds a routed command may take beyond the station's own timeout
EVENTS_COALESCE = 0.05  # seconds: outbox wake-ups sent to other nodes, at most one per


class LocalStations(CommandRouter, Protocol):
    """The stations whose sockets this process holds (the gateway's registry)."""

    def connected_since(self, station_id: str) -> float | None:
        """Wall-clock time (epoch seconds) the local connection was opened, or None."""
        ...

    async def replace(self, station_id: str, reason: str) -> bool:
        """Close the local connection because the station connected elsewhere (no
        disconnection is recorded: the newer connection owns the station's row)."""
        ...

    async def close_all(self, reason: str) -> int: ...

    def __len__(self) -> int: ...


class NodeStore(Protocol):
    async def renew_node(self, node: NodeInfo) -> bool:
        """Write the node's row; False if it had to be created (first start, or claimed
        as dead meanwhile)."""
        ...

    async def list_nodes(self) -> list[NodeInfo]: ...
    async def claim_expired_nodes(self, renewed_before: datetime) -> list[str]: ...
    async def remove_node(self, node_id: str) -> None: ...
    async def connected_stations(self) -> list[tuple[str, str, str]]: ...
    async def release_node(self, node: str, at: datetime) -> list[str]: ...


@dataclass(slots=True, frozen=True)
class Located:
    node: str
    version: str
    heard: float  # monotonic time this node learnt it


@dataclass(slots=True, frozen=True)
class NodeView:
    """A node as the API shows it."""

    info: NodeInfo
    lease_age: float  # seconds since its last renewal
    alive: bool
    leader: bool
    this_node: bool


class Cluster:
    """See the module docstring. `start()` after the store, `close()` after the gateway
    has closed its connections."""

    def __init__(
        self,
        settings: Settings,
        bus: Bus,
        store: NodeStore,
        local: LocalStations,
        frames_received: Callable[[], float] = lambda: 0.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.node_id = settings.node_id
        self.bus = bus
        self._settings = settings
        self._store = store
        self._local = local
        self._frames = frames_received
        self._clock = clock
        self._prefix = settings.bus_prefix
        self._directory: dict[str, Located] = {}
        self._left: dict[str, float] = {}  # station -> when its disconnection was heard of
        self._started_at = clock()
        self._leader = True
        self._had_lease = False
        self._task: asyncio.Task[None] | None = None
        self._sample = (time.monotonic(), time.process_time(), frames_received())
        self.address = ""
        self._renewed: float | None = None  # monotonic time of the last renewal that worked
        self._stale: dict[str, list[Callable[[], Awaitable[None] | None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._events_due = False

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        me = self.node_id
        await self.bus.subscribe(subject(self._prefix, "node", me, "call"), self._serve_call)
        await self.bus.subscribe(
            subject(self._prefix, "node", me, "disconnect"), self._serve_disconnect
        )
        await self.bus.subscribe(subject(self._prefix, "conn"), self._on_connection)
        await self.bus.subscribe(subject(self._prefix, "node-gone"), self._on_node_gone)
        await self.bus.subscribe(subject(self._prefix, "changed"), self._on_changed)
        await self.tick()
        await self.resync()
        self._task = asyncio.create_task(self._run(), name="cluster-lease")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # A clean stop: the row goes now, not when the lease runs out (the gateway has
        # recorded its disconnections already).
        try:
            await self._store.remove_node(self.node_id)
            await self.bus.publish(subject(self._prefix, "node-gone"), {"node": self.node_id})
        except Exception:
            log.warning("cluster: could not remove this node's lease", exc_info=True)

    async def _run(self) -> None:
        s = self._settings
        next_resync = time.monotonic() + s.directory_resync
        while True:
            await asyncio.sleep(s.node_renew_interval)
            try:
                await self.tick()
                if time.monotonic() >= next_resync:
                    next_resync = time.monotonic() + s.directory_resync
                    await self.resync()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("cluster: lease renewal failed; will retry", exc_info=True)

    # ------------------------------------------------------------------ caches

    def when_changed(self, kind: str, refresh: Callable[[], Awaitable[None] | None]) -> None:
        """Run `refresh` when another node announces a change of `kind` (register
        before `start`)."""
        self._stale.setdefault(kind, []).append(refresh)

    def changed(self, kind: str) -> None:
        """Tell the other nodes that data of `kind` changed here (fire and forget: their
        caches also expire by themselves)."""

        async def send() -> None:
            with contextlib.suppress(BusError):
                await self.bus.publish(
                    subject(self._prefix, "changed"), {"kind": kind, "node": self.node_id}
                )

        task = asyncio.get_running_loop().create_task(send())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def events_committed(self) -> None:
        """Domain events were committed here: other nodes' outbox readers (the dashboard's
        streams, webhooks) look now rather than at their next poll. One message per
        EVENTS_COALESCE seconds at most, however many commits."""
        if self._events_due or not self.bus.clustered:
            return
        self._events_due = True

        def due() -> None:
            self._events_due = False
            self.changed("events")

        asyncio.get_running_loop().call_later(EVENTS_COALESCE, due)

    async def _on_changed(self, message: Message) -> None:
        if message.get("node") == self.node_id:
            return
        for refresh in self._stale.get(str(message.get("kind")), ()):
            result = refresh()
            if result is not None:
                await result

    # ------------------------------------------------------------------ lease

    def _load(self) -> NodeInfo:
        mono, cpu, frames = time.monotonic(), time.process_time(), self._frames()
        last_mono, last_cpu, last_frames = self._sample
        self._sample = (mono, cpu, frames)
        span = max(mono - last_mono, 1e-6)
        return NodeInfo(
            node_id=self.node_id,
            started_at=self._started_at,
            renewed_at=self._clock(),
            stations=len(self._local),
            messages_per_s=round(max(frames - last_frames, 0.0) / span, 1),
            cpu=round(max(cpu - last_cpu, 0.0) / span, 3),
            address=self.address,
            pid=os.getpid(),
        )

    async def tick(self) -> None:
        """Renew this node's lease, claim the expired ones, decide who leads."""
        existed = await self._store.renew_node(self._load())
        now_mono = time.monotonic()
        last, self._renewed = self._renewed, now_mono
        # Judge others only after a renewal of our own shortly before: a node back from
        # a database outage (the others' renewals failed too) first gives them a round.
        judge = last is not None and now_mono - last <= self._settings.node_lease / 2
        if self._had_lease and not existed:
            # Claimed as dead while we were cut off: our stations were marked
            # disconnected; let them reconnect so that they are recorded again.
            closed = await self._local.close_all("node lease lost, reconnect")
            log.warning("cluster: this node's lease had expired; closed %d connections", closed)
            # It rejoins as a new member: the lead stays where it went meanwhile.
            self._started_at = self._clock()
            await self._store.renew_node(self._load())
        self._had_lease = True
        now = self._clock()
        lease = timedelta(seconds=self._settings.node_lease)
        for dead in await self._store.claim_expired_nodes(now - lease) if judge else ():
            released = await self._store.release_node(dead, now)
            log.warning(
                "cluster: node %s stopped renewing its lease; %d stations marked disconnected",
                dead,
                len(released),
            )
            self._forget_node(dead)
            with contextlib.suppress(BusError):
                await self.bus.publish(subject(self._prefix, "node-gone"), {"node": dead})
        first = self._first(await self._store.list_nodes(), now)
        leader = first is None or first.node_id == self.node_id
        if leader != self._leader:
            log.info("cluster: this node %s the leader", "is now" if leader else "is no longer")
            self._leader = leader

    @property
    def leader(self) -> bool:
        return self._leader

    def _alive(self, node: NodeInfo, now: datetime) -> bool:
        """Renewed within the lease time."""
        return (now - node.renewed_at).total_seconds() <= self._settings.node_lease

    def _first(self, nodes: list[NodeInfo], now: datetime) -> NodeInfo | None:
        """The leader: the live node that started first (ties: node id)."""
        live = [n for n in nodes if self._alive(n, now)]
        return min(live, key=lambda n: (n.started_at, n.node_id), default=None)

    async def nodes(self) -> list[NodeView]:
        now = self._clock()
        found = await self._store.list_nodes()
        first = self._first(found, now)
        return [
            NodeView(
                info=n,
                lease_age=max((now - n.renewed_at).total_seconds(), 0.0),
                alive=self._alive(n, now),
                leader=first is not None and n.node_id == first.node_id,
                this_node=n.node_id == self.node_id,
            )
            for n in found
        ]

    # ------------------------------------------------------------------ directory

    async def resync(self) -> None:
        """Rebuild the directory from the stations table (entries heard of after the
        read began win over it)."""
        began = time.monotonic()
        rows = await self._store.connected_stations()
        now = self._clock()
        live = {n.node_id for n in await self._store.list_nodes() if self._alive(n, now)}
        fresh = {
            sid: Located(node, version, began)
            for sid, node, version in rows
            if node != self.node_id and node in live
        }
        for sid, entry in self._directory.items():
            if entry.heard > began:  # heard of after the read began: newer than it
                fresh[sid] = entry
        for sid, left in self._left.items():
            if left > began:  # disconnected after the read began
                fresh.pop(sid, None)
        self._left = {sid: left for sid, left in self._left.items() if left > began}
        self._directory = {sid: e for sid, e in fresh.items() if e.version}

    def _forget_node(self, node: str) -> None:
        self._directory = {s: e for s, e in self._directory.items() if e.node != node}

    async def _on_node_gone(self, message: Message) -> None:
        node = str(message.get("node", ""))
        if node and node != self.node_id:
            self._forget_node(node)

    async def station_changed(self, station_id: str, version: str, connected: bool) -> None:
        """The gateway opened or closed a station's connection on this node (after it
        was recorded): tell the other nodes."""
        with contextlib.suppress(BusError):
            await self.bus.publish(
                subject(self._prefix, "conn"),
                {
                    "station": station_id,
                    "node": self.node_id,
                    "version": version,
                    "connected": connected,
                    "at": time.time(),
                },
            )

    async def _on_connection(self, message: Message) -> None:
        node = str(message.get("node", ""))
        station_id = message.get("station")
        if node == self.node_id or not isinstance(station_id, str):
            return
        if not message.get("connected"):
            entry = self._directory.get(station_id)
            if entry is not None and entry.node == node:
                del self._directory[station_id]
                self._left[station_id] = time.monotonic()
            return
        self._directory[station_id] = Located(
            node, str(message.get("version", "")), time.monotonic()
        )
        since = self._local.connected_since(station_id)
        at = message.get("at")
        if since is None or not isinstance(at, int | float) or since > at:
            return
        if await self._local.replace(station_id, f"replaced by a newer connection on {node}"):
            log.info("%s: connected to node %s; closed its older connection", station_id, node)

    def where(self, station_id: str) -> Located | None:
        """The node holding the station (this one included), or None."""
        version = self._local.ocpp_version(station_id)
        if version is not None:
            return Located(self.node_id, version, time.monotonic())
        return self._directory.get(station_id)

    def remote_count(self) -> int:
        return len(self._directory)

    # ------------------------------------------------------------------ CommandRouter

    def ocpp_version(self, station_id: str) -> str | None:
        found = self.where(station_id)
        return found.version if found is not None else None

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> CallOutcome:
        if self._local.ocpp_version(station_id) is not None:
            return await self._local.call(station_id, action, payload, timeout)
        entry = self._directory.get(station_id)
        if entry is None:
            raise StationNotConnected(station_id)
        wait = self._settings.call_timeout if timeout is None else timeout
        request = {"station": station_id, "action": action, "payload": payload, "timeout": wait}
        reply = await self._request(entry.node, "call", request, wait + BUS_MARGIN, station_id)
        return _outcome(reply)

    async def disconnect(self, station_id: str, reason: str) -> bool:
        if self._local.ocpp_version(station_id) is not None:
            return await self._local.disconnect(station_id, reason)
        entry = self._directory.get(station_id)
        if entry is None:
            return False
        try:
            reply = await self._request(
                entry.node,
                "disconnect",
                {"station": station_id, "reason": reason},
                10.0,
                station_id,
            )
        except CommandError:
            return False
        return bool(reply.get("closed"))

    async def _request(
        self, node: str, verb: str, message: Message, timeout: float, station_id: str
    ) -> Message:
        try:
            return await self.bus.request(
                subject(self._prefix, "node", node, verb), message, timeout
            )
        except NoResponders:
            # The node is gone (its lease has not run out yet): not connected anywhere.
            self._forget_node(node)
            raise StationNotConnected(station_id) from None
        except BusTimeout:
            raise CommandTimeout(f"node {node} did not answer for {station_id}") from None
        except BusError as exc:
            raise CommandError(f"the bus is unavailable: {exc}") from None

    async def _serve_call(self, message: Message) -> Message:
        station_id = str(message.get("station", ""))
        timeout = message.get("timeout")
        payload = message.get("payload")
        try:
            outcome = await self._local.call(
                station_id,
                str(message.get("action", "")),
                payload if isinstance(payload, dict) else {},
                float(timeout) if isinstance(timeout, int | float) else None,
            )
        except StationNotConnected:
            return {"error": "not_connected"}
        except CommandTimeout as exc:
            return {"error": "timeout", "message": str(exc)}
        except UnknownAction as exc:
            return {"error": "unknown_action", "message": str(exc)}
        except InvalidPayload as exc:
            return {
                "error": "invalid_payload",
                "message": str(exc),
                "error_code": exc.error_code,
                "path": exc.path,
            }
        except CommandError as exc:
            return {"error": "command", "message": str(exc)}
        return {
            "ok": outcome.ok,
            "payload": outcome.payload,
            "error_code": outcome.error_code,
            "error_description": outcome.error_description,
            "error_details": outcome.error_details,
        }

    async def _serve_disconnect(self, message: Message) -> Message:
        station_id = str(message.get("station", ""))
        closed = await self._local.disconnect(station_id, str(message.get("reason", "")))
        return {"closed": closed}


def _outcome(reply: Message) -> CallOutcome:
    """A routed command's reply as the local call would have returned or raised it."""
    error = reply.get("error")
    if error is None:
        payload = reply.get("payload")
        details = reply.get("error_details")
        return CallOutcome(
            ok=bool(reply.get("ok")),
            payload=payload if isinstance(payload, dict) else {},
            error_code=reply.get("error_code"),
            error_description=reply.get("error_description"),
            error_details=details if isinstance(details, dict) else None,
        )
    text = str(reply.get("message", ""))
    if error == "not_connected":
        raise StationNotConnected(text)
    if error == "timeout":
        raise CommandTimeout(text)
    if error == "unknown_action":
        raise UnknownAction(text)
    if error == "invalid_payload":
        path = reply.get("path")
        raise InvalidPayload(
            text, str(reply.get("error_code", "")), path if isinstance(path, str) else None
        )
    raise CommandError(text or str(error))
