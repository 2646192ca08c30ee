"""Remote starts waiting for the transaction they cause, on every node of a cluster.

A remote start is sent by the node that took the REST call; the station's answering
StartTransaction / TransactionEvent(Started) may arrive at any node (the station may even
have moved meanwhile). So each pending start is published on the bus and every node keeps
a copy: the node that records the start matches it (1.6 by station, idTag and connector;
2.x by remoteStartId, which also names the token when the station leaves it out), tags the
transaction with its remoteStartId and publishes the match; the node that sent the
command wakes its waiting caller with the transaction's id. Alone (memory bus) all of this
happens in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from ampyre.domain.transactions import EventKind, TransactionEvent
from ampyre.services.bus import Bus, BusError, Message, subject

log = logging.getLogger(__name__)

# A remote start waits this long for its 1.6 StartTransaction to be tagged with the
# remoteStartId even after the REST call returned (drivers take a while to plug in).
PENDING_START_TTL = 900.0
PENDING_START_MAX = 10_000


@dataclass(slots=True)
class PendingStart:
    station_id: str
    remote_start_id: int
    evse_id: int | None
    id_token: str
    v16: bool
    created: float
    id_token_type: str | None = None
    # On the node that sent the command: resolved with the transaction's id (pk).
    future: asyncio.Future[int] | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[str, int]:
        return (self.station_id, self.remote_start_id)


class PendingStarts:
    def __init__(self, bus: Bus | None = None, prefix: str = "ampyre", node_id: str = "") -> None:
        self._bus = bus if bus is not None and bus.clustered else None
        self._prefix = prefix
        self._node = node_id
        self._items: list[PendingStart] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._bus is None:
            return
        await self._bus.subscribe(subject(self._prefix, "starts", "pending"), self._heard_pending)
        await self._bus.subscribe(subject(self._prefix, "starts", "resolved"), self._heard_resolved)
        await self._bus.subscribe(subject(self._prefix, "starts", "forget"), self._heard_forget)

    def close(self) -> None:
        for pending in self._items:
            if pending.future is not None and not pending.future.done():
                pending.future.cancel()
        self._items.clear()
        for task in self._tasks:
            task.cancel()

    def waiting(self) -> list[PendingStart]:
        """The starts known here that wait for their transaction, oldest first."""
        return list(self._items)

    # ------------------------------------------------------------------ the sending node

    async def add(self, pending: PendingStart) -> None:
        """Register a start before its command is sent (the station may report the
        transaction before it answers), here and on the other nodes."""
        pending.future = asyncio.get_running_loop().create_future()
        self.prune()
        self._items.append(pending)
        if self._bus is not None:
            try:
                await self._bus.publish(
                    subject(self._prefix, "starts", "pending"),
                    {
                        "node": self._node,
                        "station": pending.station_id,
                        "remote_start_id": pending.remote_start_id,
                        "evse_id": pending.evse_id,
                        "id_token": pending.id_token,
                        "v16": pending.v16,
                        "id_token_type": pending.id_token_type,
                    },
                )
            except BusError:
                log.warning("remote start %s: other nodes not told", pending.remote_start_id)

    def forget(self, pending: PendingStart) -> None:
        """The start was refused or its caller gave up: drop it everywhere."""
        self._remove(pending.key)
        if pending.future is not None and not pending.future.done():
            pending.future.cancel()
        self._publish(
            "forget", {"station": pending.station_id, "remote_start_id": pending.remote_start_id}
        )

    # ------------------------------------------------------------------ the recording node

    def prune(self) -> None:
        horizon = time.monotonic() - PENDING_START_TTL
        keep = [
            p
            for p in self._items
            if p.created >= horizon and (p.future is None or not p.future.cancelled())
        ]
        self._items = keep[-PENDING_START_MAX:]

    def token_of(self, event: TransactionEvent) -> PendingStart | None:
        """2.x: the pending start a Started event's remoteStartId names (its token is
        the one Ampyre sent, for an event that leaves the idToken out)."""
        for pending in self._items:
            if (
                not pending.v16
                and pending.remote_start_id == event.remote_start_id
                and pending.station_id == event.station_id
            ):
                return pending
        return None

    def match_16(self, event: TransactionEvent) -> PendingStart | None:
        """1.6 has no remoteStartId: the next StartTransaction at the station with the
        remote start's idTag (and connector, if one was named) is the one it caused."""
        if event.kind is not EventKind.STARTED or event.transaction_id is not None:
            return None
        self.prune()
        for pending in self._items:
            if (
                pending.v16
                and pending.station_id == event.station_id
                and pending.id_token == event.id_token
                and (pending.evse_id is None or pending.evse_id == event.connector_id)
            ):
                return pending
        return None

    def resolve(
        self, event: TransactionEvent, transaction_pk: int, matched: PendingStart | None
    ) -> None:
        """The event was stored: wake the remote start it answers, wherever it waits."""
        if matched is None and event.remote_start_id is not None:
            for pending in self._items:
                if (
                    pending.remote_start_id == event.remote_start_id
                    and pending.station_id == event.station_id
                ):
                    matched = pending
                    break
        if matched is None:
            return
        self._settle(matched.key, transaction_pk)
        self._publish(
            "resolved",
            {
                "station": matched.station_id,
                "remote_start_id": matched.remote_start_id,
                "transaction": transaction_pk,
            },
        )

    # ------------------------------------------------------------------ bus

    def _settle(self, key: tuple[str, int], transaction_pk: int) -> None:
        for pending in self._remove(key):
            if pending.future is not None and not pending.future.done():
                pending.future.set_result(transaction_pk)

    def _remove(self, key: tuple[str, int]) -> list[PendingStart]:
        gone = [p for p in self._items if p.key == key]
        if gone:
            self._items = [p for p in self._items if p.key != key]
        return gone

    def _publish(self, verb: str, message: Message) -> None:
        bus = self._bus
        if bus is None:
            return

        async def send() -> None:
            with contextlib.suppress(BusError):
                await bus.publish(subject(self._prefix, "starts", verb), message)

        task = asyncio.get_running_loop().create_task(send())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _heard_pending(self, message: Message) -> None:
        if message.get("node") == self._node:
            return
        try:
            pending = PendingStart(
                station_id=str(message["station"]),
                remote_start_id=int(message["remote_start_id"]),
                evse_id=None if message.get("evse_id") is None else int(message["evse_id"]),
                id_token=str(message["id_token"]),
                v16=bool(message.get("v16")),
                created=time.monotonic(),
                id_token_type=message.get("id_token_type"),
            )
        except (KeyError, TypeError, ValueError):
            log.warning("ignored a malformed pending remote start from the bus")
            return
        self.prune()
        self._remove(pending.key)
        self._items.append(pending)

    async def _heard_resolved(self, message: Message) -> None:
        try:
            key = (str(message["station"]), int(message["remote_start_id"]))
            transaction_pk = int(message["transaction"])
        except (KeyError, TypeError, ValueError):
            return
        self._settle(key, transaction_pk)

    async def _heard_forget(self, message: Message) -> None:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            self._remove((str(message["station"]), int(message["remote_start_id"])))
