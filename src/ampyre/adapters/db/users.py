"""Repository: dashboard users and their sessions (the UserStore port)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.parts import StorePart
from ampyre.domain.models import Role
from ampyre.domain.users import LockoutPolicy, User, UserSession, name_key

_SESSION_COLUMNS = ("token_hash", "user_id", "csrf_token", "created_at", "expires_at")


class UsersSql(StorePart):
    async def create_user(self, user: User) -> User:
        u = t.users
        values = _user_values(user)
        stmt = (
            self._insert(u)
            .values(values)
            .on_conflict_do_nothing(index_elements=[u.c.name_key])
            .returning(*u.columns)
        )
        async with self._tx() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            raise KeyError(user.name)
        return _user(row)

    async def get_user(self, user_id: int) -> User | None:
        return await self._one(t.users.c.id == user_id)

    async def find_user(self, name: str) -> User | None:
        return await self._one(t.users.c.name_key == name_key(name))

    async def _one(self, where: sa.ColumnElement[bool]) -> User | None:
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(t.users).where(where))).first()
        return None if row is None else _user(row)

    async def list_users(self) -> list[User]:
        async with self._tx() as conn:
            rows = (await conn.execute(sa.select(t.users).order_by(t.users.c.id))).all()
        return [_user(r) for r in rows]

    async def update_user(self, user: User) -> User | None:
        u = t.users
        values = _user_values(user)
        for fixed in ("id", "created_at"):
            values.pop(fixed, None)
        stmt = sa.update(u).where(u.c.id == user.id).values(values).returning(*u.columns)
        async with self._tx() as conn:
            try:
                row = (await conn.execute(stmt)).first()
            except sa_exc.IntegrityError as exc:  # renamed onto another user's name
                raise KeyError(user.name) from exc
        return None if row is None else _user(row)

    async def delete_user(self, user_id: int) -> bool:
        async with self._tx() as conn:
            # Explicitly as well as ON DELETE CASCADE: no session may outlive its user
            # even where foreign keys are not enforced.
            await conn.execute(
                sa.delete(t.user_sessions).where(t.user_sessions.c.user_id == user_id)
            )
            result = await conn.execute(sa.delete(t.users).where(t.users.c.id == user_id))
        return bool(result.rowcount)

    async def count_admins(self) -> int:
        u = t.users
        query = (
            sa.select(sa.func.count())
            .select_from(u)
            .where(u.c.role == Role.ADMIN.value, u.c.disabled.is_(False))
        )
        async with self._tx() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def record_login_failure(
        self, user_id: int, policy: LockoutPolicy, now: datetime
    ) -> User | None:
        # domain.users.after_failure, applied in one statement so that concurrent failed
        # attempts all count.
        u = t.users
        reached = u.c.failed_attempts + 1 >= policy.max_failures
        stmt = (
            sa.update(u)
            .where(u.c.id == user_id)
            .values(
                failed_attempts=sa.case((reached, 0), else_=u.c.failed_attempts + 1),
                locked_until=sa.case(
                    (reached, sa.bindparam("until", now + policy.lock_for, type_=t.UtcDateTime)),
                    else_=u.c.locked_until,
                ),
            )
            .returning(*u.columns)
        )
        async with self._tx() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _user(row)

    async def record_login_success(self, user_id: int, now: datetime) -> None:
        u = t.users
        stmt = (
            sa.update(u)
            .where(u.c.id == user_id)
            .values(failed_attempts=0, locked_until=None, last_login_at=now)
        )
        async with self._tx() as conn:
            await conn.execute(stmt)

    async def create_session(self, session: UserSession) -> None:
        s = t.user_sessions
        values = {c: getattr(session, c) for c in _SESSION_COLUMNS}
        values["last_seen_at"] = session.last_seen_at
        async with self._tx() as conn:
            await conn.execute(sa.insert(s).values(values))

    async def find_session(self, token_hash: str) -> tuple[UserSession, User] | None:
        s, u = t.user_sessions, t.users
        query = (
            sa.select(
                u,
                s.c.csrf_token.label("s_csrf_token"),
                s.c.created_at.label("s_created_at"),
                s.c.expires_at.label("s_expires_at"),
                s.c.last_seen_at.label("s_last_seen_at"),
            )
            .join(u, u.c.id == s.c.user_id)
            .where(s.c.token_hash == token_hash)
        )
        async with self._tx() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        user = _user(row)
        assert user.id is not None
        session = UserSession(
            token_hash=token_hash,
            user_id=user.id,
            csrf_token=row.s_csrf_token,
            created_at=row.s_created_at,
            expires_at=row.s_expires_at,
            last_seen_at=row.s_last_seen_at,
        )
        return session, user

    async def touch_session(self, token_hash: str, at: datetime) -> None:
        s = t.user_sessions
        async with self._tx() as conn:
            await conn.execute(
                sa.update(s).where(s.c.token_hash == token_hash).values(last_seen_at=at)
            )

    async def delete_session(self, token_hash: str) -> bool:
        s = t.user_sessions
        async with self._tx() as conn:
            result = await conn.execute(sa.delete(s).where(s.c.token_hash == token_hash))
        return bool(result.rowcount)

    async def delete_user_sessions(self, user_id: int, keep: str | None = None) -> int:
        s = t.user_sessions
        stmt = sa.delete(s).where(s.c.user_id == user_id)
        if keep is not None:
            stmt = stmt.where(s.c.token_hash != keep)
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return int(result.rowcount)

    async def prune_sessions(self, now: datetime) -> int:
        s = t.user_sessions
        async with self._tx() as conn:
            result = await conn.execute(sa.delete(s).where(s.c.expires_at < now))
        return int(result.rowcount)


def _user_values(user: User) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": user.name,
        "name_key": name_key(user.name),
        "role": Role(user.role).value,
        "password_hash": user.password_hash,
        "disabled": user.disabled,
        "failed_attempts": user.failed_attempts,
        "locked_until": user.locked_until,
        "created_at": user.created_at,
        "updated_at": user.updated_at or user.created_at,
        "last_login_at": user.last_login_at,
    }
    if user.id is not None:
        values["id"] = user.id
    return values


def _user(row: Any) -> User:
    m = row._mapping
    return User(
        id=m["id"],
        name=m["name"],
        role=Role(m["role"]),
        password_hash=m["password_hash"],
        disabled=bool(m["disabled"]),
        failed_attempts=int(m["failed_attempts"]),
        locked_until=m["locked_until"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        last_login_at=m["last_login_at"],
    )
