"""Sites and load management (issue 18 parts 4 and 6).

- `GET|POST /sites`, `GET|PUT|DELETE /sites/{id}`: a site's grid connection, circuit
  tree, base load and members (422 with the offending field for a broken rule, 409 for
  a station already in another site).
- `GET /sites/{id}/status`: limit, base load, allocation and measured load per phase,
  and each EVSE's allocation with the reason (live where the balancer runs).
- `GET /sites/{id}/allocations?limit=`: the decision history, latest first.
- `GET /sites/{id}/series?since=&limit=`: load samples for the chart.
- `POST /sites/{id}/base-load`: push a measured base load (A per phase).
- `POST /sites/{id}/rebalance`: recompute now.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import AwareDatetime

from ampyre.api.auth import Auth
from ampyre.api.command_errors import invalid_request
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, MAX_LIMIT, problems
from ampyre.api.schemas_sites import (
    AllocationPage,
    BaseLoadPush,
    RebalanceOut,
    SamplePoint,
    SeriesOut,
    SiteIn,
    SiteOut,
    SitePage,
    SiteStatus,
)
from ampyre.domain.models import Role
from ampyre.domain.sites import SiteInvalid
from ampyre.services.clock import utcnow
from ampyre.services.sites import SiteService
from ampyre.services.sites_port import SiteConflict

SiteId = Annotated[int, Path(ge=1, le=INT32_MAX, description="site id")]
SERIES_DEFAULT = timedelta(hours=1)
SERIES_MAX = 5000


def sites_service(deps: ApiDeps) -> SiteService:
    if deps.sites is None:
        raise ApiProblem(503, "site load management is not available")
    return deps.sites


def _invalid(exc: SiteInvalid) -> NoReturn:
    loc: list[str | int] = ["body"]
    if exc.field:
        loc += [int(p) if p.isdigit() else p for p in exc.field.split(".")]
    invalid_request(str(exc), exc.field, loc)


def _not_found(site_id: int) -> NoReturn:
    raise ApiProblem(404, f"no site {site_id}")


def sites_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["sites"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]

    @router.get("/sites", dependencies=viewer, responses=problems(503))
    async def list_sites() -> SitePage:
        sites = await sites_service(deps).list_sites()
        return SitePage(items=[SiteOut.of(s) for s in sites], total=len(sites))

    @router.post(
        "/sites", status_code=201, dependencies=operator, responses=problems(409, 422, 503)
    )
    async def create_site(body: SiteIn) -> SiteOut:
        """A site: grid connection limit, circuits (each with a per-phase limit, under the
        grid connection or another circuit), base load, and member stations/EVSEs."""
        try:
            created = await sites_service(deps).create(body.to_site())
        except SiteInvalid as exc:
            _invalid(exc)
        except SiteConflict as exc:
            raise ApiProblem(409, str(exc), slug="site-conflict") from None
        return SiteOut.of(created)

    @router.get("/sites/{site_id}", dependencies=viewer, responses=problems(404, 503))
    async def get_site(site_id: SiteId) -> SiteOut:
        found = await sites_service(deps).get(site_id)
        if found is None:
            _not_found(site_id)
        return SiteOut.of(found)

    @router.put("/sites/{site_id}", dependencies=operator, responses=problems(404, 409, 422, 503))
    async def replace_site(site_id: SiteId, body: SiteIn) -> SiteOut:
        try:
            saved = await sites_service(deps).replace(body.to_site(site_id))
        except SiteInvalid as exc:
            _invalid(exc)
        except SiteConflict as exc:
            raise ApiProblem(409, str(exc), slug="site-conflict") from None
        if saved is None:
            _not_found(site_id)
        return SiteOut.of(saved)

    @router.delete(
        "/sites/{site_id}", status_code=204, dependencies=operator, responses=problems(404, 503)
    )
    async def delete_site(site_id: SiteId) -> Response:
        """Delete a site (its history goes with it). Profiles already sent stay until
        their transactions end."""
        if not await sites_service(deps).delete(site_id):
            _not_found(site_id)
        return Response(status_code=204)

    @router.get("/sites/{site_id}/status", dependencies=viewer, responses=problems(404, 503))
    async def site_status(site_id: SiteId) -> SiteStatus | None:
        """The current allocation; null until the balancer has computed one."""
        svc = sites_service(deps)
        if await svc.get(site_id) is None:
            _not_found(site_id)
        record = await svc.status(site_id)
        return None if record is None else SiteStatus.of(record)

    @router.get("/sites/{site_id}/allocations", dependencies=viewer, responses=problems(404, 503))
    async def site_allocations(
        site_id: SiteId,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="decisions")] = 50,
    ) -> AllocationPage:
        """Every recorded decision, latest first: what each EVSE got and why."""
        svc = sites_service(deps)
        if await svc.get(site_id) is None:
            _not_found(site_id)
        records = await svc.allocations(site_id, limit)
        return AllocationPage(items=[SiteStatus.of(r) for r in records])

    @router.get("/sites/{site_id}/series", dependencies=viewer, responses=problems(404, 503))
    async def site_series(
        site_id: SiteId,
        since: Annotated[AwareDatetime | None, Query(description="default: an hour ago")] = None,
        limit: Annotated[int, Query(ge=1, le=SERIES_MAX)] = 1000,
    ) -> SeriesOut:
        """Limit, base load, allocation and measured load per phase over time (the latest
        `limit` samples since `since`, oldest first)."""
        svc = sites_service(deps)
        if await svc.get(site_id) is None:
            _not_found(site_id)
        start = since if since is not None else utcnow() - SERIES_DEFAULT
        samples = await svc.series(site_id, start, limit)
        return SeriesOut(site_id=site_id, items=[SamplePoint.of(s) for s in samples])

    @router.post(
        "/sites/{site_id}/base-load",
        status_code=204,
        dependencies=operator,
        responses=problems(404, 422, 503),
    )
    async def push_base_load(site_id: SiteId, body: BaseLoadPush) -> Response:
        """A measured base load in A per phase (mode "measured"; trusted for 5 minutes)."""
        try:
            pushed = await sites_service(deps).push_base_load(site_id, (body.l1, body.l2, body.l3))
        except SiteInvalid as exc:
            _invalid(exc)
        if not pushed:
            _not_found(site_id)
        return Response(status_code=204)

    @router.post("/sites/{site_id}/rebalance", dependencies=operator, responses=problems(404, 503))
    async def rebalance(site_id: SiteId) -> RebalanceOut:
        if not await sites_service(deps).rebalance(site_id):
            _not_found(site_id)
        return RebalanceOut(site_id=site_id, requested=True)

    return router
