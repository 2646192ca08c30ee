"""Bearer-token authentication and the admin > operator > viewer role ladder."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ampyre.api.problems import ApiProblem
from ampyre.domain.models import ApiToken, Role
from ampyre.services.tokens import TokenService

_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token (`ampyre token create`); roles: viewer (read), "
    "operator (read + station commands), admin (everything).",
)

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
RoleCheck = Callable[[HTTPAuthorizationCredentials | None], Awaitable[ApiToken]]


def allows(granted: Role, required: Role) -> bool:
    return _RANK[granted] >= _RANK[required]


class Auth:
    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens
        self._checks: dict[Role, RoleCheck] = {role: self._make(role) for role in Role}

    def require(self, role: Role) -> RoleCheck:
        """A FastAPI dependency that yields the caller's token if it has at least `role`."""
        return self._checks[role]

    def _make(self, required: Role) -> RoleCheck:
        tokens = self._tokens

        async def check(credentials: Credentials) -> ApiToken:
            if credentials is None:
                raise ApiProblem(
                    401,
                    "an `Authorization: Bearer <token>` header is required",
                    slug="unauthenticated",
                    headers={"WWW-Authenticate": 'Bearer realm="ampyre"'},
                )
            token = await tokens.authenticate(credentials.credentials)
            if token is None:
                raise ApiProblem(
                    401,
                    "the API token is unknown or revoked",
                    slug="unauthenticated",
                    headers={"WWW-Authenticate": 'Bearer realm="ampyre", error="invalid_token"'},
                )
            if not allows(token.role, required):
                raise ApiProblem(
                    403,
                    f"this needs the {required.value} role; the token has {token.role.value}",
                    slug="forbidden",
                    headers={
                        "WWW-Authenticate": 'Bearer realm="ampyre", error="insufficient_scope"'
                    },
                )
            return token

        check.__name__ = f"require_{required.value}"
        return check
