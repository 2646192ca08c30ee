"""What the REST API needs from the rest of the process (built by the composition root)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ampyre.config import Settings
from ampyre.metrics import Metrics
from ampyre.protocol.schemas import Schemas
from ampyre.services.authz import AuthService
from ampyre.services.cluster import Cluster
from ampyre.services.commands import CommandRouter
from ampyre.services.dashboard import DashboardReads
from ampyre.services.live import LiveHub
from ampyre.services.operator_audit import OperatorAuditLog
from ampyre.services.ports import Store
from ampyre.services.station_control import StationControl
from ampyre.services.stations import StationService
from ampyre.services.tokens import TokenService
from ampyre.services.transactions import TransactionService
from ampyre.services.users import UserService
from ampyre.services.webhooks import WebhookService

ReadyCheck = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class ApiDeps:
    settings: Settings
    store: Store
    stations: StationService
    tokens: TokenService
    commands: CommandRouter
    metrics: Metrics
    # Each raises when a dependency is unreachable (store.ping, bus ping, ...).
    ready_checks: list[ReadyCheck] = field(default_factory=list)
    # The authorization, transaction and webhook services (absent in some unit tests:
    # their routes then answer 503).
    auth: AuthService | None = None
    transactions: TransactionService | None = None
    webhooks: WebhookService | None = None
    # The operator audit trail (None: writes are only logged).
    operator_audit: OperatorAuditLog | None = None
    # Dashboard users and sign-in sessions (None: no session cookies, bearer tokens only).
    users: UserService | None = None
    # Reset, availability, unlock, trigger (None: those routes answer 503).
    station_control: StationControl | None = None
    # The validators the gateway checks commands with (the raw command's validate route;
    # None: a set of its own).
    schemas: Schemas | None = None
    # The dashboard's reads and live event streams (None: /overview, /stream and the
    # chart series answer 503).
    dashboard: DashboardReads | None = None
    live: LiveHub | None = None
    # This node in its cluster (GET /nodes; None: 503).
    cluster: Cluster | None = None
