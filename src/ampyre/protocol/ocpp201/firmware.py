"""OCPP 2.0.1 block L (firmware management): UpdateFirmware (CSMS -> station) and
FirmwareStatusNotification (station -> CSMS). 2.1 keeps both messages' fields (it only
adds optional ones), so these serve 2.1 too. Thin: encode / decode."""

from __future__ import annotations

from typing import Any

from ampyre.domain.firmware import UpdateRequest
from ampyre.protocol.codec import Request
from ampyre.protocol.session import CallContext, Handler
from ampyre.protocol.timefmt import to_ocpp
from ampyre.services.firmware import FirmwareService


def update_firmware(request_id: int, r: UpdateRequest) -> Request:
    """UpdateFirmwareRequest (L01/L02): the requestId comes back in every
    FirmwareStatusNotification of this update (mandatory there unless triggered while
    idle); signingCertificate and signature make it a secure firmware update (L01)."""
    firmware: dict[str, Any] = {
        "location": r.location,
        "retrieveDateTime": to_ocpp(r.retrieve_at),
    }
    if r.install_at is not None:
        firmware["installDateTime"] = to_ocpp(r.install_at)
    if r.signing_certificate:
        firmware["signingCertificate"] = r.signing_certificate
    if r.signature:
        firmware["signature"] = r.signature
    payload: dict[str, Any] = {"requestId": request_id, "firmware": firmware}
    if r.retries is not None:
        payload["retries"] = r.retries
    if r.retry_interval is not None:
        payload["retryInterval"] = r.retry_interval
    return "UpdateFirmware", payload


def handlers(svc: FirmwareService) -> dict[str, Handler]:
    async def firmware_status(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        await svc.status_reported(
            ctx.station_id, "FirmwareStatusNotification", p, p["status"], p.get("requestId")
        )
        return {}

    return {"FirmwareStatusNotification": firmware_status}
