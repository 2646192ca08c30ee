"""OCPP 2.0.1 blocks B (provisioning) and G (availability): BootNotification, Heartbeat,
StatusNotification (the device-model reports NotifyEvent / NotifyReport are stored raw:
protocol/reports.py). Also used by 2.1."""

from __future__ import annotations

from typing import Any

from ampyre.domain.models import BootInfo, StatusReport
from ampyre.protocol.boot import boot_response
from ampyre.protocol.session import CallContext, Handler
from ampyre.protocol.timefmt import from_ocpp, to_ocpp
from ampyre.services.provisioning import ProvisioningService


def handlers(svc: ProvisioningService) -> dict[str, Handler]:
    async def boot_notification(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        cs = p["chargingStation"]
        modem = cs.get("modem") or {}
        info = BootInfo(
            vendor=cs["vendorName"],
            model=cs["model"],
            serial_number=cs.get("serialNumber"),
            firmware_version=cs.get("firmwareVersion"),
            iccid=modem.get("iccid"),
            imsi=modem.get("imsi"),
            reason=p["reason"],
        )
        return await boot_response(svc, ctx, info)

    async def heartbeat(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        return {"currentTime": to_ocpp(svc.heartbeat(ctx.station_id))}

    async def status_notification(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        await svc.status(
            [
                StatusReport(
                    station_id=ctx.station_id,
                    evse_id=p["evseId"],
                    connector_id=p["connectorId"],
                    status=p["connectorStatus"],
                    timestamp=from_ocpp(p["timestamp"]),
                    received_at=svc.now(),
                )
            ]
        )
        return {}

    return {
        "BootNotification": boot_notification,
        "Heartbeat": heartbeat,
        "StatusNotification": status_notification,
    }
