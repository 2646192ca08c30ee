"""The explicit handler table of each OCPP version (one module per version:
protocol/ocpp16/handlers.py, ocpp201/handlers.py, ocpp21/handlers.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from ampyre.domain.models import OcppVersion
from ampyre.protocol.ocpp16 import handlers as h16
from ampyre.protocol.ocpp21 import handlers as h21
from ampyre.protocol.ocpp201 import handlers as h201
from ampyre.protocol.session import Handler, HandlerTable
from ampyre.services.authz import AuthService
from ampyre.services.data_transfer import DataTransferService
from ampyre.services.provisioning import ProvisioningService
from ampyre.services.transactions import TransactionService


def build_tables(
    provisioning: ProvisioningService,
    auth: AuthService,
    transactions: TransactionService,
    data_transfer: DataTransferService | None = None,
    blocks: Sequence[Mapping[OcppVersion, Mapping[str, Handler]]] = (),
) -> dict[OcppVersion, HandlerTable]:
    """Without `data_transfer`, every DataTransfer is answered UnknownVendorId. `blocks`
    are the handlers of further functional blocks (configuration, firmware, ...), each
    per version; they take over actions the base tables only store."""
    vendors = data_transfer if data_transfer is not None else DataTransferService()
    tables = (
        h16.table(provisioning, auth, transactions, vendors),
        h201.table(provisioning, auth, transactions, vendors),
        h21.table(provisioning, auth, transactions, vendors),
    )
    out: dict[OcppVersion, HandlerTable] = {}
    for table in tables:
        calls = dict(table.calls)
        for block in blocks:
            calls.update(block.get(table.version, {}))
        out[table.version] = dataclasses.replace(table, calls=calls)
    return out
