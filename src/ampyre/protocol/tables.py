"""The explicit handler table of each OCPP version."""

from __future__ import annotations

from ampyre.domain.models import OcppVersion
from ampyre.protocol.ocpp16 import authorization as a16
from ampyre.protocol.ocpp16 import provisioning as p16
from ampyre.protocol.ocpp16 import transactions as t16
from ampyre.protocol.ocpp201 import authorization as a201
from ampyre.protocol.ocpp201 import provisioning as p201
from ampyre.protocol.ocpp201 import transactions as t201
from ampyre.protocol.session import HandlerTable
from ampyre.services.authz import AuthService
from ampyre.services.provisioning import ProvisioningService
from ampyre.services.transactions import TransactionService


def build_tables(
    provisioning: ProvisioningService, auth: AuthService, transactions: TransactionService
) -> dict[OcppVersion, HandlerTable]:
    v16 = HandlerTable(
        OcppVersion.V16,
        {**p16.handlers(provisioning), **a16.handlers(auth), **t16.handlers(transactions)},
    )
    # 2.1 keeps the 2.0.1 payloads for these actions (checked against the 2.1 schemas).
    v2 = {**p201.handlers(provisioning), **a201.handlers(auth), **t201.handlers(transactions)}
    v201 = HandlerTable(OcppVersion.V201, v2)
    v21 = HandlerTable(OcppVersion.V21, dict(v2))
    return {t.version: t for t in (v16, v201, v21)}
