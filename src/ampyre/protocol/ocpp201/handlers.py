"""The OCPP 2.0.1 handler table: every station -> CSMS action Ampyre answers."""

from __future__ import annotations

from typing import Final

from ampyre.domain.models import OcppVersion
from ampyre.protocol import reports
from ampyre.protocol.ocpp201 import authorization, data_transfer, provisioning, transactions
from ampyre.protocol.session import Handler, HandlerTable
from ampyre.services.authz import AuthService
from ampyre.services.data_transfer import DataTransferService
from ampyre.services.provisioning import ProvisioningService
from ampyre.services.transactions import TransactionService

# Notifications with an empty answer (checked against the 2.0.1 response schemas),
# stored in the station's history until the block that interprets them exists.
STORED: Final = (
    "ClearedChargingLimit",
    "FirmwareStatusNotification",
    "LogStatusNotification",
    "NotifyChargingLimit",
    "NotifyCustomerInformation",
    "NotifyDisplayMessages",
    "NotifyEvent",
    "NotifyMonitoringReport",
    "NotifyReport",
    "PublishFirmwareStatusNotification",
    "ReportChargingProfiles",
    "SecurityEventNotification",
)


def calls(
    prov: ProvisioningService,
    auth: AuthService,
    tx: TransactionService,
    vendors: DataTransferService,
) -> dict[str, Handler]:
    """The 2.0.1 handlers (2.1 starts from these)."""
    return {
        **provisioning.handlers(prov),
        **authorization.handlers(auth),
        **transactions.handlers(tx),
        **data_transfer.handlers(vendors),
        **reports.stored(prov, STORED),
    }


def table(
    prov: ProvisioningService,
    auth: AuthService,
    tx: TransactionService,
    vendors: DataTransferService,
) -> HandlerTable:
    return HandlerTable(OcppVersion.V201, calls(prov, auth, tx, vendors))
