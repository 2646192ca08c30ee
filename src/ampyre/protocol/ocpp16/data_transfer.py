"""OCPP 1.6J DataTransfer from a station (section 4.3): decoded, routed by vendorId to
the DataTransferService, encoded back. DataTransfer.conf data is a string: a handler's
non-string data is sent as its JSON text."""

from __future__ import annotations

import json
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
            data = reply.data
            answer["data"] = data if isinstance(data, str) else json.dumps(data)
        return answer

    return {"DataTransfer": data_transfer}
