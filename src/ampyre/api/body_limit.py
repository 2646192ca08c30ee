"""Request bodies larger than AMPYRE_MAX_BODY_SIZE are refused with 413 before they are read.

A declared Content-Length over the limit is refused at once; a body without one (chunked)
is counted as it arrives and refused as soon as it passes the limit, so no request makes
the process hold more than the limit in memory. Before that 413 is sent, the rest of a
chunked body is read and thrown away (at most DRAIN_FACTOR times the limit, for at most
DRAIN_SECONDS): a client that sends its whole body before reading the answer (most HTTP
clients do) then gets the 413 instead of a reset connection; one that sends more, or
longer, gets the 413 and the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ampyre.api.problems import PROBLEM_MEDIA_TYPE, problem_type

# Set in the scope when a body was cut off: what the app answers after that is dropped, and
# the write guard records the 413 instead.
SCOPE_REFUSED = "ampyre.body_refused"
DRAIN_FACTOR = 16
DRAIN_SECONDS = 5.0


class BodyLimitMiddleware:
    """`larger(scope)` may give a route its own limit (firmware uploads); its route then
    enforces it, and this middleware only counts up to it."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        larger: Callable[[Scope], int | None] | None = None,
        setting: str = "AMPYRE_MAX_BODY_SIZE",
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._larger = larger
        self._setting = setting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        own = self._larger(scope) if self._larger is not None else None
        if own is not None:
            await BodyLimitMiddleware(self.app, own, setting="the route's limit")(
                scope, receive, send
            )
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await send_problem(send, scope, 413, self._detail(), slug="body-too-large")
            return
        if declared == -1:
            await send_problem(send, scope, 400, "the Content-Length header is not a number")
            return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    scope[SCOPE_REFUSED] = True
                    if message.get("more_body", False):
                        await self._drain(receive)
                    await send_problem(send, scope, 413, self._detail(), slug="body-too-large")
                    # The application sees the client go away and stops reading.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # our 413 is the answer; whatever the app says after is dropped
                await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _drain(self, receive: Receive) -> None:
        """Read and drop the rest of the body, within the module's bounds."""
        budget = DRAIN_FACTOR * self.max_bytes
        deadline = time.monotonic() + DRAIN_SECONDS
        while budget > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                message = await asyncio.wait_for(receive(), left)
            except TimeoutError:
                return
            if message["type"] != "http.request":
                return
            budget -= len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    def _detail(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes ({self._setting})"


def _content_length(scope: Scope) -> int | None:
    """The declared length, None if absent, -1 if unreadable."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return -1
            return length if length >= 0 else -1
    return None


async def send_problem(
    send: Send,
    scope: Scope,
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    type_: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> None:
    """Answer with a problem+json document straight from ASGI middleware."""
    body = {
        "type": type_ or (problem_type(slug) if slug else "about:blank"),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": scope.get("path", ""),
        **extra,
    }
    data = json.dumps(body).encode()
    raw_headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(data)).encode()),
    ]
    if status == 413:
        raw_headers.append((b"connection", b"close"))
    for name, value in (headers or {}).items():
        raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": data})
