"""OCPP 2.0.1 customer information (N09/N10; 2.1 has the same message): the
CustomerInformation request and the parts of NotifyCustomerInformation."""

from __future__ import annotations

from typing import Any

from ampyre.protocol.codec import Request
from ampyre.protocol.timefmt import from_ocpp
from ampyre.services.customer import CustomerPart, CustomerSpec


def customer_information(request_id: int, spec: CustomerSpec) -> Request:
    payload: dict[str, Any] = {
        "requestId": request_id,
        "report": spec.report,
        "clear": spec.clear,
    }
    if spec.id_token is not None:
        payload["idToken"] = {"idToken": spec.id_token, "type": spec.id_token_type}
    if spec.customer_identifier is not None:
        payload["customerIdentifier"] = spec.customer_identifier
    if spec.certificate is not None:
        payload["customerCertificate"] = dict(spec.certificate)
    return "CustomerInformation", payload


def part(payload: dict[str, Any]) -> CustomerPart:
    return CustomerPart(
        seq_no=int(payload["seqNo"]),
        data=str(payload.get("data", "")),
        tbc=bool(payload.get("tbc", False)),
        generated_at=from_ocpp(payload.get("generatedAt")),
    )
