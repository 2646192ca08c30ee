"""The OCPP 2.1 handler table. The 2.0.1 handlers serve the actions whose payloads 2.1
keeps (2.1 only adds optional fields to them; checked against the 2.1 schemas, which
validate every message); 2.1's own notifications are added here."""

from __future__ import annotations

from typing import Final

from ampyre.domain.models import OcppVersion
from ampyre.protocol import reports
from ampyre.protocol.ocpp201 import handlers as v201
from ampyre.protocol.session import HandlerTable
from ampyre.services.authz import AuthService
from ampyre.services.data_transfer import DataTransferService
from ampyre.services.provisioning import ProvisioningService
from ampyre.services.transactions import TransactionService

# 2.1 notifications with an empty answer (DER control, priority charging), stored in
# the station's history like the 2.0.1 ones.
STORED_21: Final = (
    "NotifyDERAlarm",
    "NotifyDERStartStop",
    "NotifyPriorityCharging",
    "ReportDERControl",
)


def table(
    prov: ProvisioningService,
    auth: AuthService,
    tx: TransactionService,
    vendors: DataTransferService,
) -> HandlerTable:
    return HandlerTable(
        OcppVersion.V21,
        {**v201.calls(prov, auth, tx, vendors), **reports.stored(prov, STORED_21)},
    )
