"""OCPP 1.6J Plug & Charge over DataTransfer (OCA application note "Using ISO 15118
Plug & Charge with OCPP 1.6", v1.0): vendorId org.openchargealliance.iso15118pnc, the
messageId names an OCPP 2.0.1 message and data carries its JSON payload as text. The
station's requests Authorize, GetCertificateStatus, Get15118EVCertificate and
SignCertificate are checked against the 2.0.1 schemas and answered with DataTransfer
status Accepted and the 2.0.1 response as data; a payload that is not valid JSON or
breaks the schema is Rejected, another messageId UnknownMessageId."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from ampyre.domain.models import OcppVersion
from ampyre.protocol.ocpp201 import plug_and_charge as pnc201
from ampyre.protocol.schemas import SchemaRegistry
from ampyre.services.data_transfer import (
    DataTransferStatus,
    VendorHandler,
    VendorMessage,
    VendorReply,
)
from ampyre.services.plug_and_charge import PlugAndChargeService
from ampyre.services.plug_and_charge_port import EvCertificateRequest

log = logging.getLogger(__name__)

VENDOR_ID: Final = "org.openchargealliance.iso15118pnc"
DATA_MAX: Final = 64 * 1024

_Message = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


def vendor_handler(svc: PlugAndChargeService) -> VendorHandler:
    schemas: SchemaRegistry | None = None

    async def authorize(station_id: str, p: dict[str, Any]) -> dict[str, Any]:
        token = p["idToken"]
        hash_data = tuple(
            pnc201.decode_query(q) for q in p.get("iso15118CertificateHashData") or ()
        )
        decision = await svc.authorize(
            station_id, token["idToken"], token["type"], p.get("certificate"), hash_data
        )
        return pnc201.authorize_answer(decision)

    async def get_certificate_status(station_id: str, p: dict[str, Any]) -> dict[str, Any]:
        query = pnc201.decode_query(p["ocspRequestData"])
        return await pnc201.certificate_status_answer(svc, station_id, query, v21=False)

    async def get_15118_ev_certificate(station_id: str, p: dict[str, Any]) -> dict[str, Any]:
        answer = await svc.ev_certificate(
            EvCertificateRequest(
                station_id=station_id,
                schema_version=p["iso15118SchemaVersion"],
                action=p["action"],
                exi_request=p["exiRequest"],
            )
        )
        return pnc201.ev_certificate_answer(answer, v21=False)

    async def sign_certificate(station_id: str, p: dict[str, Any]) -> dict[str, Any]:
        # Through this vendor a station only asks for its V2G (SECC) certificate; the
        # signed chain comes back as a CertificateSigned DataTransfer.
        accepted, reason = await svc.sign_v2g(station_id, p["csr"])
        answer: dict[str, Any] = {"status": "Accepted" if accepted else "Rejected"}
        if not accepted:
            answer["statusInfo"] = pnc201.status_info(reason, False)
        return answer

    messages: dict[str, _Message] = {
        "Authorize": authorize,
        "GetCertificateStatus": get_certificate_status,
        "Get15118EVCertificate": get_15118_ev_certificate,
        "SignCertificate": sign_certificate,
    }

    async def handle(message: VendorMessage) -> VendorReply:
        nonlocal schemas
        action = message.message_id
        run = messages.get(action or "")
        if action is None or run is None:
            return VendorReply(DataTransferStatus.UNKNOWN_MESSAGE_ID)
        payload = _payload(message.data)
        if payload is None:
            log.info("%s: Plug & Charge %s: data is not a JSON object", message.station_id, action)
            return VendorReply(DataTransferStatus.REJECTED)
        if schemas is None:
            schemas = SchemaRegistry(OcppVersion.V201)
        violation = schemas.validate(action, payload, response=False)
        if violation is not None:
            log.info(
                "%s: Plug & Charge %s refused: %s at %s",
                message.station_id,
                action,
                violation.message,
                violation.path,
            )
            return VendorReply(DataTransferStatus.REJECTED)
        return VendorReply(DataTransferStatus.ACCEPTED, await run(message.station_id, payload))

    return handle


def _payload(data: Any) -> dict[str, Any] | None:
    if isinstance(data, str):
        if len(data) > DATA_MAX:
            return None
        try:
            data = json.loads(data)
        except ValueError:
            return None
    return data if isinstance(data, dict) else None
