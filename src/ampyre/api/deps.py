"""What the REST API needs from the rest of the process (built by the composition root)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ampyre.config import Settings
from ampyre.metrics import Metrics
from ampyre.protocol.schemas import Schemas
from ampyre.services.alerts import AlertService
from ampyre.services.authz import AuthService
from ampyre.services.cdrs import CdrService
from ampyre.services.certificates import CertificateService
from ampyre.services.charging_profiles import ChargingProfileService
from ampyre.services.cluster import Cluster
from ampyre.services.commands import CommandRouter
from ampyre.services.configuration import ConfigurationService
from ampyre.services.customer import CustomerService
from ampyre.services.dashboard import DashboardReads
from ampyre.services.display import DisplayService
from ampyre.services.firmware import FirmwareService
from ampyre.services.firmware_rollouts import RolloutService
from ampyre.services.live import LiveHub
from ampyre.services.locations import LocationService
from ampyre.services.locations_pull import LocationPuller
from ampyre.services.locations_received import ReceivedLocations
from ampyre.services.logs import LogService
from ampyre.services.monitoring import MonitoringService
from ampyre.services.network_profiles import NetworkProfileService
from ampyre.services.ocpi_credentials import OcpiCredentials
from ampyre.services.ocpi_exchanges import ExchangeLog
from ampyre.services.ocpi_partners import PartnerService
from ampyre.services.ocpi_port import OcpiClient
from ampyre.services.ocpi_push import OcpiPush
from ampyre.services.ocpi_sessions import OcpiSessions
from ampyre.services.ocpp_costs import OcppCosts
from ampyre.services.operator_audit import OperatorAuditLog
from ampyre.services.pki import PkiService
from ampyre.services.plug_and_charge import PlugAndChargeService
from ampyre.services.ports import Store
from ampyre.services.roaming_commands import RoamingCommands
from ampyre.services.roaming_commands_sent import SentCommands
from ampyre.services.roaming_publish import TokenPublisher
from ampyre.services.roaming_tokens import RoamingTokens
from ampyre.services.roaming_tokens_pull import TokenPuller
from ampyre.services.security_events import SecurityEventService
from ampyre.services.sites import SiteService
from ampyre.services.station_control import StationControl
from ampyre.services.station_security import StationSecurityService
from ampyre.services.stations import StationService
from ampyre.services.tariffs import TariffService
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
    # Stored station configuration and the 2.x device model (None: 503).
    configuration: ConfigurationService | None = None
    # 2.x network connection profiles (None: 503).
    network_profiles: NetworkProfileService | None = None
    # Log uploads, display messages, customer information (issue 17 parts 5-7; None: 503).
    logs: LogService | None = None
    display: DisplayService | None = None
    customer: CustomerService | None = None
    # Hosted firmware, firmware updates and rollouts (None: 503).
    firmware: FirmwareService | None = None
    rollouts: RolloutService | None = None
    # Alerts and 2.x variable monitoring (issue 17 part 2; None: 503).
    alerts: AlertService | None = None
    monitoring: MonitoringService | None = None
    # Charging profiles, composite schedules, EV needs (issue 18; None: 503).
    charging_profiles: ChargingProfileService | None = None
    # Sites and the balancer (issue 18 part 4; None: 503).
    sites: SiteService | None = None
    plug_and_charge: PlugAndChargeService | None = None  # contract certificates
    certificates: CertificateService | None = None  # certificate management
    security_events: SecurityEventService | None = None  # security events
    pki: PkiService | None = None  # the built-in PKI, issued certificates, OCSP (None: 503)
    station_security: StationSecurityService | None = None  # rotations, upgrades (None: 503)
    # OCPI partners and their tokens, the credentials handshake, outgoing calls, the push
    # queue and the exchange log (None: the OCPI server and /api/v1/ocpi answer 503).
    ocpi_partners: PartnerService | None = None
    ocpi_credentials: OcpiCredentials | None = None
    ocpi_client: OcpiClient | None = None
    ocpi_push: OcpiPush | None = None
    ocpi_exchanges: ExchangeLog | None = None
    # Our tariffs, pricing (transaction cost, previews) and partners' tariffs (None: the
    # tariff routes and the OCPI tariffs module answer 503).
    tariffs: TariffService | None = None
    # OCPI Locations: ours (operator REST, CPO Sender) and those partners pushed to us
    # (eMSP Receiver). None: those routes answer 503.
    locations: LocationService | None = None
    received_locations: ReceivedLocations | None = None
    location_puller: LocationPuller | None = None
    ocpi_sessions: OcpiSessions | None = None  # OCPI sessions, ours and received (None: 503)
    cdrs: CdrService | None = None  # CDRs, ours and received, credit CDRs (None: 503)
    # OCPI tokens and commands: roaming tokens held as a CPO and their authorization,
    # our id tokens published as an eMSP, commands received and sent (None: 503).
    roaming_tokens: RoamingTokens | None = None
    token_puller: TokenPuller | None = None
    token_publisher: TokenPublisher | None = None
    roaming_commands: RoamingCommands | None = None
    sent_commands: SentCommands | None = None
    ocpp_costs: OcppCosts | None = None  # OCPP cost messages, 2.1 station tariffs (None: 503)
