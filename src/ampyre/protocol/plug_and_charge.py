"""Plug & Charge over OCPP: the 2.0.1 and 2.1 handlers (a block for build_tables: its
Authorize takes over the base table's) and the 1.6 DataTransfer vendor of the OCA
application note."""

from __future__ import annotations

from ampyre.domain.models import OcppVersion
from ampyre.protocol.ocpp16 import plug_and_charge as pnc16
from ampyre.protocol.ocpp201 import plug_and_charge as pnc201
from ampyre.protocol.session import Handler
from ampyre.services.data_transfer import DataTransferService
from ampyre.services.plug_and_charge import PlugAndChargeService

VENDOR_ID = pnc16.VENDOR_ID


def handlers(svc: PlugAndChargeService) -> dict[OcppVersion, dict[str, Handler]]:
    return {
        OcppVersion.V201: pnc201.handlers(svc, v21=False),
        OcppVersion.V21: pnc201.handlers(svc, v21=True),
    }


def register_vendor(svc: PlugAndChargeService, data_transfer: DataTransferService) -> None:
    """The 1.6 stations' Plug & Charge messages (DataTransfer, OCA application note)."""
    data_transfer.register(VENDOR_ID, pnc16.vendor_handler(svc))
