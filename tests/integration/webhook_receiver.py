"""A webhook receiver on 127.0.0.1 for tests (imported as a plain module)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter


class CountingReceiver:
    """HTTP/1.1 on 127.0.0.1: counts POSTs per X-Ampyre-Delivery; answers 200 (or the
    next of `answers`) and closes the connection."""

    def __init__(self) -> None:
        self.posts: Counter[int] = Counter()
        self.answers: list[int] = []
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=512)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode("latin-1")
            headers = {}
            for line in head.split("\r\n")[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            delivery = int(headers["x-ampyre-delivery"])
            assert json.loads(body)["id"] == delivery
            self.posts[delivery] += 1
            code = self.answers.pop(0) if self.answers else 200
            writer.write(
                f"HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
        finally:
            writer.close()
