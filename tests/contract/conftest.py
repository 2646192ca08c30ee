"""`store`: every Store implementation in turn: the in-memory fake unit tests use
(adapters/memory), SQLite and PostgreSQL. A contract test states a behaviour of the
ports (services/ports.py) that must hold for all three."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ampyre.adapters.db.store import SqlStore
from ampyre.adapters.memory import MemoryStore
from ampyre.config import Settings


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_kind(request: pytest.FixtureRequest) -> str:
    """ "memory", or the URL of a fresh migrated database."""
    if request.param == "memory":
        return "memory"
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return url


@pytest.fixture
async def store(store_kind: str) -> AsyncIterator[Any]:
    impl: Any = (
        MemoryStore() if store_kind == "memory" else SqlStore(Settings(database_url=store_kind))
    )
    await impl.start()
    yield impl
    await impl.close()
