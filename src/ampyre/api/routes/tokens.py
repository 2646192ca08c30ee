"""API tokens (admin only)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import API_PREFIX, problems
from ampyre.api.schemas import TokenCreate, TokenCreated, TokenOut
from ampyre.domain.models import Role


def tokens_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(
        prefix="/tokens", tags=["tokens"], dependencies=[Depends(auth.require(Role.ADMIN))]
    )

    @router.get("", responses=problems())
    async def list_tokens() -> list[TokenOut]:
        return [TokenOut.build(t) for t in await deps.tokens.list()]

    @router.post("", status_code=status.HTTP_201_CREATED, responses=problems(422))
    async def create_token(body: TokenCreate, response: Response) -> TokenCreated:
        """Issue a token. The secret is in this response only; store it now."""
        plaintext, token = await deps.tokens.create(body.name, body.role)
        response.headers["Location"] = f"{API_PREFIX}/tokens/{token.id}"
        response.headers["Cache-Control"] = "no-store"
        return TokenCreated(**TokenOut.build(token).model_dump(), token=plaintext)

    @router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(404))
    async def revoke_token(token_id: Annotated[int, Path(ge=0)]) -> Response:
        """Revoke a token; requests with it are refused from now on."""
        if not await deps.tokens.revoke(token_id):
            raise ApiProblem(404, f"no token with id {token_id}", slug="token-not-found")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
