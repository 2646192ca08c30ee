"""Sign-in sessions of dashboard users: `POST/GET/DELETE /api/v1/session` and
`POST /api/v1/session/password`.

The session lives in an HttpOnly, SameSite=Strict cookie (Secure over https); the JSON
answer carries the CSRF token that writes made with the cookie must send back as
X-CSRF-Token (api/auth.py). Signing in needs no CSRF token (there is no session yet), so
it refuses requests a browser marks as coming from another site instead (Sec-Fetch-Site,
Origin): a forged sign-in into an attacker's account is refused.
"""

import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response, status

from ampyre.api.auth import SCOPE_SESSION, SESSION_COOKIE, Auth, session_secret
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import problems
from ampyre.api.routes.users import user_problem
from ampyre.api.schemas_users import PasswordChange, SessionCreate, SessionOut, SessionUser
from ampyre.domain.models import Role
from ampyre.domain.users import User, UserSession
from ampyre.services.users import AccountLocked, InvalidCredentials, UserService

log = logging.getLogger("ampyre.audit.sessions")

BAD_CREDENTIALS = "unknown user name or wrong password"


def session_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(prefix="/session", tags=["session"])

    def users() -> UserService:
        if auth.users is None:
            raise ApiProblem(503, "dashboard users are not available", slug="unavailable")
        return auth.users

    @router.post("", responses=problems(422, 429))
    async def sign_in(body: SessionCreate, request: Request, response: Response) -> SessionOut:
        """Sign in with a user name and password. Sets the `ampyre_session` cookie."""
        _refuse_cross_site(request)
        client = request.client.host if request.client else "?"
        try:
            signed_in = await users().login(body.username, body.password)
        except InvalidCredentials:
            log.info("failed sign-in as %r from %s", body.username, client)
            raise ApiProblem(401, BAD_CREDENTIALS, slug="bad-credentials") from None
        except AccountLocked as exc:
            log.info("sign-in as %r from %s refused: account locked", body.username, client)
            raise _locked(exc) from None
        log.info("user %r signed in from %s", signed_in.user.name, client)
        session = signed_in.session
        max_age = int((session.expires_at - datetime.now(UTC)).total_seconds())
        response.set_cookie(
            SESSION_COOKIE,
            signed_in.secret,
            max_age=max(0, max_age),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        response.headers["Cache-Control"] = "no-store"
        return _out(session, signed_in.user)

    @router.get("", responses=problems())
    async def current_session(request: Request, response: Response) -> SessionOut:
        """The signed-in user and the session's CSRF token (401 without a live session)."""
        session, user = await _session(request, users())
        response.headers["Cache-Control"] = "no-store"
        return _out(session, user)

    @router.delete(
        "",
        status_code=status.HTTP_204_NO_CONTENT,
        dependencies=[Depends(auth.require(Role.VIEWER))],
        responses=problems(),
    )
    async def sign_out(request: Request) -> Response:
        """Sign out: the session ends and the cookie is cleared."""
        found = request.scope.get(SCOPE_SESSION)
        if found is not None:
            await users().logout(found[0])
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        response.delete_cookie(
            SESSION_COOKIE,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    @router.post(
        "/password",
        status_code=status.HTTP_204_NO_CONTENT,
        dependencies=[Depends(auth.require(Role.VIEWER))],
        responses=problems(400, 422, 429),
    )
    async def change_password(body: PasswordChange, request: Request) -> Response:
        """Change the signed-in user's own password. Their other sessions end."""
        found = request.scope.get(SCOPE_SESSION)
        if found is None:
            # An API token has no password: a bad request rather than a missing role.
            raise ApiProblem(
                400, "only a signed-in user can change their password", slug="session-required"
            )
        try:
            await users().change_own_password(found[0], body.current_password, body.new_password)
        except InvalidCredentials:
            raise ApiProblem(403, "the current password is wrong", slug="bad-credentials") from None
        except AccountLocked as exc:
            raise _locked(exc) from None
        except Exception as exc:
            raise user_problem(exc) from exc
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router


async def _session(request: Request, users: UserService) -> tuple[UserSession, User]:
    secret = session_secret(request.scope)
    found = await users.resolve(secret) if secret else None
    if found is None:
        raise ApiProblem(401, "not signed in (or the session has ended)", slug="unauthenticated")
    return found


def _out(session: UserSession, user: User) -> SessionOut:
    assert user.id is not None
    return SessionOut(
        user=SessionUser(id=user.id, name=user.name, role=user.role),
        csrf_token=session.csrf_token,
        expires_at=session.expires_at,
    )


def _locked(exc: AccountLocked) -> ApiProblem:
    return ApiProblem(
        429,
        "too many failed sign-ins: the account is locked for a while",
        slug="locked",
        headers={"Retry-After": str(exc.retry_after)},
        locked_until=exc.until.isoformat(),
    )


def _refuse_cross_site(request: Request) -> None:
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise ApiProblem(403, "sign-in from another site is refused", slug="cross-site")
    origin = request.headers.get("origin")
    if origin is None:
        return  # not a browser's cross-origin request (curl, scripts)
    host = request.headers.get("host", "")
    parts = urlsplit(origin)
    if origin == "null" or not parts.netloc or parts.netloc.lower() != host.lower():
        raise ApiProblem(403, "sign-in from another origin is refused", slug="cross-site")
