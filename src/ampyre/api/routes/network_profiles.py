"""Network connection profiles of 2.x stations (OCPP 2.0.1 B09): set one into a slot
(checked first), and list what was set with the station's answers beside the station's
last known slot priority and security profile (from its stored configuration)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from ampyre.api.auth import Auth
from ampyre.api.command_errors import check_answer, invalid_request, not_in_version
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, Limit, Offset, problems
from ampyre.api.routes.commands import Timeout
from ampyre.api.routes.stations import StationId
from ampyre.domain.models import Role
from ampyre.services.configuration_store import VariableQuery
from ampyre.services.network_profiles import NetworkProfile, NetworkProfileService
from ampyre.services.station_control import InvalidCommand
from ampyre.services.station_port import NotAddressable

_Interface = Literal[
    "Wired0", "Wired1", "Wired2", "Wired3", "Wireless0", "Wireless1", "Wireless2", "Wireless3"
]


class NetworkProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    configuration_slot: int = Field(ge=0, le=INT32_MAX, description="the slot to store it in")
    csms_url: str = Field(
        min_length=1, max_length=2000, description="ws:// for profile 1, wss:// for 2 and 3"
    )
    security_profile: int = Field(ge=1, le=3)
    interface: _Interface = "Wired0"
    message_timeout: int = Field(30, ge=1, le=3600)
    ocpp_version: Literal["OCPP20", "OCPP201", "OCPP21"] = "OCPP20"
    transport: Literal["JSON"] = "JSON"
    apn: dict[str, Any] | None = Field(None, description="APNType, as OCPP names its fields")
    vpn: dict[str, Any] | None = Field(None, description="VPNType, as OCPP names its fields")
    identity: str | None = Field(None, max_length=48, description="2.1 only")
    basic_auth_password: str | None = Field(None, max_length=64, description="2.1 only")


class ProfileAttemptOut(BaseModel):
    id: int | None
    configuration_slot: int
    profile: dict[str, Any] = Field(description="connectionData as sent, secrets as ***")
    status: str = Field(
        description="accepted, rejected, failed (the station's answer) or timeout / error"
    )
    station_status: str | None
    detail: str | None
    requested_at: datetime


class NetworkProfileResult(BaseModel):
    status: str
    response: dict[str, Any]
    attempt: ProfileAttemptOut | None


class NetworkProfilesOut(BaseModel):
    items: list[ProfileAttemptOut]
    total: int
    limit: int
    offset: int
    priority: str | None = Field(
        description="OCPPCommCtrlr.NetworkConfigurationPriority as last read (slots in order)"
    )
    security_profile: str | None = Field(description="SecurityCtrlr.SecurityProfile as last read")


def network_profiles_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(prefix="/stations", tags=["commands"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]

    def service() -> NetworkProfileService:
        if deps.network_profiles is None:
            raise ApiProblem(503, "network profiles are not available in this process")
        return deps.network_profiles

    @router.post(
        "/{station_id}/network-profile",
        dependencies=operator,
        responses=problems(404, 409, 422, 502, 503, 504),
    )
    async def set_profile(
        station_id: StationId, body: NetworkProfileIn, timeout_s: Timeout = None
    ) -> NetworkProfileResult:
        """SetNetworkProfile: store a connection profile in a slot of a 2.x station. The
        profile is checked first (422, nothing sent): the URL scheme fits the security
        profile, no lower security profile than the station's (if known), 2.0.1 fields
        only for 2.0.1. The station uses it once its NetworkConfigurationPriority lists
        the slot (set that with POST .../configuration) and it reconnects."""
        svc = service()
        await deps.stations.require(station_id)
        wait = timeout_s if timeout_s is not None else deps.settings.call_timeout
        profile = NetworkProfile(
            csms_url=body.csms_url,
            security_profile=body.security_profile,
            interface=body.interface,
            message_timeout=body.message_timeout,
            ocpp_version=body.ocpp_version,
            transport=body.transport,
            apn=body.apn,
            vpn=body.vpn,
            identity=body.identity,
            basic_auth_password=body.basic_auth_password,
        )
        try:
            answer, attempt = await svc.set(station_id, body.configuration_slot, profile, wait)
        except InvalidCommand as exc:
            invalid_request(str(exc), exc.field)
        except NotAddressable as exc:
            not_in_version(station_id, exc, deps.commands.ocpp_version(station_id))
        check_answer(station_id, "SetNetworkProfile", answer, wait)
        return NetworkProfileResult(
            status=answer.status,
            response=answer.response,
            attempt=_out(attempt) if attempt is not None else None,
        )

    @router.get(
        "/{station_id}/network-profiles", dependencies=viewer, responses=problems(404, 422, 503)
    )
    async def profiles(
        station_id: StationId, limit: Limit = 50, offset: Offset = 0
    ) -> NetworkProfilesOut:
        """The profiles set on the station, newest first, with its last known slot
        priority and security profile."""
        svc = service()
        await deps.stations.require(station_id)
        page = await svc.attempts(station_id, limit, offset)
        priority = security = None
        if deps.configuration is not None:
            priority = await _stored(
                deps, station_id, "OCPPCommCtrlr", "NetworkConfigurationPriority"
            )
            security = await _stored(deps, station_id, "SecurityCtrlr", "SecurityProfile")
        return NetworkProfilesOut(
            items=[_out(a) for a in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
            priority=priority,
            security_profile=security,
        )

    return router


async def _stored(deps: ApiDeps, station_id: str, component: str, variable: str) -> str | None:
    assert deps.configuration is not None
    page = await deps.configuration.variables(
        VariableQuery(station_id=station_id, component=component, variable=variable), 1, 0
    )
    return page.items[0].value if page.items else None


def _out(a: Any) -> ProfileAttemptOut:
    return ProfileAttemptOut(
        id=a.id,
        configuration_slot=a.slot,
        profile=a.profile,
        status=a.status,
        station_status=a.station_status,
        detail=a.detail,
        requested_at=a.requested_at,
    )
