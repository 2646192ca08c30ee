"""API tokens: issuing, checking, revoking. Only SHA-256 hashes are stored."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from ampyre.domain.models import ApiToken, Role
from ampyre.services import secrets
from ampyre.services.ports import Store

log = logging.getLogger(__name__)

NAME_MAX = 100


class InvalidTokenInput(ValueError):
    pass


class TokenService:
    def __init__(self, store: Store) -> None:
        self._store = store

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
        return token

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
        return await self._store.create_api_token(
            ApiToken(
                id=None,
                name=_validate_name(name),
                role=Role.ADMIN,
                token_hash=token_hash,
                created_at=datetime.now(UTC),
            )
        )

    async def list(self) -> list[ApiToken]:
        return await self._store.list_api_tokens()

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
