"""The TLS accept step (gateway/tls.py: TlsAccept, loop.start_tls) hands the connection
to the HTTP head reader and picows on both event loops the gateway runs on (`serve` uses
uvloop), with the client certificate visible to the admission check; a failed TLS
handshake is reported with its reason."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import uvloop
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake
from websockets.typing import Subprotocol

from ampyre.adapters.pki import LocalPki, init_pki
from ampyre.config import ConfigError, Settings
from ampyre.domain.models import OcppVersion
from ampyre.gateway import tls
from ampyre.gateway.server import Admission, Gateway
from ampyre.gateway.station_socket import StationSocket
from ampyre.gateway.upgrade import Decision, UpgradeProtocol, UpgradeRequest
from ampyre.services.ports import StartupRefused

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


def _files(pki_dir: Path) -> tls.TlsFiles:
    files = tls.tls_files(Settings(pki_dir=str(pki_dir)), str(pki_dir))
    assert files is not None and files.extra_chain  # the sub-CA goes with the certificate
    return files


@pytest.mark.parametrize("loop", list(LOOPS))
def test_tls_accept(loop: str, pki_dir: Path, local_pki: LocalPki, tmp_path: Path) -> None:
    own = local_pki.issue_station_certificate("TLS-1")
    (tmp_path / "own.pem").write_text(own.chain_pem())
    (tmp_path / "own.key").write_text(own.key_pem())
    stranger = init_pki(tmp_path / "stranger", "Stranger").issue_station_certificate("TLS-1")
    (tmp_path / "stranger.pem").write_text(stranger.chain_pem())
    (tmp_path / "stranger.key").write_text(stranger.key_pem())

    def client(name: str | None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(pki_dir / "csms-root.pem"))
        if name:
            ctx.load_cert_chain(tmp_path / f"{name}.pem", tmp_path / f"{name}.key")
        return ctx

    async def main() -> None:
        gateway = Gateway(Settings(), None, {}, {}, None, None)  # type: ignore[arg-type]
        subjects: list[Any] = []
        failures: list[str] = []
        failed = asyncio.Event()

        def on_failure(peer: str, why: str) -> None:
            failures.append(why)
            failed.set()

        async def admit(request: UpgradeRequest) -> Decision:
            ssl_object = request.transport.get_extra_info("ssl_object")
            cert = ssl_object.getpeercert() if ssl_object else None
            subjects.append((cert or {}).get("subject", ()) if ssl_object else None)
            return gateway._websocket(Admission("TLS-1", "peer", known=True), OcppVersion.V16)

        async def opened(sock: StationSocket, *_: Any) -> bool:
            async def echo(text: str) -> None:
                await sock.send(text.encode())

            sock.on_message = echo
            return True

        gateway._opened = opened  # type: ignore[assignment,method-assign]
        ctx = tls.server_context(_files(pki_dir))
        pending: set[UpgradeProtocol] = set()
        handshakes: set[tls.TlsAccept] = set()
        server = await asyncio.get_running_loop().create_server(
            lambda: tls.TlsAccept(
                ctx,
                lambda: UpgradeProtocol(admit, pending),
                on_failure,
                handshakes,
            ),
            "127.0.0.1",
            0,
        )
        url = f"wss://127.0.0.1:{server.sockets[0].getsockname()[1]}/ocpp/TLS-1"
        for name in ("own", None):
            async with connect(url, subprotocols=[Subprotocol("ocpp1.6")], ssl=client(name)) as ws:
                message = json.dumps([2, "1", "Heartbeat", {}])
                await ws.send(message)
                assert await ws.recv() == message
        assert subjects[0] is not None and (("commonName", "TLS-1"),) in subjects[0]
        assert subjects[1] == ()  # profile 2: no certificate
        with pytest.raises((ssl.SSLError, OSError, InvalidHandshake)):
            async with connect(url, subprotocols=[Subprotocol("ocpp1.6")], ssl=client("stranger")):
                pass
        await asyncio.wait_for(failed.wait(), 5)
        assert "client certificate refused" in failures[0], failures
        assert not handshakes
        server.close()

    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        runner.run(asyncio.wait_for(main(), 20))


async def test_tls_port_without_a_certificate_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(ocpp_port=0, ocpp_tls_port=1, pki_dir=str(tmp_path / "none"))
    gateway = Gateway(settings, None, {}, {}, None, None)  # type: ignore[arg-type]
    with pytest.raises(StartupRefused, match="no server certificate"):
        await gateway.start("127.0.0.1")
    assert gateway._server is None  # nothing listens
    broken = Settings(ocpp_tls_port=1, ocpp_tls_cert=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="cannot load"):
        await Gateway(broken, None, {}, {}, None, None).start("127.0.0.1")  # type: ignore[arg-type]
