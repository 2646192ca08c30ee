"""CDRs and roaming sessions for operators (issue 20).

- `GET /cdrs?transaction_id=&credit=&limit=&offset=`: the CDRs Ampyre made (as CPO),
  newest first; `GET /cdrs/{id}`: one, with the OCPI object and its cost breakdown.
- `POST /cdrs/{id}/credit` (operator) `{"reason": "...", "reissue": false}`: a credit CDR
  (OCPI 2.2.1 mod_cdrs 10.1.1) and, with `reissue`, a new CDR of the transaction priced
  again; 409 when the CDR is a credit CDR, credited already, or not ours.
- `GET /ocpi/received/cdrs?partner_id=`, `GET /ocpi/received/cdrs/{id}`: CDRs CPO partners
  sent (Ampyre as eMSP).
- `GET /ocpi/sessions?side=ours|received&status=&partner_id=&transaction_id=`,
  `GET /ocpi/sessions/{id}`: roaming sessions, ours (pushed to eMSPs) and received.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT64_MAX, Limit, Offset, problems
from ampyre.domain.cdrs import CdrConflict, StoredCdr
from ampyre.domain.models import Role
from ampyre.domain.ocpi_sessions import OURS, RECEIVED, Price, RoamingSession, json_value
from ampyre.services.cdrs import CdrNotFound, CdrService
from ampyre.services.ocpi_sessions import OcpiSessions

ObjectId = Annotated[int, Path(ge=1, le=INT64_MAX, description="id")]
OptionalId = Annotated[int | None, Query(ge=1, le=INT64_MAX)]


class PriceOut(BaseModel):
    excl_vat: float
    incl_vat: float | None = None

    @classmethod
    def of(cls, p: Price | None) -> PriceOut | None:
        if p is None:
            return None
        return cls(
            excl_vat=json_value(p.excl_vat),
            incl_vat=None if p.incl_vat is None else json_value(p.incl_vat),
        )


class CdrOut(BaseModel):
    id: int
    side: str
    cdr_id: str
    country_code: str
    party_id: str
    transaction_id: int | None
    session_id: str | None
    partner_id: int | None
    credit: bool
    credit_reference_id: str | None
    credited_by: str | None = Field(description="the id of the credit CDR of this one")
    currency: str
    total_cost: PriceOut
    total_energy: float
    total_time: float
    start_date_time: datetime
    end_date_time: datetime
    token_uid: str
    token_owner: str = Field(description="country_code/party_id of the token's eMSP")
    last_updated: datetime
    cdr: dict[str, Any] = Field(description="the OCPI 2.2.1 CDR object")

    @classmethod
    def of(cls, c: StoredCdr) -> CdrOut:
        s = c.summary
        return cls(
            id=c.id,
            side=c.side,
            cdr_id=s.cdr_id,
            country_code=s.country_code,
            party_id=s.party_id,
            transaction_id=c.transaction_pk,
            session_id=s.session_id,
            partner_id=c.partner_id,
            credit=s.credit,
            credit_reference_id=s.credit_reference_id,
            credited_by=c.credited_by,
            currency=s.currency,
            total_cost=PriceOut.of(s.total_cost) or PriceOut(excl_vat=0),
            total_energy=json_value(s.total_energy),
            total_time=json_value(s.total_time),
            start_date_time=s.start,
            end_date_time=s.end,
            token_uid=s.token_uid,
            token_owner=f"{s.token_country_code}/{s.token_party_id}",
            last_updated=s.last_updated,
            cdr=c.body,
        )


class CdrPage(BaseModel):
    items: list[CdrOut]
    total: int
    limit: int
    offset: int


class CreditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=255, description="the credit CDR's remark")
    reissue: bool = Field(False, description="also make a new CDR, priced again now")


class CreditOut(BaseModel):
    credit: CdrOut
    reissued: CdrOut | None


class SessionOut(BaseModel):
    id: int
    side: str
    session_id: str
    country_code: str
    party_id: str
    transaction_id: int | None
    partner_id: int | None
    status: str
    kwh: float
    currency: str
    total_cost: PriceOut | None
    start_date_time: datetime
    end_date_time: datetime | None
    token_uid: str | None
    token_owner: str | None
    last_updated: datetime
    pushed_at: datetime | None
    session: dict[str, Any] = Field(description="the OCPI 2.2.1 Session object")

    @classmethod
    def of(cls, s: RoamingSession) -> SessionOut:
        owner = None
        if s.token_country_code and s.token_party_id:
            owner = f"{s.token_country_code}/{s.token_party_id}"
        return cls(
            id=s.id,
            side=s.side,
            session_id=s.session_id,
            country_code=s.country_code,
            party_id=s.party_id,
            transaction_id=s.transaction_pk,
            partner_id=s.partner_id,
            status=s.status,
            kwh=json_value(s.kwh),
            currency=s.currency,
            total_cost=PriceOut.of(s.total_cost),
            start_date_time=s.start_date_time,
            end_date_time=s.end_date_time,
            token_uid=s.token_uid,
            token_owner=owner,
            last_updated=s.last_updated,
            pushed_at=s.pushed_at,
            session=s.body,
        )


class SessionPage(BaseModel):
    items: list[SessionOut]
    total: int
    limit: int
    offset: int


def cdr_service(deps: ApiDeps) -> CdrService:
    if deps.cdrs is None:
        raise ApiProblem(503, "CDRs are not available")
    return deps.cdrs


def session_service(deps: ApiDeps) -> OcpiSessions:
    if deps.ocpi_sessions is None:
        raise ApiProblem(503, "roaming sessions are not available")
    return deps.ocpi_sessions


def cdrs_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["cdrs"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]

    @router.get("/cdrs", dependencies=viewer, responses=problems(503))
    async def list_cdrs(
        limit: Limit = 50,
        offset: Offset = 0,
        transaction_id: OptionalId = None,
        credit: bool | None = None,
    ) -> CdrPage:
        """The CDRs Ampyre made, newest first."""
        page = await cdr_service(deps).list(
            side=OURS, transaction_pk=transaction_id, credit=credit, limit=limit, offset=offset
        )
        return CdrPage(
            items=[CdrOut.of(c) for c in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.get("/cdrs/{cdr_id}", dependencies=viewer, responses=problems(404, 503))
    async def get_cdr(cdr_id: ObjectId) -> CdrOut:
        cdr = await cdr_service(deps).get(cdr_id)
        if cdr is None or cdr.side != OURS:
            raise ApiProblem(404, f"no CDR {cdr_id}")
        return CdrOut.of(cdr)

    @router.post(
        "/cdrs/{cdr_id}/credit",
        status_code=201,
        dependencies=operator,
        responses=problems(404, 409, 422, 503),
    )
    async def credit_cdr(cdr_id: ObjectId, body: CreditIn | None = None) -> CreditOut:
        """Credit a CDR (and optionally re-issue it priced again); both are sent to the
        token's eMSP."""
        ask = body or CreditIn(reason=None, reissue=False)
        try:
            credit, reissued = await cdr_service(deps).credit(
                cdr_id, reason=ask.reason, reissue=ask.reissue
            )
        except CdrNotFound:
            raise ApiProblem(404, f"no CDR {cdr_id}") from None
        except CdrConflict as exc:
            raise ApiProblem(409, str(exc)) from None
        return CreditOut(
            credit=CdrOut.of(credit), reissued=None if reissued is None else CdrOut.of(reissued)
        )

    @router.get("/ocpi/received/cdrs", dependencies=viewer, responses=problems(503))
    async def list_received_cdrs(
        limit: Limit = 50, offset: Offset = 0, partner_id: OptionalId = None
    ) -> CdrPage:
        """CDRs CPO partners sent (Ampyre as eMSP), newest first."""
        page = await cdr_service(deps).list(
            side=RECEIVED, partner_id=partner_id, limit=limit, offset=offset
        )
        return CdrPage(
            items=[CdrOut.of(c) for c in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.get("/ocpi/received/cdrs/{cdr_id}", dependencies=viewer, responses=problems(404, 503))
    async def get_received_cdr(cdr_id: ObjectId) -> CdrOut:
        cdr = await cdr_service(deps).get(cdr_id)
        if cdr is None or cdr.side != RECEIVED:
            raise ApiProblem(404, f"no received CDR {cdr_id}")
        return CdrOut.of(cdr)

    @router.get("/ocpi/sessions", dependencies=viewer, responses=problems(503))
    async def list_sessions(
        limit: Limit = 50,
        offset: Offset = 0,
        side: Literal["ours", "received"] | None = None,
        status: Annotated[str | None, Query(max_length=16)] = None,
        partner_id: OptionalId = None,
        transaction_id: OptionalId = None,
    ) -> SessionPage:
        """Roaming sessions, newest first: ours (pushed to the token's eMSP) and those
        CPO partners sent."""
        page = await session_service(deps).list(
            side=side,
            status=None if status is None else status.upper(),
            partner_id=partner_id,
            transaction_pk=transaction_id,
            limit=limit,
            offset=offset,
        )
        return SessionPage(
            items=[SessionOut.of(s) for s in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.get("/ocpi/sessions/{session_pk}", dependencies=viewer, responses=problems(404, 503))
    async def get_session(session_pk: ObjectId) -> SessionOut:
        session = await session_service(deps).get(session_pk)
        if session is None:
            raise ApiProblem(404, f"no roaming session {session_pk}")
        return SessionOut.of(session)

    return router
