"""Charging profiles per station and across the fleet, the composite schedule (Ampyre's
and the station's), external limits and EV charging needs (issue 18 parts 1-3)."""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Depends, Query
from pydantic import ValidationError

from ampyre.api.auth import Auth
from ampyre.api.command_errors import check_answer, not_in_version
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem, field_errors
from ampyre.api.routes._common import INT32_MAX, Limit, Offset, problems
from ampyre.api.routes.stations import StationId
from ampyre.api.schemas_charging import (
    ChargingLimitList,
    ChargingLimitOut,
    ClearIn,
    CommandOut,
    CompositeOut,
    CompositeViewOut,
    DifferenceOut,
    EvNeedsList,
    EvseNeedsOut,
    InstalledList,
    InstalledPage,
    InstalledProfileOut,
    ProfileIn,
    ProfileModel,
    RefreshOut,
    SetProfileIn,
    SetProfileOut,
)
from ampyre.domain.charging_profiles import (
    ChargingProfile,
    ProfileInvalid,
    ProfileSource,
    Purpose,
    RateUnit,
)
from ampyre.domain.models import Role
from ampyre.services.charging_profiles import ChargingProfileError, ChargingProfileService

EvseQuery = Annotated[int | None, Query(ge=0, le=INT32_MAX, description="0: the station")]
# GetCompositeSchedule duration: a week at most keeps the computation small.
Duration = Annotated[int, Query(ge=1, le=7 * 86400, description="seconds")]


def profile_invalid(exc: ProfileInvalid) -> NoReturn:
    """422 with the broken rules: [{path, message, requirement}]."""
    raise ApiProblem(
        422,
        f"the charging profile breaks {len(exc.violations)} rule(s): {exc}",
        slug="invalid-charging-profile",
        title="Invalid charging profile",
        violations=[
            {"path": v.path, "message": v.message, "requirement": v.requirement}
            for v in exc.violations
        ],
    ) from None


def profiles_service(deps: ApiDeps) -> ChargingProfileService:
    if deps.charging_profiles is None:
        raise ApiProblem(503, "charging profiles are not available")
    return deps.charging_profiles


def charging_profiles_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["smart charging"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]

    @router.get(
        "/stations/{station_id}/charging-profiles",
        dependencies=viewer,
        responses=problems(404, 503),
    )
    async def station_profiles(station_id: StationId, evse_id: EvseQuery = None) -> InstalledList:
        """The profiles Ampyre believes the station has installed (TxProfiles of ended
        transactions are gone with them)."""
        svc = profiles_service(deps)
        await deps.stations.require(station_id)
        items = await svc.installed(station_id, evse_id)
        return InstalledList(items=[InstalledProfileOut.of(i) for i in items], total=len(items))

    @router.post(
        "/stations/{station_id}/charging-profile",
        dependencies=operator,
        responses=problems(404, 409, 422, 502, 503, 504),
    )
    async def set_profile(station_id: StationId, body: SetProfileIn) -> SetProfileOut:
        """Validate the profile against the spec's rules for the station's OCPP version
        (422 with `violations`), send SetChargingProfile and, when the station accepts,
        store it as installed."""
        svc = profiles_service(deps)
        await deps.stations.require(station_id)
        wait = body.timeout if body.timeout is not None else deps.settings.call_timeout
        profile = body.profile.to_domain()
        try:
            answer = await svc.install(station_id, body.evse_id, profile, timeout=wait)
        except ProfileInvalid as exc:
            profile_invalid(exc)
        check_answer(station_id, "SetChargingProfile", answer, wait)
        return SetProfileOut(
            status=answer.status, response=answer.response, profile=ProfileModel.of(profile)
        )

    @router.post(
        "/stations/{station_id}/charging-profiles/clear",
        dependencies=operator,
        responses=problems(404, 409, 422, 502, 503, 504),
    )
    async def clear_profiles(station_id: StationId, body: ClearIn) -> CommandOut:
        """ClearChargingProfile by id and/or criteria (none: every profile the CSMS may
        clear); the stored profiles it clears are forgotten."""
        svc = profiles_service(deps)
        await deps.stations.require(station_id)
        wait = body.timeout if body.timeout is not None else deps.settings.call_timeout
        try:
            answer = await svc.clear(
                station_id,
                profile_id=body.profile_id,
                evse_id=body.evse_id,
                purpose=body.purpose,
                stack_level=body.stack_level,
                timeout=wait,
            )
        except ProfileInvalid as exc:
            profile_invalid(exc)
        check_answer(station_id, "ClearChargingProfile", answer, wait)
        return CommandOut(status=answer.status, response=answer.response)

    @router.post(
        "/stations/{station_id}/charging-profiles/refresh",
        dependencies=operator,
        responses=problems(404, 409, 422, 502, 503, 504),
    )
    async def refresh_profiles(
        station_id: StationId,
        timeout: Annotated[float | None, Query(gt=0, le=300)] = None,
    ) -> RefreshOut:
        """2.x GetChargingProfiles: the stored set is reconciled with what the station
        reports (ReportChargingProfiles). OCPP 1.6 has no such message: 422."""
        svc = profiles_service(deps)
        await deps.stations.require(station_id)
        wait = timeout if timeout is not None else deps.settings.call_timeout
        try:
            result = await svc.refresh(station_id, timeout=wait)
        except ChargingProfileError as exc:
            not_in_version(station_id, exc, svc.connected_version(station_id))
        check_answer(station_id, "GetChargingProfiles", result.answer, wait)
        return RefreshOut(
            status=result.answer.status,
            response=result.answer.response,
            request_id=result.request_id,
            complete=result.complete,
            items=[InstalledProfileOut.of(i) for i in result.profiles],
        )

    @router.get(
        "/stations/{station_id}/composite-schedule",
        dependencies=viewer,
        responses=problems(404, 409, 502, 503, 504),
    )
    async def composite_schedule(
        station_id: StationId,
        evse_id: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
        duration: Duration = 3600,
        rate_unit: RateUnit = RateUnit.AMPS,
        ask_station: bool = False,
    ) -> CompositeViewOut:
        """Ampyre's composite schedule of the EVSE (merging the profiles it believes are
        installed and the external limits) and, with `ask_station`, the station's own
        (GetCompositeSchedule), compared. Where no profile limits the EVSE, Ampyre's
        limit is null and the station's is not a difference."""
        svc = profiles_service(deps)
        await deps.stations.require(station_id)
        view = await svc.composite(station_id, evse_id, duration, rate_unit, ask_station)
        if view.answer is not None:
            check_answer(station_id, "GetCompositeSchedule", view.answer)
        return CompositeViewOut(
            computed=CompositeOut.of(view.computed),
            reported=None if view.reported is None else CompositeOut.of(view.reported),
            status=view.status,
            matches=view.matches,
            differences=[
                DifferenceOut(start=d.start, computed=d.computed, reported=d.reported)
                for d in view.differences
            ],
        )

    @router.get("/charging-profiles", dependencies=viewer, responses=problems(503))
    async def fleet_profiles(
        limit: Limit = 50,
        offset: Offset = 0,
        station_id: Annotated[str | None, Query(max_length=255)] = None,
        purpose: Purpose | None = None,
        source: ProfileSource | None = None,
    ) -> InstalledPage:
        svc = profiles_service(deps)
        page = await svc.list_installed(limit, offset, station_id, purpose, source)
        return InstalledPage(
            items=[InstalledProfileOut.of(i) for i in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.get(
        "/stations/{station_id}/charging-limits", dependencies=viewer, responses=problems(404, 503)
    )
    async def charging_limits(station_id: StationId) -> ChargingLimitList:
        """External limits the station reported (2.x NotifyChargingLimit), cleared ones
        with their `cleared_at` (ClearedChargingLimit)."""
        svc = profiles_service(deps)
        await deps.stations.require(station_id)
        items = await svc.limits(station_id)
        return ChargingLimitList(items=[ChargingLimitOut.of(x) for x in items], total=len(items))

    @router.get(
        "/stations/{station_id}/ev-charging-needs",
        dependencies=viewer,
        responses=problems(404, 503),
    )
    async def ev_charging_needs(station_id: StationId) -> EvNeedsList:
        """The latest ISO 15118 charging needs (NotifyEVChargingNeeds) and EV schedule
        (NotifyEVChargingSchedule) per EVSE."""
        svc = profiles_service(deps)
        await deps.stations.require(station_id)
        items = await svc.ev_needs_of(station_id)
        return EvNeedsList(items=[EvseNeedsOut.of(n, s) for n, s in items], total=len(items))

    return router


async def remote_start_profile(
    deps: ApiDeps, station_id: str, evse_id: int | None, given: dict[str, Any]
) -> tuple[ChargingProfile | None, dict[str, Any]]:
    """A remote start's `charging_profile`: in Ampyre's profile shape (it has
    `stack_level`), validated for a remote start (422 with violations) and encoded for
    the station's version; in OCPP's shape, sent as given (for experts)."""
    if "stack_level" not in given or deps.charging_profiles is None:
        return None, given
    try:
        profile = ProfileIn.model_validate(given).to_domain()
    except ValidationError as exc:
        raise ApiProblem(
            422,
            "charging_profile is not a valid profile",
            slug="validation-error",
            errors=[
                {**e, "loc": ["body", "charging_profile", *e["loc"]]}
                for e in field_errors(exc.errors())
            ],
        ) from None
    try:
        payload = await deps.charging_profiles.remote_start_payload(station_id, evse_id, profile)
    except ProfileInvalid as exc:
        profile_invalid(exc)
    if payload is None:
        raise ApiProblem(
            409, f"station {station_id!r} is not connected", slug="station-not-connected"
        )
    return profile, payload
