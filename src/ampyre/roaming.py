"""Composition of OCPI 2.2.1 roaming and pricing (issue 20): partners and the
credentials handshake, the outgoing client and push queue, tariffs and the tariff
engine, locations, sessions and CDRs, tokens and commands, and the OCPP cost messages.
The bootstrap builds the core and hands it here (`RoamingInputs`); what comes back gives
the gateway its handler blocks, the API its services, and `run` what to start and stop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from ampyre.adapters.db.locations import LocationsSql
from ampyre.adapters.db.ocpi import OcpiSql
from ampyre.adapters.db.ocpi_tokens import OcpiTokensSql
from ampyre.adapters.db.roaming_sessions import RoamingSql
from ampyre.adapters.db.store import SqlStore
from ampyre.adapters.db.tariff_usage import TariffUsageSql
from ampyre.adapters.db.tariffs import TariffsSql
from ampyre.adapters.ocpi.client import HttpOcpiClient
from ampyre.config import Settings
from ampyre.domain.cdrs import ConnectorKind
from ampyre.domain.models import OcppVersion
from ampyre.protocol.cost_messages import OcppCostMessenger, cost_handlers
from ampyre.protocol.ocpp16.costs import VENDOR_ID as COST_VENDOR_ID
from ampyre.protocol.ocpp16.costs import vendor_messages as cost_vendor_messages
from ampyre.protocol.session import Handler
from ampyre.services.authz import AuthService
from ampyre.services.cdrs import CdrService
from ampyre.services.commands import CommandRouter
from ampyre.services.data_transfer import DataTransferService
from ampyre.services.events import EventBus
from ampyre.services.locations import KEY_PREFIX as LOCATION_KEY
from ampyre.services.locations import LocationService
from ampyre.services.locations_feed import LocationFeed
from ampyre.services.locations_pull import LocationPuller
from ampyre.services.locations_received import ReceivedLocations
from ampyre.services.locations_sync import LocationSync
from ampyre.services.ocpi_credentials import OcpiCredentials
from ampyre.services.ocpi_exchanges import ExchangeLog
from ampyre.services.ocpi_partners import OcpiIdentity, PartnerService
from ampyre.services.ocpi_port import OcpiClient
from ampyre.services.ocpi_push import OcpiPush
from ampyre.services.ocpi_sessions import OcpiSessions
from ampyre.services.ocpp_cost_live import LiveCosts
from ampyre.services.ocpp_costs import OcppCosts
from ampyre.services.roaming_commands import RoamingCommands
from ampyre.services.roaming_commands_sent import SentCommands
from ampyre.services.roaming_links import Links
from ampyre.services.roaming_publish import TokenPublisher
from ampyre.services.roaming_tokens import RoamingTokens
from ampyre.services.roaming_tokens_pull import TokenPuller
from ampyre.services.station_control import StationControl
from ampyre.services.stations import StationService
from ampyre.services.tariff_push import TariffPublisher
from ampyre.services.tariffs import TariffService
from ampyre.services.tokens import TokenService
from ampyre.services.transactions import TransactionService

HandlerBlock = Mapping[OcppVersion, Mapping[str, Handler]]


@dataclass(slots=True)
class RoamingInputs:
    """What the core gives roaming (built by the bootstrap before it)."""

    settings: Settings
    store: SqlStore
    router: CommandRouter  # every command to the node holding the station
    auth: AuthService
    transactions: TransactionService
    stations: StationService
    tokens: TokenService
    station_control: StationControl
    data_transfer: DataTransferService
    events: EventBus  # notified when the outbox has new events (this node or another)
    base_url: Callable[[], str]  # this server's public HTTP address (OCPI URLs)
    leads: Callable[[], bool]  # whether this node runs the cluster-wide periodic work


@dataclass(slots=True)
class Roaming:
    blocks: list[HandlerBlock] = field(default_factory=list)
    # Started after the API is up, stopped before the store closes (in reverse order).
    starts: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    closes: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    # Set by build_roaming before any other part is built (so never None there).
    identity: OcpiIdentity = field(init=False)  # our OCPI party and URLs
    partners: PartnerService = field(init=False)  # partners, token lookup, endpoints
    credentials: OcpiCredentials = field(init=False)  # the credentials handshake
    ocpi_client: OcpiClient = field(init=False)  # outgoing OCPI calls (retries, logged)
    push: OcpiPush = field(init=False)  # the durable push queue
    exchanges: ExchangeLog = field(init=False)  # the OCPI exchange log
    tariffs: TariffService = field(init=False)  # our tariffs, pricing, partners' tariffs
    tariff_publisher: TariffPublisher = field(init=False)  # tariff changes -> OCPI PUT/DELETE
    locations: LocationService = field(init=False)  # our locations, OCPI objects, lookups
    received_locations: ReceivedLocations = field(init=False)  # partners' pushed locations
    location_feed: LocationFeed = field(init=False)  # EVSE status changes -> PATCH
    location_puller: LocationPuller = field(init=False)  # eMSP: GET partners' Locations
    location_sync: LocationSync = field(init=False)  # a new partner's Locations, 2003 resend
    ocpi_sessions: OcpiSessions = field(init=False)  # sessions: pushed, served, received
    cdrs: CdrService = field(init=False)  # CDRs: made, credited, pushed, received
    tokens_roaming: RoamingTokens = field(init=False)  # CPO: held tokens, authorization
    token_pull: TokenPuller = field(init=False)  # CPO: pulls eMSPs' token lists
    token_publisher: TokenPublisher = field(init=False)  # eMSP: our tokens, real-time answers
    commands: RoamingCommands = field(init=False)  # CPO: commands received
    sent_commands: SentCommands = field(init=False)  # eMSP: commands sent, their results
    ocpp_costs: OcppCosts | None = None  # cost messages, 2.1 station tariffs (REST)
    live_costs: LiveCosts | None = None  # running priced transactions of this node

    async def start(self) -> None:
        for start in self.starts:
            await start()

    async def close(self) -> None:
        for close in reversed(self.closes):
            await close()


def build_roaming(core: RoamingInputs) -> Roaming:
    roaming = Roaming()
    settings = core.settings
    roles = {r.upper() for r in settings.ocpi_roles}
    cpo = "CPO" in roles  # without it nothing of ours is pushed (tariffs, locations)
    # Transport: partners, the credentials handshake, the client, the push queue.
    ocpi_sql = OcpiSql(core.store.db)
    roaming.identity = OcpiIdentity(settings, core.base_url)
    roaming.exchanges = ExchangeLog(ocpi_sql, settings, core.leads)
    roaming.partners = PartnerService(ocpi_sql, roaming.identity)
    http_client = HttpOcpiClient(settings, roaming.identity, roaming.exchanges)
    roaming.ocpi_client = http_client
    roaming.credentials = OcpiCredentials(roaming.partners, http_client)
    roaming.push = OcpiPush(ocpi_sql, roaming.partners, http_client, settings)
    roaming.starts += [roaming.exchanges.start, roaming.push.start]
    # Closed in reverse: the push loop, then the log's last flush, then the HTTP client.
    roaming.closes += [http_client.close, roaming.exchanges.close, roaming.push.close]
    roaming.tariffs = TariffService(
        TariffsSql(core.store.db), TariffUsageSql(core.store.db), settings
    )
    roaming.tariff_publisher = TariffPublisher(roaming.push, roaming.tariffs)
    if cpo:
        roaming.tariffs.on_change(roaming.tariff_publisher.changed)

    async def time_zone(station_id: str) -> str | None:
        """Tariff restrictions are read in the station's Location time zone."""
        return await roaming.locations.time_zone_of(station_id)

    roaming.tariffs.set_time_zone_resolver(time_zone)

    async def tariff_ids(station_id: str, evse_id: int, connector_id: int) -> list[str]:
        """Connector.tariff_ids: the tariff that applies there, if any."""
        tariff = await roaming.tariffs.tariff_for(station_id, evse_id, connector_id)
        return [] if tariff is None else [tariff.id]

    # Locations: ours (served, pushed, EVSE status PATCHes), partners' (received, pulled).
    locations_sql = LocationsSql(core.store.db)
    roaming.locations = LocationService(
        locations_sql, settings, push=roaming.push if cpo else None, tariffs=tariff_ids
    )
    roaming.received_locations = ReceivedLocations(locations_sql)
    roaming.location_sync = LocationSync(roaming.locations, roaming.push)
    roaming.location_feed = LocationFeed(roaming.locations, core.store, core.events, core.leads)
    # Always read (without the CPO role nothing is pushed): a cursor left behind would
    # keep the outbox from being pruned.
    roaming.starts.append(roaming.location_feed.start)
    roaming.closes.append(roaming.location_feed.close)
    roaming.location_puller = LocationPuller(
        locations_sql, roaming.partners, roaming.ocpi_client, settings, core.leads
    )
    if "EMSP" in roles:
        roaming.starts.append(roaming.location_puller.start)
        roaming.closes.append(roaming.location_puller.close)

    async def tariff_changed(tariff: object, deleted: bool) -> None:
        await roaming.locations.tariffs_changed()  # Connector.tariff_ids may differ now

    roaming.tariffs.on_change(tariff_changed)
    # Sessions and CDRs, linked to tokens (built below), locations and tariffs.
    identity = roaming.identity
    links = Links(
        lambda: (identity.country_code, identity.party_id),
        roaming.partners,
        roaming.push,
        tokens=lambda: roaming.tokens_roaming,
        locations=lambda: roaming.locations,
        tariffs=lambda: roaming.tariffs,
        currency=settings.ocpi_default_currency.upper(),
        connector=ConnectorKind(
            settings.ocpi_connector_standard,
            settings.ocpi_connector_format,
            settings.ocpi_connector_power_type,
        ),
    )
    roaming_sql = RoamingSql(core.store.db)
    roaming.cdrs = CdrService(
        roaming_sql,
        core.transactions,
        links,
        local_transactions=settings.ocpi_cdr_local_transactions,
    )
    roaming.ocpi_sessions = OcpiSessions(
        roaming_sql,
        core.store,
        core.transactions,
        links,
        core.events,
        update_interval=settings.ocpi_session_update_interval,
        cdrs=roaming.cdrs,
    )
    roaming.starts.append(roaming.ocpi_sessions.start)
    roaming.closes.append(roaming.ocpi_sessions.close)
    # Tokens (CPO: held and authorized; eMSP: published) and commands.
    tokens_sql = OcpiTokensSql(core.store.db)
    roaming.tokens_roaming = RoamingTokens(
        tokens_sql, roaming.partners, roaming.ocpi_client, settings, roaming.locations
    )
    core.auth.roaming = roaming.tokens_roaming  # asked only about tokens Ampyre lacks
    roaming.token_pull = TokenPuller(
        tokens_sql, roaming.partners, roaming.ocpi_client, settings, leads=core.leads
    )
    roaming.token_publisher = TokenPublisher(
        tokens_sql, core.store, roaming.push, settings, leads=core.leads
    )
    roaming.commands = RoamingCommands(
        tokens_sql,
        roaming.tokens_roaming,
        roaming.push,
        core.transactions,
        core.auth,
        core.station_control,
        settings,
        roaming.locations,
    )
    roaming.sent_commands = SentCommands(
        tokens_sql,
        roaming.partners,
        roaming.ocpi_client,
        core.store,
        roaming.token_publisher,
        lambda: identity.module_url("emsp", "commands"),
    )
    roaming.starts += [
        roaming.token_publisher.start,
        roaming.token_pull.start,
        roaming.commands.start,
    ]
    roaming.closes += [
        roaming.commands.close,
        roaming.token_pull.close,
        roaming.token_publisher.close,
    ]
    # OCPP cost messages (2.0.1 CostUpdated/totalCost, 2.1 tariffs, 1.6 California Pricing).
    roaming.ocpp_costs = OcppCosts(
        roaming.tariffs,
        OcppCostMessenger(core.router),
        core.transactions,
        settings,
        cache_seconds=settings.tariff_cache_seconds,
    )
    roaming.tariffs.add_listener(roaming.ocpp_costs.tariffs_changed)
    # A partner that registers (or changes its endpoints) gets the full current state of
    # what we send its roles, to it alone, through the push queue: pushes otherwise
    # follow changes only. A receiver answering a Location push with "unknown Location"
    # (2003 / HTTP 404) gets the whole Location instead.
    if cpo:
        roaming.credentials.on_registered(roaming.location_sync.sync_partner)
        roaming.credentials.on_registered(roaming.tariff_publisher.sync_partner)
        roaming.push.on_unknown_object(LOCATION_KEY, roaming.location_sync.resend)
    if "EMSP" in roles:
        roaming.credentials.on_registered(roaming.token_publisher.sync_partner)
    # Closed first (closes run in reverse): a registration's sync still queueing.
    roaming.closes.append(roaming.credentials.close)
    if settings.tariff_cost_messages:
        # No block at all when off: the transaction messages run their base handlers.
        roaming.live_costs = LiveCosts(roaming.ocpp_costs)
        roaming.blocks.append(
            cost_handlers(roaming.ocpp_costs, roaming.live_costs, core.transactions)
        )
        core.data_transfer.register(COST_VENDOR_ID, cost_vendor_messages)
        roaming.starts.append(roaming.live_costs.start)
        roaming.closes.append(roaming.live_costs.close)
    return roaming
