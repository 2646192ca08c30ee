"""The contract-certificate provider port (issue 19, Plug & Charge): where a vehicle's
ISO 15118 certificate installation (or update) request, forwarded by a station with OCPP
Get15118EVCertificate, gets its answer. Implementations: the built-in provider (the local
MO PKI issues the contract certificate) and an HTTP provider (a commercial platform).

The request and the answer are the EXI messages, base64, as OCPP carries them
(Get15118EVCertificateRequest.exiRequest, Get15118EVCertificateResponse.exiResponse); a
provider never raises for a bad request or an unreachable backend: it answers Failed with
the reason (OCPP 2.0.1 M01/M02: the station then tells the vehicle)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

# OCPP 2.0.1 Get15118EVCertificateRequest.iso15118SchemaVersion values.
ISO15118_2_SCHEMA = "urn:iso:15118:2:2013:MsgDef"
ISO15118_20_SCHEMA = "urn:iso:std:iso:15118:-20:CommonMessages"

# OCPP 2.0.1: exiRequest is at most 5600 characters, exiResponse at most 7500.
MAX_EXI_REQUEST_CHARS = 5600
MAX_EXI_RESPONSE_CHARS = 7500


class CertificateAction(StrEnum):
    """OCPP 2.0.1 CertificateActionEnumType."""

    INSTALL = "Install"
    UPDATE = "Update"


class ProviderStatus(StrEnum):
    """OCPP 2.0.1 Iso15118EVCertificateStatusEnumType."""

    ACCEPTED = "Accepted"
    FAILED = "Failed"


@dataclass(frozen=True, slots=True)
class EvCertificateAnswer:
    """`exi_response_b64` is the response for the vehicle (empty when Failed and the
    provider had none); `emaid` and `contract_certificate_pem` (leaf first, then the
    sub-CAs) when the provider issued or saw one; `reason` says why it Failed."""

    status: ProviderStatus
    exi_response_b64: str = ""
    emaid: str | None = None
    contract_certificate_pem: str | None = None
    reason: str | None = None

    @classmethod
    def failed(cls, reason: str, exi_response_b64: str = "") -> EvCertificateAnswer:
        return cls(ProviderStatus.FAILED, exi_response_b64, reason=reason)


class ContractCertificateProvider(Protocol):
    """`name` for logs and the API ("builtin", "http")."""

    name: str

    async def get_ev_certificate(
        self,
        *,
        station_id: str,
        schema_version: str,
        action: CertificateAction,
        exi_request_b64: str,
    ) -> EvCertificateAnswer: ...

    async def close(self) -> None: ...
