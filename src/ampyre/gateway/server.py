"""The OCPP WebSocket gateway (`websockets` library): handshake checks, one OcppSession per
connection, the receive loop, replacement of a station's older connection, shutdown."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol, runtime_checkable

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, NegotiationError
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from ampyre.config import Settings
from ampyre.domain.models import OcppVersion, RegistrationStatus
from ampyre.gateway import handshake
from ampyre.gateway.registry import ConnectionRegistry, Link
from ampyre.gateway.throttle import AuthThrottle
from ampyre.protocol.schemas import Schemas
from ampyre.protocol.session import HandlerTable, OcppSession, SessionObserver
from ampyre.services import secrets
from ampyre.services.clock import utcnow
from ampyre.services.ports import Store, StoreUnavailable

log = logging.getLogger(__name__)

CLOSE_REPLACED = 1000  # normal closure: the station itself opened a newer connection
CLOSE_GOING_AWAY = 1001  # server shutting down
CLOSE_UNSUPPORTED_DATA = 1003  # a binary frame


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


class StationConnection(ServerConnection):
    admission: Admission | None = None


class _Transport:
    __slots__ = ("_ws",)

    def __init__(self, ws: ServerConnection) -> None:
        self._ws = ws

    async def send(self, data: bytes) -> None:
        # OCPP-J uses text frames; the payload is already UTF-8 JSON.
        await self._ws.send(data, text=True)


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
        self._server: Server | None = None
        self._on_change = on_change
        self.node_id = settings.node_id
        self._closing: set[asyncio.Task[None]] = set()  # replaced sockets being closed
        self._throttle = AuthThrottle(
            station_limit=settings.auth_fail_station_limit,
            address_limit=settings.auth_fail_address_limit,
            max_delay=settings.auth_fail_max_delay,
        )

    # ------------------------------------------------------------------ life cycle

    async def start(self, host: str | None = None, port: int | None = None) -> None:
        s = self._settings
        self._server = await serve(
            self._handle,
            host or s.host,
            s.ocpp_port if port is None else port,
            subprotocols=[Subprotocol(v.value) for v in handshake.PREFERENCE],
            select_subprotocol=self._select_subprotocol,
            process_request=self._process_request,
            compression=None,  # OCPP frames are small; deflate costs more CPU than it saves
            ping_interval=s.ping_interval or None,
            ping_timeout=s.ping_timeout or None,
            # A peer that ignores our close frame is dropped quickly, not after 10 s.
            close_timeout=min(s.ping_timeout, 5.0) if s.ping_timeout else 5.0,
            max_size=s.max_message_size,
            max_queue=4,
            create_connection=StationConnection,
            server_header="Ampyre",
            backlog=4096,
        )

    @property
    def port(self) -> int:
        assert self._server is not None
        sock = next(iter(self._server.sockets))
        return int(sock.getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting, close every station with 1001 (going away), wait for handlers."""
        if self._server is None:
            return
        self._server.close(close_connections=True)
        try:
            async with asyncio.timeout(self._settings.shutdown_grace):
                await self._server.wait_closed()
        except TimeoutError:
            log.warning("gateway: some connections did not close within the grace period")

    # ------------------------------------------------------------------ handshake

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        assert isinstance(connection, StationConnection)
        station_id = handshake.station_id_from_path(request.path)
        if station_id is None:
            return _refuse(connection, HTTPStatus.NOT_FOUND, "No valid station id in the URL path")
        offered = _offered_subprotocols(request.headers)
        if handshake.choose_subprotocol(offered) is None:
            return _refuse(
                connection,
                HTTPStatus.BAD_REQUEST,
                "No common OCPP subprotocol; this server speaks "
                + ", ".join(v.value for v in handshake.PREFERENCE),
            )
        peer = connection.remote_address[0] if connection.remote_address else None
        remote = handshake.client_address(
            peer, request.headers.get("X-Forwarded-For"), self._trusted
        )
        credentials = handshake.basic_credentials(request.headers.get("Authorization"))
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
                return _too_many(connection, wait)
        try:
            station = await self._store.get_station(station_id)
        except StoreUnavailable:
            return _refuse(connection, HTTPStatus.SERVICE_UNAVAILABLE, "Try again later")
        if station is None:
            if credentials is not None:
                # The same answer (and about the same time) as a wrong password: which
                # station ids exist is not told to whoever guesses credentials.
                await _password_ok(credentials[1], await _dummy_hash())
                return await self._auth_failed(connection, station_id, remote, "unknown station")
            if self._settings.auto_register:
                connection.admission = Admission(station_id, remote, known=False)
                return None
            log.info("refused unknown station %s from %s", station_id, remote)
            return _refuse(connection, HTTPStatus.NOT_FOUND, "Unknown station")
        if station.password_hash:
            # Security profile 1 (OCPP 1.6 security whitepaper / 2.0.1 A00.FR.202-205):
            # HTTP Basic, user name = station identity.
            if credentials is None:
                return _unauthorized(connection, "Credentials required")
            user, password = credentials
            if user != station_id:
                return await self._auth_failed(connection, station_id, remote, "wrong user name")
            if not await _password_ok(password, station.password_hash):
                return await self._auth_failed(connection, station_id, remote, "wrong password")
            self._throttle.succeeded(station_id, remote)
        connection.admission = Admission(
            station_id, remote, known=True, registration=station.registration_status
        )
        return None

    async def _auth_failed(
        self, connection: ServerConnection, station_id: str, remote: str, why: str
    ) -> Response:
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
        return _unauthorized(connection, "Invalid credentials")

    def _security_event(self, event: str) -> None:
        if isinstance(self._observer, SecurityEvents):
            self._observer.security_event(event)

    def _select_subprotocol(
        self, connection: ServerConnection, subprotocols: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        version = handshake.choose_subprotocol(subprotocols)
        if version is None:
            raise NegotiationError("no common OCPP subprotocol")
        return Subprotocol(version.value)

    # ------------------------------------------------------------------ connection

    async def _handle(self, ws: ServerConnection) -> None:
        assert isinstance(ws, StationConnection)
        admission = ws.admission
        if admission is None or ws.subprotocol is None:
            await ws.close(1002, "handshake incomplete")
            return
        station_id = admission.station_id
        version = OcppVersion(ws.subprotocol)
        s = self._settings
        session = OcppSession(
            station_id,
            version,
            _Transport(ws),
            self._tables[version],
            self._schemas[version],
            self._observer,
            call_timeout=s.call_timeout,
            audit=s.message_log,
        )
        if admission.registration is RegistrationStatus.REJECTED:
            # A rejected station that skips BootNotification (e.g. on reconnect) is still
            # refused until it boots and is accepted (1.6 4.2, 2.0.1 B03.FR.07).
            session.boot_status = RegistrationStatus.REJECTED
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
            await ws.close(1011, "storage unavailable, retry later")
            return
        old = self.registry.attach(station_id, Link(session, ws))
        if old is not None:
            log.info("%s: new connection replaces the previous one", station_id)
            old.session.close()
            task = asyncio.get_running_loop().create_task(
                old.socket.close(CLOSE_REPLACED, "replaced by a newer connection")
            )
            self._closing.add(task)  # keep a reference until it is done
            task.add_done_callback(self._closing.discard)
        log.info("%s connected (%s) from %s", station_id, version.value, admission.remote_address)
        if self._on_change is not None:
            self._on_change(station_id, version, True)
        try:
            recv = ws.recv
            on_frame = session.on_frame
            while True:
                frame = await recv()
                if type(frame) is not str:
                    # OCPP-J (1.6J and 2.0.1 Part 4, RPC framework) carries its JSON
                    # in text frames only: 1003 = unsupported data (RFC 6455 7.4.1).
                    log.info("%s: binary frame; closing with 1003", station_id)
                    await ws.close(CLOSE_UNSUPPORTED_DATA, "OCPP-J uses text frames only")
                    break
                await on_frame(frame)
        except ConnectionClosed as exc:
            log.info("%s disconnected: %s", station_id, exc)
        finally:
            session.close()
            if self.registry.detach(station_id, session):
                if self._on_change is not None:
                    self._on_change(station_id, version, False)
                try:
                    await self._store.record_connection(
                        station_id, False, utcnow(), version.value, self.node_id, None
                    )
                except StoreUnavailable:
                    log.warning("%s: could not store the disconnection", station_id)


async def _password_ok(password: str, stored: str) -> bool:
    if secrets.known_password(password, stored):
        return True
    # scrypt takes tens of milliseconds: keep it off the event loop.
    if await asyncio.to_thread(secrets.password_matches, password, stored):
        secrets.remember_password(password, stored)
        return True
    return False


_DUMMY_HASH: list[str] = []


async def _dummy_hash() -> str:
    """A password hash no password matches, for unknown stations (made once, off the loop)."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(await asyncio.to_thread(secrets.hash_password, "-unknown-station-"))
    return _DUMMY_HASH[0]


def _offered_subprotocols(headers: Headers) -> list[str]:
    offered: list[str] = []
    for value in headers.get_all("Sec-WebSocket-Protocol"):
        offered.extend(p.strip() for p in value.split(",") if p.strip())
    return offered


def _refuse(connection: ServerConnection, status: HTTPStatus, text: str) -> Response:
    return connection.respond(status, text + "\n")


def _too_many(connection: ServerConnection, wait: float) -> Response:
    response = connection.respond(
        HTTPStatus.TOO_MANY_REQUESTS, "Too many failed logins; try again later\n"
    )
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def _unauthorized(connection: ServerConnection, text: str) -> Response:
    response = connection.respond(HTTPStatus.UNAUTHORIZED, text + "\n")
    response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
    return response
