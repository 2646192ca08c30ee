"""What every OCPI answer gets, as ASGI middleware of the OCPI app:

* `X-Request-ID` and `X-Correlation-ID` (OCPI 2.2.1 transport_and_format 4.3): the
  request's values echoed, new UUIDs when it had none;
* routing headers (4.1.5): a request's `OCPI-from-*` come back as `OCPI-to-*`, and our
  party (or the one the request addressed) as `OCPI-from-*`; not on the configuration
  modules (versions, details, credentials), which "SHALL NOT" carry them;
* an unexpected error: HTTP 500 / status 3000 in the envelope (logged), never a crash;
* the exchange log: a request of a known partner, with its answer (bodies clipped,
  credentials tokens masked).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ampyre.api.ocpi.auth import STATE_PARTNER
from ampyre.api.ocpi.envelope import GENERIC_SERVER_ERROR, envelope
from ampyre.services.clock import utcnow
from ampyre.services.ocpi_exchanges import ExchangeLog
from ampyre.services.ocpi_partners import OcpiIdentity
from ampyre.services.ocpi_port import Exchange

log = logging.getLogger(__name__)

ID_MAX = 64
KEEP_MAX = 64 * 1024
_SAFE_ID = re.compile(r"^[\x21-\x7e]{1,64}$")
_CONFIGURATION = re.compile(r"/(versions|[0-9.]+/(details|credentials))/?$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            text = value.decode("latin-1").strip()
            return text or None
    return None


def _id(value: str | None) -> str:
    # Echo what the client sent when it is a sane header value; else a new UUID.
    return value if value is not None and _SAFE_ID.match(value) else str(uuid.uuid4())


class OcpiMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        identity: OcpiIdentity | None,
        exchanges: ExchangeLog | None,
    ) -> None:
        self.app = app
        self.identity = identity
        self.exchanges = exchanges

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _id(_header(scope, b"x-request-id"))
        correlation_id = _id(_header(scope, b"x-correlation-id"))
        extra = [
            (b"x-request-id", request_id.encode()),
            (b"x-correlation-id", correlation_id.encode()),
        ]
        if not _CONFIGURATION.search(str(scope.get("path", ""))):
            extra += self._routing(scope)
        started, at = time.perf_counter(), utcnow()
        kept_in, kept_out = bytearray(), bytearray()
        status: list[int] = []
        started_response = False

        async def keeping_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(kept_in) < KEEP_MAX:
                kept_in.extend(message.get("body", b"")[: KEEP_MAX - len(kept_in)])
            return message

        async def sending(message: Message) -> None:
            nonlocal started_response
            if message["type"] == "http.response.start":
                started_response = True
                status.append(int(message["status"]))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            elif message["type"] == "http.response.body" and len(kept_out) < KEEP_MAX:
                kept_out.extend(message.get("body", b"")[: KEEP_MAX - len(kept_out)])
            await send(message)

        try:
            await self.app(scope, keeping_receive, sending)
        except Exception:
            log.exception("OCPI %s %s failed", scope.get("method"), scope.get("path"))
            if started_response:
                return
            body = json.dumps(
                envelope(None, GENERIC_SERVER_ERROR, "internal error", with_data=False)
            ).encode()
            await sending(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await sending({"type": "http.response.body", "body": body})
        self._record(scope, at, started, request_id, correlation_id, status, kept_in, kept_out)

    def _routing(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        out: list[tuple[bytes, bytes]] = []
        their_cc = _header(scope, b"ocpi-from-country-code")
        their_pid = _header(scope, b"ocpi-from-party-id")
        if their_cc and their_pid and len(their_cc) <= 2 and len(their_pid) <= 3:
            out += [
                (b"ocpi-to-country-code", their_cc.encode("latin-1")),
                (b"ocpi-to-party-id", their_pid.encode("latin-1")),
            ]
        our_cc = _header(scope, b"ocpi-to-country-code")
        our_pid = _header(scope, b"ocpi-to-party-id")
        if not (our_cc and our_pid and len(our_cc) <= 2 and len(our_pid) <= 3):
            if self.identity is None:
                return out
            our_cc, our_pid = self.identity.country_code, self.identity.party_id
        out += [
            (b"ocpi-from-country-code", our_cc.encode("latin-1")),
            (b"ocpi-from-party-id", our_pid.encode("latin-1")),
        ]
        return out

    def _record(
        self,
        scope: Scope,
        at: Any,
        started: float,
        request_id: str,
        correlation_id: str,
        status: list[int],
        kept_in: bytearray,
        kept_out: bytearray,
    ) -> None:
        state = scope.get("state") or {}
        partner_id = state.get(STATE_PARTNER) if isinstance(state, dict) else None
        if self.exchanges is None or partner_id is None:
            return  # unknown callers are not logged (anyone could fill the log)
        http_status = status[0] if status else None
        status_code = None
        if kept_out:
            try:
                answer = json.loads(kept_out)
            except ValueError:
                answer = None
            if isinstance(answer, dict) and isinstance(answer.get("status_code"), int):
                status_code = answer["status_code"]
        path = str(scope.get("root_path", "")) + str(scope.get("path", ""))
        if str(scope.get("path", "")).startswith(str(scope.get("root_path", ""))):
            path = str(scope.get("path", ""))
        query = scope.get("query_string", b"").decode("latin-1")
        self.exchanges.record(
            Exchange(
                partner_id=int(partner_id),
                direction="in",
                method=str(scope.get("method", "")),
                url=path + (f"?{query}" if query else ""),
                http_status=http_status,
                status_code=status_code,
                duration_ms=int((time.perf_counter() - started) * 1000),
                error=None,
                request_id=request_id,
                correlation_id=correlation_id,
                request_body=self.exchanges.body(bytes(kept_in)),
                response_body=self.exchanges.body(bytes(kept_out)),
                created_at=at,
            )
        )
