"""OCPP 2.0.1 (and 2.1) authorization: Authorize, ReservationStatusUpdate; the
IdTokenInfo every answer about an idToken carries (Authorize, TransactionEvent,
SendLocalList entries); the payloads of the authorization CALLs Ampyre sends
(SendLocalList, ReserveNow). Thin: decode -> AuthService -> encode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from ampyre.domain.authz import AuthDecision, IdTokenType, Reservation
from ampyre.domain.models import OcppVersion
from ampyre.protocol.session import CallContext, Handler
from ampyre.services.clock import to_ocpp

if TYPE_CHECKING:
    from ampyre.services.authz import AuthService
    from ampyre.services.local_lists import ListEntry

# IdTokenType.idToken: string(36) in 2.0.1, string(255) in 2.1.
ID_TOKEN_MAX: Final = 36
ID_TOKEN_MAX_21: Final = 255


def id_token_max(version: str) -> int:
    return ID_TOKEN_MAX_21 if version == OcppVersion.V21 else ID_TOKEN_MAX


def id_token_info(decision: AuthDecision) -> dict[str, Any]:
    """2.0.1 IdTokenInfoType: status, cacheExpiryDateTime (how long the station may keep
    the token in its Authorization Cache), groupIdToken (C09: stopping by group id)."""
    info: dict[str, Any] = {"status": decision.status.value}
    if decision.expires_at is not None:
        info["cacheExpiryDateTime"] = to_ocpp(decision.expires_at)
    group = _group(decision.group_id)
    if group is not None:
        info["groupIdToken"] = group
    return info


def _group(group_id: str | None) -> dict[str, Any] | None:
    # A group id is not a credential anyone presents: it is sent as a Central token.
    # Ampyre always uses this type, so the station's group comparison (C09) holds.
    if not group_id or len(group_id) > ID_TOKEN_MAX:
        return None
    return {"idToken": group_id, "type": IdTokenType.CENTRAL.value}


def send_local_list(version: int, full: bool, entries: Sequence[ListEntry]) -> dict[str, Any]:
    """SendLocalListRequest (D01). D01.FR.18: versionNumber > 0 (the caller counts from
    1). An entry without a decision is a removal (D01.FR.17: no idTokenInfo in a
    differential update); the list has minItems 1, so an empty one is left out (a Full
    update without a list clears it, D01.FR.04)."""
    payload: dict[str, Any] = {
        "versionNumber": version,
        "updateType": "Full" if full else "Differential",
    }
    items: list[dict[str, Any]] = []
    for e in entries:
        item: dict[str, Any] = {"idToken": {"idToken": e.id_token, "type": e.type}}
        if e.decision is not None:
            item["idTokenInfo"] = id_token_info(e.decision)
        items.append(item)
    if items:
        payload["localAuthorizationList"] = items
    return payload


def reserve_now(r: Reservation) -> dict[str, Any]:
    """ReserveNowRequest (H01). No evseId = any EVSE of the station;
    EVSE id 0 is the whole station, never an EVSE, so it also means "any"."""
    payload: dict[str, Any] = {
        "id": r.id,
        "expiryDateTime": to_ocpp(r.expires_at),
        "idToken": {"idToken": r.id_token, "type": r.id_token_type.value},
    }
    if r.evse_id:
        payload["evseId"] = r.evse_id
    if r.connector_type:
        payload["connectorType"] = r.connector_type
    group = _group(r.group_id)
    if group is not None:
        payload["groupIdToken"] = group
    return payload


def handlers(svc: AuthService) -> dict[str, Handler]:
    async def authorize(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        token = p["idToken"]
        decision = await svc.authorize(ctx.station_id, token["idToken"], token["type"])
        # certificate / iso15118CertificateHashData (ISO 15118 contract validation, C07)
        # are not evaluated yet: no certificateStatus is claimed (it is optional).
        return {"idTokenInfo": id_token_info(decision)}

    async def reservation_status_update(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        await svc.reservations.status_update(
            ctx.station_id, p["reservationId"], p["reservationUpdateStatus"]
        )
        return {}

    return {"Authorize": authorize, "ReservationStatusUpdate": reservation_status_update}
