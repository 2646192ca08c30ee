"""Reference target: a raw `websockets` echo server (the ceiling for any Python CSMS).

Accepts any path and the OCPP subprotocols, sends every frame straight back.
``python -m bench.ref_echo --port 9100 [--no-uvloop]``
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

SUBPROTOCOLS = [Subprotocol(p) for p in ("ocpp2.1", "ocpp2.0.1", "ocpp1.6")]


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        echo,
        "127.0.0.1",
        port,
        subprotocols=SUBPROTOCOLS,
        compression=None,
        ping_interval=None,
        backlog=4096,
    ):
        print(f"echo listening on ws://127.0.0.1:{port}", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args()
    if args.no_uvloop:
        asyncio.run(main(args.port))
    else:
        import uvloop

        uvloop.run(main(args.port))
