"""OCPP 2.0.1 / 2.1 certificate management (Part 2 blocks A and M): SignCertificate and
SecurityEventNotification (station -> CSMS), CertificateSigned, InstallCertificate,
GetInstalledCertificateIds, DeleteCertificate and the TriggerMessage that asks for a new
CSR (CSMS -> station). `v21` selects 2.1's additions (requestId, OEMRootCertificate,
V2G20Certificate); a 2.0.1 station never gets them. The 1.6 Plug & Charge note reuses
these 2.0.1 payloads inside DataTransfer. Thin: encode / decode."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from ampyre.domain.certificates import CertificateUse, HashData, SigningUse
from ampyre.protocol.codec import Request
from ampyre.protocol.session import CallContext, Handler
from ampyre.protocol.timefmt import from_ocpp
from ampyre.services.certificates import CertificateService
from ampyre.services.certificates_port import ReportedCertificate
from ampyre.services.security_events import SecurityEventService
from ampyre.services.station_port import NotAddressable

log = logging.getLogger(__name__)

_INT32 = 2**31 - 1
# GetCertificateIdUseEnumType (2.0.1; 2.1 adds OEMRootCertificate).
LISTABLE_201 = frozenset(
    {
        CertificateUse.V2G_ROOT,
        CertificateUse.MO_ROOT,
        CertificateUse.CSMS_ROOT,
        CertificateUse.V2G_CHAIN,
        CertificateUse.MANUFACTURER_ROOT,
    }
)
LISTABLE_21 = LISTABLE_201 | {CertificateUse.OEM_ROOT}
_TRIGGER = {
    SigningUse.CHARGING_STATION: "SignChargingStationCertificate",
    SigningUse.V2G: "SignV2GCertificate",
    SigningUse.V2G20: "SignV2G20Certificate",  # 2.1 only
}


def _not_201(what: str) -> NotAddressable:
    return NotAddressable(f"{what} is OCPP 2.1 only; the station runs 2.0.1")


def hash_payload(h: HashData) -> dict[str, Any]:
    return {
        "hashAlgorithm": h.hash_algorithm,
        "issuerNameHash": h.issuer_name_hash,
        "issuerKeyHash": h.issuer_key_hash,
        "serialNumber": h.serial_number,
    }


def hash_data_of(raw: Any) -> HashData | None:
    """CertificateHashDataType as received (None if it is not one)."""
    if not isinstance(raw, dict):
        return None
    try:
        values = [
            raw["hashAlgorithm"],
            raw["issuerNameHash"],
            raw["issuerKeyHash"],
            raw["serialNumber"],
        ]
    except KeyError:
        return None
    if not all(isinstance(v, str) for v in values):
        return None
    return HashData(*values)


def certificate_signed(
    chain: str, use: SigningUse | None, request_id: int | None, v21: bool = False
) -> Request:
    payload: dict[str, Any] = {"certificateChain": chain}
    if use is not None:
        if use is SigningUse.V2G20 and not v21:
            raise _not_201("V2G20Certificate")
        # A02/A03: required when the SignCertificate named a type.
        payload["certificateType"] = use.value
    if v21 and request_id is not None:
        payload["requestId"] = request_id  # 2.1: matches the SignCertificate's
    return "CertificateSigned", payload


def install_certificate(use: CertificateUse, pem: str, v21: bool) -> Request:
    if use is CertificateUse.OEM_ROOT and not v21:
        raise _not_201("OEMRootCertificate")
    if use in (CertificateUse.V2G_CHAIN, CertificateUse.CHARGING_STATION):
        raise NotAddressable(f"{use.value} cannot be installed with InstallCertificate")
    return "InstallCertificate", {"certificateType": use.value, "certificate": pem}


def listable(v21: bool) -> frozenset[CertificateUse]:
    return LISTABLE_21 if v21 else LISTABLE_201


def get_installed(uses: Collection[CertificateUse], v21: bool) -> Request:
    names = sorted(u.value for u in uses if u in listable(v21))
    payload: dict[str, Any] = {}
    if names:
        payload["certificateType"] = names
    return "GetInstalledCertificateIds", payload


def installed_of(answer: dict[str, Any]) -> list[ReportedCertificate]:
    """The certificateHashDataChain of an answer (entries that do not decode skipped)."""
    out: list[ReportedCertificate] = []
    for raw in answer.get("certificateHashDataChain") or []:
        if not isinstance(raw, dict):
            continue
        try:
            use = CertificateUse(str(raw.get("certificateType")))
        except ValueError:
            log.info("GetInstalledCertificateIds: unknown type %r", raw.get("certificateType"))
            continue
        main = hash_data_of(raw.get("certificateHashData"))
        if main is None:
            continue
        children = tuple(
            h
            for h in (hash_data_of(c) for c in raw.get("childCertificateHashData") or [])
            if h is not None
        )
        out.append(ReportedCertificate(use, main, children))
    return out


def delete_certificate(hash_data: HashData) -> Request:
    return "DeleteCertificate", {"certificateHashData": hash_payload(hash_data)}


def trigger_sign(use: SigningUse, v21: bool) -> Request:
    if use is SigningUse.V2G20 and not v21:
        raise _not_201("SignV2G20Certificate")
    return "TriggerMessage", {"requestedMessage": _TRIGGER[use]}


def _int32(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _INT32:
        return None
    return value


def sign_answer(accepted: bool, reason: str | None) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": "Accepted" if accepted else "Rejected"}
    if not accepted and reason:
        answer["statusInfo"] = {"reasonCode": "InvalidCSR", "additionalInfo": reason[:512]}
    return answer


def handlers(certs: CertificateService, events: SecurityEventService) -> dict[str, Handler]:
    async def sign_certificate(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        # A02/A03: answered at once; CertificateSigned follows when the CA signed it.
        raw_use = p.get("certificateType")
        use = SigningUse(raw_use) if isinstance(raw_use, str) else None
        accepted, reason = await certs.sign_request(
            ctx.station_id, p.get("csr"), use, _int32(p.get("requestId"))
        )
        return sign_answer(accepted, reason)

    async def security_event(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        # A04: stored; the critical types raise an alert.
        await events.notification(
            ctx.station_id, str(p["type"]), from_ocpp(p.get("timestamp")), p.get("techInfo"), p
        )
        return {}

    return {"SignCertificate": sign_certificate, "SecurityEventNotification": security_event}
