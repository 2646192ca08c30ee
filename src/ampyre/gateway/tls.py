"""The TLS side of security profiles 2 and 3 (OCPP 2.0.1 Part 2 A00; OCPP 1.6 security
whitepaper, edition 3, section 1.3): the server's SSLContext built from settings, and the
accept step that runs each TLS handshake itself so that a refused one is a logged
security event with its reason, not a silently dropped socket.

One listener serves both profiles: client certificates are asked for but not required
at the TLS level (profile 2 stations have none); the WebSocket handshake then enforces
each station's configured profile (gateway/client_certs.py, server.Gateway._check).
A certificate that does not chain to the configured CA fails the TLS handshake. One that
chains but has expired passes it (OpenSSL is told not to check times) and is refused at
the HTTP handshake, where the station id is known and the refusal names it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509

from ampyre.adapters.pki import LocalPki, PkiError
from ampyre.adapters.pki.hierarchy import pem
from ampyre.config import ConfigError, Settings
from ampyre.gateway.client_certs import load_cas
from ampyre.gateway.upgrade import feed

log = logging.getLogger(__name__)

# OCPP 2.0.1 A00.FR.318 (1.6 security whitepaper A00.FR.421): the CSMS supports
# TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
# TLS_RSA_WITH_AES_128_GCM_SHA256 and TLS_RSA_WITH_AES_256_GCM_SHA384 (the last two need
# an RSA certificate next to the ECDSA one); ECDHE-RSA for RSA keys with forward secrecy.
# TLS 1.3 suites are OpenSSL's defaults.
TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
    )
)
EARLY_CHUNK = 16 * 1024
MAX_EARLY = 64 * 1024  # bytes before the handshake starts: a ClientHello is far smaller
HANDSHAKE_TIMEOUT = 10.0  # seconds for the TLS handshake (then the HTTP head has its own)
_NO_CHECK_TIME = 0x200000  # X509_V_FLAG_NO_CHECK_TIME: expiry is checked per station
SERVER, SUB, ROOT = "csms-server", "csms-sub", "csms-root"  # the built-in PKI's names


@dataclass(slots=True, frozen=True)
class TlsFiles:
    """Where the listener's certificates come from: PEM paths (several cert/key pairs,
    e.g. one ECDSA and one RSA, comma-separated in the settings)."""

    certs: tuple[str, ...]
    keys: tuple[str, ...]
    ca: str
    source: str  # "settings" or "pki <dir>"
    extra_chain: str = ""  # PEM of CAs sent after the (first) certificate


def tls_files(settings: Settings, pki_dir: str | None = None) -> TlsFiles | None:
    """The configured files; without ocpp_tls_cert the built-in PKI's csms-server (with
    csms-root as CA) when `pki_dir` holds one; None when there is nothing to serve."""
    s = settings
    if s.ocpp_tls_cert:
        certs = tuple(p.strip() for p in s.ocpp_tls_cert.split(",") if p.strip())
        keys = tuple(p.strip() for p in (s.ocpp_tls_key or s.ocpp_tls_cert).split(",") if p.strip())
        if len(certs) != len(keys):
            raise ConfigError(
                "AMPYRE_OCPP_TLS_CERT and AMPYRE_OCPP_TLS_KEY: one key per certificate"
            )
        return TlsFiles(certs, keys, s.ocpp_tls_ca, "settings")
    if pki_dir and LocalPki.is_initialised(Path(pki_dir)):
        d = Path(pki_dir)
        try:
            pki = LocalPki.load(d)
            chain = pki.chain(SERVER)
        except PkiError as exc:
            raise ConfigError(f"AMPYRE_PKI_DIR {d}: {exc}") from exc
        ca = s.ocpp_tls_ca or str(pki.path(ROOT))
        # The server sends its sub-CA too: stations trust the root only.
        return TlsFiles(
            (str(pki.path(SERVER)),),
            (str(pki.key_path(SERVER)),),
            ca,
            f"pki {d}",
            extra_chain="".join(pem(c) for c in chain[1:-1]),
        )
    return None


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """The listener's context: TLS 1.2 or higher (2.0.1 A00.FR.313, 1.6 whitepaper
    A00.FR.416), the OCPP cipher suites, no compression (2.0.1 A00.FR.321, 1.6
    A00.FR.424) or renegotiation, client certificates requested and verified against
    the CA bundle when one is configured."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    try:
        for i, (cert, key) in enumerate(zip(files.certs, files.keys, strict=True)):
            if i == 0 and files.extra_chain:
                _load_with_chain(ctx, cert, key, files.extra_chain)
            else:
                ctx.load_cert_chain(cert, key)
        if files.ca:
            ctx.load_verify_locations(cafile=files.ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL  # profile 2 stations have no certificate
            ctx.verify_flags |= _NO_CHECK_TIME
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"AMPYRE_OCPP_TLS_*: cannot load {files.source} files: {exc}") from exc
    return ctx


def _load_with_chain(ctx: ssl.SSLContext, cert: str, key: str, chain: str) -> None:
    """load_cert_chain reads the chain from one file: a private temporary one."""
    with tempfile.TemporaryDirectory() as tmp:
        combined = Path(tmp) / "chain.pem"
        combined.write_text(Path(cert).read_text() + chain)
        ctx.load_cert_chain(combined, key)


def tls_base_url(settings: Settings) -> str | None:
    """The wss:// URL stations reach the TLS listener at (without the station id):
    the host of AMPYRE_PUBLIC_URL if set, else the listening host; None without one."""
    s = settings
    if not s.ocpp_tls_port:
        return None
    host = urlsplit(s.public_url).hostname if s.public_url else None
    if host is None:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(s.host, s.host)
    if ":" in host:
        host = f"[{host}]"
    return f"wss://{host}:{s.ocpp_tls_port}/ocpp"


def client_cas(settings: Settings) -> list[x509.Certificate]:
    """The CAs client certificates must chain to (also those a proxy passes on):
    AMPYRE_OCPP_TLS_CA, else the built-in PKI's csms-root and csms-sub (a proxy passes
    the leaf only, so the sub-CA is needed to build the chain)."""
    path = settings.ocpp_tls_ca
    try:
        if path:
            return load_cas(Path(path).read_bytes())
        d = Path(settings.pki_dir) if settings.pki_dir else None
        if d is not None and LocalPki.is_initialised(d):
            return LocalPki.load(d).chain(SUB)[-2:]
    except (OSError, ValueError, PkiError) as exc:
        raise ConfigError(f"AMPYRE_OCPP_TLS_CA {path or settings.pki_dir}: {exc}") from exc
    return []


# What the accept step reports about a failed TLS handshake: (peer address, reason).
HandshakeFailed = Callable[[str, str], None]


class TlsAccept(asyncio.BufferedProtocol):
    """A plain TCP connection until its TLS handshake is done (loop.start_tls, which
    asyncio and uvloop both have): then `make()`'s protocol gets the TLS transport, as
    if the server had been created with ssl=. A failed handshake is reported with the
    peer and OpenSSL's reason, and the socket closed."""

    __slots__ = ("_chunk", "_ctx", "_early", "_failed", "_make", "_pending", "_task", "_transport")

    def __init__(
        self,
        ctx: ssl.SSLContext,
        make: Callable[[], asyncio.Protocol],
        failed: HandshakeFailed,
        pending: set[TlsAccept],
    ) -> None:
        self._ctx = ctx
        self._make = make
        self._failed = failed
        self._pending = pending
        self._transport: asyncio.Transport | None = None
        self._task: asyncio.Task[None] | None = None
        self._early = bytearray()  # bytes read before start_tls took over
        self._chunk = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        transport.pause_reading()  # type: ignore[attr-defined]  # start_tls resumes it
        self._pending.add(self)
        self._task = asyncio.get_running_loop().create_task(self._handshake())

    async def _handshake(self) -> None:
        transport = self._transport
        assert transport is not None
        peername = transport.get_extra_info("peername")
        peer = str(peername[0]) if peername else "unknown"
        protocol = self._make()
        loop = asyncio.get_running_loop()
        try:
            start = loop.create_task(
                loop.start_tls(
                    transport,
                    protocol,
                    self._ctx,
                    server_side=True,
                    ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
                )
            )
            if self._early:
                # uvloop reads before the pause takes effect: the ClientHello is here.
                # One turn lets start_tls put its SSL protocol in place and queue that
                # protocol's connection_made and resume_reading; the bytes follow them.
                await asyncio.sleep(0)
                loop.call_soon(_feed_early, transport, bytes(self._early))
                self._early = bytearray()
            tls = await start
        except (ssl.SSLError, OSError, TimeoutError, ConnectionError, RuntimeError) as exc:
            transport.abort()
            self._failed(peer, _reason(exc))
            return
        finally:
            self._pending.discard(self)
        if tls is None:  # the peer left during the handshake
            return
        protocol.connection_made(tls)

    # Until start_tls takes the transport over: reading is paused (asyncio), or the first
    # bytes come anyway (uvloop starts reading after connection_made): kept, bounded. A
    # buffered protocol, as the SSL protocols of both loops are.
    def get_buffer(self, sizehint: int) -> bytearray:
        self._chunk = bytearray(EARLY_CHUNK)
        return self._chunk

    def buffer_updated(self, nbytes: int) -> None:
        self._early += self._chunk[:nbytes]
        if len(self._early) > MAX_EARLY and self._transport is not None:
            self._transport.abort()

    def abort(self) -> None:
        """Shutdown: drop a connection still in its TLS handshake."""
        if self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.abort()
        self._pending.discard(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._pending.discard(self)


def _feed_early(transport: asyncio.Transport, data: bytes) -> None:
    """Give start_tls's SSL protocol the bytes read before it was in place."""
    protocol = transport.get_protocol()
    if transport.is_closing():
        return
    if isinstance(protocol, asyncio.BufferedProtocol) or hasattr(protocol, "buffer_updated"):
        feed(protocol, data)  # type: ignore[arg-type]
    else:
        protocol.data_received(data)  # type: ignore[attr-defined]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"client certificate refused: {exc.verify_message} (code {exc.verify_code})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, TimeoutError):
        return "TLS handshake timed out"
    return f"TLS handshake failed: {exc!r}"
