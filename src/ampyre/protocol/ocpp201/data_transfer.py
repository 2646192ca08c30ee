"""OCPP 2.0.1 (and 2.1) DataTransfer from a station (P02): decoded, routed by vendorId
to the DataTransferService, encoded back."""

from __future__ import annotations

from typing import Any

from ampyre.protocol.session import CallContext, Handler
from ampyre.services.data_transfer import DataTransferService, VendorMessage


def handlers(svc: DataTransferService) -> dict[str, Handler]:
    async def data_transfer(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        reply = await svc.handle(
            VendorMessage(ctx.station_id, p["vendorId"], p.get("messageId"), p.get("data"))
        )
        answer: dict[str, Any] = {"status": reply.status.value}
        if reply.data is not None:
            answer["data"] = reply.data
        return answer

    return {"DataTransfer": data_transfer}
