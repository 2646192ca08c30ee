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

# Notifications with an empty answer, stored in the station's history (diagnostics and
# log upload status: protocol/device_handlers.py; firmware status: protocol/firmware.py).
# The 1.6 security extension's SecurityEventNotification is taken over by the
# certificate block (protocol/certificates.py: a security event, alerts for critical
# types, still kept in the history); stored here only where that block is not built.
STORED: Final = ("SecurityEventNotification",)


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
