"""The OCPP WebSocket gateway (picows framing): handshake checks (security profiles 1-3,
gateway/admission.py), one OcppSession per connection fed its messages in order,
replacement of a station's older connection, keepalive pings, shutdown; the plain
listener and, with AMPYRE_OCPP_TLS_PORT, the TLS one (gateway/tls.py)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol, runtime_checkable

from picows import WSUpgradeRequest, WSUpgradeResponse, WSUpgradeResponseWithListener
from picows import picows as _picows
from picows.picows import WSAutoPingStrategy

from ampyre.config import Settings
from ampyre.domain.models import OcppVersion, RegistrationStatus
from ampyre.gateway import handshake, tls
from ampyre.gateway.admission import (
    Admitted,
    ProfileCheck,
    SecurityHooks,
    check_profile,
    transport_security,
)
from ampyre.gateway.registry import ConnectionRegistry, Link
from ampyre.gateway.responses import (
    dummy_hash,
    offered_subprotocols,
    password_ok,
    refuse,
    too_many,
    unauthorized,
    url_host,
)
from ampyre.gateway.station_socket import StationSocket
from ampyre.gateway.throttle import AuthThrottle
from ampyre.gateway.upgrade import SERVER, Decision, Refusal, UpgradeProtocol, UpgradeRequest
from ampyre.protocol.schemas import Schemas
from ampyre.protocol.session import HandlerTable, OcppSession, SessionObserver, Transport
from ampyre.services.clock import utcnow
from ampyre.services.ports import StartupRefused, Store, StoreUnavailable

log = logging.getLogger(__name__)
# picows logs every connection at INFO (and at DEBUG every frame); the gateway logs its own.
# A LoggerAdapter, not a Logger: picows makes a child Logger per connection out of a Logger.
_ws_logger = logging.getLogger("ampyre.gateway.ws")
_ws_logger.setLevel(logging.WARNING)
_WS_LOG = logging.LoggerAdapter(_ws_logger)

CLOSE_REPLACED = 1000  # normal closure: the station itself opened a newer connection
CLOSE_GOING_AWAY = 1001  # server shutting down
CLOSE_INTERNAL_ERROR = 1011  # storage unavailable
READ_BUFFER = 2048  # picows' smallest; grows for bigger messages (idle memory per station)
BACKLOG = 4096
# picows' server protocol class: not in its type stubs (its ws_create_server builds it the
# same way); the positional arguments are picows 2.3's, hence the pinned range.
_WSProtocol: Callable[..., asyncio.BufferedProtocol] = _picows.WSProtocol  # type: ignore[attr-defined]


@runtime_checkable
class SecurityEvents(Protocol):
    """Where security events are counted (the GatewayObserver: a Prometheus counter)."""

    def security_event(self, event: str) -> None: ...


@dataclass(slots=True)
class Admission:
    station_id: str
    remote_address: str
    known: bool  # False: unknown station admitted by AMPYRE_AUTO_REGISTER
    registration: RegistrationStatus | None = None
    # The security profile of this connection and what it changes (gateway/admission.py).
    admitted: Admitted | None = None


class Gateway:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        tables: dict[OcppVersion, HandlerTable],
        schemas: Schemas,
        observer: SessionObserver,
        registry: ConnectionRegistry,
        on_change: Callable[[str, OcppVersion, bool], None] | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._tables = tables
        self._schemas = schemas
        self._observer = observer
        self.registry = registry
        self._trusted = settings.trusted_networks()
        self._server: asyncio.Server | None = None
        self._on_change = on_change
        self.node_id = settings.node_id
        self._closing: set[asyncio.Task[None]] = set()  # replaced sockets being closed
        self._upgrading: set[UpgradeProtocol] = set()  # sockets still in the HTTP handshake
        self._sockets: dict[StationSocket, OcppSession] = {}  # open until their clean-up
        self._all_closed: asyncio.Event | None = None  # set by stop(): wakes when none left
        self._stopping = False
        self._keepalive: asyncio.Task[None] | None = None
        # A peer that ignores our close frame is dropped quickly, not after 10 s.
        self._close_timeout = min(settings.ping_timeout, 5.0) if settings.ping_timeout else 5.0
        self._throttle = AuthThrottle(
            station_limit=settings.auth_fail_station_limit,
            address_limit=settings.auth_fail_address_limit,
            max_delay=settings.auth_fail_max_delay,
        )
        # Security profiles 2 and 3 (issue 19): the TLS listener, the CAs that proxied
        # client certificates must chain to, and the hooks the security composition sets:
        # each refusal as a security event (station id or None, event type, details),
        # each admitted connection whose profile or credentials changed something.
        self._tls_server: asyncio.Server | None = None
        self._handshakes: set[tls.TlsAccept] = set()
        self._client_cas = tls.client_cas(settings)
        self.hooks = SecurityHooks()

    # ------------------------------------------------------------------ life cycle

    async def start(
        self,
        host: str | None = None,
        port: int | None = None,
        tls: ssl.SSLContext | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Listen; with an SSL context, stations connect over TLS (wss://), and its
        verify_mode decides whether they must present a client certificate. With
        `reuse_port` other processes may listen on the same port (`serve --workers`)."""
        s = self._settings
        loop = asyncio.get_running_loop()
        if s.ocpp_tls_port and tls is None:
            # First: a TLS set-up that cannot start stops everything before anything runs.
            await self.start_tls(host, reuse_port=reuse_port)
        try:
            self._server = await loop.create_server(
                lambda: UpgradeProtocol(self._admit, self._upgrading),
                host or s.host,
                s.ocpp_port if port is None else port,
                backlog=BACKLOG,
                ssl=tls,
                reuse_port=reuse_port or None,
            )
        except BaseException:
            if self._tls_server is not None:
                self._tls_server.close()
            raise
        if s.ping_interval:
            self._keepalive = loop.create_task(self._keep_alive(s.ping_interval, s.ping_timeout))

    async def start_tls(
        self, host: str | None = None, port: int | None = None, reuse_port: bool = False
    ) -> None:
        """The TLS listener (security profiles 2 and 3) on AMPYRE_OCPP_TLS_PORT: each
        handshake runs in tls.TlsAccept, so a refused one is logged with its reason."""
        s = self._settings
        if not 0 <= s.ocpp_tls_port <= 65535:
            raise StartupRefused(f"AMPYRE_OCPP_TLS_PORT: {s.ocpp_tls_port} is not a port")
        files = tls.tls_files(s, s.pki_dir)
        if files is None:
            raise StartupRefused(
                "AMPYRE_OCPP_TLS_PORT is set but there is no server certificate: set "
                "AMPYRE_OCPP_TLS_CERT and AMPYRE_OCPP_TLS_KEY, or run `ampyre pki init`"
            )
        ctx = tls.server_context(files)
        loop = asyncio.get_running_loop()
        self._tls_server = await loop.create_server(
            lambda: tls.TlsAccept(
                ctx,
                lambda: UpgradeProtocol(self._admit, self._upgrading),
                self._tls_failed,
                self._handshakes,
            ),
            host or s.host,
            s.ocpp_tls_port if port is None else port,
            backlog=BACKLOG,
            reuse_port=reuse_port or None,
        )
        log.info(
            "OCPP over TLS (security profiles 2 and 3): wss://%s:%d/ocpp/{station_id} "
            "(certificate from %s%s)",
            url_host(host or s.host),
            self.tls_port,
            files.source,
            ", client certificates checked against " + files.ca if files.ca else "",
        )

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def tls_port(self) -> int | None:
        """The bound TLS port; None without a TLS listener."""
        if self._tls_server is None or not self._tls_server.sockets:
            return None
        return int(self._tls_server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting, close every station with 1001 (going away), wait for clean-up."""
        if self._server is None:
            return
        self._stopping = True
        self._server.close()
        if self._tls_server is not None:
            self._tls_server.close()
        for handshake_ in list(self._handshakes):
            handshake_.abort()
        for pending in list(self._upgrading):
            pending.abort()
        for sock in list(self._sockets):
            sock.fail(CLOSE_GOING_AWAY, "")
        if self._keepalive is not None:
            self._keepalive.cancel()
        self._all_closed = asyncio.Event()
        if not self._sockets:
            self._all_closed.set()
        try:
            async with asyncio.timeout(self._settings.shutdown_grace):
                await self._all_closed.wait()
                if self._closing:
                    await asyncio.wait(self._closing)
        except TimeoutError:
            log.warning("gateway: some connections did not close within the grace period")

    async def _keep_alive(self, interval: float, timeout: float) -> None:
        """One sweep for every connection (no timer or task per idle station): ping each
        one whose interval is up, close with 1011 those whose pong is late."""
        tick = min(max(min(interval, timeout or interval) / 4, 0.02), 5.0)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            for sock in list(self._sockets):
                sock.ping(now, interval, timeout)

    # ------------------------------------------------------------------ handshake

    async def _admit(self, request: UpgradeRequest) -> Decision:
        """The upgrade request's checks: a refusal, or the WebSocket protocol to switch to."""
        if self._stopping:
            return Refusal(HTTPStatus.SERVICE_UNAVAILABLE, "Try again later\n")
        offered = offered_subprotocols(request)
        version = handshake.choose_subprotocol(offered)
        admitted = await self._check(request, version)
        if isinstance(admitted, Refusal):
            return admitted
        assert version is not None
        return self._websocket(admitted, version)

    async def _check(
        self, request: UpgradeRequest, version: OcppVersion | None
    ) -> Admission | Refusal:
        station_id = handshake.station_id_from_path(request.path)
        if station_id is None:
            return refuse(HTTPStatus.NOT_FOUND, "No valid station id in the URL path")
        if version is None:
            return refuse(
                HTTPStatus.BAD_REQUEST,
                "No common OCPP subprotocol; this server speaks "
                + ", ".join(v.value for v in handshake.PREFERENCE),
            )
        remote = handshake.client_address(
            request.peer, request.get("X-Forwarded-For"), self._trusted
        )
        credentials = handshake.basic_credentials(request.get("Authorization"))
        if credentials is not None:
            wait = self._throttle.retry_after(station_id, remote)
            if wait > 0:
                self._security_event("auth_throttled")
                log.warning(
                    "security: handshake of %s from %s throttled after failed logins "
                    "(retry in %.0f s)",
                    station_id,
                    remote,
                    wait,
                )
                return too_many(wait)
        try:
            station = await self._store.get_station(station_id)
        except StoreUnavailable:
            return refuse(HTTPStatus.SERVICE_UNAVAILABLE, "Try again later")
        if station is None:
            if credentials is not None:
                # The same answer (and about the same time) as a wrong password: which
                # station ids exist is not told to whoever guesses credentials.
                await password_ok(credentials[1], await dummy_hash())
                return self._auth_failed(station_id, remote, "unknown station")
            if self._settings.auto_register:
                return Admission(station_id, remote, known=False)
            log.info("refused unknown station %s from %s", station_id, remote)
            return refuse(HTTPStatus.NOT_FOUND, "Unknown station")
        s = self._settings
        now = utcnow()
        transport = transport_security(
            request, self._trusted, s.ocpp_tls_client_cert_header, self._client_cas, now
        )
        verdict: ProfileCheck = check_profile(
            station.security_profile,
            bool(station.password_hash or station.pending_password_hash),
            transport,
            station_id,
            s.ocpp_tls_organisation,
            now,
        )
        if verdict.refusal is not None:
            event, reason = verdict.refusal
            if event == "auth_failed":
                return self._auth_failed(station_id, remote, reason)
            return self._refused(station_id, remote, event, reason)
        pending = False
        if verdict.needs_password:
            # Security profiles 1 and 2 (OCPP 1.6 security whitepaper / 2.0.1
            # A00.FR.202-205): HTTP Basic, user name = station identity.
            if credentials is None:
                return unauthorized("Credentials required")
            user, password = credentials
            if user != station_id:
                return self._auth_failed(station_id, remote, "wrong user name")
            if station.password_hash and await password_ok(password, station.password_hash):
                pass
            elif station.pending_password_hash and await password_ok(
                password, station.pending_password_hash
            ):
                pending = True  # the rotated password (2.0.1 A01, 1.6 whitepaper A01)
            else:
                return self._auth_failed(station_id, remote, "wrong password")
            self._throttle.succeeded(station_id, remote)
        admitted = Admitted(
            station_id,
            verdict.profile,
            station.security_profile,
            station.connection_profile,
            pending,
            verdict.certificate,
            transport.via_proxy,
        )
        return Admission(
            station_id,
            remote,
            known=True,
            registration=station.registration_status,
            admitted=admitted,
        )

    def _auth_failed(self, station_id: str, remote: str, why: str) -> Refusal:
        """A security event: counted, logged, throttled; answered 401 whatever the cause."""
        failure = self._throttle.failed(station_id, remote)
        self._security_event("auth_failed")
        log.warning(
            "security: failed HTTP Basic login for station %s from %s: %s "
            "(failures in a row: %d for the station, %d from the address%s)",
            station_id,
            remote,
            why,
            failure.station_failures,
            failure.address_failures,
            f"; refused for {failure.delay:.0f} s" if failure.delay else "",
        )
        self.hooks.refused(station_id, "auth_failed", f"{why} (from {remote})")
        return unauthorized("Invalid credentials")

    def _refused(self, station_id: str, remote: str, event: str, why: str) -> Refusal:
        """A certificate or security profile refusal: counted, logged, reported; 403."""
        self._security_event(event)
        log.warning("security: refused station %s from %s: %s", station_id, remote, why)
        self.hooks.refused(station_id, event, f"{why} (from {remote})")
        return refuse(HTTPStatus.FORBIDDEN, "Security profile or certificate not accepted")

    def _tls_failed(self, peer: str, why: str) -> None:
        """A TLS handshake that failed (before any station id is known)."""
        self._security_event("tls_failed")
        log.warning("security: TLS handshake from %s refused: %s", peer, why)
        self.hooks.refused(None, "tls_failed", f"{why} (from {peer})")

    def _security_event(self, event: str) -> None:
        if isinstance(self._observer, SecurityEvents):
            self._observer.security_event(event)

    def _websocket(self, admission: Admission, version: OcppVersion) -> asyncio.BufferedProtocol:
        """picows' protocol for an admitted station: it checks the upgrade headers itself
        (400 if they are not a WebSocket upgrade), answers 101 with our subprotocol."""
        s = self._settings
        sock = StationSocket(
            admission.station_id,
            s.max_message_size,
            self._close_timeout,
            lambda sock: self._opened(sock, admission, version),
            self._closed,
        )
        response = WSUpgradeResponse.create_101_response(
            extra_headers={"Sec-WebSocket-Protocol": version.value, "Server": SERVER}
        )

        def listener(request: WSUpgradeRequest) -> WSUpgradeResponseWithListener:
            return WSUpgradeResponseWithListener(response, sock)

        return _WSProtocol(
            None,  # host:port (client side only)
            None,  # path (client side only)
            False,  # server side
            listener,
            _WS_LOG,
            True,  # disconnect on an exception in a callback
            None,  # handshake timeout: the request is already here, complete
            False,  # picows' auto-ping: a task per connection; the gateway sweeps instead
            1.0,
            1.0,
            WSAutoPingStrategy.PING_PERIODICALLY,
            True,  # answer pings with pongs
            s.max_message_size,  # a bigger frame: close 1009 before reading it
            None,  # extra headers (client side only)
            READ_BUFFER,
        )

    # ------------------------------------------------------------------ connection

    def session(self, station_id: str, version: OcppVersion, transport: Transport) -> OcppSession:
        """A session wired as the gateway wires its stations' (handler table, schemas,
        metrics and audit log, settings): for each admitted socket, and for
        `bench.path_cost`, which measures that path without sockets."""
        s = self._settings
        return OcppSession(
            station_id,
            version,
            transport,
            self._tables[version],
            self._schemas[version],
            self._observer,
            call_timeout=s.call_timeout,
            audit=s.message_log,
        )

    async def _opened(
        self, sock: StationSocket, admission: Admission, version: OcppVersion
    ) -> bool:
        """The 101 is sent: record the connection, register the session, replace an
        older connection of the same station. False: the socket is being closed."""
        s = self._settings
        station_id = admission.station_id
        session = self.session(station_id, version, sock)
        self._sockets[sock] = session
        if self._stopping:
            sock.fail(CLOSE_GOING_AWAY, "")
            return False
        if admission.registration is RegistrationStatus.REJECTED:
            # A rejected station that skips BootNotification (e.g. on reconnect) is still
            # refused until it boots and is accepted (1.6 4.2, 2.0.1 B03.FR.07).
            session.boot_status = RegistrationStatus.REJECTED
        sock.ping_at = asyncio.get_running_loop().time() + s.ping_interval
        try:
            await self._store.record_connection(
                station_id,
                True,
                utcnow(),
                version.value,
                self.node_id,
                admission.remote_address,
                auto_register=not admission.known,
            )
        except StoreUnavailable:
            sock.fail(CLOSE_INTERNAL_ERROR, "storage unavailable, retry later")
            return False
        if sock.closing:
            return False
        old = self.registry.attach(station_id, Link(session, sock))
        if old is not None:
            log.info("%s: new connection replaces the previous one", station_id)
            old.session.close()
            task = asyncio.get_running_loop().create_task(
                old.socket.close(CLOSE_REPLACED, "replaced by a newer connection")
            )
            self._closing.add(task)  # keep a reference until it is done
            task.add_done_callback(self._closing.discard)
        log.info("%s connected (%s) from %s", station_id, version.value, admission.remote_address)
        admitted = admission.admitted
        if admitted is not None and admitted.changes:
            self.hooks.admitted(admitted)
        if self._on_change is not None:
            self._on_change(station_id, version, True)
        sock.on_message = session.on_frame
        return True

    async def _closed(self, sock: StationSocket) -> None:
        """The connection is gone and its last message processed."""
        session = self._sockets.get(sock)
        try:
            if session is None:
                return
            station_id = session.station_id
            log.info("%s disconnected", station_id)
            session.close()
            if self.registry.detach(station_id, session):
                if self._on_change is not None:
                    self._on_change(station_id, session.version, False)
                try:
                    await self._store.record_connection(
                        station_id, False, utcnow(), session.version.value, self.node_id, None
                    )
                except StoreUnavailable:
                    log.warning("%s: could not store the disconnection", station_id)
        finally:
            self._sockets.pop(sock, None)
            if self._all_closed is not None and not self._sockets:
                self._all_closed.set()
