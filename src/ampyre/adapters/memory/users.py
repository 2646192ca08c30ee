"""MemoryUsers: the `UserStore` port part of MemoryStore (dashboard users and their
sessions), with the semantics of adapters/db/users.py that callers can observe (checked by
tests/contract)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from ampyre.adapters.memory.stations import MemoryStations
from ampyre.domain.models import Role
from ampyre.domain.users import LockoutPolicy, User, UserSession, after_failure, name_key


class MemoryUsers(MemoryStations):
    def __init__(self) -> None:
        super().__init__()
        self.users: dict[int, User] = {}
        self.user_sessions: dict[str, UserSession] = {}
        self._next_user = 1

    async def create_user(self, user: User) -> User:
        self._write()
        user_id = user.id if user.id is not None else self._next_user
        if user_id in self.users or self._by_name(user.name) is not None:
            raise KeyError(user.name)
        self._next_user = max(self._next_user, user_id + 1)
        created = user.created_at or datetime.now(UTC)
        stored = dataclasses.replace(
            user, id=user_id, created_at=created, updated_at=user.updated_at or created
        )
        self.users[user_id] = stored
        return dataclasses.replace(stored)

    def _by_name(self, name: str) -> User | None:
        key = name_key(name)
        return next((u for u in self.users.values() if u.name_key == key), None)

    async def get_user(self, user_id: int) -> User | None:
        self._read()
        user = self.users.get(user_id)
        return None if user is None else dataclasses.replace(user)

    async def find_user(self, name: str) -> User | None:
        self._read()
        user = self._by_name(name)
        return None if user is None else dataclasses.replace(user)

    async def list_users(self) -> list[User]:
        self._read()
        return [dataclasses.replace(self.users[k]) for k in sorted(self.users)]

    async def update_user(self, user: User) -> User | None:
        self._write()
        if user.id is None or user.id not in self.users:
            return None
        other = self._by_name(user.name)
        if other is not None and other.id != user.id:
            raise KeyError(user.name)
        old = self.users[user.id]
        stored = dataclasses.replace(
            user, created_at=old.created_at, updated_at=user.updated_at or old.updated_at
        )
        self.users[user.id] = stored
        return dataclasses.replace(stored)

    async def delete_user(self, user_id: int) -> bool:
        self._write()
        if self.users.pop(user_id, None) is None:
            return False
        self.user_sessions = {k: s for k, s in self.user_sessions.items() if s.user_id != user_id}
        return True

    async def count_admins(self) -> int:
        self._read()
        return sum(1 for u in self.users.values() if u.role is Role.ADMIN and not u.disabled)

    async def record_login_failure(
        self, user_id: int, policy: LockoutPolicy, now: datetime
    ) -> User | None:
        self._write()
        user = self.users.get(user_id)
        if user is None:
            return None
        failed, until = after_failure(user.failed_attempts, policy, now)
        user.failed_attempts = failed
        if until is not None:
            user.locked_until = until
        return dataclasses.replace(user)

    async def record_login_success(self, user_id: int, now: datetime) -> None:
        self._write()
        user = self.users.get(user_id)
        if user is not None:
            user.failed_attempts, user.locked_until, user.last_login_at = 0, None, now

    async def create_session(self, session: UserSession) -> None:
        self._write()
        if session.token_hash in self.user_sessions or session.user_id not in self.users:
            raise KeyError(session.token_hash)  # the SQL store's constraints refuse these
        self.user_sessions[session.token_hash] = dataclasses.replace(session)

    async def find_session(self, token_hash: str) -> tuple[UserSession, User] | None:
        self._read()
        session = self.user_sessions.get(token_hash)
        if session is None:
            return None
        user = self.users[session.user_id]
        return dataclasses.replace(session), dataclasses.replace(user)

    async def touch_session(self, token_hash: str, at: datetime) -> None:
        self._write()
        session = self.user_sessions.get(token_hash)
        if session is not None:
            session.last_seen_at = at

    async def delete_session(self, token_hash: str) -> bool:
        self._write()
        return self.user_sessions.pop(token_hash, None) is not None

    async def delete_user_sessions(self, user_id: int, keep: str | None = None) -> int:
        self._write()
        gone = [k for k, s in self.user_sessions.items() if s.user_id == user_id and k != keep]
        for k in gone:
            del self.user_sessions[k]
        return len(gone)

    async def prune_sessions(self, now: datetime) -> int:
        self._write()
        gone = [k for k, s in self.user_sessions.items() if s.expires_at < now]
        for k in gone:
            del self.user_sessions[k]
        return len(gone)
