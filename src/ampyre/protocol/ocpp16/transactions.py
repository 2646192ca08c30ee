"""Transaction messages of this OCPP version."""

from __future__ import annotations

from ampyre.protocol.session import Handler
from ampyre.services.transactions import TransactionService


def handlers(svc: TransactionService) -> dict[str, Handler]:
    return {}
