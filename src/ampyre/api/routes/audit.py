"""The operator audit trail: REST writes and commands (admin only)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, Limit, Offset, problems
from ampyre.api.schemas_audit import OperatorActionOut, OperatorActionPage
from ampyre.domain.models import Role
from ampyre.services.operator_audit import OperatorActionFilter


def audit_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(
        prefix="/audit", tags=["audit"], dependencies=[Depends(auth.require(Role.ADMIN))]
    )

    @router.get("", responses=problems(422, 503))
    async def list_operator_actions(
        token_id: Annotated[int | None, Query(ge=0, le=INT32_MAX)] = None,
        token_name: Annotated[str | None, Query(max_length=255)] = None,
        station_id: Annotated[str | None, Query(max_length=255)] = None,
        since: Annotated[datetime | None, Query(description="at or after (ISO 8601)")] = None,
        until: Annotated[datetime | None, Query(description="before (ISO 8601)")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> OperatorActionPage:
        """Writes and commands made through this API (who, what, when, how it ended),
        newest first. Request bodies are shown with passwords, keys and secrets masked."""
        if deps.operator_audit is None:
            raise ApiProblem(
                503, "the operator audit trail is not available here", slug="not-available"
            )
        where = OperatorActionFilter(
            token_id=token_id,
            token_name=token_name,
            station_id=station_id,
            since=since,
            until=until,
        )
        page = await deps.operator_audit.list(where, limit, offset)
        return OperatorActionPage(
            items=[OperatorActionOut.build(a) for a in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    return router
