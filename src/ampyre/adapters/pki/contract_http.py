"""The HTTP contract-certificate provider (issue 19, Plug & Charge): forwards the
vehicle's base64 EXI request to a commercial Plug & Charge platform (or the operator's own
gateway in front of one) and hands back what it answers.

Request: `POST contract_provider_url`, JSON with the OCPP Get15118EVCertificateRequest
fields `{"stationId", "iso15118SchemaVersion", "action", "exiRequest"}`, `Authorization:
Bearer <contract_provider_token>` when a token is set. Answer: the OCPP
Get15118EVCertificateResponse shape `{"status": "Accepted"|"Failed", "exiResponse": "...",
"statusInfo": {"reasonCode", "additionalInfo"}?}`. Anything else (HTTP error, timeout, not
JSON, an exiResponse that is no base64 or too long) is answered Failed with the reason.

With an EXI codec, an Accepted ISO 15118-2 CertificateInstallationRes is decoded to learn
the eMAID and the contract certificate chain (for the contract-certificate list); the answer
is passed on unchanged either way."""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization

from ampyre.adapters.exi import v2g_messages as v2g
from ampyre.adapters.exi.codec import ISO15118_2_MSG_DEF, ExiCodec, ExiError, ExiUnavailable
from ampyre.services.contract_port import (
    ISO15118_2_SCHEMA,
    MAX_EXI_REQUEST_CHARS,
    MAX_EXI_RESPONSE_CHARS,
    CertificateAction,
    EvCertificateAnswer,
    ProviderStatus,
)

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 64 * 1024
MAX_REASON = 500


class HttpContractProvider:
    name = "http"

    def __init__(
        self,
        url: str,
        token: str = "",
        timeout: float = 10.0,
        codec: ExiCodec | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"contract_provider_url must be an http(s) URL, got {url!r}")
        if not 0 < timeout <= 300:
            raise ValueError("contract_provider_timeout must be within (0, 300] seconds")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._url = url
        self._codec = codec
        self._client = httpx.AsyncClient(
            headers=headers, timeout=timeout, transport=transport, follow_redirects=False
        )

    async def get_ev_certificate(
        self,
        *,
        station_id: str,
        schema_version: str,
        action: CertificateAction,
        exi_request_b64: str,
    ) -> EvCertificateAnswer:
        if not exi_request_b64 or len(exi_request_b64) > MAX_EXI_REQUEST_CHARS:
            return EvCertificateAnswer.failed(
                f"exiRequest must be 1..{MAX_EXI_REQUEST_CHARS} base64 characters"
            )
        payload = {
            "stationId": station_id,
            "iso15118SchemaVersion": schema_version,
            "action": action.value,
            "exiRequest": exi_request_b64,
        }
        try:
            response = await self._client.post(self._url, json=payload)
        except httpx.HTTPError as exc:
            log.warning("contract provider %s unreachable: %s", self._url, exc)
            return EvCertificateAnswer.failed(
                f"contract provider unreachable: {exc!r}"[:MAX_REASON]
            )
        if response.status_code != 200:
            return EvCertificateAnswer.failed(
                f"contract provider answered HTTP {response.status_code}"
            )
        if len(response.content) > MAX_ANSWER_BYTES:
            return EvCertificateAnswer.failed("contract provider answer too large")
        try:
            body: Any = response.json()
        except ValueError:
            return EvCertificateAnswer.failed("contract provider answered no JSON")
        answer = _answer(body)
        if answer.status is ProviderStatus.ACCEPTED and schema_version == ISO15118_2_SCHEMA:
            answer = await self._with_contract(answer)
        return answer

    async def _with_contract(self, answer: EvCertificateAnswer) -> EvCertificateAnswer:
        """Learn the eMAID and contract chain from a -2 response (best effort)."""
        if self._codec is None:
            return answer
        try:
            document = await self._codec.decode(
                base64.b64decode(answer.exi_response_b64), ISO15118_2_MSG_DEF
            )
            parsed = v2g.read_installation_response(document)
        except (ExiError, ExiUnavailable, v2g.MessageError) as exc:
            log.info("contract provider response not readable here: %s", exc)
            return answer
        chain_pem = "".join(
            c.public_bytes(serialization.Encoding.PEM).decode("ascii")
            for c in parsed.contract_chain
        )
        return EvCertificateAnswer(
            answer.status,
            answer.exi_response_b64,
            emaid=parsed.emaid,
            contract_certificate_pem=chain_pem,
            reason=answer.reason,
        )

    async def close(self) -> None:
        await self._client.aclose()


def _answer(body: Any) -> EvCertificateAnswer:
    if not isinstance(body, dict):
        return EvCertificateAnswer.failed("contract provider answered no JSON object")
    try:
        status = ProviderStatus(str(body.get("status")))
    except ValueError:
        return EvCertificateAnswer.failed("contract provider answered an unknown status")
    exi = body.get("exiResponse", "")
    if not isinstance(exi, str) or len(exi) > MAX_EXI_RESPONSE_CHARS:
        return EvCertificateAnswer.failed("contract provider's exiResponse is malformed")
    if exi:
        try:
            base64.b64decode(exi, validate=True)
        except (binascii.Error, ValueError):
            return EvCertificateAnswer.failed("contract provider's exiResponse is not base64")
    reason = _reason(body.get("statusInfo"))
    if status is ProviderStatus.ACCEPTED and not exi:
        return EvCertificateAnswer.failed("contract provider accepted without an exiResponse")
    return EvCertificateAnswer(status, exi, reason=reason)


def _reason(info: object) -> str | None:
    if not isinstance(info, dict):
        return None
    parts = [str(info[k]) for k in ("reasonCode", "additionalInfo") if isinstance(info.get(k), str)]
    return ": ".join(parts)[:MAX_REASON] or None
