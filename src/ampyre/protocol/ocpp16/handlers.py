"""The OCPP 1.6J handler table: every station -> CSMS action Ampyre answers."""

from __future__ import annotations

from typing import Final

from ampyre.domain.models import OcppVersion
from ampyre.protocol import reports
from ampyre.protocol.ocpp16 import authorization, data_transfer, provisioning, transactions
from ampyre.protocol.session import HandlerTable
from ampyre.services.authz import AuthService
from ampyre.services.data_transfer import DataTransferService
from ampyre.services.provisioning import ProvisioningService
from ampyre.services.transactions import TransactionService

# Notifications with an empty answer, stored in the station's history: the core
# profile's firmware/diagnostics status and the 1.6 security extension's ones.
STORED: Final = (
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "LogStatusNotification",
    "SecurityEventNotification",
    "SignedFirmwareStatusNotification",
)


def table(
    prov: ProvisioningService,
    auth: AuthService,
    tx: TransactionService,
    vendors: DataTransferService,
) -> HandlerTable:
    return HandlerTable(
        OcppVersion.V16,
        {
            **provisioning.handlers(prov),
            **authorization.handlers(auth),
            **transactions.handlers(tx),
            **data_transfer.handlers(vendors),
            **reports.stored(prov, STORED),
        },
    )
