"""Base of SqlStore's per-concern parts (transactions, authorization, webhooks): what a
part may use of the store. SqlStore inherits every part and provides these."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.domain.models import Page


class StorePart:
    if TYPE_CHECKING:
        _dialect_name: str  # "sqlite" or "postgresql"

        def _tx(self) -> AbstractAsyncContextManager[AsyncConnection]:
            """A short API-side transaction; database failures -> StoreUnavailable."""
            ...

        def _insert(self, table: sa.Table) -> Any:
            """The dialect's INSERT (with on_conflict_do_nothing/do_update)."""
            ...

        async def _page(
            self,
            query: sa.Select[Any],
            count: sa.Select[Any],
            convert: Callable[[Any], Any],
            limit: int,
            offset: int,
        ) -> Page: ...

        async def _submit(self, kind: int, payload: Any) -> Any:
            """Queue an op for the group commit (adapters/db/writes.py); its result."""
            ...
