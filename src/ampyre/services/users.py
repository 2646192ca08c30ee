"""Dashboard users: accounts, passwords (Argon2id), lockout, and sign-in sessions.

Passwords are hashed with argon2-cffi's `PasswordHasher` (Argon2id, its default
parameters) in a worker thread, at most `hash_slots` at a time: a hash takes tens of
milliseconds and 64 MiB, and the event loop must never wait for one.

Sign-in answers the same for an unknown user, a wrong password and a disabled account;
an unknown user still costs one verification (of a dummy hash) so that timing does not
tell them apart. After `login_max_failures` wrong passwords in a row an account is locked
for `login_lockout_seconds` (AccountLocked, even with the right password).

Sessions: the browser holds a random secret; the store keeps only its SHA-256. A session
ends `session_lifetime` after sign-in (absolute: use does not extend it), on sign-out, or
when the user is disabled, deleted or gets a new password (all their sessions go). The
user's current role is read with the session on every request, so a role change applies
at once. The last enabled admin cannot be deleted, demoted or disabled.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ampyre.config import Settings
from ampyre.domain.models import Role
from ampyre.domain.users import (
    NAME_PATTERN,
    PASSWORD_MAX,
    PASSWORD_MIN,
    LockoutPolicy,
    User,
    UserSession,
)
from ampyre.services.clock import utcnow
from ampyre.services.ports import StoreUnavailable, UserStore

log = logging.getLogger(__name__)

# last_seen_at of a session is written at most this often (a busy dashboard must not turn
# every request into a database write).
SEEN_EVERY = timedelta(seconds=60)
BOOTSTRAP_ADMIN = "admin"


class InvalidUserInput(ValueError):
    """A name, role or password the policy refuses (422)."""


class UserExists(Exception):
    pass


class UserNotFound(LookupError):
    pass


class LastAdmin(Exception):
    """The change would leave no enabled admin (409)."""


class InvalidCredentials(Exception):
    """Unknown user, wrong password or disabled account: callers cannot tell which."""


class AccountLocked(Exception):
    def __init__(self, until: datetime, now: datetime) -> None:
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until
        self.retry_after = max(1, int((until - now).total_seconds() + 0.999))


@dataclass(frozen=True, slots=True)
class SignedIn:
    secret: str  # the cookie value; shown to the browser only
    session: UserSession
    user: User


def hash_session_secret(secret: str) -> str:
    # 256-bit random values: a plain SHA-256 keeps a leaked table useless and allows
    # lookup by hash (as for API tokens).
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_name(name: object) -> str:
    if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
        raise InvalidUserInput(
            "user name must be 1..64 characters: letters, digits and . _ @ - "
            "(starting with a letter or digit)"
        )
    return name


def validate_password(password: object, name: str | None = None) -> str:
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidUserInput(f"password must be {PASSWORD_MIN}..{PASSWORD_MAX} characters long")
    if not password.strip():
        raise InvalidUserInput("password must not be only spaces")
    if name is not None and password.strip().lower() == name.lower():
        raise InvalidUserInput("password must not be the user name")
    return password


def parse_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidUserInput(f"role must be one of {allowed}") from None


class UserService:
    def __init__(
        self,
        store: UserStore,
        settings: Settings,
        *,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] = utcnow,
        hash_slots: int = 2,
    ) -> None:
        self._store = store
        self._hasher = hasher or PasswordHasher()
        self._clock = clock
        self._slots = asyncio.Semaphore(hash_slots)
        self._dummy_hash: str | None = None
        self.policy = LockoutPolicy(
            settings.login_max_failures, timedelta(seconds=settings.login_lockout_seconds)
        )
        self.lifetime = timedelta(seconds=settings.session_lifetime)

    # ------------------------------------------------------------------ hashing

    async def _hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def _verify(self, password_hash: str, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(_verify, self._hasher, password_hash, password)

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self._hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    async def warm(self) -> None:
        """Make the dummy hash now, so that even the first sign-in of an unknown user
        costs one verification, like any other."""
        await self._dummy()

    # ------------------------------------------------------------------ accounts

    async def create(self, name: str, role: Role | str, password: str) -> User:
        name = validate_name(name)
        role = parse_role(role)
        validate_password(password, name)
        now = self._clock()
        try:
            return await self._store.create_user(
                User(
                    id=None,
                    name=name,
                    role=role,
                    password_hash=await self._hash(password),
                    created_at=now,
                    updated_at=now,
                )
            )
        except KeyError:
            raise UserExists(f"a user named {name!r} exists (names ignore case)") from None

    async def list(self) -> list[User]:
        return await self._store.list_users()

    async def get(self, user_id: int) -> User:
        user = await self._store.get_user(user_id)
        if user is None:
            raise UserNotFound(f"no user with id {user_id}")
        return user

    async def find(self, name: str) -> User:
        user = await self._store.find_user(name)
        if user is None:
            raise UserNotFound(f"no user named {name!r}")
        return user

    async def update(
        self,
        user_id: int,
        *,
        role: Role | str | None = None,
        password: str | None = None,
        disabled: bool | None = None,
        keep_session: str | None = None,
    ) -> User:
        """Change role, password and/or disabled. A new password or disabling ends the
        user's sessions (except `keep_session`, a session hash); a new password or
        enabling also lifts a lock."""
        user = await self.get(user_id)
        assert user.id is not None
        new_role = parse_role(role) if role is not None else user.role
        if password is not None:
            validate_password(password, user.name)
        enabled_admin = user.role is Role.ADMIN and not user.disabled
        if enabled_admin and (new_role is not Role.ADMIN or disabled is True):
            await self._keep_an_admin()
        revoke = False
        user.role = new_role
        if password is not None:
            user.password_hash = await self._hash(password)
            user.failed_attempts, user.locked_until = 0, None
            revoke = True
        if disabled is not None:
            revoke = revoke or (disabled and not user.disabled)
            if user.disabled and not disabled:
                user.failed_attempts, user.locked_until = 0, None
            user.disabled = disabled
        user.updated_at = self._clock()
        updated = await self._store.update_user(user)
        if updated is None:
            raise UserNotFound(f"no user with id {user_id}")
        if revoke:
            await self._store.delete_user_sessions(user.id, keep=keep_session)
        return updated

    async def delete(self, user_id: int) -> None:
        user = await self.get(user_id)
        if user.role is Role.ADMIN and not user.disabled:
            await self._keep_an_admin()
        if not await self._store.delete_user(user_id):
            raise UserNotFound(f"no user with id {user_id}")

    async def _keep_an_admin(self) -> None:
        # Checked before the write: two admins demoting each other in the same instant
        # could both pass; `ampyre user create --role admin` is the way back in.
        if await self._store.count_admins() <= 1:
            raise LastAdmin("the last enabled admin cannot be deleted, demoted or disabled")

    async def ensure_bootstrap_admin(self, password: str, name: str = BOOTSTRAP_ADMIN) -> User:
        """AMPYRE_BOOTSTRAP_ADMIN_PASSWORD: make sure user `name` exists with this password
        (created as admin; an existing user gets the password if it differs). Its role and
        disabled flag are left as an admin set them, like a revoked bootstrap token."""
        validate_password(password, name)
        existing = await self._store.find_user(name)
        if existing is None:
            try:
                return await self.create(name, Role.ADMIN, password)
            except UserExists:  # another node created it meanwhile
                existing = await self.find(name)
        assert existing.id is not None
        if existing.role is not Role.ADMIN or existing.disabled:
            log.warning(
                "bootstrap user %r is %s%s, not an enabled admin; left so",
                name,
                existing.role.value,
                " (disabled)" if existing.disabled else "",
            )
        if await self._verify(existing.password_hash, password):
            return existing
        log.info("bootstrap user %r: password set from AMPYRE_BOOTSTRAP_ADMIN_PASSWORD", name)
        return await self.update(existing.id, password=password)

    # ------------------------------------------------------------------ sign-in

    async def login(self, name: str, password: str) -> SignedIn:
        """A new session, or InvalidCredentials / AccountLocked."""
        now = self._clock()
        user = None
        if isinstance(name, str) and NAME_PATTERN.fullmatch(name):
            user = await self._store.find_user(name)
        if not isinstance(password, str) or len(password) > PASSWORD_MAX:
            password = ""  # never hash more than the policy allows; fails below
        if user is None:
            await self._verify(await self._dummy(), password)
            raise InvalidCredentials
        assert user.id is not None
        if user.locked(now):
            assert user.locked_until is not None
            raise AccountLocked(user.locked_until, now)
        if not password or not await self._verify(user.password_hash, password):
            failed = await self._store.record_login_failure(user.id, self.policy, now)
            if failed is not None and failed.locked(now):
                assert failed.locked_until is not None
                log.warning(
                    "user %r locked until %s after %d failed sign-ins",
                    user.name,
                    failed.locked_until.isoformat(),
                    self.policy.max_failures,
                )
                raise AccountLocked(failed.locked_until, now)
            raise InvalidCredentials
        if user.disabled:
            raise InvalidCredentials
        await self._store.record_login_success(user.id, now)
        if self._hasher.check_needs_rehash(user.password_hash):
            await self.update(user.id, password=password)
        await self._store.prune_sessions(now)
        secret = secrets.token_urlsafe(32)
        session = UserSession(
            token_hash=hash_session_secret(secret),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + self.lifetime,
            last_seen_at=now,
        )
        await self._store.create_session(session)
        user.last_login_at, user.failed_attempts = now, 0
        return SignedIn(secret, session, user)

    async def resolve(self, secret: str) -> tuple[UserSession, User] | None:
        """The live session behind a cookie's secret, with its user; None if unknown,
        expired or the user is disabled."""
        if not secret or len(secret) > 256:
            return None
        found = await self._store.find_session(hash_session_secret(secret))
        if found is None:
            return None
        session, user = found
        now = self._clock()
        if session.expires_at <= now or user.disabled:
            return None
        if now - session.last_seen_at >= SEEN_EVERY:
            try:
                await self._store.touch_session(session.token_hash, now)
                session.last_seen_at = now
            except StoreUnavailable as exc:  # bookkeeping only
                log.warning("could not record the use of a session: %s", exc)
        return session, user

    async def logout(self, session: UserSession) -> None:
        await self._store.delete_session(session.token_hash)

    async def change_own_password(self, session: UserSession, current: str, new: str) -> User:
        """A signed-in user's own change: the current password must be right (a wrong
        one counts toward the lockout); the user's other sessions end, this one stays."""
        user = await self.get(session.user_id)
        assert user.id is not None
        now = self._clock()
        if user.locked(now):
            assert user.locked_until is not None
            raise AccountLocked(user.locked_until, now)
        ok = isinstance(current, str) and len(current) <= PASSWORD_MAX
        if not ok or not await self._verify(user.password_hash, current):
            failed = await self._store.record_login_failure(user.id, self.policy, now)
            if failed is not None and failed.locked(now):
                assert failed.locked_until is not None
                raise AccountLocked(failed.locked_until, now)
            raise InvalidCredentials
        return await self.update(user.id, password=new, keep_session=session.token_hash)


def _verify(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
