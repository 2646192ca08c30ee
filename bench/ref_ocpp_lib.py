# mypy: disable-error-code="untyped-decorator, import-untyped"
"""Reference target: a minimal CSMS on the `ocpp` PyPI library's ChargePoint.

What a user would otherwise build: one ChargePoint object per connection with
`@on(...)` routes for BootNotification, Heartbeat and StatusNotification, for
OCPP 1.6 and 2.0.1, schema validation on (the library default). No storage.
``python -m bench.ref_ocpp_lib --port 9101 [--no-uvloop]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v16.enums import RegistrationStatus as Registration16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from ocpp.v201.enums import RegistrationStatusEnumType as Registration201
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

HEARTBEAT_INTERVAL = 300


def now() -> str:
    return datetime.now(UTC).isoformat()


class CSMS16(ChargePoint16):  # type: ignore[misc]
    @on(Action16.boot_notification)
    def on_boot(self, charge_point_vendor: str, charge_point_model: str, **_: Any) -> Any:
        return result16.BootNotification(
            current_time=now(), interval=HEARTBEAT_INTERVAL, status=Registration16.accepted
        )

    @on(Action16.heartbeat)
    def on_heartbeat(self, **_: Any) -> Any:
        return result16.Heartbeat(current_time=now())

    @on(Action16.status_notification)
    def on_status(self, connector_id: int, error_code: str, status: str, **_: Any) -> Any:
        return result16.StatusNotification()


class CSMS201(ChargePoint201):  # type: ignore[misc]
    @on(Action201.boot_notification)
    def on_boot(self, charging_station: dict[str, Any], reason: str, **_: Any) -> Any:
        return result201.BootNotification(
            current_time=now(), interval=HEARTBEAT_INTERVAL, status=Registration201.accepted
        )

    @on(Action201.heartbeat)
    def on_heartbeat(self, **_: Any) -> Any:
        return result201.Heartbeat(current_time=now())

    @on(Action201.status_notification)
    def on_status(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **_: Any
    ) -> Any:
        return result201.StatusNotification()


async def on_connect(ws: ServerConnection) -> None:
    station_id = (ws.request.path if ws.request else "/").rstrip("/").rsplit("/", 1)[-1]
    cls = CSMS16 if ws.subprotocol == "ocpp1.6" else CSMS201
    cp = cls(station_id, ws)
    # The library lets ConnectionClosed escape from start() when the station leaves.
    with contextlib.suppress(Exception):
        await cp.start()


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        on_connect,
        "127.0.0.1",
        port,
        subprotocols=[Subprotocol("ocpp2.0.1"), Subprotocol("ocpp1.6")],
        compression=None,
        ping_interval=None,
        backlog=4096,
    ):
        print(f"ocpp-lib CSMS listening on ws://127.0.0.1:{port}", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9101)
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args()
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    if args.no_uvloop:
        asyncio.run(main(args.port))
    else:
        import uvloop

        uvloop.run(main(args.port))
