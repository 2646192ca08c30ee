"""Reference target: a raw `picows` echo server (Cython WebSocket framing).

The same job as `bench.ref_echo` (any path, the OCPP subprotocols negotiated the way
`websockets` does it, every frame sent straight back, no JSON parsing), on a faster
WebSocket library: where this one is far above the `websockets` echo, the ceiling for
a Python CSMS moved with it (issue 15).
``python -m bench.ref_echo_picows --port 9101 [--no-uvloop]`` (needs ``pip install -e '.[bench]'``)
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence
from http import HTTPStatus

from picows import (
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

# Server preference order, as in bench.ref_echo.
SUBPROTOCOLS = ("ocpp2.1", "ocpp2.0.1", "ocpp1.6")


def select_subprotocol(offered: Sequence[str]) -> str | None:
    """The first of our subprotocols the client offered (server preference, like the
    `websockets` default), or None when there is none in common."""
    wanted = set(offered)
    return next((p for p in SUBPROTOCOLS if p in wanted), None)


def offered_subprotocols(request: WSUpgradeRequest) -> list[str]:
    """Sec-WebSocket-Protocol values of a handshake (the header may repeat)."""
    return [
        token.strip()
        for value in request.headers.getall("Sec-WebSocket-Protocol", [])
        for token in value.split(",")
        if token.strip()
    ]


class Echo(WSListener):
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind in (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION):
            # Frame by frame, fragments included: the bytes go back as they came.
            transport.send(kind, frame.get_payload_as_memoryview(), frame.fin)
        elif kind == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        # PING is answered by picows itself (enable_auto_pong); PONG needs nothing.


def route(request: WSUpgradeRequest) -> WSUpgradeResponseWithListener:
    chosen = select_subprotocol(offered_subprotocols(request))
    if chosen is None:
        # websockets refuses such a handshake with 400 as well (no subprotocol in common).
        return WSUpgradeResponseWithListener(
            WSUpgradeResponse.create_error_response(
                HTTPStatus.BAD_REQUEST, b"no supported OCPP subprotocol offered\n"
            ),
            None,
        )
    return WSUpgradeResponseWithListener(
        WSUpgradeResponse.create_101_response({"Sec-WebSocket-Protocol": chosen}), Echo()
    )


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    server = await ws_create_server(route, "127.0.0.1", port, backlog=4096)
    try:
        print(f"echo-picows listening on ws://127.0.0.1:{port}", flush=True)
        await stop
    finally:
        server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9101)
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args()
    if args.no_uvloop:
        asyncio.run(main(args.port))
    else:
        import uvloop

        uvloop.run(main(args.port))
