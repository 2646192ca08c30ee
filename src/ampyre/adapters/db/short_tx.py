"""A short transaction on a shared engine for the small repositories that live beside the
store (operator audit, token usage): database failures become StoreUnavailable, as in
the store's own API-side transactions."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ampyre.services.ports import StoreUnavailable

_DB_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
)


@contextlib.asynccontextmanager
async def short_tx(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    try:
        async with engine.begin() as conn:
            yield conn
    except _DB_ERRORS as exc:
        lines = str(exc).strip().splitlines()
        raise StoreUnavailable(f"database error: {lines[0][:300] if lines else exc!r}") from exc
