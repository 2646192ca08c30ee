"""OCPP 1.6J firmware management: UpdateFirmware (CSMS -> station) and
FirmwareStatusNotification (station -> CSMS); the 1.6 security extension's
SignedUpdateFirmware / SignedFirmwareStatusNotification carry a requestId like 2.0.1.
Thin: encode / decode, the firmware service decides."""

from __future__ import annotations

from typing import Any

from ampyre.domain.firmware import UpdateRequest
from ampyre.protocol.codec import Request
from ampyre.protocol.session import CallContext, Handler
from ampyre.protocol.timefmt import to_ocpp
from ampyre.services.firmware import FirmwareService


def update_firmware(request_id: int, r: UpdateRequest) -> Request:
    """1.6 5.18 UpdateFirmware: location and retrieveDate are required; the answer is
    empty (no status). With a signing certificate and signature (secure firmware), the
    security extension's SignedUpdateFirmware with its requestId instead."""
    if r.signing_certificate and r.signature:
        firmware: dict[str, Any] = {
            "location": r.location,
            "retrieveDateTime": to_ocpp(r.retrieve_at),
            "signingCertificate": r.signing_certificate,
            "signature": r.signature,
        }
        if r.install_at is not None:
            firmware["installDateTime"] = to_ocpp(r.install_at)
        signed: dict[str, Any] = {"requestId": request_id, "firmware": firmware}
        _retries(signed, r)
        return "SignedUpdateFirmware", signed
    payload: dict[str, Any] = {"location": r.location, "retrieveDate": to_ocpp(r.retrieve_at)}
    _retries(payload, r)
    return "UpdateFirmware", payload


def _retries(payload: dict[str, Any], r: UpdateRequest) -> None:
    if r.retries is not None:
        payload["retries"] = r.retries
    if r.retry_interval is not None:
        payload["retryInterval"] = r.retry_interval


def handlers(svc: FirmwareService) -> dict[str, Handler]:
    async def firmware_status(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        # 1.6 has no requestId: the status is about the station's current update.
        await svc.status_reported(
            ctx.station_id, "FirmwareStatusNotification", p, p["status"], None
        )
        return {}

    async def signed_firmware_status(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        await svc.status_reported(
            ctx.station_id, "SignedFirmwareStatusNotification", p, p["status"], p.get("requestId")
        )
        return {}

    return {
        "FirmwareStatusNotification": firmware_status,
        "SignedFirmwareStatusNotification": signed_firmware_status,
    }
