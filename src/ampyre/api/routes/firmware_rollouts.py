"""Fleet firmware rollouts: `POST /rollouts` (targets, batch size, pause, abort
threshold), `GET /rollouts`, `GET /rollouts/{id}` with per-station progress, and
`POST /rollouts/{id}/pause|resume|abort` (409 when the rollout's state does not allow it).
Progress is also streamed (rollout.progress / rollout.finished / firmware.status_changed)
to webhooks and the dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, Limit, Offset, problems
from ampyre.api.routes.firmware import invalid
from ampyre.api.schemas_firmware import RolloutIn, RolloutOut, RolloutPage
from ampyre.domain.firmware import RolloutTargets
from ampyre.domain.models import Role
from ampyre.services.firmware import FirmwareError
from ampyre.services.firmware_rollouts import RolloutConflict, RolloutService

RolloutId = Annotated[int, Path(ge=1, le=INT32_MAX, description="rollout id")]
# Per-station progress shown with one rollout (the full list: GET /firmware-updates).
STATIONS_SHOWN = 500


def rollouts_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(prefix="/rollouts", tags=["firmware"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]

    def service() -> RolloutService:
        if deps.rollouts is None or deps.firmware is None:
            raise ApiProblem(503, "firmware rollouts are not available")
        return deps.rollouts

    async def detailed(rollout_id: int) -> RolloutOut:
        found = await service().get(rollout_id)
        if found is None or deps.firmware is None:
            raise ApiProblem(404, f"no rollout {rollout_id}")
        page = await deps.firmware.list_updates(STATIONS_SHOWN, 0, rollout_id=rollout_id)
        return RolloutOut.of(found, page.items)

    @router.post("", status_code=201, dependencies=operator, responses=problems(422, 503))
    async def create_rollout(body: RolloutIn) -> RolloutOut:
        t = body.targets
        if not (t.station_ids or t.vendor or t.model or t.firmware_version):
            invalid(FirmwareError("name at least one target criterion", "targets"))
        try:
            created = await service().create(
                body.name,
                body.file_id,
                RolloutTargets(list(t.station_ids), t.vendor, t.model, t.firmware_version),
                body.batch_size,
                body.pause_seconds,
                body.abort_threshold,
                body.retries,
                body.retry_interval,
            )
        except FirmwareError as exc:
            invalid(exc)
        return await detailed(created.id)

    @router.get("", dependencies=viewer, responses=problems(503))
    async def list_rollouts(limit: Limit = 50, offset: Offset = 0) -> RolloutPage:
        page = await service().list_rollouts(limit, offset)
        return RolloutPage(
            items=[RolloutOut.of(r) for r in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.get("/{rollout_id}", dependencies=viewer, responses=problems(404, 503))
    async def get_rollout(rollout_id: RolloutId) -> RolloutOut:
        return await detailed(rollout_id)

    async def change(rollout_id: int, what: str) -> RolloutOut:
        svc = service()
        operation = {"pause": svc.pause, "resume": svc.resume, "abort": svc.abort}[what]
        try:
            await operation(rollout_id)
        except KeyError:
            raise ApiProblem(404, f"no rollout {rollout_id}") from None
        except RolloutConflict as exc:
            raise ApiProblem(409, str(exc), slug="rollout-state") from None
        return await detailed(rollout_id)

    @router.post("/{rollout_id}/pause", dependencies=operator, responses=problems(404, 409))
    async def pause_rollout(rollout_id: RolloutId) -> RolloutOut:
        """No new batch starts; the stations of the current one go on."""
        return await change(rollout_id, "pause")

    @router.post("/{rollout_id}/resume", dependencies=operator, responses=problems(404, 409))
    async def resume_rollout(rollout_id: RolloutId) -> RolloutOut:
        return await change(rollout_id, "resume")

    @router.post("/{rollout_id}/abort", dependencies=operator, responses=problems(404, 409))
    async def abort_rollout(rollout_id: RolloutId) -> RolloutOut:
        """Stations not yet sent to are cancelled; those underway are still followed."""
        return await change(rollout_id, "abort")

    return router
