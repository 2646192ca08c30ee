"""API tokens: issuing, checking, revoking. Only SHA-256 hashes are stored."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from ampyre.domain.models import ApiToken, Page, Role
from ampyre.services import secrets
from ampyre.services.ports import Store, StoreUnavailable

log = logging.getLogger(__name__)

NAME_MAX = 100
# `last_used_at` is written at most this often per token (seconds): a busy client must not
# turn every request into a database write.
LAST_USED_EVERY = 60.0


class TokenUsage(Protocol):
    """Where `last_used_at` is written (adapters/db/token_usage.py)."""

    async def touch_api_token(self, token_id: int, at: datetime) -> None: ...


class InvalidTokenInput(ValueError):
    pass


class TokenService:
    def __init__(
        self,
        store: Store,
        usage: TokenUsage | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._usage = usage
        self._clock = clock
        self._written: dict[int, float] = {}  # token id -> clock() of the last write

    async def create(self, name: str, role: Role | str) -> tuple[str, ApiToken]:
        """Issue a new token; the plaintext is returned once and never stored."""
        name = _validate_name(name)
        plaintext = secrets.new_api_token()
        token = await self._store.create_api_token(
            ApiToken(
                id=None,
                name=name,
                role=_role(role),
                token_hash=secrets.hash_api_token(plaintext),
                created_at=datetime.now(UTC),
            )
        )
        return plaintext, token

    async def authenticate(self, plaintext: str) -> ApiToken | None:
        if not plaintext:
            return None
        token = await self._store.find_api_token(secrets.hash_api_token(plaintext))
        if token is None or token.revoked:
            return None
        return await self._mark_used(token)

    async def _mark_used(self, token: ApiToken) -> ApiToken:
        if self._usage is None or token.id is None:
            return token
        now = self._clock()
        last = self._written.get(token.id)
        if last is not None and now - last < LAST_USED_EVERY:
            return token
        at = datetime.now(UTC)
        # First use since this process started: another process (or our previous life)
        # may have written it moments ago.
        recent = token.last_used_at is not None and (
            (at - token.last_used_at).total_seconds() < LAST_USED_EVERY
        )
        if last is None and recent:
            self._written[token.id] = now
            return token
        self._written[token.id] = now
        try:
            await self._usage.touch_api_token(token.id, at)
        except StoreUnavailable as exc:
            # Bookkeeping only: the request itself must not fail for it.
            log.warning("could not record the use of API token %d: %s", token.id, exc)
            return token
        return dataclasses.replace(token, last_used_at=at)

    async def ensure_bootstrap(self, plaintext: str, name: str = "bootstrap") -> ApiToken:
        """Make sure an admin token with exactly this value exists (AMPYRE_BOOTSTRAP_TOKEN).

        Idempotent across restarts. A token an operator has revoked stays revoked: removing
        the setting, not a restart, is how access is given back deliberately.
        """
        if not plaintext or plaintext != plaintext.strip() or any(c.isspace() for c in plaintext):
            raise InvalidTokenInput("bootstrap token must be non-empty and contain no whitespace")
        token_hash = secrets.hash_api_token(plaintext)
        existing = await self._store.find_api_token(token_hash)
        if existing is not None:
            if existing.revoked:
                log.warning("the bootstrap API token %r was revoked; it stays revoked", name)
            elif existing.role is not Role.ADMIN:
                log.warning("the bootstrap API token exists with role %s, not admin", existing.role)
            return existing
        try:
            return await self._store.create_api_token(
                ApiToken(
                    id=None,
                    name=_validate_name(name),
                    role=Role.ADMIN,
                    token_hash=token_hash,
                    created_at=datetime.now(UTC),
                )
            )
        except KeyError:  # another node (a worker started with this one) created it meanwhile
            created = await self._store.find_api_token(token_hash)
            if created is None:
                raise
            return created

    async def list(self) -> list[ApiToken]:
        return await self._store.list_api_tokens()

    async def page(self, limit: int, offset: int) -> Page:
        """Tokens by id (there are few: the store returns them all, the page is cut here)."""
        tokens = await self._store.list_api_tokens()
        limit, offset = max(0, limit), max(0, offset)
        return Page(
            items=tokens[offset : offset + limit], total=len(tokens), limit=limit, offset=offset
        )

    async def revoke(self, token_id: int) -> bool:
        return await self._store.revoke_api_token(token_id)


def _validate_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidTokenInput(f"token name must be 1..{NAME_MAX} characters")
    return name


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidTokenInput(f"role must be one of {allowed}") from None
