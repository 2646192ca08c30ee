"""An httpx transport that streams an ASGI app's answer as it is sent (httpx's own
ASGITransport collects the whole body first, which never ends for an event stream).

Closing the response tells the app the client went away (http.disconnect). The app's
sends wait while the client does not read (a queue of `window` messages), like a TCP
connection whose window is full, so a slow reader can be simulated.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx


class _Body(httpx.AsyncByteStream):
    def __init__(
        self, messages: asyncio.Queue[dict[str, Any]], task: asyncio.Task[None], gone: asyncio.Event
    ) -> None:
        self._messages = messages
        self._task = task
        self._gone = gone

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            getter = asyncio.ensure_future(self._messages.get())
            done, _ = await asyncio.wait({getter, self._task}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                if self._task.exception() is not None:
                    raise self._task.exception()  # type: ignore[misc]
                return
            message = getter.result()
            if message.get("body"):
                yield message["body"]
            if not message.get("more_body", False):
                return

    async def aclose(self) -> None:
        self._gone.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            # Drain what the app still sends so that it can notice the disconnect.
            async with asyncio.timeout(5):
                while not self._task.done():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        self._messages.get_nowait()
                    await asyncio.sleep(0.01)


class StreamingASGITransport(httpx.AsyncBaseTransport):
    def __init__(self, app: Any, window: int = 1000) -> None:
        self.app = app
        self.window = window
        self.tasks: list[asyncio.Task[None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port or 80),
            "client": ("127.0.0.1", 12345),
            "root_path": "",
        }
        gone = asyncio.Event()
        sent_body = False
        messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self.window)

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if gone.is_set() and message["type"] == "http.response.body":
                raise OSError("client gone")
            await messages.put(message)

        task = asyncio.create_task(self.app(scope, receive, send))
        self.tasks.append(task)
        getter = asyncio.ensure_future(messages.get())
        done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
        if getter not in done:
            getter.cancel()
            task.result()
            raise RuntimeError("the app ended without answering")
        start = getter.result()
        assert start["type"] == "http.response.start"
        return httpx.Response(
            start["status"],
            headers=[(bytes(k), bytes(v)) for k, v in start.get("headers", [])],
            stream=_Body(messages, task, gone),
            request=request,
        )


async def sse_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Parsed events of a text/event-stream: {"event", "data", "id"?} and comments as
    {"comment": text}."""
    current: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line == "":
            if current:
                yield current
            current = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            field, _, value = line.partition(":")
            current[field] = value[1:] if value.startswith(" ") else value
