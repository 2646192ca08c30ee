"""OCPI roaming partners, our OCPI identity, the exchange log and the push queue
(issue 20 part 2).

- `GET /ocpi/identity`: our party (country code, party id, roles) and versions URL.
- `GET|POST /ocpi/partners`, `GET|PATCH|DELETE /ocpi/partners/{id}`: a partner is made
  with our token A for it (shown once) and, optionally, its versions URL and token A.
- `POST /ocpi/partners/{id}/register`: we run the credentials handshake (A -> B -> C).
- `PUT /ocpi/partners/{id}/credentials`: a new token for them, their endpoints again.
- `POST /ocpi/partners/{id}/token-a`: a new token A (not registered partners).
- `GET /ocpi/partners/{id}/exchanges`, `GET /ocpi/exchanges`: the exchange log.
- `GET /ocpi/push-queue`, `POST /ocpi/push-queue/{id}/retry`, `DELETE /ocpi/push-queue/{id}`.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, Path, Query, Response

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, INT64_MAX, Limit, Offset, problems
from ampyre.api.schemas_ocpi import (
    ExchangeOut,
    ExchangePage,
    IdentityOut,
    PartnerCreated,
    PartnerIn,
    PartnerOut,
    PartnerPage,
    PartnerPatch,
    PushOut,
    PushPage,
    TokenA,
)
from ampyre.domain.models import Role
from ampyre.domain.ocpi import Partner
from ampyre.services.ocpi_credentials import OcpiCredentials, RegistrationFailed
from ampyre.services.ocpi_exchanges import ExchangeLog
from ampyre.services.ocpi_partners import PartnerConflict, PartnerService
from ampyre.services.ocpi_port import PartnerUpdate, PushStatus
from ampyre.services.ocpi_push import OcpiPush

PartnerId = Annotated[int, Path(ge=1, le=INT32_MAX, description="the partner's id")]
PushId = Annotated[int, Path(ge=1, le=INT64_MAX, description="the queued request's id")]


# ------------------------------------------------------------------ routes


def _partners(deps: ApiDeps) -> PartnerService:
    if deps.ocpi_partners is None:
        raise ApiProblem(503, "OCPI roaming is not available")
    return deps.ocpi_partners


def _credentials(deps: ApiDeps) -> OcpiCredentials:
    if deps.ocpi_credentials is None:
        raise ApiProblem(503, "OCPI roaming is not available")
    return deps.ocpi_credentials


def _push(deps: ApiDeps) -> OcpiPush:
    if deps.ocpi_push is None:
        raise ApiProblem(503, "the OCPI push queue is not available")
    return deps.ocpi_push


def _exchanges(deps: ApiDeps) -> ExchangeLog:
    if deps.ocpi_exchanges is None:
        raise ApiProblem(503, "the OCPI exchange log is not available")
    return deps.ocpi_exchanges


def _not_found(partner_id: int) -> NoReturn:
    raise ApiProblem(404, f"no OCPI partner {partner_id}")


def _conflict(exc: PartnerConflict) -> NoReturn:
    raise ApiProblem(409, str(exc), slug="ocpi-partner-state") from None


def _failed(exc: RegistrationFailed) -> NoReturn:
    raise ApiProblem(
        502,
        f"the handshake failed (OCPI {exc.status_code}): {exc.message}",
        slug="ocpi-handshake-failed",
        ocpi_status=exc.status_code,
    ) from None


def ocpi_partners_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["ocpi"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]
    admin = [Depends(auth.require(Role.ADMIN))]

    async def counts() -> dict[int, tuple[int, int]]:
        return await deps.ocpi_push.counts() if deps.ocpi_push is not None else {}

    async def out(partner: Partner) -> PartnerOut:
        return PartnerOut.of(partner, (await counts()).get(partner.id, (0, 0)))

    @router.get("/ocpi/identity", dependencies=viewer, responses=problems(503))
    async def identity() -> IdentityOut:
        """Our OCPI party, as our Credentials tell partners, and our versions URL."""
        me = _partners(deps).identity
        return IdentityOut(
            country_code=me.country_code,
            party_id=me.party_id,
            business_name=me.business_name,
            website=me.website,
            roles=[r.value for r in me.roles],
            versions_url=me.versions_url(),
        )

    @router.get("/ocpi/partners", dependencies=viewer, responses=problems(503))
    async def list_partners(limit: Limit = 50, offset: Offset = 0) -> PartnerPage:
        found = await _partners(deps).list()
        per = await counts()
        return PartnerPage(
            items=[PartnerOut.of(p, per.get(p.id, (0, 0))) for p in found[offset : offset + limit]],
            total=len(found),
            limit=limit,
            offset=offset,
        )

    @router.post(
        "/ocpi/partners", status_code=201, dependencies=admin, responses=problems(422, 503)
    )
    async def create_partner(body: PartnerIn) -> PartnerCreated:
        """A partner, PENDING. The answer holds our token A for it (this once): give it to
        them with `our_versions_url` and they can register with us. Or give their
        `versions_url` and `token` (their token A) and `POST .../register`."""
        service = _partners(deps)
        partner, token_a = await service.create(body.name, body.versions_url, body.token)
        return PartnerCreated(
            **(await out(partner)).model_dump(),
            token_a=token_a,
            our_versions_url=service.identity.versions_url(),
        )

    @router.get("/ocpi/partners/{partner_id}", dependencies=viewer, responses=problems(404, 503))
    async def get_partner(partner_id: PartnerId) -> PartnerOut:
        partner = await _partners(deps).get(partner_id)
        if partner is None:
            _not_found(partner_id)
        return await out(partner)

    @router.patch(
        "/ocpi/partners/{partner_id}",
        dependencies=admin,
        responses=problems(404, 409, 422, 503),
    )
    async def patch_partner(partner_id: PartnerId, body: PartnerPatch) -> PartnerOut:
        """Rename a partner, or (not registered) set its versions URL and token A."""
        service = _partners(deps)
        partner = await service.get(partner_id)
        if partner is None:
            _not_found(partner_id)
        if body.versions_url is not None or body.token is not None:
            try:
                await service.set_remote(
                    partner_id,
                    body.versions_url or partner.versions_url,
                    body.token or partner.token_out,
                )
            except PartnerConflict as exc:
                _conflict(exc)
        if body.name is not None:
            await service.update(partner_id, PartnerUpdate(name=body.name))
        updated = await service.get(partner_id)
        if updated is None:
            _not_found(partner_id)
        return await out(updated)

    @router.delete(
        "/ocpi/partners/{partner_id}",
        status_code=204,
        dependencies=admin,
        responses=problems(404, 503),
    )
    async def delete_partner(partner_id: PartnerId) -> Response:
        """Delete a partner; a registered one is told first (credentials DELETE, best
        effort: it is deleted here even when it cannot be reached)."""
        if await _partners(deps).get(partner_id) is None:
            _not_found(partner_id)
        await _credentials(deps).unregister(partner_id)
        await _partners(deps).delete(partner_id)
        return Response(status_code=204)

    @router.post(
        "/ocpi/partners/{partner_id}/register",
        dependencies=admin,
        responses=problems(404, 409, 502, 503),
    )
    async def register(partner_id: PartnerId) -> PartnerOut:
        """Run the credentials handshake with the partner's versions URL and token A: their
        versions and 2.2.1 details, our Credentials with a new token B, their token C."""
        try:
            partner = await _credentials(deps).register(partner_id)
        except KeyError:
            _not_found(partner_id)
        except PartnerConflict as exc:
            _conflict(exc)
        except RegistrationFailed as exc:
            _failed(exc)
        return await out(partner)

    @router.put(
        "/ocpi/partners/{partner_id}/credentials",
        dependencies=admin,
        responses=problems(404, 409, 502, 503),
    )
    async def update_credentials(partner_id: PartnerId) -> PartnerOut:
        """Renew a registered connection (credentials PUT toward them): a new token for
        them, their new token and endpoints for us."""
        try:
            partner = await _credentials(deps).update(partner_id)
        except KeyError:
            _not_found(partner_id)
        except PartnerConflict as exc:
            _conflict(exc)
        except RegistrationFailed as exc:
            _failed(exc)
        return await out(partner)

    @router.post(
        "/ocpi/partners/{partner_id}/token-a",
        dependencies=admin,
        responses=problems(404, 409, 503),
    )
    async def new_token_a(partner_id: PartnerId) -> TokenA:
        """A new token A for a partner that is not registered (the previous one stops
        working), shown this once."""
        service = _partners(deps)
        try:
            token = await service.new_token_a(partner_id)
        except PartnerConflict as exc:
            _conflict(exc)
        if token is None:
            _not_found(partner_id)
        return TokenA(token_a=token, our_versions_url=service.identity.versions_url())

    @router.get(
        "/ocpi/partners/{partner_id}/exchanges",
        dependencies=viewer,
        responses=problems(404, 503),
    )
    async def partner_exchanges(
        partner_id: PartnerId, limit: Limit = 50, offset: Offset = 0
    ) -> ExchangePage:
        """The partner's OCPI requests and ours to it, newest first."""
        if await _partners(deps).get(partner_id) is None:
            _not_found(partner_id)
        return await _exchange_page(deps, partner_id, limit, offset)

    @router.get("/ocpi/exchanges", dependencies=viewer, responses=problems(503))
    async def exchanges(
        limit: Limit = 50,
        offset: Offset = 0,
        partner_id: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
    ) -> ExchangePage:
        """Every logged OCPI exchange, newest first (kept ocpi_exchange_retention_days)."""
        return await _exchange_page(deps, partner_id, limit, offset)

    @router.get("/ocpi/push-queue", dependencies=viewer, responses=problems(503))
    async def push_queue(
        limit: Limit = 50,
        offset: Offset = 0,
        partner_id: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
        status: PushStatus | None = None,
    ) -> PushPage:
        """Requests waiting to be pushed to partners, or failed (oldest first)."""
        page = await _push(deps).list(partner_id, status, limit, offset)
        return PushPage(
            items=[PushOut.of(i) for i in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.post(
        "/ocpi/push-queue/{item_id}/retry",
        dependencies=operator,
        responses=problems(404, 503),
    )
    async def retry_push(item_id: PushId) -> PushOut:
        """A failed request pending again, its attempts reset."""
        item = await _push(deps).retry(item_id)
        if item is None:
            raise ApiProblem(404, f"no failed queued request {item_id}")
        return PushOut.of(item)

    @router.delete(
        "/ocpi/push-queue/{item_id}",
        status_code=204,
        dependencies=operator,
        responses=problems(404, 503),
    )
    async def delete_push(item_id: PushId) -> Response:
        if not await _push(deps).delete(item_id):
            raise ApiProblem(404, f"no queued request {item_id}")
        return Response(status_code=204)

    return router


async def _exchange_page(
    deps: ApiDeps, partner_id: int | None, limit: int, offset: int
) -> ExchangePage:
    page = await _exchanges(deps).list(partner_id, limit, offset)
    return ExchangePage(
        items=[ExchangeOut.of(x) for x in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )
