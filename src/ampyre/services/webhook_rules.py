"""Webhook rules without I/O: signatures, the retry schedule, matching, payloads and
input validation (the API's schemas use the same checks).

What a receiver gets: `POST <url>` with the JSON body
`{"id": <delivery id>, "type": "station.connected", "created_at": "<RFC 3339>",
"station_id": "CP-1", "data": {...}}` and the headers

    Content-Type: application/json
    X-Ampyre-Event: station.connected
    X-Ampyre-Delivery: 42
    X-Ampyre-Timestamp: 1735732800            (unix seconds of this attempt)
    X-Ampyre-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

How a receiver verifies a request (see `verify_signature`):

1. Read the raw body bytes (before any JSON parsing: re-encoding changes them).
2. Compute HMAC-SHA256 with the webhook's secret as key over the bytes of
   `X-Ampyre-Timestamp`, a ".", then the raw body; hex-encode it; compare it with the
   part of X-Ampyre-Signature after "sha256=" in constant time (hmac.compare_digest).
3. Reject the request if the timestamp is further than a tolerance (5 minutes is a
   good default) from the receiver's clock: a captured request cannot be replayed later.
   Within the tolerance, remember the X-Ampyre-Delivery ids already processed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from ampyre.domain.events import Delivery, EventType, OutboxEvent, Webhook
from ampyre.services.clock import to_rfc3339

BACKOFF_CAP = 3600.0  # longest wait between two attempts, seconds
JITTER = 0.2  # +-20 % on every backoff, so failing receivers are not hit in lockstep
SIGNATURE_TOLERANCE = 300  # seconds; what receivers should accept (documentation/helper)
URL_MAX = 2048
SECRET_MIN, SECRET_MAX = 16, 255
DESCRIPTION_MAX = 500
ERROR_MAX = 500
EVENT_TYPES: frozenset[str] = frozenset(e.value for e in EventType)


class InvalidWebhookInput(ValueError):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The X-Ampyre-Signature value of one attempt."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance: float = SIGNATURE_TOLERANCE,
    now: float | None = None,
) -> bool:
    """What a receiver does: a valid signature over a recent timestamp."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def backoff_delay(
    attempts: int,
    base: float,
    cap: float = BACKOFF_CAP,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: base * 2**(attempts-1),
    +-JITTER, at most `cap`."""
    exponent = min(max(attempts, 1) - 1, 62)  # 2**62 * base exceeds any cap
    delay = base * 2.0**exponent * (1.0 + JITTER * (2.0 * rand() - 1.0))
    return max(0.0, min(cap, delay))


def matches(hook: Webhook, event_type: str) -> bool:
    return hook.enabled and (not hook.event_types or event_type in hook.event_types)


def outbox_payload(event: OutboxEvent) -> dict[str, Any]:
    """What a delivery made from an outbox event stores."""
    return {
        "type": event.type,
        "created_at": to_rfc3339(event.at),
        "station_id": event.station_id,
        "data": event.data,
    }


def delivery_body(delivery: Delivery) -> dict[str, Any]:
    p = delivery.payload
    return {
        "id": delivery.id,
        "type": delivery.event_type,
        "created_at": p.get("created_at"),
        "station_id": p.get("station_id"),
        "data": p.get("data") or {},
    }


def encode_body(delivery: Delivery) -> bytes:
    return json.dumps(delivery_body(delivery), separators=(",", ":"), ensure_ascii=False).encode()


def validate_url(url: str) -> str:
    url = url.strip()
    if not url or len(url) > URL_MAX:
        raise InvalidWebhookInput(f"url must be 1..{URL_MAX} characters", "url")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when not a number in 0..65535
    except ValueError as exc:
        raise InvalidWebhookInput(f"url is not valid: {exc}", "url") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidWebhookInput("url must be http:// or https://", "url")
    if not parts.hostname:
        raise InvalidWebhookInput("url must name a host", "url")
    if port == 0:
        raise InvalidWebhookInput("url has port 0", "url")
    if any(c.isspace() for c in url):
        raise InvalidWebhookInput("url must not contain whitespace", "url")
    return url


def validate_event_types(types: Sequence[str]) -> list[str]:
    out: list[str] = []
    for value in types:
        text = str(value)
        if text not in EVENT_TYPES:
            allowed = ", ".join(sorted(EVENT_TYPES))
            raise InvalidWebhookInput(
                f"unknown event type {text!r}; known: {allowed}", "event_types"
            )
        if text not in out:
            out.append(text)
    return out


def validate_secret(secret: str) -> str:
    if not SECRET_MIN <= len(secret) <= SECRET_MAX:
        raise InvalidWebhookInput(f"secret must be {SECRET_MIN}..{SECRET_MAX} characters", "secret")
    if not secret.isprintable() or any(c.isspace() for c in secret):
        raise InvalidWebhookInput("secret must be printable, without whitespace", "secret")
    return secret


def validate_description(description: str | None) -> str | None:
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise InvalidWebhookInput(
            f"description must be at most {DESCRIPTION_MAX} characters", "description"
        )
    return description


def clip(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 3] + "..."
