"""The message bus's adapters: in-process (`memory://`) and NATS (`nats://`)."""

from __future__ import annotations

from ampyre.adapters.bus.memory import MemoryBus
from ampyre.adapters.bus.nats import NatsBus
from ampyre.services.bus import Bus


def open_bus(url: str, name: str = "ampyre") -> Bus:
    """The bus for AMPYRE_BUS_URL (not connected yet: `await bus.start()`).
    Raises ValueError for a scheme we do not speak."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory":
        return MemoryBus()
    if scheme in ("nats", "tls"):
        return NatsBus(url, name)
    raise ValueError(f"AMPYRE_BUS_URL: unsupported scheme in {url!r} (memory:// or nats://)")


__all__ = ["MemoryBus", "NatsBus", "open_bus"]
