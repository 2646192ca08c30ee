"""The OCPP message (audit) log."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.routes._common import Limit, Offset, problems
from ampyre.api.schemas import MessageOut, MessagePage
from ampyre.domain.models import Direction, Role


def messages_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(prefix="/messages", tags=["messages"])

    @router.get("", dependencies=[Depends(auth.require(Role.VIEWER))], responses=problems(422))
    async def list_messages(
        station_id: Annotated[
            str | None, Query(max_length=48, description="only this station's frames")
        ] = None,
        action: Annotated[
            str | None,
            Query(
                pattern=r"^[A-Za-z][A-Za-z0-9]{0,63}$",
                description="only this OCPP action's frames (requests and their replies)",
                examples=["StatusNotification"],
            ),
        ] = None,
        direction: Annotated[
            Direction | None,
            Query(description="only frames going this way: in (from stations) or out"),
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> MessagePage:
        """OCPP frames in both directions, newest first; `total` counts those matching."""
        page = await deps.store.list_messages(
            station_id,
            limit,
            offset,
            action=action,
            direction=direction.value if direction is not None else None,
        )
        return MessagePage(
            items=[MessageOut.build(m) for m in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    return router
