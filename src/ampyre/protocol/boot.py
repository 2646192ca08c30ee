"""The BootNotification answer, the same shape in 1.6, 2.0.1 and 2.1."""

from __future__ import annotations

from typing import Any

from ampyre.domain.models import BootInfo
from ampyre.protocol.session import CallContext
from ampyre.protocol.timefmt import to_ocpp
from ampyre.services.provisioning import ProvisioningService


async def boot_response(
    svc: ProvisioningService, ctx: CallContext, info: BootInfo
) -> dict[str, Any]:
    decision = await svc.boot(ctx.station_id, ctx.version.value, info)
    # The session refuses later messages of a Pending/Rejected station (B02.FR.09, B03.FR.07).
    ctx.session.boot_status = decision.status
    # 1.6 4.2 / 2.0.1 B01-B03: interval = heartbeat interval when Accepted, else the
    # minimum wait before the next BootNotification.
    return {
        "status": decision.status.value,
        "currentTime": to_ocpp(decision.current_time),
        "interval": decision.interval,
    }
