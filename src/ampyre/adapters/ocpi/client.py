"""The outgoing OCPI client (the OcpiClient port) on httpx.

Every request carries `Authorization: Token <base64 of the credentials token>` (OCPI 2.2.1
transport_and_format 4.1.2: the token Base64-encoded, RFC 4648 4), a new `X-Request-ID`
and `X-Correlation-ID` (4.3), and for functional modules the routing headers
`OCPI-from-*` (our party) and `OCPI-to-*` (theirs) (4.1.5; configuration modules go
without them). Network errors, timeouts and HTTP 5xx/408/429 are tried again after
ocpi_client_backoff seconds, doubling, up to ocpi_client_attempts tries; a 429's
Retry-After is honoured up to the backoff cap. Every try is written to the exchange log.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

import httpx

from ampyre.config import Settings
from ampyre.domain.ocpi import OcpiRole, Partner, ocpi_jsonable
from ampyre.services.clock import utcnow
from ampyre.services.ocpi_exchanges import ExchangeLog
from ampyre.services.ocpi_partners import OcpiIdentity
from ampyre.services.ocpi_port import Exchange, OcpiCallFailed, OcpiReply

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_PAGES = 10_000
RETRY_AFTER_MAX = 30.0
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;[^,]*rel="?next"?', re.IGNORECASE)
_OPPOSITE = {OcpiRole.CPO: OcpiRole.EMSP, OcpiRole.EMSP: OcpiRole.CPO}


def authorization(token: str) -> str:
    return "Token " + base64.b64encode(token.encode("ascii", "replace")).decode("ascii")


def encode_body(body: object) -> bytes:
    return json.dumps(ocpi_jsonable(body), separators=(",", ":"), ensure_ascii=False).encode()


def next_link(header: str | None) -> str | None:
    """The URL of a Link header's rel="next" (transport_and_format 4.1.3.2)."""
    if not header:
        return None
    found = _NEXT_LINK.search(header)
    return found.group(1).strip() if found else None


class HttpOcpiClient:
    def __init__(
        self,
        settings: Settings,
        identity: OcpiIdentity,
        exchanges: ExchangeLog,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Any = asyncio.sleep,
    ) -> None:
        self._identity = identity
        self._exchanges = exchanges
        self._timeout = settings.ocpi_client_timeout
        self._attempts = settings.ocpi_client_attempts
        self._backoff = settings.ocpi_client_backoff
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(self._timeout),
                follow_redirects=False,
                headers={"User-Agent": "Ampyre-OCPI/2.2.1"},
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ------------------------------------------------------------------ the port

    async def request(
        self,
        partner: Partner,
        method: str,
        url: str,
        *,
        body: object = None,
        params: Mapping[str, str] | None = None,
        attempts: int | None = None,
        timeout: float | None = None,
        party_role: OcpiRole | None = None,
    ) -> OcpiReply:
        if not partner.token_out:
            raise OcpiCallFailed(f"no credentials token for partner {partner.id}")
        ours = self._identity.party(party_role)
        theirs = partner.party(_OPPOSITE.get(ours.role, OcpiRole.EMSP)) or partner.party()
        headers = {
            "OCPI-from-country-code": ours.country_code,
            "OCPI-from-party-id": ours.party_id,
        }
        if theirs is not None:
            headers["OCPI-to-country-code"] = theirs.country_code
            headers["OCPI-to-party-id"] = theirs.party_id
        return await self._send(
            partner.token_out,
            method,
            url,
            body=body,
            params=params,
            headers=headers,
            partner_id=partner.id,
            attempts=attempts,
            timeout=timeout,
        )

    async def call(
        self,
        token: str,
        method: str,
        url: str,
        *,
        body: object = None,
        partner_id: int | None = None,
    ) -> OcpiReply:
        return await self._send(token, method, url, body=body, partner_id=partner_id)

    async def get_all(
        self, partner: Partner, url: str, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        seen: set[str] = set()
        next_url: str | None = url
        pages = 0
        while next_url is not None and pages < MAX_PAGES:
            reply = await self.request(partner, "GET", next_url, params=params)
            if not reply.ok or not isinstance(reply.data, list):
                raise OcpiCallFailed(
                    f"GET {next_url}: {reply.describe()}",
                    http_status=reply.http_status,
                    status_code=reply.status_code,
                )
            for item in reply.data:
                if isinstance(item, dict):
                    yield item
            seen.add(str(httpx.URL(next_url, params=params)))
            pages += 1
            link = next_link(reply.headers.get("link"))
            next_url = None if link is None or link in seen else link
            params = None  # the Link carries the query (4.1.3.2)

    # ------------------------------------------------------------------ sending

    async def _send(
        self,
        token: str,
        method: str,
        url: str,
        *,
        body: object = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        partner_id: int | None = None,
        attempts: int | None = None,
        timeout: float | None = None,
    ) -> OcpiReply:
        content = None if body is None else encode_body(body)
        tries = max(1, attempts if attempts is not None else self._attempts)
        correlation = str(uuid.uuid4())
        delay = self._backoff
        last: OcpiCallFailed | None = None
        for attempt in range(1, tries + 1):
            request_id = str(uuid.uuid4())
            sent = {
                "Authorization": authorization(token),
                "X-Request-ID": request_id,
                "X-Correlation-ID": correlation,
                **(headers or {}),
            }
            if content is not None:
                sent["Content-Type"] = "application/json"
            started, at = time.perf_counter(), utcnow()
            try:
                response = await self._http().request(
                    method,
                    url,
                    params=params,
                    content=content,
                    headers=sent,
                    timeout=timeout if timeout is not None else self._timeout,
                )
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
                self._log(
                    partner_id,
                    method,
                    url,
                    params,
                    at,
                    started,
                    request_id,
                    correlation,
                    content,
                    None,
                    None,
                    None,
                    error,
                )
                last = OcpiCallFailed(f"{method} {url}: {error}")
            else:
                reply = _reply(response)
                self._log(
                    partner_id,
                    method,
                    url,
                    params,
                    at,
                    started,
                    request_id,
                    correlation,
                    content,
                    response.status_code,
                    reply.status_code,
                    response.content,
                    None,
                )
                if response.status_code not in RETRY_STATUSES:
                    return reply
                last = OcpiCallFailed(
                    f"{method} {url}: {reply.describe()}",
                    http_status=response.status_code,
                    status_code=reply.status_code,
                )
                delay = max(delay, _retry_after(response, self._backoff))
            if attempt < tries:
                await self._sleep(min(delay, RETRY_AFTER_MAX))
                delay *= 2
        assert last is not None
        raise last

    def _log(
        self,
        partner_id: int | None,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        at: datetime,
        started: float,
        request_id: str,
        correlation: str,
        sent: bytes | None,
        http_status: int | None,
        status_code: int | None,
        received: bytes | None,
        error: str | None,
    ) -> None:
        self._exchanges.record(
            Exchange(
                partner_id=partner_id,
                direction="out",
                method=method,
                url=str(httpx.URL(url, params=params)) if params else url,
                http_status=http_status,
                status_code=status_code,
                duration_ms=int((time.perf_counter() - started) * 1000),
                error=error,
                request_id=request_id,
                correlation_id=correlation,
                request_body=self._exchanges.body(sent),
                response_body=self._exchanges.body(received),
                created_at=at,
            )
        )


def _reply(response: httpx.Response) -> OcpiReply:
    status_code = message = data = None
    try:
        parsed = response.json() if response.content else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("status_code"), int):
        status_code = parsed["status_code"]
        message = parsed.get("status_message")
        data = parsed.get("data")
    return OcpiReply(
        http_status=response.status_code,
        status_code=status_code,
        status_message=message if isinstance(message, str) else None,
        data=data,
        headers={k.lower(): v for k, v in response.headers.items()},
    )


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return default
