"""Which stations this process holds a socket for; routes commands to them.

Multi-node: each gateway process registers its stations here; a bus-backed router in
front of this one (adapters/bus) forwards a command to the node that holds the socket.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from ampyre.protocol.session import OcppSession
from ampyre.services.commands import CallOutcome, StationNotConnected


class Closable(Protocol):
    async def close(self, code: int = 1000, reason: str = "") -> None: ...


@dataclass(slots=True)
class Link:
    session: OcppSession
    socket: Closable
    since: float = field(default_factory=time.time)  # wall clock: compared across nodes


CLOSE_REPLACED = 1000  # normal closure: the station opened a newer connection (elsewhere)
CLOSE_RESTART = 1012  # service restart: reconnect (this node lost its lease)


class ConnectionRegistry:
    def __init__(self) -> None:
        self._links: dict[str, Link] = {}

    def attach(self, station_id: str, link: Link) -> Link | None:
        """Register a new connection; returns the one it replaces, if any."""
        old = self._links.get(station_id)
        self._links[station_id] = link
        return old

    def detach(self, station_id: str, session: OcppSession) -> bool:
        """Forget the connection if it is still the current one (not replaced)."""
        link = self._links.get(station_id)
        if link is not None and link.session is session:
            del self._links[station_id]
            return True
        return False

    def get(self, station_id: str) -> Link | None:
        return self._links.get(station_id)

    def __len__(self) -> int:
        return len(self._links)

    def __iter__(self) -> Iterator[Link]:
        return iter(list(self._links.values()))

    def count_by_version(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for link in self._links.values():
            key = link.session.version.value
            counts[key] = counts.get(key, 0) + 1
        return counts

    # services.cluster.LocalStations
    def connected_since(self, station_id: str) -> float | None:
        link = self._links.get(station_id)
        return link.since if link is not None else None

    async def replace(self, station_id: str, reason: str) -> bool:
        """Close the station's connection here because it has a newer one on another
        node; the closing records nothing (the newer connection owns the row)."""
        link = self._links.pop(station_id, None)
        if link is None:
            return False
        link.session.close()
        await link.socket.close(CLOSE_REPLACED, reason[:120])
        return True

    async def close_all(self, reason: str) -> int:
        links = list(self._links.values())
        for link in links:
            link.session.close()
        await asyncio.gather(
            *(link.socket.close(CLOSE_RESTART, reason[:120]) for link in links),
            return_exceptions=True,
        )
        return len(links)

    # CommandRouter
    def ocpp_version(self, station_id: str) -> str | None:
        link = self._links.get(station_id)
        return link.session.version.value if link is not None else None

    async def disconnect(self, station_id: str, reason: str) -> bool:
        link = self._links.get(station_id)
        if link is None:
            return False
        link.session.close()
        # 1008 policy violation: the station is no longer allowed to talk to us.
        await link.socket.close(1008, reason[:120])
        return True

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> CallOutcome:
        link = self._links.get(station_id)
        if link is None:
            raise StationNotConnected(station_id)
        return await link.session.call(action, payload, timeout)
