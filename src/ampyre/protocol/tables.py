"""The explicit handler table of each OCPP version."""

from __future__ import annotations

from ampyre.domain.models import OcppVersion
from ampyre.protocol.ocpp16 import provisioning as p16
from ampyre.protocol.ocpp201 import provisioning as p201
from ampyre.protocol.session import HandlerTable
from ampyre.services.provisioning import ProvisioningService


def build_tables(provisioning: ProvisioningService) -> dict[OcppVersion, HandlerTable]:
    v16 = HandlerTable(OcppVersion.V16, {**p16.handlers(provisioning)})
    v201 = HandlerTable(OcppVersion.V201, {**p201.handlers(provisioning)})
    # 2.1 keeps the 2.0.1 payloads for these actions (checked against the 2.1 schemas).
    v21 = HandlerTable(OcppVersion.V21, {**p201.handlers(provisioning)})
    return {t.version: t for t in (v16, v201, v21)}
