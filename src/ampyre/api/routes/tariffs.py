"""Tariffs and prices (issue 20).

- `GET|POST /tariffs`, `GET|PUT|DELETE /tariffs/{id}`: our OCPI 2.2.1 tariffs and where
  they apply (scoped to stations, or the default). A change is pushed to the eMSPs we
  roam with.
- `POST /tariffs/preview`: the price of a made-up session with a tariff being edited
  (or one of ours): charging periods, cost per dimension, totals.
- `GET /transactions/{id}/cost?until=`: what a transaction costs (live while it runs).
- `GET /ocpi/received/tariffs`: the tariffs CPO partners pushed to us.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Depends, Path, Query, Response

from ampyre.api.auth import Auth
from ampyre.api.command_errors import invalid_request
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, INT64_MAX, Limit, Offset, problems
from ampyre.api.schemas_tariffs import (
    TARIFF_ID_PATTERN,
    PreviewIn,
    ReceivedTariffOut,
    ReceivedTariffPage,
    TariffIn,
    TariffOut,
    TariffPage,
)
from ampyre.domain.models import Role
from ampyre.domain.pricing import priced_session_json
from ampyre.domain.tariffs import Tariff, TariffInvalid
from ampyre.services.tariffs import TariffConflict, TariffService

TariffIdPath = Annotated[str, Path(pattern=TARIFF_ID_PATTERN, description="tariff id")]
TransactionPk = Annotated[int, Path(ge=1, le=INT64_MAX, description="Ampyre's transaction id")]


def tariff_service(deps: ApiDeps) -> TariffService:
    service = getattr(deps, "tariffs", None)
    if service is None:
        raise ApiProblem(503, "tariffs are not available")
    assert isinstance(service, TariffService)
    return service


def _invalid(exc: TariffInvalid, prefix: str = "") -> NoReturn:
    field = f"{prefix}{exc.field}" if exc.field else prefix.rstrip(".")
    loc: list[str | int] = ["body"]
    if field:
        loc += [int(p) if p.isdigit() else p for p in field.split(".")]
    invalid_request(str(exc), field, loc)


def _not_found(tariff_id: str) -> NoReturn:
    raise ApiProblem(404, f"no tariff {tariff_id}")


def tariffs_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["tariffs"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]

    @router.get("/tariffs", dependencies=viewer, responses=problems(503))
    async def list_tariffs(limit: Limit = 50, offset: Offset = 0) -> TariffPage:
        page = await tariff_service(deps).list_tariffs(limit, offset)
        return TariffPage(
            items=[TariffOut.of(r) for r in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.post(
        "/tariffs", status_code=201, dependencies=operator, responses=problems(409, 422, 503)
    )
    async def create_tariff(body: TariffIn) -> TariffOut:
        """A new tariff (the OCPI Tariff fields; owner and last_updated are set here)."""
        if body.id is None:
            invalid_request("id is required", "id")
        try:
            saved, _ = await tariff_service(deps).put(body.to_record(body.id), create_only=True)
        except TariffInvalid as exc:
            _invalid(exc)
        except TariffConflict:
            raise ApiProblem(409, f"tariff {body.id} exists", slug="tariff-exists") from None
        return TariffOut.of(saved)

    @router.get("/tariffs/{tariff_id}", dependencies=viewer, responses=problems(404, 503))
    async def get_tariff(tariff_id: TariffIdPath) -> TariffOut:
        found = await tariff_service(deps).record(tariff_id)
        if found is None:
            _not_found(tariff_id)
        return TariffOut.of(found)

    @router.put(
        "/tariffs/{tariff_id}",
        dependencies=operator,
        responses={201: {"model": TariffOut, "description": "Created"}, **problems(422, 503)},
    )
    async def put_tariff(tariff_id: TariffIdPath, body: TariffIn, response: Response) -> TariffOut:
        """Create or replace a tariff."""
        if body.id is not None and body.id != tariff_id:
            invalid_request("id differs from the path's", "id")
        try:
            saved, created = await tariff_service(deps).put(body.to_record(tariff_id))
        except TariffInvalid as exc:
            _invalid(exc)
        if created:
            response.status_code = 201
        return TariffOut.of(saved)

    @router.delete(
        "/tariffs/{tariff_id}", status_code=204, dependencies=operator, responses=problems(404, 503)
    )
    async def delete_tariff(tariff_id: TariffIdPath) -> Response:
        """Delete a tariff; transactions that started under it keep being priced with it."""
        if not await tariff_service(deps).delete(tariff_id):
            _not_found(tariff_id)
        return Response(status_code=204)

    @router.post("/tariffs/preview", dependencies=viewer, responses=problems(404, 422, 503))
    async def preview(body: PreviewIn) -> dict[str, Any]:
        """The price of a made-up session: give `tariff` (being edited) or `tariff_id`."""
        service = tariff_service(deps)
        tariff: Tariff | None
        if body.tariff is not None:
            try:
                draft = body.tariff.to_tariff(body.tariff.id or "preview")
            except TariffInvalid as exc:
                _invalid(exc, "tariff.")
            tariff = dataclasses.replace(
                draft,
                country_code=deps.settings.ocpi_country_code.upper(),
                party_id=deps.settings.ocpi_party_id.upper(),
            )
        elif body.tariff_id is not None:
            tariff = await service.get(body.tariff_id)
            if tariff is None:
                _not_found(body.tariff_id)
        else:
            invalid_request("give tariff or tariff_id", "tariff")
        try:
            priced = service.preview(tariff, body.session.usage(), body.time_zone)
        except ValueError as exc:
            invalid_request(str(exc), "time_zone")
        return priced_session_json(priced)

    @router.get(
        "/transactions/{transaction_pk}/cost", dependencies=viewer, responses=problems(404, 503)
    )
    async def transaction_cost(
        transaction_pk: TransactionPk,
        until: Annotated[datetime | None, Query(description="price a running one up to")] = None,
    ) -> dict[str, Any]:
        """What the transaction costs with the tariff in force when it started: the
        charging periods, cost per dimension and totals (live while it runs). 404 when
        no tariff applies to it."""
        service = tariff_service(deps)
        if deps.transactions is None or await deps.transactions.get(transaction_pk) is None:
            raise ApiProblem(404, f"no transaction {transaction_pk}")
        if until is not None and until.tzinfo is None:
            invalid_request("until needs a time zone", loc=["query", "until"])
        priced = await service.price_transaction(transaction_pk, until)
        if priced is None:
            raise ApiProblem(
                404, f"no tariff applies to transaction {transaction_pk}", slug="no-tariff"
            )
        return priced_session_json(priced)

    @router.get("/ocpi/received/tariffs", dependencies=viewer, responses=problems(503))
    async def received_tariffs(
        partner_id: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ReceivedTariffPage:
        """Tariffs CPO partners pushed to us (we are their eMSP), newest first."""
        page = await tariff_service(deps).list_received(partner_id, limit, offset)
        return ReceivedTariffPage(
            items=[ReceivedTariffOut.of(r) for r in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    return router
