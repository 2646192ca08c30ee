"""Security profiles 2 and 3 at the handshake (issue 19), on a real server with its TLS
listener and certificates from the built-in PKI: profile 2 with the right and a wrong
password, profile 3 with a valid certificate, with another station's, an expired one,
one from an unknown CA, and downgrade attempts (plain ws, TLS without a certificate)."""

from __future__ import annotations

import base64
import socket
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from tests.integration.conftest import Server, StartServer
from tests.integration.polling import until
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from ampyre.adapters.pki import LocalPki, init_pki

PASSWORD = "profile-2-password-0123"
ORG = "Ampyre Test"  # tests/pki_fixtures.py
OCPP16 = [Subprotocol("ocpp1.6")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_tls(pki_dir: Path, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki_dir / "csms-root.pem"))
    if cert is not None:
        ctx.load_cert_chain(cert[0], cert[1])
    return ctx


def write_cert(directory: Path, name: str, issued: Any) -> tuple[Path, Path]:
    chain, key = directory / f"{name}.pem", directory / f"{name}.key"
    chain.write_text(issued.chain_pem())
    key.write_text(issued.key_pem())
    return chain, key


async def tls_server(start_server: StartServer, url: str, pki_dir: Path, **more: Any) -> Server:
    return await start_server(
        url,
        ocpp_tls_port=free_port(),
        pki_dir=str(pki_dir),
        ocpp_tls_organisation=ORG,
        **more,
    )


def wss(server: Server, station_id: str) -> str:
    return f"wss://127.0.0.1:{server.app.gateway.tls_port}/ocpp/{station_id}"


async def refused(url: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as exc:
        async with connect(url, subprotocols=OCPP16, **kwargs):
            pass
    return exc.value.response.status_code


async def admitted(url: str, **kwargs: Any) -> None:
    async with connect(url, subprotocols=OCPP16, **kwargs) as ws:
        assert ws.subprotocol == "ocpp1.6"


async def test_profile_2(
    start_server: StartServer, sqlite_url: str, pki_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = await tls_server(start_server, sqlite_url, pki_dir)
    await server.create_station("P2", password=PASSWORD, security_profile=2)
    tls = client_tls(pki_dir)
    good = {"Authorization": _basic("P2", PASSWORD)}
    await admitted(wss(server, "P2"), ssl=tls, additional_headers=good)
    bad = {"Authorization": _basic("P2", "wrong-password-0123456")}
    assert await refused(wss(server, "P2"), ssl=tls, additional_headers=bad) == 401
    assert await refused(wss(server, "P2"), ssl=tls) == 401  # no credentials
    # Downgrade: the right password over plain ws.
    assert await refused(server.station_url("P2"), additional_headers=good) == 403
    assert "P2" in caplog.text and "connected without TLS" in caplog.text
    # Each refusal is a security event of the station (stored by the security events).
    api = server.api()

    async def stored() -> bool:
        page = (await api.get("/stations/P2/security-events")).json()
        return len(page["items"]) >= 2  # (no credentials: a challenge, not an event)

    await until("the refusals stored as security events", stored)
    page = (await api.get("/stations/P2/security-events")).json()
    types = {(e["type"], e["source"]) for e in page["items"]}
    assert ("FailedToAuthenticateAtCsms", "csms") in types
    assert ("SecurityProfileDowngrade", "csms") in types
    assert any("connected without TLS" in (e["tech_info"] or "") for e in page["items"])


async def test_profile_3(
    start_server: StartServer,
    sqlite_url: str,
    pki_dir: Path,
    local_pki: LocalPki,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[tuple[str | None, str, str]] = []
    server = await tls_server(start_server, sqlite_url, pki_dir)
    server.app.gateway.hooks.on_security_event = lambda *event: seen.append(event)
    for station_id in ("P3", "P3-OTHER"):
        await server.create_station(station_id, security_profile=3)
    now = datetime.now(UTC)
    own = write_cert(tmp_path, "own", local_pki.issue_station_certificate("P3"))
    expired = write_cert(
        tmp_path,
        "expired",
        local_pki.issue_station_certificate(
            "P3", not_before=now - timedelta(days=2), not_after=now - timedelta(days=1)
        ),
    )
    wrong_org = write_cert(
        tmp_path, "org", local_pki.issue_station_certificate("P3", organisation="Someone")
    )
    stranger_dir = tmp_path / "stranger-pki"
    stranger = init_pki(stranger_dir, "Stranger")
    unknown_ca = write_cert(tmp_path, "unknown", stranger.issue_station_certificate("P3"))

    await admitted(wss(server, "P3"), ssl=client_tls(pki_dir, own))
    # Another station's certificate (CN P3 presented for P3-OTHER).
    assert await refused(wss(server, "P3-OTHER"), ssl=client_tls(pki_dir, own)) == 403
    assert await refused(wss(server, "P3"), ssl=client_tls(pki_dir, expired)) == 403
    assert await refused(wss(server, "P3"), ssl=client_tls(pki_dir, wrong_org)) == 403
    # Downgrades: TLS without a certificate (profile 2), plain ws (profile 1/0).
    assert await refused(wss(server, "P3"), ssl=client_tls(pki_dir)) == 403
    assert await refused(server.station_url("P3")) == 403
    # A certificate from a CA we do not trust fails the TLS handshake itself.
    # (With TLS 1.3 the client learns it only as a closed connection.)
    with pytest.raises((ssl.SSLError, OSError, InvalidHandshake)):
        async with connect(
            wss(server, "P3"), subprotocols=OCPP16, ssl=client_tls(pki_dir, unknown_ca)
        ):
            pass
    kinds = [(station, kind) for station, kind, _ in seen]
    assert kinds[:5] == [
        ("P3-OTHER", "InvalidChargingStationCertificate"),
        ("P3", "InvalidChargingStationCertificate"),
        ("P3", "InvalidChargingStationCertificate"),
        ("P3", "SecurityProfileDowngrade"),
        ("P3", "SecurityProfileDowngrade"),
    ]
    await until("the TLS refusal reported", _seen(seen, 6))
    assert seen[5][0] is None and "certificate" in seen[5][2].lower()
    assert "is not the station id 'P3-OTHER'" in seen[0][2]
    assert "expired" in seen[1][2]
    assert "'Someone'" in seen[2][2]


async def test_client_certificate_from_a_trusted_proxy(
    start_server: StartServer,
    sqlite_url: str,
    pki_dir: Path,
    local_pki: LocalPki,
    tmp_path: Path,
) -> None:
    """Behind a TLS-terminating proxy: the certificate in the configured header counts
    only from a trusted proxy, and is chained to the CA here."""
    # The built-in PKI's csms-root and csms-sub (a proxy passes the leaf only).
    server = await start_server(
        sqlite_url,
        pki_dir=str(pki_dir),
        ocpp_tls_client_cert_header="X-Client-Cert",
        trusted_proxies=["127.0.0.1/32"],
    )
    await server.create_station("PX3", security_profile=3)
    issued = local_pki.issue_station_certificate("PX3")
    header = {"X-Client-Cert": quote(issued.certificate_pem())}
    await admitted(server.station_url("PX3"), additional_headers=header)
    other = quote(local_pki.issue_station_certificate("PX4").certificate_pem())
    assert (
        await refused(server.station_url("PX3"), additional_headers={"X-Client-Cert": other}) == 403
    )
    garbage = {"X-Client-Cert": "-----BEGIN CERTIFICATE-----%0Anot-base64%0A"}
    assert await refused(server.station_url("PX3"), additional_headers=garbage) == 403
    stranger = LocalPki.load(
        init_pki(pki_dir.parent / "px-stranger", "Stranger").path("csms-root").parent
    )
    foreign = {"X-Client-Cert": quote(stranger.issue_station_certificate("PX3").certificate_pem())}
    assert await refused(server.station_url("PX3"), additional_headers=foreign) == 403
    # Without the header (or from an untrusted peer) it is a downgrade.
    assert await refused(server.station_url("PX3")) == 403


async def test_header_ignored_from_untrusted_peers(
    start_server: StartServer, sqlite_url: str, pki_dir: Path, local_pki: LocalPki
) -> None:
    server = await start_server(
        sqlite_url,
        ocpp_tls_ca=str(pki_dir / "csms-root.pem"),
        ocpp_tls_client_cert_header="X-Client-Cert",
    )
    await server.create_station("PX3", security_profile=3)
    header = {"X-Client-Cert": quote(local_pki.issue_station_certificate("PX3").certificate_pem())}
    assert await refused(server.station_url("PX3"), additional_headers=header) == 403


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _seen(events: list[Any], count: int) -> Any:
    async def check() -> bool:
        return len(events) >= count

    return check
