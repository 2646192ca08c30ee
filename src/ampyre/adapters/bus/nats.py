"""The bus over NATS (nats-py): core publish/subscribe and request/reply, JSON bodies.

The client reconnects by itself for as long as the broker is away (publishes made
meanwhile are buffered by the client up to its limit, then fail with BusError); each
subscriber's handler runs as its own task, so a slow one (a command waiting 30 s for a
station) never holds up the messages behind it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import nats
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from ampyre.services.bus import BusError, BusTimeout, Handler, Message, NoResponders

log = logging.getLogger(__name__)
CONNECT_TIMEOUT = 5
PING_TIMEOUT = 2.0
MAX_PAYLOAD = 8 * 1024 * 1024  # a reply we refuse to decode beyond (NATS' default is 1 MiB)


class NatsBus:
    clustered = True

    def __init__(self, url: str, name: str = "ampyre") -> None:
        self._url = url
        self._name = name
        self._nc: Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        async def on_error(exc: Exception) -> None:
            log.warning("NATS: %s", exc)

        async def on_disconnected() -> None:
            log.warning("NATS: disconnected from %s; reconnecting", self._url)

        async def on_reconnected() -> None:
            log.info("NATS: reconnected")

        try:
            self._nc = await nats.connect(
                [u.strip() for u in self._url.split(",") if u.strip()],
                name=self._name,
                connect_timeout=CONNECT_TIMEOUT,
                reconnect_time_wait=1,
                max_reconnect_attempts=-1,  # a broker that is away comes back
                allow_reconnect=True,
                error_cb=on_error,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
            )
        except Exception as exc:  # nats raises OSError, TimeoutError, NoServersError...
            raise BusError(f"cannot connect to NATS at {self._url}: {exc}") from exc

    async def close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.drain()
            with contextlib.suppress(Exception):
                await nc.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _client(self) -> Client:
        if self._nc is None or self._nc.is_closed:
            raise BusError("the bus is not connected")
        return self._nc

    async def publish(self, subject: str, message: Message) -> None:
        try:
            await self._client().publish(subject, orjson.dumps(message))
        except NatsError as exc:
            raise BusError(f"publish to {subject}: {exc}") from exc

    async def subscribe(self, subject: str, handler: Handler) -> None:
        nc = self._client()

        async def on_message(msg: Msg) -> None:
            task = asyncio.get_running_loop().create_task(self._handle(nc, handler, msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        try:
            await nc.subscribe(subject, cb=on_message)
        except NatsError as exc:
            raise BusError(f"subscribe to {subject}: {exc}") from exc

    @staticmethod
    async def _handle(nc: Client, handler: Handler, msg: Msg) -> None:
        try:
            body = _decode(msg.data)
        except ValueError:
            log.warning("NATS: undecodable message on %s dropped", msg.subject)
            return
        try:
            reply = await handler(body)
        except Exception:
            log.exception("bus subscriber of %s failed", msg.subject)
            reply = {"error": "internal", "message": "the node failed to handle it"}
        if msg.reply:
            with contextlib.suppress(NatsError):
                await nc.publish(msg.reply, orjson.dumps(reply if reply is not None else {}))

    async def request(self, subject: str, message: Message, timeout: float) -> Message:
        try:
            msg = await self._client().request(subject, orjson.dumps(message), timeout=timeout)
        except NoRespondersError:
            raise NoResponders(subject) from None
        except NatsTimeout:
            raise BusTimeout(subject) from None
        except NatsError as exc:
            raise BusError(f"request to {subject}: {exc}") from exc
        try:
            return _decode(msg.data)
        except ValueError as exc:
            raise BusError(f"undecodable reply from {subject}") from exc

    async def ping(self) -> None:
        nc = self._client()
        if not nc.is_connected:
            raise BusError("not connected to NATS (reconnecting)")
        try:
            await nc.flush(timeout=PING_TIMEOUT)  # type: ignore[arg-type]
        except NatsError as exc:
            raise BusError(f"NATS did not answer: {exc}") from exc


def _decode(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_PAYLOAD:
        raise ValueError("too large")
    body = orjson.loads(data)
    if not isinstance(body, dict):
        raise ValueError("not an object")
    return body
