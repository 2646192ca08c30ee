"""RFC 9457 problem details: every error the API returns is `application/problem+json`."""

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ampyre.services.ports import StoreUnavailable
from ampyre.services.stations import InvalidStationInput, StationExists, StationNotFound
from ampyre.services.tokens import InvalidTokenInput

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TYPE_PREFIX = "urn:ampyre:problem:"


def problem_type(slug: str) -> str:
    return _TYPE_PREFIX + slug


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


class ApiProblem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        slug: str | None = None,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title or HTTPStatus(status).phrase)
        self.status = status
        self.detail = detail
        self.type = problem_type(slug) if slug else "about:blank"
        self.title = title or HTTPStatus(status).phrase
        self.headers = dict(headers or {})
        self.extra = extra


def problem_response(
    request: Request,
    status: int,
    *,
    type_: str = "about:blank",
    title: str | None = None,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or _phrase(status),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if extra:
        body.update(extra)
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic errors without `input`/`ctx`: they may echo secrets (passwords) back."""
    out: list[dict[str, Any]] = []
    for err in errors:
        out.append(
            {
                "loc": [p if isinstance(p, int) else str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
    return out


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    return problem_response(
        request,
        exc.status,
        type_=exc.type,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    phrase = _phrase(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    if exc.status_code == 404 and detail is None:
        detail = f"no resource at {request.url.path}"
    elif exc.status_code == 405 and detail is None:
        detail = f"{request.method} is not allowed on {request.url.path}"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    if exc.status_code in (204, 304) or exc.status_code < 200:
        return Response(status_code=exc.status_code, headers=headers)
    return problem_response(request, exc.status_code, detail=detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Starlette's Allow names only the first route whose path matches; list them all.
    `app.state.method_table` ([(path regex, methods)]) is set by create_api."""
    table = getattr(request.app.state, "method_table", None) or []
    path = request.url.path
    methods: set[str] = set()
    for regex, route_methods in table:
        if regex.fullmatch(path):
            methods |= route_methods
    return sorted(methods)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    return problem_response(
        request,
        422,
        type_=problem_type("validation-error"),
        title="Invalid request",
        detail="; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        or "the request is not valid",
        extra={"errors": errors},
    )


async def _on_invalid_input(request: Request, exc: Exception) -> Response:
    field = getattr(exc, "field", "") or ""
    loc: list[str] = ["body", field] if field else ["body"]
    return problem_response(
        request,
        422,
        type_=problem_type("validation-error"),
        title="Invalid request",
        detail=str(exc),
        extra={"errors": [{"loc": loc, "msg": str(exc), "type": "value_error"}]},
    )


async def _on_station_exists(request: Request, exc: Exception) -> Response:
    return problem_response(
        request, 409, type_=problem_type("station-exists"), title="Conflict", detail=str(exc)
    )


async def _on_station_not_found(request: Request, exc: Exception) -> Response:
    return problem_response(request, 404, type_=problem_type("station-not-found"), detail=str(exc))


async def _on_store_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("store unavailable during %s %s: %r", request.method, request.url.path, exc)
    return problem_response(
        request,
        503,
        type_=problem_type("store-unavailable"),
        detail="the database is unavailable; try again shortly",
        headers={"Retry-After": "5"},
    )


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    # Starlette's ServerErrorMiddleware calls this, then re-raises so the server logs it
    # with the traceback; the client only learns that it was our fault.
    return problem_response(
        request,
        500,
        type_="about:blank",
        detail="an unexpected error occurred; it has been logged",
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiProblem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(InvalidStationInput, _on_invalid_input)
    app.add_exception_handler(InvalidTokenInput, _on_invalid_input)
    app.add_exception_handler(StationExists, _on_station_exists)
    app.add_exception_handler(StationNotFound, _on_station_not_found)
    app.add_exception_handler(StoreUnavailable, _on_store_unavailable)
    app.add_exception_handler(Exception, _on_unexpected)
