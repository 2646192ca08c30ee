"""OCPP 2.0.1 (and 2.1) Plug & Charge: Authorize with a contract certificate or its
hash data (C07; takes over the Authorize of authorization.py, whose idToken part the
service still gives to the AuthService), Get15118EVCertificate (M01/M02) and
GetCertificateStatus (M06). Thin: decode -> PlugAndChargeService -> encode."""

from __future__ import annotations

import base64
from typing import Any, Final

from ampyre.domain.certificates import HashAlgorithm
from ampyre.domain.plug_and_charge import OcspQuery, OcspUnavailable, PncDecision
from ampyre.protocol.ocpp201.authorization import id_token_info
from ampyre.protocol.session import CallContext, Handler
from ampyre.services.contract_port import EvCertificateAnswer, ProviderStatus
from ampyre.services.plug_and_charge import PlugAndChargeService
from ampyre.services.plug_and_charge_port import EvCertificateRequest

# Response field limits (2.0.1 / 2.1 schemas): what does not fit is answered Failed.
EXI_RESPONSE_MAX: Final = {False: 7500, True: 17000}
OCSP_RESULT_MAX: Final = {False: 5500, True: 18000}
INFO_MAX: Final = {False: 512, True: 1024}


def decode_query(d: dict[str, Any]) -> OcspQuery:
    """OCSPRequestDataType (its fields are required by the schema)."""
    return OcspQuery(
        hash_algorithm=HashAlgorithm(d["hashAlgorithm"]),
        issuer_name_hash=d["issuerNameHash"],
        issuer_key_hash=d["issuerKeyHash"],
        serial_number=d["serialNumber"],
        responder_url=d["responderURL"],
    )


def encode_query(q: OcspQuery) -> dict[str, Any]:
    return {
        "hashAlgorithm": q.hash_algorithm.value,
        "issuerNameHash": q.issuer_name_hash,
        "issuerKeyHash": q.issuer_key_hash,
        "serialNumber": q.serial_number,
        "responderURL": q.responder_url,
    }


def status_info(reason: str | None, v21: bool, code: str = "Failed") -> dict[str, Any]:
    info: dict[str, Any] = {"reasonCode": code}
    if reason:
        info["additionalInfo"] = reason[: INFO_MAX[v21]]
    return info


def authorize_answer(decision: PncDecision) -> dict[str, Any]:
    answer: dict[str, Any] = {"idTokenInfo": id_token_info(decision.auth)}
    if decision.certificate_status is not None:
        answer["certificateStatus"] = decision.certificate_status.value
    return answer


def ev_certificate_answer(answer: EvCertificateAnswer, v21: bool) -> dict[str, Any]:
    if len(answer.exi_response_b64) > EXI_RESPONSE_MAX[v21]:
        answer = EvCertificateAnswer.failed("the EXI response is too long")
    # A Failed answer may carry the provider's EXI response too (it tells the vehicle
    # the ResponseCode); exiResponse is required either way.
    out: dict[str, Any] = {
        "status": answer.status.value,
        "exiResponse": answer.exi_response_b64,
    }
    if answer.status is not ProviderStatus.ACCEPTED:
        out["statusInfo"] = status_info(answer.reason, v21)
    return out


async def certificate_status_answer(
    svc: PlugAndChargeService, station_id: str, query: OcspQuery, v21: bool
) -> dict[str, Any]:
    try:
        outcome = await svc.certificate_status(station_id, query)
    except OcspUnavailable as exc:
        return {"status": "Failed", "statusInfo": status_info(str(exc), v21)}
    result = base64.b64encode(outcome.der).decode("ascii")
    if len(result) > OCSP_RESULT_MAX[v21]:
        return {"status": "Failed", "statusInfo": status_info("OCSP response too long", v21)}
    return {"status": "Accepted", "ocspResult": result}


def handlers(svc: PlugAndChargeService, v21: bool) -> dict[str, Handler]:
    async def authorize(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        token = p["idToken"]
        hash_data = tuple(decode_query(q) for q in p.get("iso15118CertificateHashData") or ())
        decision = await svc.authorize(
            ctx.station_id, token["idToken"], token["type"], p.get("certificate"), hash_data
        )
        return authorize_answer(decision)

    async def get_15118_ev_certificate(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        answer = await svc.ev_certificate(
            EvCertificateRequest(
                station_id=ctx.station_id,
                schema_version=p["iso15118SchemaVersion"],
                action=p["action"],
                exi_request=p["exiRequest"],
                maximum_chains=p.get("maximumContractCertificateChains"),
                prioritized_emaids=tuple(p.get("prioritizedEMAIDs") or ()),
            )
        )
        return ev_certificate_answer(answer, v21)

    async def get_certificate_status(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        query = decode_query(p["ocspRequestData"])
        return await certificate_status_answer(svc, ctx.station_id, query, v21)

    return {
        "Authorize": authorize,
        "Get15118EVCertificate": get_15118_ev_certificate,
        "GetCertificateStatus": get_certificate_status,
    }
