"""Bearer-token authentication and the admin > operator > viewer role ladder."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ampyre.api.problems import ApiProblem
from ampyre.domain.models import ApiToken, Role
from ampyre.services.tokens import TokenService

_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}
# The ASGI scope key under which the write guard leaves the token it already checked, so
# that a request is authenticated once (api/guard.py).
SCOPE_TOKEN = "ampyre.api_token"

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token (`ampyre token create`); roles: viewer (read), "
    "operator (read + station commands), admin (everything).",
)

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
RoleCheck = Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[ApiToken]]


def rank(role: Role) -> int:
    return _RANK[role]


def allows(granted: Role, required: Role) -> bool:
    return _RANK[granted] >= _RANK[required]


class Auth:
    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens
        self._checks: dict[Role, RoleCheck] = {role: self._make(role) for role in Role}

    def require(self, role: Role) -> RoleCheck:
        """A FastAPI dependency that yields the caller's token if it has at least `role`."""
        return self._checks[role]

    def required_role(self, dependency: object) -> Role | None:
        """The role a dependency made by `require` asks for (None: not one of ours)."""
        for role, check in self._checks.items():
            if dependency is check:
                return role
        return None

    async def identify(self, credentials: str | None, required: Role) -> ApiToken:
        """The token behind a bearer secret if it has at least `required`; else ApiProblem
        (401 without a usable token, 403 with too small a role)."""
        if credentials is None:
            raise ApiProblem(
                401,
                "an `Authorization: Bearer <token>` header is required",
                slug="unauthenticated",
                headers={"WWW-Authenticate": 'Bearer realm="ampyre"'},
            )
        token = await self._tokens.authenticate(credentials)
        if token is None:
            raise ApiProblem(
                401,
                "the API token is unknown or revoked",
                slug="unauthenticated",
                headers={"WWW-Authenticate": 'Bearer realm="ampyre", error="invalid_token"'},
            )
        check_role(token, required)
        return token

    def _make(self, required: Role) -> RoleCheck:
        async def check(request: Request, credentials: Credentials) -> ApiToken:
            known = request.scope.get(SCOPE_TOKEN)
            if isinstance(known, ApiToken):
                check_role(known, required)
                return known
            token = await self.identify(
                credentials.credentials if credentials is not None else None, required
            )
            request.scope[SCOPE_TOKEN] = token
            return token

        check.__name__ = f"require_{required.value}"
        return check


def check_role(token: ApiToken, required: Role) -> None:
    if not allows(token.role, required):
        raise ApiProblem(
            403,
            f"this needs the {required.value} role; the token has {token.role.value}",
            slug="forbidden",
            headers={"WWW-Authenticate": 'Bearer realm="ampyre", error="insufficient_scope"'},
        )
