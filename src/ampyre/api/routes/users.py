"""Dashboard users (admin only). Passwords go in, never a hash comes out."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from ampyre.api.auth import SCOPE_SESSION, Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import API_PREFIX, INT32_MAX, Limit, Offset, problems
from ampyre.api.schemas_users import UserCreate, UserOut, UserPage, UserPatch
from ampyre.domain.models import Role
from ampyre.services.users import (
    InvalidUserInput,
    LastAdmin,
    UserExists,
    UserNotFound,
    UserService,
)

UserId = Annotated[int, Path(ge=0, le=INT32_MAX)]


def user_problem(exc: Exception) -> Exception:
    """The problem a service error is (other exceptions pass unchanged)."""
    if isinstance(exc, InvalidUserInput):
        return ApiProblem(
            422,
            str(exc),
            slug="validation-error",
            title="Invalid request",
            errors=[{"loc": ["body"], "msg": str(exc), "type": "value_error"}],
        )
    if isinstance(exc, UserExists):
        return ApiProblem(409, str(exc), slug="user-exists")
    if isinstance(exc, UserNotFound):
        return ApiProblem(404, str(exc), slug="user-not-found")
    if isinstance(exc, LastAdmin):
        return ApiProblem(409, str(exc), slug="last-admin")
    return exc


def users_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(
        prefix="/users", tags=["users"], dependencies=[Depends(auth.require(Role.ADMIN))]
    )

    def users() -> UserService:
        if auth.users is None:
            raise ApiProblem(503, "dashboard users are not available", slug="unavailable")
        return auth.users

    @router.get("", responses=problems(422))
    async def list_users(limit: Limit = 50, offset: Offset = 0) -> UserPage:
        """Dashboard users by id."""
        everyone = await users().list()
        return UserPage(
            items=[UserOut.build(u) for u in everyone[offset : offset + limit]],
            total=len(everyone),
            limit=limit,
            offset=offset,
        )

    @router.post("", status_code=status.HTTP_201_CREATED, responses=problems(409, 422))
    async def create_user(body: UserCreate, response: Response) -> UserOut:
        """Create a user (password: at least 12 characters)."""
        try:
            user = await users().create(body.name, body.role, body.password)
        except Exception as exc:
            raise user_problem(exc) from exc
        response.headers["Location"] = f"{API_PREFIX}/users/{user.id}"
        return UserOut.build(user)

    @router.get("/{user_id}", responses=problems(404, 422))
    async def get_user(user_id: UserId) -> UserOut:
        try:
            return UserOut.build(await users().get(user_id))
        except Exception as exc:
            raise user_problem(exc) from exc

    @router.patch("/{user_id}", responses=problems(404, 409, 422))
    async def update_user(user_id: UserId, body: UserPatch, request: Request) -> UserOut:
        """Change role, password or disabled. A new password or disabling ends the user's
        sessions (an admin's own current session stays when they set their password);
        a new password or enabling lifts a lock. The last enabled admin stays one."""
        found = request.scope.get(SCOPE_SESSION)
        own = found[0].token_hash if found is not None else None
        try:
            user = await users().update(
                user_id,
                role=body.role,
                password=body.password,
                disabled=body.disabled,
                keep_session=own,
            )
        except Exception as exc:
            raise user_problem(exc) from exc
        return UserOut.build(user)

    @router.delete(
        "/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(404, 409)
    )
    async def delete_user(user_id: UserId) -> Response:
        """Delete a user and end their sessions (not the last enabled admin)."""
        try:
            await users().delete(user_id)
        except Exception as exc:
            raise user_problem(exc) from exc
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
