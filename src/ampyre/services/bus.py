"""The message bus between the nodes of a cluster (several `ampyre serve` processes over
one PostgreSQL), as a port: subjects, publish, subscribe, request/reply.

The adapters (adapters/bus) are the in-process bus of a single node (`memory://`, the
default) and NATS (`nats://host:4222`). Messages are plain JSON-able dicts; the adapter
encodes them. What travels here is never the only copy of anything that must survive:
stored data lives in the database, and every consumer of a bus message can recover
what it missed from there (directory resync, outbox cursors, cache TTLs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

Message = dict[str, Any]
# A subscriber. For a request, what it returns is the reply; for a publish it is ignored.
Handler = Callable[[Message], Awaitable[Message | None]]


class BusError(Exception):
    """The bus could not carry the message (not connected, broker down)."""


class NoResponders(BusError):
    """Nobody listens on the request's subject (the node it was meant for is gone)."""


class BusTimeout(BusError):
    """A request got no reply in time."""


class Bus(Protocol):
    @property
    def clustered(self) -> bool:
        """True when other processes can hear this one (NATS); False in-process."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, subject: str, message: Message) -> None:
        """Fire and forget to every subscriber of `subject`. Raises BusError."""
        ...

    async def subscribe(self, subject: str, handler: Handler) -> None:
        """`handler` runs (as its own task) for each message on `subject`."""
        ...

    async def request(self, subject: str, message: Message, timeout: float) -> Message:
        """One subscriber's reply. Raises NoResponders, BusTimeout, BusError."""
        ...

    async def ping(self) -> None:
        """Round trip to the broker (readiness). Raises BusError."""
        ...


def subject(prefix: str, *parts: str) -> str:
    """`prefix.part.part`; station and node ids are made subject-safe (no dots, blanks
    or wildcards), injectively."""
    return ".".join([prefix, *(token(p) for p in parts)])


def token(part: str) -> str:
    """A NATS subject token for any string: kept when it is plain ([A-Za-z0-9_-]), else
    hex-encoded behind an `x` (so two ids never share a token)."""
    if part and all((c.isalnum() and c.isascii()) or c in "_-" for c in part):
        return part if not part.startswith("x") else "x" + part.encode().hex()
    return "x" + part.encode().hex()
