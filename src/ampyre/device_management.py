"""Composition of the device-management blocks (issue 17; ADR 0012): configuration and
the device model, network profiles and scheduled availability, firmware and rollouts,
logs, display messages, customer data, alerts and monitoring. The bootstrap builds the
core (store, cluster, provisioning) and hands it here; what comes back gives the gateway
its handler blocks, the API its services, and `run` what to start and stop."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ampyre.adapters.db.alerts import AlertsSql
from ampyre.adapters.db.availability import AvailabilitySql, NetworkProfilesSql
from ampyre.adapters.db.configuration import ConfigurationSql
from ampyre.adapters.db.display import DisplaySql
from ampyre.adapters.db.firmware import FirmwareSql
from ampyre.adapters.db.logs import LogsSql
from ampyre.adapters.db.monitoring import MonitorsSql
from ampyre.adapters.db.store import SqlStore
from ampyre.adapters.log_files import DiskLogFiles
from ampyre.config import Settings
from ampyre.domain.models import OcppVersion
from ampyre.protocol.configuration import OcppConfigurationCommands
from ampyre.protocol.configuration import handlers as configuration_handlers
from ampyre.protocol.device_commands import OcppDeviceCommands
from ampyre.protocol.device_handlers import device_handlers
from ampyre.protocol.firmware import OcppFirmwareCommands
from ampyre.protocol.firmware import handlers as firmware_handlers
from ampyre.protocol.monitoring import OcppMonitoringCommands
from ampyre.protocol.monitoring import handlers as monitoring_handlers
from ampyre.protocol.session import Handler
from ampyre.services.alerts import AlertService
from ampyre.services.availability import AvailabilityTracker
from ampyre.services.commands import CommandRouter
from ampyre.services.configuration import ConfigurationService
from ampyre.services.customer import CustomerService
from ampyre.services.display import DisplayService
from ampyre.services.firmware import FirmwareService
from ampyre.services.firmware_rollouts import RolloutService
from ampyre.services.logs import LogService
from ampyre.services.monitoring import MonitoringService
from ampyre.services.network_profiles import NetworkProfileService
from ampyre.services.provisioning import ProvisioningService
from ampyre.services.station_port import StationCommands

HandlerBlock = Mapping[OcppVersion, Mapping[str, Handler]]


@dataclass(slots=True)
class DeviceManagement:
    configuration: ConfigurationService
    network_profiles: NetworkProfileService
    availability: AvailabilityTracker
    firmware: FirmwareService
    rollouts: RolloutService
    logs: LogService
    display: DisplayService
    customer: CustomerService
    alerts: AlertService
    monitoring: MonitoringService
    blocks: list[HandlerBlock]

    def start(self) -> None:
        """The periodic work: overdue reports closed, rollouts advanced (by the leader)."""
        self.configuration.start()
        self.rollouts.start()
        self.monitoring.start()

    async def close(self) -> None:
        await self.configuration.close()
        await self.rollouts.close()
        await self.monitoring.close()


def build_device_management(
    settings: Settings,
    store: SqlStore,
    router: CommandRouter,
    commands: StationCommands,
    provisioning: ProvisioningService,
    events_committed: Callable[[], None],
    base_url: Callable[[], str],
    leads: Callable[[], bool],
) -> DeviceManagement:
    """`router` carries every command to the node holding the station; `base_url` is
    where stations download firmware and upload logs; `leads` says whether this node
    advances rollouts."""
    configuration = ConfigurationService(
        ConfigurationSql(store.db), OcppConfigurationCommands(router), settings
    )
    firmware = FirmwareService(
        FirmwareSql(store.db, events_committed),
        OcppFirmwareCommands(router),
        settings,
        base_url=base_url,
        report=provisioning.device_report,
    )
    # Log uploads, display messages, customer information (parts 5-7).
    device_commands = OcppDeviceCommands(router)
    logs = LogService(
        LogsSql(store.db, events_committed),
        device_commands,
        DiskLogFiles(settings.log_dir),
        settings,
        base_url=base_url,
    )
    display_sql = DisplaySql(store.db)
    display = DisplayService(display_sql, device_commands, settings)
    customer = CustomerService(display_sql, device_commands, settings)
    # Every status report goes through the alert service, which raises and clears
    # alerts in the same commit (part 2).
    alerts_sql = AlertsSql(store.db, store.writer, store.stations)
    alerts_sql.register()
    alerts = AlertService(alerts_sql)
    provisioning.status_writer = alerts.record_status
    monitoring = MonitoringService(
        OcppMonitoringCommands(router),
        MonitorsSql(store.db, store.writer),
        settings,
        history=store.record_reports,
    )
    return DeviceManagement(
        configuration=configuration,
        network_profiles=NetworkProfileService(
            NetworkProfilesSql(store.db),
            commands,
            configuration.security_profile,
            settings.call_timeout,
        ),
        availability=AvailabilityTracker(AvailabilitySql(store.db), store),
        firmware=firmware,
        rollouts=RolloutService(firmware.store, firmware, settings.rollout_tick, leads=leads),
        logs=logs,
        display=display,
        customer=customer,
        alerts=alerts,
        monitoring=monitoring,
        blocks=[
            configuration_handlers(configuration),
            firmware_handlers(firmware, provisioning),
            device_handlers(provisioning, logs, display, customer),
            monitoring_handlers(alerts, monitoring),
        ],
    )
