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
# stored in the station's history until the block that interprets them exists (blocks
# that do, e.g. NotifyReport in ocpp201/configuration.py, NotifyEvent and
# NotifyMonitoringReport in ocpp201/monitoring.py, the charging limit and profile
# reports in ocpp201/smart_charging.py, come in through
# protocol/tables.py build_tables(blocks=...)).
STORED: Final = (
    "PublishFirmwareStatusNotification",
    # Taken over by the certificate block (protocol/certificates.py: a security
    # event, alerts for critical types, still kept in the history).
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
