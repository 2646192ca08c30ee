"""OCPP 1.6J core profile, provisioning/availability: BootNotification, Heartbeat,
StatusNotification. Thin: decode -> service -> encode."""

from __future__ import annotations

from typing import Any

from ampyre.domain.models import BootInfo, StatusReport
from ampyre.protocol.boot import boot_response
from ampyre.protocol.session import CallContext, Handler
from ampyre.protocol.timefmt import from_ocpp, to_ocpp
from ampyre.services.provisioning import ProvisioningService


def handlers(svc: ProvisioningService) -> dict[str, Handler]:
    async def boot_notification(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        info = BootInfo(
            vendor=p["chargePointVendor"],
            model=p["chargePointModel"],
            # chargeBoxSerialNumber is deprecated in 1.6 in favour of chargePointSerialNumber.
            serial_number=p.get("chargePointSerialNumber") or p.get("chargeBoxSerialNumber"),
            firmware_version=p.get("firmwareVersion"),
            iccid=p.get("iccid"),
            imsi=p.get("imsi"),
            meter_type=p.get("meterType"),
            meter_serial_number=p.get("meterSerialNumber"),
        )
        return await boot_response(svc, ctx, info)

    async def heartbeat(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        return {"currentTime": to_ocpp(svc.heartbeat(ctx.station_id))}

    async def status_notification(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        connector = p["connectorId"]
        await svc.status(
            [
                StatusReport(
                    station_id=ctx.station_id,
                    # 1.6 has no EVSE level: each connector is its own EVSE; 0 = the station.
                    evse_id=connector,
                    connector_id=connector,
                    status=p["status"],
                    timestamp=from_ocpp(p.get("timestamp")),
                    received_at=svc.now(),
                    error_code=p["errorCode"],
                    info=p.get("info"),
                    vendor_id=p.get("vendorId"),
                    vendor_error_code=p.get("vendorErrorCode"),
                )
            ]
        )
        return {}

    return {
        "BootNotification": boot_notification,
        "Heartbeat": heartbeat,
        "StatusNotification": status_notification,
    }
