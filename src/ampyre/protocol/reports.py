"""Station -> CSMS notifications whose answer is empty (firmware, diagnostics/log upload,
security events, device-model and charging-limit reports, ...): acknowledged after they
are stored in the station's history (GET /stations/{id}/reports), durable before ack,
until the block that interprets them (device management, smart charging, security)
builds on them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from ampyre.domain.models import StationReport
from ampyre.protocol.session import CallContext, Handler
from ampyre.services.provisioning import ProvisioningService

_INT32_MAX: Final = 2**31 - 1


def _int32(value: Any) -> int | None:
    # The columns are 32-bit; the payload keeps any larger value as sent.
    if isinstance(value, int) and not isinstance(value, bool) and value >= -_INT32_MAX:
        return value if value <= _INT32_MAX else None
    return None


def stored(svc: ProvisioningService, actions: Iterable[str]) -> dict[str, Handler]:
    """A handler per action that stores the notification as received, then answers {}."""

    def make(action: str) -> Handler:
        async def store_report(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
            await svc.device_report(
                StationReport(
                    station_id=ctx.station_id,
                    action=action,
                    payload=p,
                    received_at=svc.now(),
                    request_id=_int32(p.get("requestId")),
                    seq_no=_int32(p.get("seqNo")),
                )
            )
            return {}

        return store_report

    return {action: make(action) for action in actions}
