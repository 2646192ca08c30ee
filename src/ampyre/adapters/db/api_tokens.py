"""Repository: REST API tokens (part of the Store port)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.parts import StorePart
from ampyre.domain.models import ApiToken, Role


class ApiTokensSql(StorePart):
    async def create_api_token(self, token: ApiToken) -> ApiToken:
        a = t.api_tokens
        values: dict[str, Any] = {
            "name": token.name,
            "role": Role(token.role).value,
            "token_hash": token.token_hash,
            "created_at": token.created_at,
            "last_used_at": token.last_used_at,
            "revoked": token.revoked,
        }
        if token.id is not None:
            values["id"] = token.id
        stmt = (
            self._insert(a)
            .values(values)
            .on_conflict_do_nothing(index_elements=[a.c.token_hash])
            .returning(*a.columns)
        )
        async with self._tx() as conn:
            try:
                row = (await conn.execute(stmt)).first()
            except sa_exc.IntegrityError as exc:  # duplicate id
                raise KeyError(token.id) from exc
        if row is None:
            raise KeyError(token.token_hash)
        return _api_token(row)

    async def find_api_token(self, token_hash: str) -> ApiToken | None:
        a = t.api_tokens
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(a).where(a.c.token_hash == token_hash))).first()
        return None if row is None else _api_token(row)

    async def list_api_tokens(self) -> list[ApiToken]:
        a = t.api_tokens
        async with self._tx() as conn:
            rows = (await conn.execute(sa.select(a).order_by(a.c.id))).all()
        return [_api_token(r) for r in rows]

    async def revoke_api_token(self, token_id: int) -> bool:
        a = t.api_tokens
        stmt = sa.update(a).where(a.c.id == token_id, a.c.revoked.is_(False)).values(revoked=True)
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)


def _api_token(row: Any) -> ApiToken:
    values = dict(row._mapping)
    values["role"] = Role(values["role"])
    values["revoked"] = bool(values["revoked"])
    return ApiToken(**values)
