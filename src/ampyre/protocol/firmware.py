"""Firmware over OCPP: the FirmwareCommands port (UpdateFirmware in the station's
connected version, through the CommandRouter) and the firmware handlers added to each
version's handler table (FirmwareStatusNotification; BootNotification is followed so that
a station that rebooted into its new firmware finishes its update)."""

from __future__ import annotations

from typing import Any

from ampyre.domain.firmware import UpdateRequest
from ampyre.domain.models import OcppVersion
from ampyre.protocol.codec import Request, ask
from ampyre.protocol.ocpp16 import firmware as fw16
from ampyre.protocol.ocpp16 import provisioning as p16
from ampyre.protocol.ocpp201 import firmware as fw201
from ampyre.protocol.ocpp201 import provisioning as p201
from ampyre.protocol.session import CallContext, Handler
from ampyre.services.commands import CommandRouter
from ampyre.services.firmware import FirmwareService
from ampyre.services.provisioning import ProvisioningService
from ampyre.services.station_port import NOT_CONNECTED, Answer

_ENCODERS = {
    OcppVersion.V16.value: fw16.update_firmware,
    OcppVersion.V201.value: fw201.update_firmware,
    OcppVersion.V21.value: fw201.update_firmware,  # 2.1 keeps the 2.0.1 fields
}


class OcppFirmwareCommands:
    """FirmwareCommands for the stations a CommandRouter reaches."""

    def __init__(self, router: CommandRouter) -> None:
        self._router = router

    def connected_version(self, station_id: str) -> str | None:
        return self._router.ocpp_version(station_id)

    async def update_firmware(
        self,
        station_id: str,
        request_id: int,
        request: UpdateRequest,
        timeout: float | None = None,
    ) -> Answer:
        version = self._router.ocpp_version(station_id)
        encode = _ENCODERS.get(version or "")
        if encode is None:
            return Answer(NOT_CONNECTED, detail="the station is not connected")
        answer, _ = await ask(self._router, station_id, encode(request_id, request), timeout)
        return answer


def encode_update(version: str, request_id: int, request: UpdateRequest) -> Request:
    """The UpdateFirmware CALL a station of `version` gets (for tests and docs)."""
    return _ENCODERS[version](request_id, request)


def _boot_firmware(version: OcppVersion, p: dict[str, Any]) -> str | None:
    if version is OcppVersion.V16:
        value = p.get("firmwareVersion")
    else:
        value = (p.get("chargingStation") or {}).get("firmwareVersion")
    return value if isinstance(value, str) else None


def handlers(
    svc: FirmwareService, prov: ProvisioningService
) -> dict[OcppVersion, dict[str, Handler]]:
    """The firmware handlers per version (a block for build_tables), with BootNotification
    followed: once the boot is stored by its provisioning handler, the station's active
    update learns the firmware version it booted with, before the CALLRESULT goes out
    (durable before ack)."""
    boot16 = p16.handlers(prov)["BootNotification"]
    boot2x = p201.handlers(prov)["BootNotification"]
    v16 = {
        **fw16.handlers(svc),
        "BootNotification": _following_boot(boot16, svc, OcppVersion.V16),
    }
    v2x = {
        **fw201.handlers(svc),
        "BootNotification": _following_boot(boot2x, svc, OcppVersion.V201),
    }
    return {OcppVersion.V16: v16, OcppVersion.V201: v2x, OcppVersion.V21: dict(v2x)}


def _following_boot(boot: Handler, svc: FirmwareService, version: OcppVersion) -> Handler:
    async def boot_notification(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        answer = await boot(ctx, p)
        if answer.get("status") == "Accepted":
            await svc.booted(ctx.station_id, _boot_firmware(version, p))
        return answer

    return boot_notification
