"""Station security (issue 19): the configured security profile and the profile of
the current connection, password rotation (OCPP 2.0.1 A01 / 1.6 whitepaper A01) and
security profile upgrades (2.0.1 A05 / 1.6 SecurityProfile), each tracked until the
station reconnects with the new credentials."""

from typing import Annotated

from fastapi import APIRouter, Depends

from ampyre.api.auth import Auth
from ampyre.api.command_errors import invalid_request, not_in_version
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import Limit, Offset, problems
from ampyre.api.routes.commands import Timeout
from ampyre.api.routes.stations import StationId
from ampyre.api.schemas_security import (
    PasswordRotationIn,
    PasswordRotationOut,
    ProfileUpgradeIn,
    ProfileUpgradeOut,
    SecurityChangeOut,
    StationSecurityOut,
)
from ampyre.domain.models import ApiToken, Role
from ampyre.services.station_control import InvalidCommand
from ampyre.services.station_port import NotAddressable
from ampyre.services.station_security import StationNotConnected, StationSecurityService
from ampyre.services.station_security_port import ChangeStatus


def station_security_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(prefix="/stations", tags=["security"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator_check = auth.require(Role.OPERATOR)

    def service() -> StationSecurityService:
        if deps.station_security is None:
            raise ApiProblem(503, "station security is not available in this process")
        return deps.station_security

    def not_connected(station_id: str) -> ApiProblem:
        return ApiProblem(
            409, f"station {station_id!r} is not connected", slug="station-not-connected"
        )

    @router.get("/{station_id}/security", dependencies=viewer, responses=problems(404, 503))
    async def security(
        station_id: StationId, limit: Limit = 20, offset: Offset = 0
    ) -> StationSecurityOut:
        """The configured security profile, the profile of the current (or last)
        connection, password and profile changes not complete yet, and the history."""
        svc = service()
        overview = await svc.overview(station_id, limit, offset)
        return StationSecurityOut.of(overview, svc.tls_url())

    @router.post(
        "/{station_id}/security/password",
        responses=problems(404, 409, 422, 503),
    )
    async def rotate_password(
        station_id: StationId,
        body: PasswordRotationIn,
        caller: Annotated[ApiToken, Depends(operator_check)],
        timeout_s: Timeout = None,
    ) -> PasswordRotationOut:
        """Give the station a new HTTP Basic password (2.x SetVariables
        SecurityCtrlr.BasicAuthPassword, 1.6 ChangeConfiguration AuthorizationKey, hex
        encoded): the given one or a random one, returned this once. The old password
        keeps working until the station has connected with the new one (then the change
        is `completed`)."""
        try:
            result = await service().rotate_password(
                station_id, body.password, caller.name, timeout_s
            )
        except StationNotConnected:
            raise not_connected(station_id) from None
        except InvalidCommand as exc:
            invalid_request(str(exc), exc.field)
        except NotAddressable as exc:
            not_in_version(station_id, exc, deps.commands.ocpp_version(station_id))
        usable = result.change.status in (ChangeStatus.ACCEPTED, ChangeStatus.COMPLETED)
        return PasswordRotationOut(
            change=SecurityChangeOut.of(result.change),
            password=result.password if usable else None,
        )

    @router.post(
        "/{station_id}/security/profile",
        responses=problems(404, 409, 422, 503),
    )
    async def upgrade_profile(
        station_id: StationId,
        body: ProfileUpgradeIn,
        caller: Annotated[ApiToken, Depends(operator_check)],
        timeout_s: Timeout = None,
    ) -> ProfileUpgradeOut:
        """Move the station to a higher security profile: 2.x SetNetworkProfile (this
        server's URL for the profile, or `csms_url`), that slot first in
        NetworkConfigurationPriority, Reset OnIdle; 1.6 ChangeConfiguration
        SecurityProfile. `completed` once the station reconnects with the new profile;
        its configured profile is raised then (a lower one is refused from then on)."""
        try:
            change = await service().upgrade_profile(
                station_id, body.profile, body.csms_url, body.slot, caller.name, timeout_s
            )
        except StationNotConnected:
            raise not_connected(station_id) from None
        except InvalidCommand as exc:
            invalid_request(str(exc), exc.field)
        except NotAddressable as exc:
            not_in_version(station_id, exc, deps.commands.ocpp_version(station_id))
        return ProfileUpgradeOut(change=SecurityChangeOut.of(change))

    return router
