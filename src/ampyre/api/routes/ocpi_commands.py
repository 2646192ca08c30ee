"""OCPI tokens and commands for operators (issue 20).

- `GET /ocpi/received/tokens`, `GET /ocpi/received/tokens/{id}`: roaming tokens held as a
  CPO (pushed or pulled from eMSPs, or carried by their commands).
- `POST /ocpi/partners/{id}/tokens/pull`: fetch an eMSP partner's whole token list now.
- `GET /ocpi/published/tokens`, `POST /ocpi/published/tokens/sync`: Ampyre's id tokens as
  published to CPOs, and publishing the changes now.
- `GET /ocpi/authorizations`: roaming authorizations (whitelist, real-time asked or
  answered, command grants) with their outcome.
- `POST /ocpi/partners/{id}/commands`: send a command to a CPO partner (optionally
  waiting for its result); `GET /ocpi/commands`, `GET /ocpi/commands/{id}`: commands
  received and sent with their response and result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime, BaseModel, Field

from ampyre.api.auth import Auth
from ampyre.api.command_errors import invalid_request
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, INT64_MAX, Limit, Offset, problems
from ampyre.domain.models import Role
from ampyre.domain.ocpi import InterfaceRole
from ampyre.domain.ocpi_commands import (
    CommandDirection,
    CommandRecord,
    CommandType,
)
from ampyre.domain.ocpi_tokens import (
    AuthorizationRecord,
    StoredToken,
    token_to_json,
)
from ampyre.domain.ocpi_tokens_parse import InvalidObject
from ampyre.services.ocpi_port import OcpiCallFailed
from ampyre.services.roaming_commands import RoamingCommands
from ampyre.services.roaming_commands_sent import CommandNotSent, SentCommands
from ampyre.services.roaming_publish import TokenPublisher
from ampyre.services.roaming_tokens import RoamingTokens

PartnerId = Annotated[int, Path(ge=1, le=INT32_MAX, description="the partner's id")]
RowId = Annotated[int, Path(ge=1, le=INT64_MAX)]
CiText = Annotated[str, Field(min_length=1, max_length=36)]


# ------------------------------------------------------------------ schemas


class ReceivedTokenOut(BaseModel):
    id: int
    partner_id: int | None
    source: str = Field(description="push (pushed or pulled) or command")
    received_at: datetime
    token: dict[str, Any] = Field(description="the OCPI 2.2.1 Token object")

    @classmethod
    def of(cls, s: StoredToken) -> ReceivedTokenOut:
        return cls(
            id=s.id or 0,
            partner_id=s.partner_id,
            source=s.source.value,
            received_at=s.received_at,
            token=token_to_json(s.token),
        )


class ReceivedTokenPage(BaseModel):
    items: list[ReceivedTokenOut]
    total: int
    limit: int
    offset: int


class PublishedTokenPage(BaseModel):
    items: list[dict[str, Any]] = Field(description="OCPI 2.2.1 Token objects")
    total: int
    limit: int
    offset: int


class Count(BaseModel):
    count: int


class AuthorizationOut(BaseModel):
    id: int
    kind: str = Field(description="whitelist, realtime, command or answered")
    uid: str
    token_type: str | None
    country_code: str | None
    party_id: str | None
    partner_id: int | None
    station_id: str | None
    evse_id: int | None
    location_id: str | None
    allowed: str | None = Field(description="the eMSP's AllowedType (None: no answer)")
    outcome: str | None = Field(description="what the station was told / we answered")
    reason: str | None
    authorization_reference: str | None
    valid_until: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, a: AuthorizationRecord) -> AuthorizationOut:
        return cls(
            id=a.id or 0,
            kind=a.kind.value,
            uid=a.uid,
            token_type=a.token_type,
            country_code=a.country_code,
            party_id=a.party_id,
            partner_id=a.partner_id,
            station_id=a.station_id,
            evse_id=a.evse_id,
            location_id=a.location_id,
            allowed=None if a.allowed is None else a.allowed.value,
            outcome=a.outcome,
            reason=a.reason,
            authorization_reference=a.authorization_reference,
            valid_until=a.valid_until,
            created_at=a.created_at,
        )


class AuthorizationPage(BaseModel):
    items: list[AuthorizationOut]
    total: int
    limit: int
    offset: int


class CommandIn(BaseModel):
    """A command to a CPO partner; which fields it needs depends on `command`."""

    command: CommandType
    id_token: str | None = Field(
        None, min_length=1, max_length=36, description="START_SESSION, RESERVE_NOW: our id token"
    )
    location_id: CiText | None = None
    evse_uid: CiText | None = None
    connector_id: CiText | None = None
    authorization_reference: CiText | None = None
    session_id: CiText | None = Field(None, description="STOP_SESSION")
    reservation_id: CiText | None = Field(
        None, description="CANCEL_RESERVATION (RESERVE_NOW: generated when left out)"
    )
    expiry_date: AwareDatetime | None = Field(None, description="RESERVE_NOW")
    wait: float = Field(0, ge=0, le=60, description="seconds to wait for the CommandResult")


_NEEDS: dict[CommandType, tuple[str, ...]] = {
    CommandType.START_SESSION: ("id_token", "location_id"),
    CommandType.RESERVE_NOW: ("id_token", "location_id", "expiry_date"),
    CommandType.STOP_SESSION: ("session_id",),
    CommandType.CANCEL_RESERVATION: ("reservation_id",),
    CommandType.UNLOCK_CONNECTOR: ("location_id", "evse_uid", "connector_id"),
}


class CommandOut(BaseModel):
    id: int
    uid: str
    direction: str = Field(description="received (we are the CPO) or sent (we are the eMSP)")
    partner_id: int | None
    command: str
    request: dict[str, Any]
    response: str | None = Field(description="the CPO's CommandResponse result")
    response_message: str | None
    result: str | None = Field(description="the Charge Point's CommandResult")
    result_message: str | None
    timeout_at: datetime | None
    result_at: datetime | None
    station_id: str | None
    evse_id: int | None
    connector_id: int | None
    location_id: str | None
    transaction_id: int | None
    reservation_id: int | None
    ocpi_reservation_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: CommandRecord) -> CommandOut:
        return cls(
            id=c.id or 0,
            uid=c.uid,
            direction=c.direction.value,
            partner_id=c.partner_id,
            command=c.command.value,
            request=c.request,
            response=None if c.response is None else c.response.value,
            response_message=c.response_message,
            result=None if c.result is None else c.result.value,
            result_message=c.result_message,
            timeout_at=c.timeout_at,
            result_at=c.result_at,
            station_id=c.station_id,
            evse_id=c.evse_id,
            connector_id=c.connector_id,
            location_id=c.location_id,
            transaction_id=c.transaction_id,
            reservation_id=c.reservation_id,
            ocpi_reservation_id=c.ocpi_reservation_id,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class CommandPage(BaseModel):
    items: list[CommandOut]
    total: int
    limit: int
    offset: int


# ------------------------------------------------------------------ services


def _tokens(deps: ApiDeps) -> RoamingTokens:
    if deps.roaming_tokens is None:
        raise ApiProblem(503, "OCPI tokens are not available")
    return deps.roaming_tokens


def _publisher(deps: ApiDeps) -> TokenPublisher:
    if deps.token_publisher is None:
        raise ApiProblem(503, "OCPI tokens are not available")
    return deps.token_publisher


def _commands(deps: ApiDeps) -> RoamingCommands:
    if deps.roaming_commands is None:
        raise ApiProblem(503, "OCPI commands are not available")
    return deps.roaming_commands


def _sent(deps: ApiDeps) -> SentCommands:
    if deps.sent_commands is None:
        raise ApiProblem(503, "OCPI commands are not available")
    return deps.sent_commands


# ------------------------------------------------------------------ routes


def ocpi_commands_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["ocpi"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]

    @router.get("/ocpi/received/tokens", dependencies=viewer, responses=problems(503))
    async def list_received_tokens(
        limit: Limit = 50,
        offset: Offset = 0,
        country_code: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
        party_id: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
        uid: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
    ) -> ReceivedTokenPage:
        page = await _tokens(deps).list_received(limit, offset, country_code, party_id, uid)
        return ReceivedTokenPage(
            items=[ReceivedTokenOut.of(s) for s in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.get("/ocpi/received/tokens/{token_id}", dependencies=viewer, responses=problems(404))
    async def get_received_token(token_id: RowId) -> ReceivedTokenOut:
        found = await _tokens(deps).get_received(token_id)
        if found is None:
            raise ApiProblem(404, f"no received token {token_id}")
        return ReceivedTokenOut.of(found)

    @router.post(
        "/ocpi/partners/{partner_id}/tokens/pull",
        dependencies=operator,
        responses=problems(404, 409, 502, 503),
    )
    async def pull_tokens(partner_id: PartnerId) -> Count:
        """Fetch the partner's whole token list (its tokens Sender interface) now."""
        partners = deps.ocpi_partners
        if partners is None or deps.roaming_tokens is None:
            raise ApiProblem(503, "OCPI is not available")
        partner = await partners.get(partner_id)
        if partner is None:
            raise ApiProblem(404, f"no OCPI partner {partner_id}")
        if not partner.registered or partner.endpoint("tokens", InterfaceRole.SENDER) is None:
            raise ApiProblem(409, f"partner {partner_id} has no tokens Sender interface")
        puller = deps.token_puller
        if puller is None:
            raise ApiProblem(503, "OCPI tokens are not available")
        try:
            return Count(count=await puller.pull(partner))
        except OcpiCallFailed as exc:
            raise ApiProblem(502, f"the partner could not be reached: {exc.message}") from None

    @router.get("/ocpi/published/tokens", dependencies=viewer, responses=problems(503))
    async def list_published_tokens(limit: Limit = 50, offset: Offset = 0) -> PublishedTokenPage:
        page = await _publisher(deps).page(offset, limit, None, None)
        return PublishedTokenPage(
            items=[token_to_json(t) for t in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.post("/ocpi/published/tokens/sync", dependencies=operator, responses=problems(503))
    async def sync_published_tokens() -> Count:
        """Compare the id tokens with what was published and push the changes now."""
        return Count(count=await _publisher(deps).sync(force=True))

    @router.get("/ocpi/authorizations", dependencies=viewer, responses=problems(503))
    async def list_authorizations(limit: Limit = 50, offset: Offset = 0) -> AuthorizationPage:
        page = await _tokens(deps).list_authorizations(limit, offset)
        return AuthorizationPage(
            items=[AuthorizationOut.of(a) for a in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.post(
        "/ocpi/partners/{partner_id}/commands",
        dependencies=operator,
        responses=problems(404, 409, 422, 503),
    )
    async def send_command(partner_id: PartnerId, body: CommandIn) -> CommandOut:
        """Send a command to a CPO partner (OCPI 2.2.1 mod_commands) for one of our id
        tokens; `response` is the CPO's answer, `result` the Charge Point's (with `wait`,
        up to that many seconds; else poll GET /ocpi/commands/{id})."""
        fields = body.model_dump(exclude={"command", "wait"}, exclude_none=True)
        for name in _NEEDS[body.command]:
            if name not in fields:
                invalid_request(f"{body.command.value} needs {name}", name)
        try:
            record = await _sent(deps).send(partner_id, body.command, fields, body.wait)
        except CommandNotSent as exc:
            raise ApiProblem(exc.status, str(exc)) from None
        except InvalidObject as exc:
            invalid_request(str(exc), exc.field or None)
        return CommandOut.of(record)

    @router.get("/ocpi/commands", dependencies=viewer, responses=problems(503))
    async def list_commands(
        limit: Limit = 50,
        offset: Offset = 0,
        direction: Literal["received", "sent"] | None = None,
        partner_id: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
        command: CommandType | None = None,
    ) -> CommandPage:
        page = await _commands(deps).list(
            limit,
            offset,
            None if direction is None else CommandDirection(direction),
            partner_id,
            command,
        )
        return CommandPage(
            items=[CommandOut.of(c) for c in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.get("/ocpi/commands/{command_id}", dependencies=viewer, responses=problems(404))
    async def get_command(command_id: RowId) -> CommandOut:
        found = await _commands(deps).get(command_id)
        if found is None:
            raise ApiProblem(404, f"no OCPI command {command_id}")
        return CommandOut.of(found)

    return router
