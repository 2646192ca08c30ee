"""The UserStore contract for every store: dashboard users, lockout counting, sessions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ampyre.domain.models import Role
from ampyre.domain.users import LockoutPolicy, User, UserSession

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
POLICY = LockoutPolicy(max_failures=3, lock_for=timedelta(minutes=15))


def _user(name: str, role: Role = Role.OPERATOR) -> User:
    return User(id=None, name=name, role=role, password_hash="h$" + name, created_at=T0)


def _session(token_hash: str, user_id: int, expires: datetime) -> UserSession:
    return UserSession(token_hash, user_id, "csrf-" + token_hash, T0, expires, T0)


async def test_users_crud_and_names_ignore_case(store: Any) -> None:
    alice = await store.create_user(_user("Alice", Role.ADMIN))
    assert alice.id is not None and alice.updated_at == T0 and alice.disabled is False
    with pytest.raises(KeyError):
        await store.create_user(_user("alice"))
    bob = await store.create_user(_user("bob"))
    found = await store.find_user("ALICE")
    assert found is not None and (found.id, found.name) == (alice.id, "Alice")
    assert await store.find_user("carol") is None
    assert [u.name for u in await store.list_users()] == ["Alice", "bob"]
    assert await store.count_admins() == 1
    bob.role, bob.disabled, bob.password_hash = Role.ADMIN, True, "h$new"
    bob.updated_at = T0 + timedelta(hours=1)
    updated = await store.update_user(bob)
    assert updated is not None
    assert (updated.role, updated.disabled, updated.password_hash) == (Role.ADMIN, True, "h$new")
    assert updated.updated_at == T0 + timedelta(hours=1) and updated.created_at == T0
    assert await store.count_admins() == 1  # a disabled admin does not count
    got = await store.get_user(bob.id)
    assert got is not None and got.password_hash == "h$new"
    ghost = _user("ghost")
    ghost.id = 999_999
    assert await store.update_user(ghost) is None
    assert await store.delete_user(bob.id) is True
    assert await store.delete_user(bob.id) is False
    assert await store.get_user(bob.id) is None


async def test_failures_lock_at_the_limit_and_success_resets(store: Any) -> None:
    user = await store.create_user(_user("carol"))
    first = await store.record_login_failure(user.id, POLICY, T0)
    assert first is not None and (first.failed_attempts, first.locked_until) == (1, None)
    await store.record_login_failure(user.id, POLICY, T0)
    third = await store.record_login_failure(user.id, POLICY, T0)
    assert third is not None
    assert (third.failed_attempts, third.locked_until) == (0, T0 + POLICY.lock_for)
    assert third.locked(T0) and not third.locked(T0 + POLICY.lock_for)
    # The lock stays while counting restarts.
    again = await store.record_login_failure(user.id, POLICY, T0 + timedelta(minutes=1))
    assert again is not None and again.locked_until == T0 + POLICY.lock_for
    assert again.failed_attempts == 1
    await store.record_login_success(user.id, T0 + timedelta(hours=1))
    done = await store.get_user(user.id)
    assert done is not None
    assert (done.failed_attempts, done.locked_until) == (0, None)
    assert done.last_login_at == T0 + timedelta(hours=1)
    assert await store.record_login_failure(999_999, POLICY, T0) is None


async def test_sessions_find_touch_revoke_prune(store: Any) -> None:
    dave = await store.create_user(_user("dave", Role.VIEWER))
    erin = await store.create_user(_user("erin"))
    later = T0 + timedelta(hours=12)
    for h in ("a", "b", "c"):
        await store.create_session(_session(h, dave.id, later))
    await store.create_session(_session("e", erin.id, T0 + timedelta(minutes=1)))
    found = await store.find_session("a")
    assert found is not None
    session, user = found
    assert (session.user_id, session.csrf_token, session.expires_at) == (dave.id, "csrf-a", later)
    assert (user.name, user.role) == ("dave", Role.VIEWER)
    assert session.created_at == T0
    assert await store.find_session("zzz") is None
    await store.touch_session("a", T0 + timedelta(minutes=5))
    touched = await store.find_session("a")
    assert touched is not None and touched[0].last_seen_at == T0 + timedelta(minutes=5)
    assert await store.delete_user_sessions(dave.id, keep="a") == 2
    assert await store.find_session("b") is None and await store.find_session("a") is not None
    assert await store.delete_session("a") is True
    assert await store.delete_session("a") is False
    assert await store.prune_sessions(T0 + timedelta(minutes=2)) == 1  # erin's expired
    assert await store.find_session("e") is None
    await store.create_session(_session("f", erin.id, later))
    assert await store.delete_user(erin.id) is True
    assert await store.find_session("f") is None  # sessions go with their user


async def test_concurrent_failures_all_count(store: Any) -> None:
    user = await store.create_user(_user("frank"))
    await asyncio.gather(*(store.record_login_failure(user.id, POLICY, T0) for _ in range(3)))
    locked = await store.get_user(user.id)
    assert locked is not None and locked.locked_until == T0 + POLICY.lock_for
