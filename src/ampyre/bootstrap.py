"""Composition root: builds the store, services, gateway and API, and runs them together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from ampyre.adapters.bus import open_bus
from ampyre.adapters.db.dashboard import DashboardSql
from ampyre.adapters.db.nodes import NodesSql
from ampyre.adapters.db.operator_audit import OperatorAuditSql
from ampyre.adapters.db.store import SqlStore
from ampyre.adapters.db.token_usage import TokenUsageSql
from ampyre.api.app import create_api
from ampyre.api.deps import ApiDeps
from ampyre.config import Settings
from ampyre.device_management import DeviceManagement, build_device_management
from ampyre.domain.models import OcppVersion
from ampyre.gateway.observer import GatewayObserver
from ampyre.gateway.registry import ConnectionRegistry
from ampyre.gateway.server import Gateway
from ampyre.metrics import Metrics
from ampyre.protocol.commands import OcppStationCommands
from ampyre.protocol.schemas import Schemas
from ampyre.protocol.tables import build_tables
from ampyre.roaming import Roaming, RoamingInputs, build_roaming
from ampyre.security import Security, build_security
from ampyre.services.authz import AuthService
from ampyre.services.bus import Bus, BusError
from ampyre.services.clock import utcnow
from ampyre.services.cluster import Cluster
from ampyre.services.data_transfer import DataTransferService
from ampyre.services.events import EventBus
from ampyre.services.live import LiveHub
from ampyre.services.pending_starts import PendingStarts
from ampyre.services.ports import StartupRefused
from ampyre.services.provisioning import ProvisioningService
from ampyre.services.retention import RetentionPolicy, RetentionService
from ampyre.services.station_control import StationControl
from ampyre.services.stations import StationService
from ampyre.services.tokens import TokenService
from ampyre.services.transactions import TransactionService
from ampyre.services.users import UserService
from ampyre.services.webhooks import WebhookService
from ampyre.smart_charging import SmartCharging, build_smart_charging
from ampyre.web import install_dashboard

log = logging.getLogger(__name__)


class _HttpServer(uvicorn.Server):
    """uvicorn without its own signal handling: `run` owns SIGINT/SIGTERM so that one
    signal stops the gateway and the API together, in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(slots=True)
class App:
    settings: Settings
    store: SqlStore
    metrics: Metrics
    registry: ConnectionRegistry
    gateway: Gateway
    api: uvicorn.Server
    stations: StationService
    tokens: TokenService
    events: EventBus
    auth: AuthService
    transactions: TransactionService
    webhooks: WebhookService
    operator_audit: OperatorAuditSql
    # Station DataTransfer handlers by vendorId (none by default: UnknownVendorId).
    data_transfer: DataTransferService
    users: UserService
    live: LiveHub  # the dashboard's event streams (GET /api/v1/stream)
    bus: Bus
    cluster: Cluster  # this node's lease, the other nodes' stations, command routing
    # Configuration, firmware, logs, alerts, ... (issue 17; device_management.py).
    devices: DeviceManagement
    # Charging profiles, composite schedules, sites and balancing (issue 18).
    smart: SmartCharging
    # Security profiles, PKI, certificates, Plug & Charge (issue 19; security.py).
    security: Security
    # OCPI roaming, tariffs and pricing (issue 20; roaming.py).
    roaming: Roaming

    @property
    def http_port(self) -> int:
        """The bound HTTP port (differs from the setting when that is 0)."""
        for server in self.api.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.settings.http_port


def build(settings: Settings, store: SqlStore | None = None) -> App:
    if not settings.node_id:
        settings.node_id = socket.gethostname()
    store = store if store is not None else SqlStore(settings)
    metrics = Metrics()
    registry = ConnectionRegistry()
    bus = open_bus(settings.bus_url, name=f"ampyre {settings.node_id}")
    cluster = Cluster(
        settings, bus, NodesSql(store.db, store.stations), registry, metrics.frames_total
    )
    schemas = Schemas()
    schemas.warm()
    events = EventBus()
    provisioning = ProvisioningService(store, settings)
    # Commands go to this node's own sockets or, through the bus, to the node that holds
    # the station's.
    commands = OcppStationCommands(cluster)
    auth = AuthService(store, commands, settings)
    transactions = TransactionService(
        store,
        auth,
        commands,
        settings,
        pending=PendingStarts(bus, settings.bus_prefix, settings.node_id),
        holds=lambda station_id: registry.get(station_id) is not None,
    )
    webhooks = WebhookService(store, events, settings)

    def events_committed() -> None:
        events.notify()  # the outbox's consumers hear of new events at once
        cluster.events_committed()  # and those of the other nodes

    store.on_events(events_committed)
    # Caches of other nodes: id-token lookups and the webhook list, refreshed on change.
    auth.on_tokens_changed = lambda: cluster.changed("id-tokens")
    cluster.when_changed("id-tokens", auth.drop_cached_tokens)
    webhooks.on_change = lambda: cluster.changed("webhooks")
    cluster.when_changed("webhooks", webhooks.reload_quietly)
    cluster.when_changed("events", events.notify)
    data_transfer = DataTransferService()
    # Device management (issue 17): stations download firmware and upload logs at the
    # public URL (default: this server's bound port).
    http_server: list[uvicorn.Server] = []
    devices = build_device_management(
        settings,
        store,
        cluster,
        commands,
        provisioning,
        events_committed,
        base_url=lambda: public_base_url(settings, http_server),
        leads=lambda: cluster.leader,
    )

    smart = build_smart_charging(
        settings, store, cluster, events, events_committed, leads=lambda: cluster.leader
    )

    security = build_security(
        settings,
        store,
        cluster,
        devices.alerts,
        auth,
        data_transfer,
        base_url=lambda: public_base_url(settings, http_server),
        leads=lambda: cluster.leader,
        configuration=devices.configuration,
        network_profiles=devices.network_profiles,
    )

    stations = StationService(store)
    tokens = TokenService(store, TokenUsageSql(store.engine))
    station_control = StationControl(commands, settings, devices.availability)
    roaming = build_roaming(
        RoamingInputs(
            settings=settings,
            store=store,
            router=cluster,
            auth=auth,
            transactions=transactions,
            stations=stations,
            tokens=tokens,
            station_control=station_control,
            data_transfer=data_transfer,
            events=events,
            base_url=lambda: public_base_url(settings, http_server),
            leads=lambda: cluster.leader,
        )
    )

    announcing: set[asyncio.Task[None]] = set()

    def on_change(station_id: str, version: OcppVersion, connected: bool) -> None:
        devices.alerts.forget(station_id)  # its open alerts are read afresh (it may move)
        if connected:
            metrics.station_connected(version.value)
        else:
            metrics.station_disconnected(version.value)
        task = asyncio.get_running_loop().create_task(
            cluster.station_changed(station_id, version.value, connected)
        )
        announcing.add(task)
        task.add_done_callback(announcing.discard)

    # The gauge counts what the registry holds (replaced connections included) at scrape.
    metrics.add_collect_hook(lambda: metrics.set_connected_counts(registry.count_by_version()))

    gateway = Gateway(
        settings,
        store,
        build_tables(
            provisioning,
            auth,
            transactions,
            data_transfer,
            blocks=[*devices.blocks, *smart.blocks, *security.blocks, *roaming.blocks],
        ),
        schemas,
        GatewayObserver(metrics, store),
        registry,
        on_change=on_change,
    )
    # Admitted connections to the station security service, refusals to security events.
    security.attach_gateway(gateway)
    writer = getattr(store, "writer", None)
    if writer is not None:
        writer.on_batch = metrics.group_commit
    dropped = getattr(store, "dropped_messages", None)
    if dropped is not None:
        metrics.add_collect_hook(
            lambda: metrics.set_audit_dropped_total(int(getattr(store, "dropped_messages", 0)))
        )
    operator_audit = OperatorAuditSql(store.engine)
    users = UserService(store, settings)
    # Dashboard: aggregate reads, and one outbox reader per process for all event streams.
    dashboard = DashboardSql(store.db)
    live = LiveHub(
        dashboard,
        events,
        dashboard.live_counts,
        metrics.frames_total,
        max_clients=settings.stream_max_clients,
        queue_size=settings.stream_queue_size,
    )
    api = create_api(
        ApiDeps(
            settings=settings,
            store=store,
            stations=stations,
            tokens=tokens,
            commands=cluster,
            metrics=metrics,
            ready_checks=[store.ping, bus.ping],
            auth=auth,
            transactions=transactions,
            webhooks=webhooks,
            operator_audit=operator_audit,
            users=users,
            station_control=station_control,
            schemas=schemas,
            dashboard=dashboard,
            live=live,
            cluster=cluster,
            configuration=devices.configuration,
            network_profiles=devices.network_profiles,
            firmware=devices.firmware,
            rollouts=devices.rollouts,
            logs=devices.logs,
            display=devices.display,
            customer=devices.customer,
            alerts=devices.alerts,
            monitoring=devices.monitoring,
            charging_profiles=smart.profiles,
            sites=smart.sites,
            station_security=security.station_security,
            plug_and_charge=security.plug_and_charge,
            certificates=security.certificates,
            security_events=security.security_events,
            pki=security.pki_service,
            ocpi_partners=roaming.partners,
            ocpi_credentials=roaming.credentials,
            ocpi_client=roaming.ocpi_client,
            ocpi_push=roaming.push,
            ocpi_exchanges=roaming.exchanges,
            tariffs=roaming.tariffs,
            locations=roaming.locations,
            received_locations=roaming.received_locations,
            location_puller=roaming.location_puller,
            ocpi_sessions=roaming.ocpi_sessions,
            cdrs=roaming.cdrs,
            roaming_tokens=roaming.tokens_roaming,
            token_puller=roaming.token_pull,
            token_publisher=roaming.token_publisher,
            roaming_commands=roaming.commands,
            sent_commands=roaming.sent_commands,
            ocpp_costs=roaming.ocpp_costs,
        )
    )
    install_dashboard(api)
    config = uvicorn.Config(
        api,
        host=settings.host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="off",
        log_config=None,  # uvicorn's lines go through our handler (logs.py: text or JSON)
    )
    server = _HttpServer(config)
    http_server.append(server)
    return App(
        settings,
        store,
        metrics,
        registry,
        gateway,
        server,
        stations,
        tokens,
        events,
        auth,
        transactions,
        webhooks,
        operator_audit,
        data_transfer,
        users,
        live,
        bus,
        cluster,
        devices,
        smart,
        security,
        roaming,
    )


async def run(
    app: App, stop: asyncio.Event | None = None, ready: asyncio.Event | None = None
) -> None:
    """Start everything, wait for `stop` (or SIGINT/SIGTERM), then shut down in order."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    s = app.settings
    await app.store.check_schema()
    await app.store.start()
    try:
        await _join_cluster(app)  # before anything is written in this node's name
        # Connections this node held when it last stopped without closing them (kill -9,
        # an outage) are over: no station is connected to a node that is starting.
        released = await app.store.release_node(s.node_id, utcnow())
        if released:
            log.info("marked %d stations of node %s disconnected", len(released), s.node_id)
        await app.cluster.start()
        if s.bootstrap_token:
            await app.tokens.ensure_bootstrap(s.bootstrap_token)
        if s.bootstrap_admin_password:
            await app.users.ensure_bootstrap_admin(s.bootstrap_admin_password)
        await app.users.warm()
        await app.webhooks.start()
        await app.auth.start()
        await app.transactions.start()
        await app.live.start()
        app.devices.start()
        app.smart.start()
        app.security.start()
        await app.roaming.start()
        await app.gateway.start(reuse_port=s.reuse_port)
        sockets = [_shared_socket(s.host, s.http_port)] if s.reuse_port else None
        api_task = asyncio.create_task(app.api.serve(sockets=sockets), name="http")
        retention = RetentionService(
            app.store,
            RetentionPolicy.from_settings(s),
            prune_operator_audit=app.operator_audit.prune,
            leads=lambda: app.cluster.leader,
            prune_alerts=app.devices.alerts.prune,
            prune_security_events=(
                app.security.security_events.prune
                if app.security.security_events is not None
                else None
            ),
        )
        retention.start()
        # uvicorn exposes start-up only as a flag.
        while not app.api.started and not api_task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        if api_task.done():
            api_task.result()
            raise StartupRefused(f"the HTTP server could not start on port {s.http_port}")
        app.cluster.address = f"{s.host}:{app.gateway.port}/{app.http_port}"
        await app.cluster.tick()  # the lease row shows the bound ports from now on
        log.info(
            "Ampyre up: OCPP ws://%s:%d/ocpp/{station_id}  REST http://%s:%d/api/v1",
            s.host,
            app.gateway.port,
            s.host,
            app.http_port,
        )
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("shutting down")
        await app.gateway.stop()
        await app.live.close()  # open event streams end, or the HTTP server waits on them
        app.api.should_exit = True
        await retention.close()
        await api_task
    finally:
        await app.live.close()
        await app.roaming.close()
        await app.smart.close()
        await app.security.close()
        await app.devices.close()
        await app.cluster.close()
        await app.bus.close()
        await app.transactions.close()
        await app.auth.close()
        await app.webhooks.close()
        await app.store.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def _join_cluster(app: App) -> None:
    """Connect to the bus; refuse to start as a second process with this node's id, or
    as a second live node on one SQLite file (SQLite is for one process)."""
    s = app.settings
    try:
        await app.bus.start()
    except BusError as exc:
        raise StartupRefused(f"AMPYRE_BUS_URL: {exc}") from exc
    nodes = await app.cluster.nodes()
    twin = next((n.info for n in nodes if n.alive and n.info.node_id == s.node_id), None)
    if twin is not None and twin.pid != os.getpid() and _runs_ampyre(twin.pid):
        # Node ids default to the host name: a second process on this machine needs its own.
        raise StartupRefused(
            f"node id {s.node_id!r} is in use by a running process (pid {twin.pid}): give "
            "each process its own AMPYRE_NODE_ID, or use `serve --workers N`"
        )
    if app.store.db.dialect_name == "sqlite":
        others = [n.info.node_id for n in nodes if n.alive and n.info.node_id != s.node_id]
        if others:
            raise StartupRefused(
                "SQLite serves one process only, and node "
                + ", ".join(others)
                + " is running on this database: stop it, or use PostgreSQL "
                "(AMPYRE_DATABASE_URL=postgresql+asyncpg://...) and NATS for several nodes"
            )


def public_base_url(settings: Settings, servers: list[uvicorn.Server]) -> str:
    """AMPYRE_PUBLIC_URL, or http://{host}:{bound HTTP port} (a wildcard host as the
    loopback address, which a station on this machine can reach)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    port = settings.http_port
    for server in servers:
        for listener in server.servers:
            for sock in listener.sockets:
                port = int(sock.getsockname()[1])
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(
        settings.host, settings.host
    )
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _shared_socket(host: str, port: int) -> socket.socket:
    """A listening socket that other processes may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupRefused(f"cannot listen on {host}:{port}: {exc}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _runs_ampyre(pid: int) -> bool:
    """Whether process `pid` on this machine is an Ampyre process."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"ampyre" in fh.read()
    except OSError:
        return False
