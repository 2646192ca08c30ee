"""Helpers shared by the contract tests (a module name of its own: every test directory
has a `conftest`)."""

from __future__ import annotations

from typing import Any


async def settle(store: Any) -> None:
    """Let buffered writes (touch, log_messages) reach the store."""
    flush = getattr(store, "flush", None)
    if flush is not None:
        await flush()
