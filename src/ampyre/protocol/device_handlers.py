"""Station notifications of log uploads, display messages and customer information
(issue 17 parts 5-7), for every version that has them: the service applies each one
(committed before the answer goes out: durable before ack), and it is kept in the
station's report history as before (GET /stations/{id}/reports).

`device_handlers` is their block for protocol/tables.py build_tables(blocks=...)."""

from __future__ import annotations

from typing import Any

from ampyre.domain.models import OcppVersion
from ampyre.protocol import reports
from ampyre.protocol.ocpp201 import customer as customer201
from ampyre.protocol.ocpp201 import display as display201
from ampyre.protocol.session import CallContext, Handler
from ampyre.services.customer import CustomerService
from ampyre.services.display import DisplayService
from ampyre.services.logs import LogService, LogType
from ampyre.services.provisioning import ProvisioningService


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def handlers(
    version: OcppVersion,
    prov: ProvisioningService,
    logs: LogService,
    display: DisplayService,
    customer: CustomerService,
) -> dict[str, Handler]:
    v16 = version == OcppVersion.V16
    actions = (
        ("DiagnosticsStatusNotification", "LogStatusNotification")
        if v16
        else ("LogStatusNotification", "NotifyDisplayMessages", "NotifyCustomerInformation")
    )
    history = reports.stored(prov, actions)

    async def diagnostics_status(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        # 1.6: no request id; the station's newest active diagnostics request.
        await logs.status_notified(ctx.station_id, str(p["status"]), None, LogType.DIAGNOSTICS)
        return await history["DiagnosticsStatusNotification"](ctx, p)

    async def log_status(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        # requestId is optional (absent: an Idle status sent on a TriggerMessage).
        request_id = _int(p.get("requestId"))
        if request_id is not None:
            await logs.status_notified(ctx.station_id, str(p["status"]), request_id, None)
        return await history["LogStatusNotification"](ctx, p)

    async def notify_display(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        messages = [display201.reported(ctx.station_id, i) for i in p.get("messageInfo") or ()]
        await display.reported(
            ctx.station_id, int(p["requestId"]), messages, bool(p.get("tbc", False))
        )
        return await history["NotifyDisplayMessages"](ctx, p)

    async def notify_customer(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        await customer.part(ctx.station_id, int(p["requestId"]), customer201.part(p))
        return await history["NotifyCustomerInformation"](ctx, p)

    if v16:
        return {
            "DiagnosticsStatusNotification": diagnostics_status,
            "LogStatusNotification": log_status,  # 1.6 security extension
        }
    return {
        "LogStatusNotification": log_status,
        "NotifyDisplayMessages": notify_display,
        "NotifyCustomerInformation": notify_customer,
    }


def device_handlers(
    prov: ProvisioningService,
    logs: LogService,
    display: DisplayService,
    customer: CustomerService,
) -> dict[OcppVersion, dict[str, Handler]]:
    """The handlers per version, a block for protocol/tables.py build_tables(blocks=...)."""
    return {v: handlers(v, prov, logs, display, customer) for v in OcppVersion}
