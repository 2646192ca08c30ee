"""The dashboard's live data: `GET /overview` and the event stream `GET /stream`."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import problems
from ampyre.api.schemas_dashboard import OverviewOut
from ampyre.api.sse import (
    MEDIA_TYPE,
    EventStreamMedia,
    EventStreamResponse,
    parse_last_event_id,
)
from ampyre.domain.models import Role
from ampyre.services.clock import utcnow
from ampyre.services.dashboard import ALERTS, DashboardReads, utc_day_start
from ampyre.services.live import LiveHub, TooManyStreams

_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "server-sent events (see the README: event types and data)",
        "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
    }
}


def dashboard_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["dashboard"])
    viewer = [Depends(auth.require(Role.VIEWER))]

    def reads() -> DashboardReads:
        if deps.dashboard is None:
            raise ApiProblem(503, "the dashboard is not available", slug="not-available")
        return deps.dashboard

    def hub() -> LiveHub:
        if deps.live is None or not deps.live.ready:
            raise ApiProblem(
                503,
                "live updates are not available in this process",
                slug="not-available",
                headers={"Retry-After": "5"},
            )
        return deps.live

    @router.get("/overview", dependencies=viewer, responses=problems(503))
    async def overview() -> OverviewOut:
        """Stations by state, active transactions, energy delivered today (UTC), the
        message rate and the newest alerts: a few aggregate queries."""
        data = await reads().overview(utc_day_start(utcnow()), ALERTS)
        rate = deps.live.rate.rate if deps.live is not None else 0.0
        return OverviewOut.build(data, round(rate, 1))

    @router.get(
        "/stream",
        dependencies=viewer,
        response_model=None,
        response_class=EventStreamMedia,
        responses={**_STREAM_DOC, **problems(503)},
    )
    async def stream(
        last_event_id: Annotated[str | None, Header(max_length=64)] = None,
    ) -> EventStreamResponse:
        """Live updates as server-sent events: every domain event (`station.connected`,
        `station.status_changed`, `transaction.updated`, ...) with the outbox position as
        its id, `stats` every 2 s, a keep-alive comment every 15 s. Reconnecting with
        `Last-Event-ID` replays what was missed, or sends `reset` when it is gone. 503
        beyond AMPYRE_STREAM_MAX_CLIENTS open streams."""
        live = hub()
        try:
            sub = live.subscribe()
        except TooManyStreams as exc:
            raise ApiProblem(
                503, str(exc), slug="too-many-streams", headers={"Retry-After": "10"}
            ) from None
        return EventStreamResponse(live, sub, parse_last_event_id(last_event_id))

    return router
