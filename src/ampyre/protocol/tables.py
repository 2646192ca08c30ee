"""The explicit handler table of each OCPP version (one module per version:
protocol/ocpp16/handlers.py, ocpp201/handlers.py, ocpp21/handlers.py)."""

from __future__ import annotations

from ampyre.domain.models import OcppVersion
from ampyre.protocol.ocpp16 import handlers as h16
from ampyre.protocol.ocpp21 import handlers as h21
from ampyre.protocol.ocpp201 import handlers as h201
from ampyre.protocol.session import HandlerTable
from ampyre.services.authz import AuthService
from ampyre.services.data_transfer import DataTransferService
from ampyre.services.provisioning import ProvisioningService
from ampyre.services.transactions import TransactionService


def build_tables(
    provisioning: ProvisioningService,
    auth: AuthService,
    transactions: TransactionService,
    data_transfer: DataTransferService | None = None,
) -> dict[OcppVersion, HandlerTable]:
    """Without `data_transfer`, every DataTransfer is answered UnknownVendorId."""
    vendors = data_transfer if data_transfer is not None else DataTransferService()
    tables = (
        h16.table(provisioning, auth, transactions, vendors),
        h201.table(provisioning, auth, transactions, vendors),
        h21.table(provisioning, auth, transactions, vendors),
    )
    return {t.version: t for t in tables}
