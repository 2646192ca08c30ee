"""UserService: password policy, Argon2id hashing off the event loop, lockout, sessions,
the last admin, bootstrap admin."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from ampyre.adapters.memory import MemoryStore
from ampyre.config import ConfigError, Settings, load_settings
from ampyre.domain.models import Role
from ampyre.domain.users import LockoutPolicy, after_failure
from ampyre.services.users import (
    AccountLocked,
    InvalidCredentials,
    InvalidUserInput,
    LastAdmin,
    UserExists,
    UserNotFound,
    UserService,
    hash_session_secret,
)

PASSWORD = "correct horse battery"
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class CountingHasher(PasswordHasher):
    """Fast parameters (tests only); records the threads hashes run in."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.threads: set[int] = set()
        self.verified: list[str] = []

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.threads.add(threading.get_ident())
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.threads.add(threading.get_ident())
        self.verified.append(str(hash))
        return super().verify(hash, password)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def users(store: MemoryStore, clock: Clock, hasher: CountingHasher) -> UserService:
    settings = Settings(login_max_failures=5, login_lockout_seconds=900, session_lifetime=3600)
    return UserService(store, settings, hasher=hasher, clock=clock)


def test_lockout_rule() -> None:
    policy = LockoutPolicy(3, timedelta(minutes=15))
    assert after_failure(0, policy, T0) == (1, None)
    assert after_failure(1, policy, T0) == (2, None)
    assert after_failure(2, policy, T0) == (0, T0 + timedelta(minutes=15))


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("alice", "short"),  # under 12
        ("alice", "x" * 1025),  # over the bound
        ("alice", " " * 12),
        ("alice", "ALICE"),  # too short anyway
        ("alicealicealice", "AliceAliceAlice"),  # the user name
        ("a b", PASSWORD),
        ("", PASSWORD),
        ("-dash", PASSWORD),
        ("x" * 65, PASSWORD),
    ],
)
async def test_policy_refuses(users: UserService, name: str, password: str) -> None:
    with pytest.raises(InvalidUserInput):
        await users.create(name, Role.VIEWER, password)


async def test_create_hashes_with_argon2id_in_a_thread(
    users: UserService, store: MemoryStore, hasher: CountingHasher
) -> None:
    user = await users.create("alice", "operator", PASSWORD)
    assert user.role is Role.OPERATOR and user.created_at == T0
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert threading.get_ident() not in hasher.threads  # never on the event loop
    with pytest.raises(UserExists):
        await users.create("ALICE", Role.VIEWER, PASSWORD)
    with pytest.raises(InvalidUserInput):
        await users.create("bob", "root", PASSWORD)


async def test_login_and_resolve(users: UserService, store: MemoryStore, clock: Clock) -> None:
    await users.create("alice", Role.VIEWER, PASSWORD)
    signed = await users.login("Alice", PASSWORD)
    assert signed.user.name == "alice" and signed.session.expires_at == T0 + timedelta(hours=1)
    assert signed.session.token_hash == hash_session_secret(signed.secret)
    assert list(store.user_sessions) == [signed.session.token_hash]
    found = await users.resolve(signed.secret)
    assert found is not None and found[1].name == "alice"
    assert await users.resolve("nope") is None
    assert await users.resolve("") is None
    # Use does not extend the session (absolute lifetime); last_seen is kept.
    clock.now = T0 + timedelta(minutes=30)
    found = await users.resolve(signed.secret)
    assert found is not None and found[0].last_seen_at == clock.now
    assert found[0].expires_at == T0 + timedelta(hours=1)
    clock.now = T0 + timedelta(hours=1)
    assert await users.resolve(signed.secret) is None
    stored = await store.get_user(signed.user.id or 0)
    assert stored is not None and stored.last_login_at == T0


async def test_unknown_user_costs_a_verification(
    users: UserService, hasher: CountingHasher
) -> None:
    with pytest.raises(InvalidCredentials):
        await users.login("ghost", PASSWORD)
    assert len(hasher.verified) == 1  # a dummy hash was checked, as for a real user
    with pytest.raises(InvalidCredentials):
        await users.login("ghost", PASSWORD)
    assert len(hasher.verified) == 2 and hasher.verified[0] == hasher.verified[1]


async def test_lockout_after_five_failures_then_expires(users: UserService, clock: Clock) -> None:
    await users.create("alice", Role.VIEWER, PASSWORD)
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await users.login("alice", "wrong password!")
    with pytest.raises(AccountLocked) as locked:
        await users.login("alice", "wrong password!")
    assert locked.value.retry_after == 900
    clock.now = T0 + timedelta(minutes=10)
    with pytest.raises(AccountLocked) as still:
        await users.login("alice", PASSWORD)  # even the right password
    assert still.value.retry_after == 300
    clock.now = T0 + timedelta(minutes=15)
    signed = await users.login("alice", PASSWORD)
    assert signed.user.failed_attempts == 0


async def test_success_resets_the_failure_count(users: UserService, store: MemoryStore) -> None:
    user = await users.create("alice", Role.VIEWER, PASSWORD)
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await users.login("alice", "wrong password!")
    await users.login("alice", PASSWORD)
    assert store.users[user.id or 0].failed_attempts == 0
    with pytest.raises(InvalidCredentials):
        await users.login("alice", "wrong password!")  # counting starts again: no lock


async def test_disabled_user_cannot_sign_in_and_loses_sessions(
    users: UserService, store: MemoryStore
) -> None:
    await users.create("root", Role.ADMIN, PASSWORD)
    alice = await users.create("alice", Role.OPERATOR, PASSWORD)
    assert alice.id is not None
    signed = await users.login("alice", PASSWORD)
    await users.update(alice.id, disabled=True)
    assert await users.resolve(signed.secret) is None and store.user_sessions == {}
    with pytest.raises(InvalidCredentials):
        await users.login("alice", PASSWORD)
    await users.update(alice.id, disabled=False)
    await users.login("alice", PASSWORD)


async def test_new_password_or_delete_ends_sessions(users: UserService, store: MemoryStore) -> None:
    await users.create("root", Role.ADMIN, PASSWORD)
    alice = await users.create("alice", Role.OPERATOR, PASSWORD)
    assert alice.id is not None
    first = await users.login("alice", PASSWORD)
    await users.update(alice.id, password="another good password")
    assert await users.resolve(first.secret) is None
    with pytest.raises(InvalidCredentials):
        await users.login("alice", PASSWORD)
    second = await users.login("alice", "another good password")
    await users.delete(alice.id)
    assert await users.resolve(second.secret) is None
    with pytest.raises(UserNotFound):
        await users.delete(alice.id)


async def test_the_last_admin_stays(users: UserService) -> None:
    root = await users.create("root", Role.ADMIN, PASSWORD)
    assert root.id is not None
    for change in ({"role": Role.OPERATOR}, {"disabled": True}):
        with pytest.raises(LastAdmin):
            await users.update(root.id, **change)  # type: ignore[arg-type]
    with pytest.raises(LastAdmin):
        await users.delete(root.id)
    other = await users.create("second", Role.ADMIN, PASSWORD)
    assert other.id is not None
    await users.update(root.id, role=Role.VIEWER)  # another admin exists now
    with pytest.raises(LastAdmin):
        await users.delete(other.id)
    # A disabled admin is not one: it may go; re-enabling it is allowed.
    await users.update(root.id, role=Role.ADMIN, disabled=True)
    await users.delete(root.id)


async def test_own_password_change(users: UserService) -> None:
    await users.create("alice", Role.VIEWER, PASSWORD)
    mine = await users.login("alice", PASSWORD)
    other = await users.login("alice", PASSWORD)
    with pytest.raises(InvalidCredentials):
        await users.change_own_password(mine.session, "not the password", "new good password")
    with pytest.raises(InvalidUserInput):
        await users.change_own_password(mine.session, PASSWORD, "short")
    await users.change_own_password(mine.session, PASSWORD, "new good password")
    assert await users.resolve(mine.secret) is not None
    assert await users.resolve(other.secret) is None


async def test_bootstrap_admin_is_idempotent_and_resets_the_password(
    users: UserService, hasher: CountingHasher
) -> None:
    created = await users.ensure_bootstrap_admin(PASSWORD)
    assert (created.name, created.role) == ("admin", Role.ADMIN)
    again = await users.ensure_bootstrap_admin(PASSWORD)
    assert again.id == created.id and again.password_hash == created.password_hash
    changed = await users.ensure_bootstrap_admin("a different password")
    assert changed.id == created.id and changed.password_hash != created.password_hash
    await users.login("admin", "a different password")
    with pytest.raises(InvalidUserInput):
        await users.ensure_bootstrap_admin("short")


async def test_hashing_runs_at_most_two_at_a_time(store: MemoryStore) -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    class Slow(PasswordHasher):
        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            threading.Event().wait(0.05)
            with lock:
                running -= 1
            return "$argon2id$fake"

    users = UserService(store, Settings(), hasher=Slow())
    await asyncio.gather(*(users.create(f"u{i}", Role.VIEWER, PASSWORD) for i in range(6)))
    assert peak == 2


def test_settings() -> None:
    s = load_settings(
        environ={
            "AMPYRE_LOGIN_MAX_FAILURES": "7",
            "AMPYRE_LOGIN_LOCKOUT_SECONDS": "60",
            "AMPYRE_SESSION_LIFETIME": "600",
            "AMPYRE_BOOTSTRAP_ADMIN_PASSWORD": "x" * 12,
        }
    )
    assert (s.login_max_failures, s.login_lockout_seconds, s.session_lifetime) == (7, 60, 600)
    assert s.bootstrap_admin_password == "x" * 12
    assert Settings().login_max_failures == 5 and Settings().session_lifetime == 12 * 3600
    with pytest.raises(ConfigError):
        load_settings(environ={"AMPYRE_LOGIN_MAX_FAILURES": "0"})
