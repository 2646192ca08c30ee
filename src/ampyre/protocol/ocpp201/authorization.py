"""OCPP 2.0.1 (and 2.1) authorization: Authorize, ReservationStatusUpdate; the
IdTokenInfo every answer about an idToken carries (Authorize, TransactionEvent,
SendLocalList entries; the CALLs Ampyre sends are encoded in commands.py).
Thin: decode -> AuthService -> encode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ampyre.domain.authz import AuthDecision, IdTokenType
from ampyre.domain.versions import ID_TOKEN_MAX_201
from ampyre.protocol.session import CallContext, Handler
from ampyre.protocol.timefmt import to_ocpp

if TYPE_CHECKING:
    from ampyre.services.authz import AuthService

# IdTokenType.idToken: string(36) in 2.0.1 (a group id is sent within that in 2.1 too).
ID_TOKEN_MAX: Final = ID_TOKEN_MAX_201


def id_token_info(decision: AuthDecision) -> dict[str, Any]:
    """2.0.1 IdTokenInfoType: status, cacheExpiryDateTime (how long the station may keep
    the token in its Authorization Cache), groupIdToken (C09: stopping by group id)."""
    info: dict[str, Any] = {"status": decision.status.value}
    if decision.expires_at is not None:
        info["cacheExpiryDateTime"] = to_ocpp(decision.expires_at)
    group = group_token(decision.group_id)
    if group is not None:
        info["groupIdToken"] = group
    return info


def group_token(group_id: str | None) -> dict[str, Any] | None:
    # A group id is not a credential anyone presents: it is sent as a Central token.
    # Ampyre always uses this type, so the station's group comparison (C09) holds.
    if not group_id or len(group_id) > ID_TOKEN_MAX:
        return None
    return {"idToken": group_id, "type": IdTokenType.CENTRAL.value}


def handlers(svc: AuthService) -> dict[str, Handler]:
    async def authorize(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        token = p["idToken"]
        decision = await svc.authorize(ctx.station_id, token["idToken"], token["type"])
        # certificate / iso15118CertificateHashData (ISO 15118 contract validation, C07)
        # are evaluated by the Plug & Charge block, which takes over Authorize where it is
        # composed (protocol/ocpp201/plug_and_charge.py); this base handler claims none.
        return {"idTokenInfo": id_token_info(decision)}

    async def reservation_status_update(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        await svc.reservations.status_update(
            ctx.station_id, p["reservationId"], p["reservationUpdateStatus"]
        )
        return {}

    return {"Authorize": authorize, "ReservationStatusUpdate": reservation_status_update}
