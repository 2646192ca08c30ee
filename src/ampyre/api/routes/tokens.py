"""API tokens (admin only)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import API_PREFIX, INT32_MAX, Limit, Offset, problems
from ampyre.api.schemas import TokenCreate, TokenCreated, TokenOut, TokenPage
from ampyre.domain.models import Role


def tokens_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(
        prefix="/tokens", tags=["tokens"], dependencies=[Depends(auth.require(Role.ADMIN))]
    )

    @router.get("", responses=problems(422))
    async def list_tokens(limit: Limit = 50, offset: Offset = 0) -> TokenPage:
        """API tokens by id, revoked ones included (never their secrets)."""
        page = await deps.tokens.page(limit, offset)
        return TokenPage(
            items=[TokenOut.build(t) for t in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @router.post("", status_code=status.HTTP_201_CREATED, responses=problems(422))
    async def create_token(body: TokenCreate, response: Response) -> TokenCreated:
        """Issue a token. The secret is in this response only; store it now."""
        plaintext, token = await deps.tokens.create(body.name, body.role)
        response.headers["Location"] = f"{API_PREFIX}/tokens/{token.id}"
        response.headers["Cache-Control"] = "no-store"
        return TokenCreated(**TokenOut.build(token).model_dump(), token=plaintext)

    @router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(404))
    async def revoke_token(token_id: Annotated[int, Path(ge=0, le=INT32_MAX)]) -> Response:
        """Revoke a token; requests with it are refused from now on."""
        if not await deps.tokens.revoke(token_id):
            raise ApiProblem(404, f"no token with id {token_id}", slug="token-not-found")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
