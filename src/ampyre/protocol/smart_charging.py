"""Smart charging over OCPP: the ChargingProfileCommands port (block K's CSMS -> station
calls in the station's connected version, through the CommandRouter) and the handlers of
the station -> CSMS messages added to the 2.0.1 and 2.1 tables (1.6 has none)."""

from __future__ import annotations

from typing import Any

from ampyre.domain.charging_profiles import ChargingProfile, CompositeSchedule, RateUnit
from ampyre.domain.models import OcppVersion
from ampyre.protocol.codec import Request, ask
from ampyre.protocol.ocpp16 import smart_charging as sc16
from ampyre.protocol.ocpp201 import smart_charging as sc201
from ampyre.protocol.session import Handler
from ampyre.services.charging_profiles import ChargingProfileService
from ampyre.services.charging_profiles_port import ClearCriteria
from ampyre.services.clock import utcnow
from ampyre.services.commands import CommandRouter
from ampyre.services.station_port import NOT_CONNECTED, NOT_SUPPORTED, Answer

_V16 = OcppVersion.V16.value
_V21 = OcppVersion.V21.value


def encode_set(version: str, evse_id: int, profile: ChargingProfile) -> Request:
    """The SetChargingProfile CALL a station of `version` gets (raises NotAddressable)."""
    if version == _V16:
        return sc16.set_charging_profile(evse_id, profile)
    return sc201.set_charging_profile(evse_id, profile, version == _V21)


def encode_clear(version: str, c: ClearCriteria) -> Request:
    if version == _V16:
        return sc16.clear_charging_profile(c.profile_id, c.evse_id, c.purpose, c.stack_level)
    return sc201.clear_charging_profile(
        c.profile_id, c.evse_id, c.purpose, c.stack_level, version == _V21
    )


def encode_composite(version: str, evse_id: int, duration: int, unit: RateUnit) -> Request:
    if version == _V16:
        return sc16.get_composite_schedule(evse_id, duration, unit)
    return sc201.get_composite_schedule(evse_id, duration, unit)


class OcppChargingProfileCommands:
    """ChargingProfileCommands for the stations a CommandRouter reaches."""

    def __init__(self, router: CommandRouter) -> None:
        self._router = router

    def connected_version(self, station_id: str) -> str | None:
        return self._router.ocpp_version(station_id)

    async def _send(
        self, station_id: str, request: Request, timeout: float | None
    ) -> tuple[Answer, dict[str, Any] | None]:
        return await ask(self._router, station_id, request, timeout)

    async def set_profile(
        self, station_id: str, evse_id: int, profile: ChargingProfile, timeout: float | None
    ) -> Answer:
        version = self._router.ocpp_version(station_id)
        if version is None:
            return Answer(NOT_CONNECTED, detail="the station is not connected")
        answer, _ = await self._send(station_id, encode_set(version, evse_id, profile), timeout)
        return answer

    async def clear_profiles(
        self, station_id: str, criteria: ClearCriteria, timeout: float | None
    ) -> Answer:
        version = self._router.ocpp_version(station_id)
        if version is None:
            return Answer(NOT_CONNECTED, detail="the station is not connected")
        answer, _ = await self._send(station_id, encode_clear(version, criteria), timeout)
        return answer

    async def get_profiles(
        self, station_id: str, request_id: int, evse_id: int | None, timeout: float | None
    ) -> Answer:
        version = self._router.ocpp_version(station_id)
        if version is None:
            return Answer(NOT_CONNECTED, detail="the station is not connected")
        if version == _V16:
            return Answer(NOT_SUPPORTED, detail="OCPP 1.6 has no GetChargingProfiles")
        request = sc201.get_charging_profiles(request_id, evse_id)
        answer, _ = await self._send(station_id, request, timeout)
        return answer

    async def get_composite(
        self,
        station_id: str,
        evse_id: int,
        duration: int,
        rate_unit: RateUnit,
        timeout: float | None,
    ) -> tuple[Answer, CompositeSchedule | None]:
        version = self._router.ocpp_version(station_id)
        if version is None:
            return Answer(NOT_CONNECTED, detail="the station is not connected"), None
        request = encode_composite(version, evse_id, duration, rate_unit)
        answer, payload = await self._send(station_id, request, timeout)
        if payload is None:
            return answer, None
        decode = sc16.composite_of if version == _V16 else sc201.composite_of
        try:
            schedule = decode(payload, evse_id, duration, utcnow())
        except (KeyError, ValueError, TypeError):
            schedule = None
        return answer, schedule

    def profile_payload(self, version: str, profile: ChargingProfile) -> dict[str, Any]:
        if version == _V16:
            return sc16.profile_payload(profile)
        return sc201.profile_payload(profile, version == _V21)


def handlers(svc: ChargingProfileService) -> dict[OcppVersion, dict[str, Handler]]:
    """The smart charging handlers per version (a block for build_tables)."""
    v2x = sc201.handlers(svc)
    return {OcppVersion.V201: v2x, OcppVersion.V21: dict(v2x)}
