"""Writes API tokens' `last_used_at` (TokenService decides how often: LAST_USED_EVERY)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.short_tx import short_tx


class TokenUsageSql:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def touch_api_token(self, token_id: int, at: datetime) -> None:
        a = t.api_tokens
        # Never backwards: another process may have written a later time meanwhile.
        stmt = (
            sa.update(a)
            .where(a.c.id == token_id)
            .where(sa.or_(a.c.last_used_at.is_(None), a.c.last_used_at < at))
            .values(last_used_at=at)
        )
        async with short_tx(self._engine) as conn:
            await conn.execute(stmt)
