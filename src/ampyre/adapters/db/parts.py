"""Base of the repositories (stations, API tokens, audit log, authorization,
transactions, webhooks): what a repository may use of the database and the group-commit
writer. Composed by SqlStore (adapters/db/store.py), which the bootstrap builds."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db.database import Database
from ampyre.adapters.db.writer import GroupWriter
from ampyre.domain.models import Page


class StorePart:
    def __init__(self, db: Database, writer: GroupWriter) -> None:
        self._db = db
        self._writer = writer
        self._dialect_name: str = db.dialect_name  # "sqlite" or "postgresql"

    async def _submit(self, payload: Any) -> Any:
        """Queue a payload for the group commit (adapters/db/writer.py); its result."""
        return await self._writer.submit(payload)

    def _tx(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A short API-side transaction; database failures -> StoreUnavailable."""
        return self._db.tx()

    def _read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection for one reading statement (Database.read)."""
        return self._db.read()

    def _insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT (with on_conflict_do_nothing/do_update)."""
        return self._db.insert(table)

    async def _page(
        self,
        query: sa.Select[Any],
        count: sa.Select[Any],
        convert: Callable[[Any], Any],
        limit: int,
        offset: int,
    ) -> Page:
        return await self._db.page(query, count, convert, limit, offset)
