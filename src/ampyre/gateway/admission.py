"""Security profiles at the WebSocket handshake (OCPP 2.0.1 Part 2 A00, OCPP 1.6 security
whitepaper section 1.3): what the connection offers (TLS, a client certificate, from the
socket or from a trusted TLS-terminating proxy) against what the station is configured
for. Pure rules; the gateway (server.py) reads the station, checks passwords, answers.

Profiles: 0 none (no credentials, only for stations without a password or profile), 1
HTTP Basic over ws://, 2 TLS + HTTP Basic, 3 TLS with a client certificate whose CN is
the station id. A station configured for a profile may connect with that one or a higher
one (a station being upgraded reconnects with the new profile before the upgrade is
complete), never with a lower one: that is a downgrade, refused and logged.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cryptography import x509

from ampyre.gateway import client_certs
from ampyre.gateway.client_certs import CertRefused, ClientCert
from ampyre.gateway.handshake import Network, is_trusted
from ampyre.gateway.upgrade import UpgradeRequest

log = logging.getLogger(__name__)

PROFILES: Final = (1, 2, 3)

# Where the gateway reports a refused handshake: (station id or None when not known,
# OCPP security event type, technical details).
SecurityHook = Callable[[str | None, str, str], object]

# The gateway's event names (its Prometheus counter) -> the security event type recorded
# for the station (OCPP 2.0.1 Appendices, security events; a downgrade has no type there).
EVENT_TYPES: Final = {
    "auth_failed": "FailedToAuthenticateAtCsms",
    "cert_refused": "InvalidChargingStationCertificate",
    "downgrade": "SecurityProfileDowngrade",
    "tls_failed": "InvalidTLSConnection",
}


@dataclass(slots=True, frozen=True)
class TransportSecurity:
    secure: bool  # TLS to us, or to a trusted proxy that says so
    cert: x509.Certificate | None = None
    cert_error: str | None = None  # a proxied certificate that is unreadable or untrusted
    via_proxy: bool = False


def transport_security(
    request: UpgradeRequest,
    trusted: Sequence[Network],
    header: str,
    cas: Sequence[x509.Certificate],
    now: datetime,
) -> TransportSecurity:
    """TLS and the client certificate of the connection. On a direct TLS connection
    OpenSSL has chained the certificate to the CA already; a certificate in `header`
    counts only when the peer is a trusted proxy, and is chained here."""
    ssl_object = request.transport.get_extra_info("ssl_object")
    if ssl_object is not None:
        der = ssl_object.getpeercert(binary_form=True)
        if not der:
            return TransportSecurity(secure=True)
        try:
            return TransportSecurity(secure=True, cert=client_certs.from_der(der))
        except CertRefused as exc:
            return TransportSecurity(secure=True, cert_error=str(exc))
    if not trusted or request.peer is None or not is_trusted(request.peer, trusted):
        return TransportSecurity(secure=False)
    proto = (request.get("X-Forwarded-Proto") or "").split(",")[-1].strip().lower()
    secure = proto in ("https", "wss")
    value = request.get(header) if header else None
    if not value:
        return TransportSecurity(secure=secure, via_proxy=True)
    try:
        cert, *chain = client_certs.from_header(value)
        client_certs.verify_chain(cert, cas, now, chain)
    except CertRefused as exc:
        return TransportSecurity(secure=True, cert_error=str(exc), via_proxy=True)
    # A proxy passes a client certificate only for a TLS connection.
    return TransportSecurity(secure=True, cert=cert, via_proxy=True)


@dataclass(slots=True, frozen=True)
class ProfileCheck:
    """The profile rules' verdict: a refusal (gateway event name, reason), or the
    profile the connection gets once its password (if `needs_password`) is right."""

    refusal: tuple[str, str] | None = None
    needs_password: bool = False
    profile: int = 0
    certificate: ClientCert | None = None


def check_profile(
    configured: int | None,
    has_password: bool,
    transport: TransportSecurity,
    station_id: str,
    organisation: str,
    now: datetime,
) -> ProfileCheck:
    if configured is not None and configured not in PROFILES:
        return ProfileCheck(("downgrade", f"unknown configured security profile {configured}"))
    if transport.cert_error is not None:
        return ProfileCheck(("cert_refused", transport.cert_error))
    if transport.cert is not None:
        # Profile 3: any certificate offered must be the station's own, even when the
        # station's profile does not ask for one (someone else's certificate is an attack).
        try:
            info = client_certs.check_station(transport.cert, station_id, organisation, now)
        except CertRefused as exc:
            return ProfileCheck(("cert_refused", str(exc)))
        return ProfileCheck(profile=3, certificate=info)
    if configured == 3:
        what = "a client certificate" if transport.secure else "TLS"
        return ProfileCheck(
            ("downgrade", f"configured for security profile 3; connected without {what}")
        )
    if configured == 2 and not transport.secure:
        return ProfileCheck(
            ("downgrade", "configured for security profile 2 (TLS); connected without TLS")
        )
    if configured in (1, 2) and not has_password:
        return ProfileCheck(
            ("auth_failed", f"configured for security profile {configured} but has no password")
        )
    if configured in (1, 2) or has_password:
        # Profile 1/2: HTTP Basic, user name = the station identity (2.0.1 A00.FR.202-205).
        return ProfileCheck(needs_password=True, profile=2 if transport.secure else 1)
    return ProfileCheck(profile=0)


@dataclass(slots=True, frozen=True)
class Admitted:
    """A station admitted with a profile: what the station security service hears of
    when it changes something (a new profile, a rotated password used)."""

    station_id: str
    profile: int
    configured: int | None
    previous: int | None  # the profile of its connection before this one
    pending_password: bool  # it logged in with the rotated password not yet confirmed
    certificate: ClientCert | None = None
    via_proxy: bool = False

    @property
    def changes(self) -> bool:
        # None (never recorded) counts as 0: stations without credentials cost nothing.
        return (
            self.pending_password
            or self.profile != (self.previous or 0)
            or (self.configured is not None and self.profile > self.configured)
        )


class SecurityHooks:
    """Where the gateway reports to the security composition (set after both exist):
    `on_security_event` each refusal (station id or None, event type, details),
    `on_admitted` each admitted connection that changes something. A hook may return an
    awaitable: it runs as a task; its failure is logged, never the gateway's."""

    def __init__(self) -> None:
        self.on_security_event: SecurityHook | None = None
        self.on_admitted: Callable[[Admitted], object] | None = None
        self._tasks: set[asyncio.Future[object]] = set()

    def refused(self, station_id: str | None, event: str, details: str) -> None:
        hook = self.on_security_event
        if hook is not None:
            self._run(lambda: hook(station_id, EVENT_TYPES.get(event, event), details))

    def admitted(self, admitted: Admitted) -> None:
        hook = self.on_admitted
        if hook is not None:
            self._run(lambda: hook(admitted))

    def _run(self, call: Callable[[], object]) -> None:
        try:
            result = call()
        except Exception:
            log.exception("gateway: security hook failed")
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("gateway: security hook failed: %r", task.exception())
