"""Authentication (a bearer API token or a dashboard session cookie) and the
admin > operator > viewer role ladder.

Either way the caller is an `ApiToken`: a session yields one named "user:NAME" with the
user's current role and no id, so routes and the operator audit trail treat both alike.
A bearer header wins over a cookie (and needs no CSRF token: a browser never adds it by
itself). A write with the cookie needs `X-CSRF-Token` equal to the session's token.
"""

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import cookie_parser
from starlette.types import Scope

from ampyre.api.problems import ApiProblem
from ampyre.domain.models import ApiToken, Role
from ampyre.domain.users import User, UserSession
from ampyre.services.tokens import TokenService
from ampyre.services.users import UserService

log = logging.getLogger(__name__)

_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}
# The ASGI scope key under which the write guard leaves the token it already checked, so
# that a request is authenticated once (api/guard.py).
SCOPE_TOKEN = "ampyre.api_token"
# ... and, for a cookie caller, its (UserSession, User).
SCOPE_SESSION = "ampyre.user_session"
SESSION_COOKIE = "ampyre_session"
CSRF_HEADER = b"x-csrf-token"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

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
    def __init__(self, tokens: TokenService, users: UserService | None = None) -> None:
        self._tokens = tokens
        self.users = users
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
                "an `Authorization: Bearer <token>` header (or a signed-in session) is required",
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

    async def identify_scope(self, scope: Scope, required: Role, *, write: bool) -> ApiToken:
        """The caller of a request, by bearer token or else by session cookie (with the
        CSRF check when `write`); ApiProblem 401/403 as `identify`, 403 "csrf"."""
        bearer = bearer_of(scope)
        if bearer is not None or self.users is None:
            return await self.identify(bearer, required)
        secret = session_secret(scope)
        if secret is None:
            return await self.identify(None, required)
        found = await self.users.resolve(secret)
        if found is None:
            raise ApiProblem(
                401,
                "the session has ended or expired; sign in again",
                slug="unauthenticated",
                headers={"WWW-Authenticate": 'Bearer realm="ampyre"'},
            )
        session, user = found
        if write:
            check_csrf(scope, session, user)
        principal = user_principal(user, session)
        scope[SCOPE_SESSION] = found
        check_role(principal, required)
        return principal

    def _make(self, required: Role) -> RoleCheck:
        # `_credentials` is declared for the OpenAPI document (the bearer scheme);
        # identify_scope reads the same header, and the session cookie without one.
        async def check(request: Request, _credentials: Credentials) -> ApiToken:
            known = request.scope.get(SCOPE_TOKEN)
            if isinstance(known, ApiToken):
                check_role(known, required)
                return known
            write = request.method in WRITE_METHODS
            token = await self.identify_scope(request.scope, required, write=write)
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


def user_principal(user: User, session: UserSession) -> ApiToken:
    """A signed-in user as the API sees callers (see the module docstring)."""
    return ApiToken(
        id=None,
        name=f"user:{user.name}",
        role=user.role,
        token_hash="",
        created_at=session.created_at,
    )


def check_csrf(scope: Scope, session: UserSession, user: User) -> None:
    given = header(scope, CSRF_HEADER) or ""
    if not hmac.compare_digest(given.encode(), session.csrf_token.encode()):
        log.warning(
            "write by user %r refused: %s X-CSRF-Token",
            user.name,
            "wrong" if given else "no",
        )
        raise ApiProblem(
            403,
            "writes with a session cookie need the header X-CSRF-Token "
            "(the csrf_token of GET /api/v1/session)",
            slug="csrf",
        )


def bearer_of(scope: Scope) -> str | None:
    """The secret of `Authorization: Bearer <secret>` (as fastapi's HTTPBearer reads it)."""
    value = header(scope, b"authorization")
    scheme, credentials = get_authorization_scheme_param(value)
    if not (value and scheme and credentials) or scheme.lower() != "bearer":
        return None
    return credentials


def session_secret(scope: Scope) -> str | None:
    raw = header(scope, b"cookie")
    if not raw or SESSION_COOKIE not in raw:
        return None
    return cookie_parser(raw).get(SESSION_COOKIE) or None


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None
