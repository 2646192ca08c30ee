"""The upgrade hand-over (our HTTP head reader, then picows) on both event loops the
gateway runs on, over plain TCP and over TLS with a client certificate: what security
profile 3 needs (the admission check sees the station's certificate)."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
import uvloop
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from ampyre.config import Settings
from ampyre.domain.models import OcppVersion
from ampyre.gateway.server import Admission, Gateway
from ampyre.gateway.station_socket import StationSocket
from ampyre.gateway.upgrade import Decision, Refusal, UpgradeProtocol, UpgradeRequest

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    _openssl(
        "req", "-x509", *ec, "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem", "-subj", "/CN=CA"
    )
    for name, ext in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("station", "keyUsage=digitalSignature"),
    ):
        subject = f"/CN={name.upper()}-1"
        signer = ["-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key"]
        out = ["-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.pem"]
        _openssl("req", "-x509", *ec, *out, "-subj", subject, "-addext", ext, *signer)
    return d


def _server_tls(pki: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.pem"))
    ctx.load_cert_chain(pki / "server.pem", pki / "server.key")
    ctx.verify_mode = ssl.CERT_REQUIRED  # security profile 3: stations present a certificate
    return ctx


def _client_tls(pki: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    ctx.load_cert_chain(pki / "station.pem", pki / "station.key")
    return ctx


def _run(loop: str, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        runner.run(asyncio.wait_for(main(), 20))


async def _echo_server(
    gateway: Gateway, tls: ssl.SSLContext | None, seen: list[UpgradeRequest]
) -> asyncio.Server:
    """The gateway's hand-over with an admission check of our own: the certificate's CN
    must name the station."""

    async def admit(request: UpgradeRequest) -> Decision:
        seen.append(request)
        if tls is not None:
            cert = request.transport.get_extra_info("peercert")
            subject = dict(item[0] for item in cert["subject"])
            if request.path.rsplit("/", 1)[-1] != subject["commonName"]:
                return Refusal(HTTPStatus.FORBIDDEN, "Not your certificate\n")
        return gateway._websocket(Admission("STATION-1", "peer", known=True), OcppVersion.V16)

    async def opened(sock: StationSocket, *_: Any) -> bool:
        async def echo(text: str) -> None:
            await sock.send(text.encode())

        sock.on_message = echo
        return True

    gateway._opened = opened  # type: ignore[assignment,method-assign]
    pending: set[UpgradeProtocol] = set()
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: UpgradeProtocol(admit, pending), "127.0.0.1", 0, ssl=tls
    )


def _gateway() -> Gateway:
    return Gateway(Settings(), None, {}, {}, None, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("loop", list(LOOPS))
@pytest.mark.parametrize("secure", [False, True], ids=["tcp", "tls"])
def test_hand_over_to_picows(loop: str, secure: bool, pki: Path) -> None:
    async def main() -> None:
        seen: list[UpgradeRequest] = []
        tls = _server_tls(pki) if secure else None
        server = await _echo_server(_gateway(), tls, seen)
        port = server.sockets[0].getsockname()[1]
        scheme = "wss" if secure else "ws"
        client_tls = _client_tls(pki) if secure else None
        async with connect(
            f"{scheme}://127.0.0.1:{port}/ocpp/STATION-1",
            subprotocols=[Subprotocol("ocpp1.6")],
            ssl=client_tls,
        ) as ws:
            assert ws.subprotocol == "ocpp1.6"
            for i in range(3):
                message = json.dumps([2, str(i), "Heartbeat", {}])
                await ws.send(message)
                assert await ws.recv() == message
            big = json.dumps([2, "big", "DataTransfer", {"data": "x" * 100_000}])
            await ws.send(big)  # bigger than the read buffer: it grows
            assert await ws.recv() == big
        assert seen[0].peer == "127.0.0.1"
        if secure:
            with pytest.raises(InvalidStatus) as refused:
                await connect(
                    f"wss://127.0.0.1:{port}/ocpp/SOMEONE-ELSE",
                    subprotocols=[Subprotocol("ocpp1.6")],
                    ssl=client_tls,
                )
            assert refused.value.response.status_code == 403
        server.close()

    _run(loop, main)
