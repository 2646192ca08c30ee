"""OCPP 1.6J certificate management: the security extension's messages (whitepaper
"Improved security for OCPP 1.6-J", edition 3: SignCertificate, CertificateSigned,
InstallCertificate, GetInstalledCertificateIds, DeleteCertificate, ExtendedTriggerMessage,
SecurityEventNotification) and, for the ISO 15118 (V2G) certificates, the OCA application
note "Using ISO 15118 Plug & Charge with OCPP 1.6": DataTransfer with vendorId
org.openchargealliance.iso15118pnc, messageId the OCPP 2.0.1 message's name and data the
2.0.1 request as JSON text (the answer's data: the 2.0.1 response as JSON text).
Thin: encode / decode; the certificate services decide."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from ampyre.domain.certificates import CertificateUse, HashData, SigningUse
from ampyre.protocol.codec import Request
from ampyre.protocol.ocpp201 import certificates as c201
from ampyre.protocol.session import CallContext, Handler
from ampyre.protocol.timefmt import from_ocpp
from ampyre.services.certificates import CertificateService
from ampyre.services.certificates_port import ReportedCertificate
from ampyre.services.security_events import SecurityEventService
from ampyre.services.station_port import NotAddressable

PNC_VENDOR = "org.openchargealliance.iso15118pnc"

# 1.6 CertificateUseEnumType <-> neutral (whitepaper 2.x "CertificateUseEnumType").
USE_NAMES = {
    CertificateUse.CSMS_ROOT: "CentralSystemRootCertificate",
    CertificateUse.MANUFACTURER_ROOT: "ManufacturerRootCertificate",
}
USE_OF = {name: use for use, name in USE_NAMES.items()}
# ExtendedTriggerMessage requestedMessage values (whitepaper MessageTriggerEnumType).
EXTENDED_TRIGGERS = (
    "BootNotification",
    "LogStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "SignChargePointCertificate",
    "StatusNotification",
)


def native(use: CertificateUse) -> bool:
    """Whether the security extension itself carries this use (else: the PnC note)."""
    return use in USE_NAMES


def pnc(message_id: str, payload: dict[str, Any]) -> Request:
    """A 2.0.1 message wrapped in the Plug & Charge DataTransfer."""
    return "DataTransfer", {
        "vendorId": PNC_VENDOR,
        "messageId": message_id,
        "data": json.dumps(payload, separators=(",", ":")),
    }


def pnc_answer(answer: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """(DataTransfer status, the wrapped 2.0.1 response or None if it is not one)."""
    status = str(answer.get("status", ""))
    raw = answer.get("data")
    if not isinstance(raw, str):
        return status, None
    try:
        data = json.loads(raw)
    except ValueError:
        return status, None
    return status, data if isinstance(data, dict) else None


# ------------------------------------------------------------------ CSMS -> station


def certificate_signed(chain: str, use: SigningUse | None) -> Request:
    if use in (SigningUse.V2G, SigningUse.V2G20):
        # PnC note: CertificateSigned of the V2G (SECC) certificate.
        return pnc("CertificateSigned", c201.certificate_signed(chain, SigningUse.V2G, None)[1])
    return "CertificateSigned", {"certificateChain": chain}


def install_certificate(use: CertificateUse, pem: str) -> Request:
    if native(use):
        return "InstallCertificate", {"certificateType": USE_NAMES[use], "certificate": pem}
    if use in (CertificateUse.V2G_ROOT, CertificateUse.MO_ROOT):
        return pnc("InstallCertificate", c201.install_certificate(use, pem, False)[1])
    raise NotAddressable(f"a 1.6 station cannot install a {use.value}")


def get_installed(use: CertificateUse) -> Request:
    """One native use per request (1.6 certificateType is a single value)."""
    return "GetInstalledCertificateIds", {"certificateType": USE_NAMES[use]}


def get_installed_pnc(uses: Collection[CertificateUse]) -> Request:
    return pnc("GetInstalledCertificateIds", c201.get_installed(uses, False)[1])


def installed_of(use: CertificateUse, answer: dict[str, Any]) -> list[ReportedCertificate]:
    out = []
    for raw in answer.get("certificateHashData") or []:
        hash_data = c201.hash_data_of(raw)
        if hash_data is not None:
            out.append(ReportedCertificate(use, hash_data))
    return out


def delete_certificate(use: CertificateUse, hash_data: HashData) -> Request:
    payload = {"certificateHashData": c201.hash_payload(hash_data)}
    if native(use):
        return "DeleteCertificate", payload
    return pnc("DeleteCertificate", payload)


def trigger_sign(use: SigningUse) -> Request:
    if use is SigningUse.CHARGING_STATION:
        return "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
    if use is SigningUse.V2G:
        # PnC note: TriggerMessage SignV2GCertificate through the DataTransfer.
        return pnc("TriggerMessage", {"requestedMessage": "SignV2GCertificate"})
    raise NotAddressable(f"a 1.6 station cannot be asked for a {use.value}")


def extended_trigger(message: str, connector_id: int | None) -> Request:
    if message not in EXTENDED_TRIGGERS:
        raise NotAddressable(
            f"ExtendedTriggerMessage has no {message!r} (one of {', '.join(EXTENDED_TRIGGERS)})"
        )
    payload: dict[str, Any] = {"requestedMessage": message}
    if connector_id is not None:
        payload["connectorId"] = connector_id
    return "ExtendedTriggerMessage", payload


# ------------------------------------------------------------------ station -> CSMS


def handlers(certs: CertificateService, events: SecurityEventService) -> dict[str, Handler]:
    async def sign_certificate(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        # Whitepaper A02/A03: the CSR is for the Charge Point certificate (1.6 has no
        # certificate type; V2G CSRs come through the PnC DataTransfer).
        accepted, _ = await certs.sign_request(
            ctx.station_id, p.get("csr"), SigningUse.CHARGING_STATION
        )
        return {"status": "Accepted" if accepted else "Rejected"}

    async def security_event(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        await events.notification(
            ctx.station_id, str(p["type"]), from_ocpp(p.get("timestamp")), p.get("techInfo"), p
        )
        return {}

    return {"SignCertificate": sign_certificate, "SecurityEventNotification": security_event}
