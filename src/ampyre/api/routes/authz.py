"""REST routes: id tokens, local authorization lists, ClearCache, reservations."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from ampyre.api.auth import Auth, allows
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import API_PREFIX, INT32_MAX, Limit, Offset, problems
from ampyre.api.routes.stations import StationId
from ampyre.api.schemas_authz import (
    IdTokenCreate,
    IdTokenOut,
    IdTokenPage,
    IdTokenPatch,
    LocalListOut,
    LocalListPush,
    LocalListPushOut,
    PushResultOut,
    ReservationCreate,
    ReservationOut,
    ReservationPage,
    StationAnswer,
)
from ampyre.domain.authz import ReservationStatus
from ampyre.domain.models import ApiToken, Role
from ampyre.services.authz import AuthService, IdTokenExists, InvalidAuthInput, NotFound
from ampyre.services.local_lists import CommandAnswer, PushResult
from ampyre.services.reservations import (
    Delivery,
    ReservationInputError,
    ReservationNotActive,
    ReservationNotFound,
)

TokenId = Annotated[int, Path(ge=1, le=INT32_MAX, description="the id token's Ampyre id")]
ReservationId = Annotated[int, Path(ge=0, le=INT32_MAX, description="the reservation id")]
Search = Annotated[
    str | None, Query(max_length=255, description="substring of the token value, any case")
]


def _invalid(exc: InvalidAuthInput | ReservationInputError) -> ApiProblem:
    loc = ["body", exc.field] if exc.field else ["body"]
    return ApiProblem(
        422,
        str(exc),
        slug="validation-error",
        title="Invalid request",
        errors=[{"loc": loc, "msg": str(exc), "type": "value_error"}],
    )


def _command_problem(station_id: str, action: str, answer: CommandAnswer | Delivery) -> None:
    """Raise the problem for a command that got no CALLRESULT."""
    if answer.status == "not_connected":
        raise ApiProblem(
            409, f"station {station_id!r} is not connected", slug="station-not-connected"
        )
    if answer.status == "timeout":
        raise ApiProblem(
            504,
            f"station {station_id!r} did not answer {action} in time",
            slug="station-timeout",
            title="Station timeout",
        )
    if answer.status == "error":
        raise ApiProblem(502, answer.detail or f"{action} failed", slug="command-failed")


def authz_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter()
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]

    def service() -> AuthService:
        if deps.auth is None:
            raise ApiProblem(503, "authorization is not available in this process")
        return deps.auth

    # ------------------------------------------------------------------ id tokens

    @router.get("/id-tokens", tags=["id-tokens"], dependencies=viewer, responses=problems(422))
    async def list_id_tokens(
        limit: Limit = 50, offset: Offset = 0, search: Search = None
    ) -> IdTokenPage:
        """Id tokens by id; `search` matches a part of the value, in any case."""
        page = await service().list_tokens(limit, offset, search)
        return IdTokenPage(
            items=[IdTokenOut.build(t) for t in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @router.post(
        "/id-tokens",
        tags=["id-tokens"],
        status_code=status.HTTP_201_CREATED,
        dependencies=operator,
        responses=problems(409, 422),
    )
    async def create_id_token(body: IdTokenCreate, response: Response) -> IdTokenOut:
        """Add a token. 409 if the same value and type exist."""
        try:
            token = await service().create_token(body.to_domain())
        except InvalidAuthInput as exc:
            raise _invalid(exc) from None
        except IdTokenExists as exc:
            raise ApiProblem(409, str(exc), slug="id-token-exists", title="Conflict") from None
        response.headers["Location"] = f"{API_PREFIX}/id-tokens/{token.id}"
        return IdTokenOut.build(token)

    @router.get(
        "/id-tokens/{token_id}", tags=["id-tokens"], dependencies=viewer, responses=problems(404)
    )
    async def get_id_token(token_id: TokenId) -> IdTokenOut:
        try:
            return IdTokenOut.build(await service().get_token(token_id))
        except NotFound as exc:
            raise ApiProblem(404, str(exc), slug="id-token-not-found") from None

    @router.patch(
        "/id-tokens/{token_id}",
        tags=["id-tokens"],
        dependencies=operator,
        responses=problems(404, 409, 422),
    )
    async def update_id_token(token_id: TokenId, body: IdTokenPatch) -> IdTokenOut:
        """Change some fields; those left out are kept. `null` clears expires_at,
        group_id, description; id_token, type and status cannot be null."""
        try:
            return IdTokenOut.build(await service().update_token(token_id, body.changes()))
        except InvalidAuthInput as exc:
            raise _invalid(exc) from None
        except NotFound as exc:
            raise ApiProblem(404, str(exc), slug="id-token-not-found") from None
        except IdTokenExists as exc:
            raise ApiProblem(409, str(exc), slug="id-token-exists", title="Conflict") from None

    @router.delete(
        "/id-tokens/{token_id}",
        tags=["id-tokens"],
        status_code=status.HTTP_204_NO_CONTENT,
        dependencies=operator,
        responses=problems(404),
    )
    async def delete_id_token(token_id: TokenId) -> Response:
        try:
            await service().delete_token(token_id)
        except NotFound as exc:
            raise ApiProblem(404, str(exc), slug="id-token-not-found") from None
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    # ------------------------------------------------------------------ local lists

    @router.post(
        "/local-lists/push",
        tags=["local-lists"],
        dependencies=operator,
        responses=problems(422),
    )
    async def push_local_lists(body: LocalListPush) -> LocalListPushOut:
        """Send each station the tokens usable there (SendLocalList), one station after
        the other; the answer lists every station's outcome. The version sent is the
        last accepted one + 1 per message; the stored state changes only on Accepted."""
        svc = service()
        if body.all_connected:
            targets = await _connected_stations(deps)
        else:
            targets = list(dict.fromkeys(body.station_ids or []))
        results: list[PushResultOut] = []
        differential = body.update_type == "differential"
        for station_id in targets:
            if await deps.store.get_station(station_id) is None:
                result = PushResult(station_id, "unknown_station", detail="no such station")
            else:
                result = await svc.lists.push(station_id, differential, body.chunk_size)
            results.append(PushResultOut.build(result))
        return LocalListPushOut(results=results)

    @router.get(
        "/stations/{station_id}/local-list",
        tags=["local-lists"],
        responses=problems(404, 422),
    )
    async def get_local_list(
        station_id: StationId,
        caller: Annotated[ApiToken, Depends(auth.require(Role.VIEWER))],
        live: Annotated[
            bool, Query(description="also ask the station (GetLocalListVersion; operator)")
        ] = False,
    ) -> LocalListOut:
        """What Ampyre last pushed to the station's local list; with `live=true` also the
        version the station reports."""
        svc = service()
        await deps.stations.require(station_id)
        out = LocalListOut.build(station_id, await svc.lists.state(station_id))
        if live:
            if not allows(caller.role, Role.OPERATOR):
                raise ApiProblem(
                    403,
                    "asking the station (live=true) needs the operator role",
                    slug="forbidden",
                )
            answer = await svc.lists.live_version(station_id)
            out.live_status = "ok" if answer.payload else answer.status
            out.live_detail = answer.detail
            value = answer.payload.get("listVersion", answer.payload.get("versionNumber"))
            out.live_version = value if isinstance(value, int) else None
        return out

    @router.post(
        "/stations/{station_id}/clear-cache",
        tags=["local-lists"],
        dependencies=operator,
        responses=problems(404, 409, 502, 504),
    )
    async def clear_cache(station_id: StationId) -> StationAnswer:
        """ClearCache: the station empties its Authorization Cache (not the local list).
        409 if not connected, 504 without an answer in time, 502 on a CALLERROR."""
        svc = service()
        await deps.stations.require(station_id)
        answer = await svc.lists.clear_cache(station_id)
        _command_problem(station_id, "ClearCache", answer)
        return StationAnswer(status=answer.status, response=answer.payload)

    # ------------------------------------------------------------------ reservations

    @router.get(
        "/reservations", tags=["reservations"], dependencies=viewer, responses=problems(422)
    )
    async def list_reservations(
        limit: Limit = 50,
        offset: Offset = 0,
        station_id: Annotated[str | None, Query(max_length=48)] = None,
        status_: Annotated[ReservationStatus | None, Query(alias="status")] = None,
    ) -> ReservationPage:
        """Reservations, newest first."""
        page = await service().reservations.list(
            station_id, status_.value if status_ else None, limit, offset
        )
        return ReservationPage(
            items=[ReservationOut.build(r) for r in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @router.post(
        "/reservations",
        tags=["reservations"],
        status_code=status.HTTP_201_CREATED,
        dependencies=operator,
        responses=problems(404, 422),
    )
    async def create_reservation(body: ReservationCreate, response: Response) -> ReservationOut:
        """Reserve an EVSE (1.6: connector) for a token: the reservation is stored, sent
        (ReserveNow) and stored again with the outcome: `accepted`, `rejected` (the
        station said Faulted, Occupied, Rejected or Unavailable; see `station_answer`)
        or `failed` (not connected, no answer, CALLERROR; see `delivery`)."""
        svc = service()
        await deps.stations.require(body.station_id)
        try:
            r, delivery = await svc.reserve(
                body.station_id,
                body.id_token,
                body.expires_at,
                evse_id=body.evse_id,
                id_token_type=body.id_token_type,
                connector_type=body.connector_type,
                group_id=body.group_id,
            )
        except ReservationInputError as exc:
            raise _invalid(exc) from None
        response.headers["Location"] = f"{API_PREFIX}/reservations/{r.id}"
        return ReservationOut.build(r, delivery)

    @router.get(
        "/reservations/{reservation_id}",
        tags=["reservations"],
        dependencies=viewer,
        responses=problems(404),
    )
    async def get_reservation(reservation_id: ReservationId) -> ReservationOut:
        try:
            return ReservationOut.build(await service().reservations.get(reservation_id))
        except ReservationNotFound as exc:
            raise ApiProblem(404, str(exc), slug="reservation-not-found") from None

    @router.delete(
        "/reservations/{reservation_id}",
        tags=["reservations"],
        dependencies=operator,
        responses=problems(404, 409, 502, 504),
    )
    async def cancel_reservation(reservation_id: ReservationId) -> ReservationOut:
        """CancelReservation. 200 with the reservation and the station's answer:
        `cancelled` if it accepted; unchanged if it answered Rejected (it knows no such
        reservation). 409 if the reservation is not active or the station is not
        connected, 504 without an answer in time, 502 on a CALLERROR."""
        svc = service()
        try:
            r, delivery = await svc.reservations.cancel(reservation_id)
        except ReservationNotFound as exc:
            raise ApiProblem(404, str(exc), slug="reservation-not-found") from None
        except ReservationNotActive as exc:
            raise ApiProblem(
                409, str(exc), slug="reservation-not-active", title="Conflict"
            ) from None
        _command_problem(r.station_id, "CancelReservation", delivery)
        return ReservationOut.build(r, delivery)

    return router


async def _connected_stations(deps: ApiDeps) -> list[str]:
    """Every registered station with a live connection now (anywhere in the cluster)."""
    out: list[str] = []
    offset, size = 0, 500
    while True:
        page = await deps.store.list_stations(size, offset)
        out += [s.id for s in page.items if deps.commands.ocpp_version(s.id) is not None]
        offset += size
        if offset >= page.total or not page.items:
            return out
