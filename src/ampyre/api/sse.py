"""Server-sent events (the `text/event-stream` format of the HTML standard) for one
subscriber of the live hub (services/live.py).

The response runs the stream itself rather than through Starlette's StreamingResponse so
that the end of a stream is always noticed and cleaned up at once, whichever way it
comes: the browser goes away (http.disconnect), the hub drops it for falling behind, the
server shuts down, or the stream reaches its maximum age (the browser then reconnects,
which also authenticates it again: a revoked token or an expired session does not keep a
stream open for long).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ampyre.services.live import LiveHub, LiveMessage, Subscriber

log = logging.getLogger(__name__)

MEDIA_TYPE = "text/event-stream"
KEEPALIVE = 15.0  # seconds of silence before a comment line (proxies close idle streams)
MAX_AGE = 600.0  # seconds a stream lasts before the client is asked to reconnect
RETRY_MS = 3000  # the reconnection delay a browser is told to use
BATCH = 100  # queued messages sent in one chunk
READY = "ready"  # first event of every stream: where it starts (its id) and what was replayed
RESET = "reset"  # the events a reconnecting client missed are gone: reload everything


def encode(message: LiveMessage) -> bytes:
    """One event, encoded once for all streams. The JSON is compact, so `data` is a
    single line (no raw newlines)."""
    if message.wire is None:
        data = json.dumps(message.data, separators=(",", ":"), ensure_ascii=False, default=str)
        head = f"id: {message.id}\n" if message.id is not None else ""
        message.wire = f"{head}event: {message.event}\ndata: {data}\n\n".encode()
    return message.wire


def parse_last_event_id(value: str | None) -> int | None:
    """The outbox position a reconnecting EventSource sends back; -1 when it is not one
    of ours (that client gets a reset)."""
    if value is None or value == "":
        return None
    text = value.strip()
    return int(text) if text.isdigit() and len(text) <= 19 else -1


class EventStreamMedia(Response):
    """Only names the media type for the OpenAPI document of a stream route."""

    media_type = MEDIA_TYPE


class EventStreamResponse(Response):
    media_type = MEDIA_TYPE

    def __init__(
        self,
        hub: LiveHub,
        sub: Subscriber,
        last_event_id: int | None,
        *,
        keepalive: float | None = None,
        max_age: float | None = None,
    ) -> None:
        # Not Response.__init__: without a body there must be no Content-Length (the
        # stream is chunked, as a StreamingResponse's).
        self.status_code = 200
        self.background = None
        self.init_headers(
            {
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # nginx: pass events through at once
            }
        )
        self._hub = hub
        self._sub = sub
        self._last = last_event_id
        self._keepalive = KEEPALIVE if keepalive is None else keepalive
        self._max_age = MAX_AGE if max_age is None else max_age

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sub = self._sub
        closed = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            closed.set()

        async def drop() -> None:
            await sub.dropped.wait()
            closed.set()

        helpers = [asyncio.create_task(watch()), asyncio.create_task(drop())]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await self._chunk(send, await self._opening())
            await self._pump(send, closed)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the connection is gone (a write failed): nothing more to send
        finally:
            self._hub.unsubscribe(sub)
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _opening(self) -> bytes:
        """retry, then a reset or the replay of what a reconnecting client missed, then
        `ready` with the position the queue continues from."""
        parts = [f"retry: {RETRY_MS}\n\n".encode()]
        upto = self._sub.start
        replayed: list[LiveMessage] | None = []
        if self._last is not None:
            if self._last < 0:
                replayed = None
            else:
                try:
                    replayed = await self._hub.replay(self._last, upto)
                except Exception:
                    log.warning("live updates: replay failed; sending a reset", exc_info=True)
                    replayed = None
        if replayed is None:
            parts.append(encode(LiveMessage(RESET, {"position": upto})))
            replayed = []
        parts.extend(encode(m) for m in replayed)
        ready: dict[str, Any] = {"position": upto, "replayed": len(replayed)}
        parts.append(encode(LiveMessage(READY, ready, upto)))
        return b"".join(parts)

    async def _pump(self, send: Send, closed: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_age
        queue = self._sub.queue
        closing = asyncio.ensure_future(closed.wait())
        try:
            while not closed.is_set():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                if queue.empty():
                    getter = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait(
                        {getter, closing},
                        timeout=min(self._keepalive, remaining),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if getter not in done:
                        getter.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await getter
                    if getter.cancelled():
                        if not done:  # silence: a comment keeps proxies from closing it
                            await self._chunk(send, b": keep-alive\n\n")
                        continue
                    batch = [getter.result()]
                else:
                    batch = []
                while len(batch) < BATCH and not queue.empty():
                    batch.append(queue.get_nowait())
                if closed.is_set():
                    return
                await self._chunk(send, b"".join(encode(m) for m in batch))
        finally:
            closing.cancel()

    @staticmethod
    async def _chunk(send: Send, body: bytes) -> None:
        await send({"type": "http.response.body", "body": body, "more_body": True})
