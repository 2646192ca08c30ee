"""Authorization messages of this OCPP version."""

from __future__ import annotations

from ampyre.protocol.session import Handler
from ampyre.services.authz import AuthService


def handlers(svc: AuthService) -> dict[str, Handler]:
    return {}
