"""OCPP 1.6J authorization: Authorize; the IdTagInfo every answer about an idTag carries
(Authorize, StartTransaction, StopTransaction, SendLocalList entries; the CALLs Ampyre
sends are encoded in commands.py). Thin: decode -> AuthService -> encode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ampyre.domain.authz import AuthDecision, AuthStatus
from ampyre.domain.versions import ID_TAG_MAX_16
from ampyre.protocol.session import CallContext, Handler
from ampyre.protocol.timefmt import to_ocpp

if TYPE_CHECKING:
    from ampyre.services.authz import AuthService

# 1.6 IdToken is CiString20Type (section 7.28): longer tokens cannot be used with 1.6.
ID_TAG_MAX: Final = ID_TAG_MAX_16

# 1.6 AuthorizationStatus has only Accepted, Blocked, Expired, Invalid, ConcurrentTx
# (section 7.2); every 2.0.1-only refusal is "Invalid" ("Identifier is unknown. Not
# allowed for charging"), which is what an unknown token gets too.
_STATUS_16: Final = {
    AuthStatus.ACCEPTED: "Accepted",
    AuthStatus.BLOCKED: "Blocked",
    AuthStatus.EXPIRED: "Expired",
    AuthStatus.CONCURRENT_TX: "ConcurrentTx",
}


def status_16(status: AuthStatus) -> str:
    return _STATUS_16.get(status, "Invalid")


def id_tag_info(decision: AuthDecision) -> dict[str, Any]:
    """1.6 IdTagInfo (section 7.29): status, expiryDate (when the station should drop the
    idTag from its Authorization Cache), parentIdTag (the token's group)."""
    info: dict[str, Any] = {"status": status_16(decision.status)}
    if decision.expires_at is not None:
        info["expiryDate"] = to_ocpp(decision.expires_at)
    group = decision.group_id
    # parentIdTag is an IdToken (CiString20Type): a longer group id cannot be sent.
    if group and len(group) <= ID_TAG_MAX:
        info["parentIdTag"] = group
    return info


def handlers(svc: AuthService) -> dict[str, Handler]:
    async def authorize(ctx: CallContext, p: dict[str, Any]) -> dict[str, Any]:
        # 1.6 idTags carry no type: any stored type matches the value.
        decision = await svc.authorize(ctx.station_id, p["idTag"], None, None, ctx.version.value)
        return {"idTagInfo": id_tag_info(decision)}

    return {"Authorize": authorize}
