"""Composition of smart charging and site load management (issue 18): charging profiles
(stored per station, sent in each version, reconciled with what stations report), the
station-side inputs (external limits, EV charging needs), composite schedules, and sites
with their balancer. The bootstrap builds the core and hands it here; what comes back
gives the gateway its handler blocks, the API its services, and `run` what to start and
stop (the balancer)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ampyre.adapters.db.charging_profiles import ChargingProfilesSql
from ampyre.adapters.db.sites import SitesSql
from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.models import OcppVersion
from ampyre.protocol.session import Handler
from ampyre.protocol.smart_charging import OcppChargingProfileCommands
from ampyre.protocol.smart_charging import handlers as profile_handlers
from ampyre.services.balancer import Balancer
from ampyre.services.charging_profiles import ChargingProfileService
from ampyre.services.commands import CommandRouter
from ampyre.services.events import EventBus
from ampyre.services.sites import SiteService

HandlerBlock = Mapping[OcppVersion, Mapping[str, Handler]]


@dataclass(slots=True)
class SmartCharging:
    # --- charging profiles (parts 1-3) ---
    profiles: ChargingProfileService | None = None
    # --- end charging profiles ---
    # --- sites and balancing (parts 4, 6) ---
    sites: SiteService | None = None
    balancer: Balancer | None = None
    # --- end sites ---
    blocks: list[HandlerBlock] = field(default_factory=list)

    def start(self) -> None:
        """The periodic work (the balancer)."""
        # --- sites start ---
        if self.balancer is not None:
            self.balancer.start()
        # --- end sites start ---

    async def close(self) -> None:
        # --- charging profiles close ---
        if self.profiles is not None:
            await self.profiles.close()
        # --- end charging profiles close ---
        # --- sites close ---
        if self.balancer is not None:
            await self.balancer.close()
        # --- end sites close ---
        return None


def build_smart_charging(
    settings: Settings,
    store: SqlStore,
    router: CommandRouter,
    events: EventBus,
    events_committed: Callable[[], None],
    leads: Callable[[], bool],
) -> SmartCharging:
    """`router` carries every command to the node holding the station; `events` wakes
    the outbox's readers (the balancer hears of sessions and meter values); `leads` says
    whether this node runs the balancer."""
    smart = SmartCharging()
    # --- build charging profiles ---
    profiles = ChargingProfileService(
        ChargingProfilesSql(store.db),
        OcppChargingProfileCommands(router),
        settings,
        report=lambda r: store.record_reports([r]),
    )
    smart.profiles = profiles
    smart.blocks.append(profile_handlers(profiles))
    # --- end build charging profiles ---
    # --- build sites ---
    # The balancer runs on the leader; it installs its TxProfiles through the profile
    # service and takes over the answer to EV charging needs of its sites' EVSEs.
    sites_sql = SitesSql(store.db, events_committed)
    balancer = Balancer(sites_sql, sites_sql, events, smart.profiles, settings, leads=leads)
    if smart.profiles is not None:
        smart.profiles.on_ev_needs = balancer.ev_needs
        smart.profiles.on_external_limit = balancer.external_limit
    smart.balancer = balancer
    smart.sites = SiteService(sites_sql, balancer)
    # --- end build sites ---
    return smart
