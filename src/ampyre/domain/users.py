"""Dashboard users and their sign-in sessions, and the lockout rule (no I/O here)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from ampyre.domain.models import Role

# User names: what fits a login form and a log line, compared ignoring case.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
PASSWORD_MIN = 12
# Argon2 hashes whatever it is given: a bound keeps one request from costing much more.
PASSWORD_MAX = 1024


@dataclass(slots=True)
class User:
    id: int | None
    name: str
    role: Role
    password_hash: str
    disabled: bool = False
    failed_attempts: int = 0  # failed sign-ins in a row since the last success or lock
    locked_until: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_login_at: datetime | None = None

    @property
    def name_key(self) -> str:
        return name_key(self.name)

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


@dataclass(slots=True)
class UserSession:
    """A signed-in browser. Only the SHA-256 of the cookie's random secret is stored."""

    token_hash: str
    user_id: int
    csrf_token: str
    created_at: datetime
    expires_at: datetime  # absolute: sign-in + session lifetime, never extended
    last_seen_at: datetime


def name_key(name: str) -> str:
    """The form in which names are unique (case-insensitive)."""
    return name.lower()


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    max_failures: int
    lock_for: timedelta


def after_failure(
    failed_attempts: int, policy: LockoutPolicy, now: datetime
) -> tuple[int, datetime | None]:
    """(failed_attempts, locked_until) after one more failed sign-in: the count grows until
    it reaches the limit, then the account is locked for a while and counting restarts."""
    failed = failed_attempts + 1
    if failed >= policy.max_failures:
        return 0, now + policy.lock_for
    return failed, None
