"""The OCPI response envelope (OCPI 2.2.1 transport_and_format 4.1.7) and the status codes
(status_codes chapter 5), and the error handlers of the OCPI app.

Every answer is `{"data": ..., "status_code": 1000, "status_message": ..., "timestamp":
"...Z"}`; an error leaves `data` out. HTTP statuses: 400 for a body that is not JSON or
not a valid object (status 2001, as our contract chose; 5 says a valid JSON request
"reached the OCPI layer"), 401 for credentials (transport_and_format 4.1.2), 404 for an
unknown object or route (status_codes 5: "the server SHOULD return a HTTP 404").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ampyre.domain.ocpi import ocpi_jsonable, ocpi_time
from ampyre.services.clock import utcnow
from ampyre.services.ports import StoreUnavailable

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/json"

# OCPI 2.2.1 status_codes 5.1-5.3.
SUCCESS = 1000
GENERIC_CLIENT_ERROR = 2000
INVALID_PARAMETERS = 2001
NOT_ENOUGH_INFO = 2002
UNKNOWN_LOCATION = 2003
UNKNOWN_TOKEN = 2004
GENERIC_SERVER_ERROR = 3000
UNABLE_TO_USE_CLIENT_API = 3001
UNSUPPORTED_VERSION = 3002
NO_MATCHING_ENDPOINTS = 3003

_MESSAGES = {
    SUCCESS: "Success",
    GENERIC_CLIENT_ERROR: "Generic client error",
    INVALID_PARAMETERS: "Invalid or missing parameters",
    NOT_ENOUGH_INFO: "Not enough information",
    UNKNOWN_LOCATION: "Unknown location",
    UNKNOWN_TOKEN: "Unknown token",
    GENERIC_SERVER_ERROR: "Generic server error",
    UNABLE_TO_USE_CLIENT_API: "Unable to use the client's API",
    UNSUPPORTED_VERSION: "Unsupported version",
    NO_MATCHING_ENDPOINTS: "No matching endpoints",
}
MESSAGE_MAX = 1000


class OcpiError(Exception):
    """Raise from an OCPI route: answered with this status code and HTTP status."""

    def __init__(
        self, status_code: int, message: str, http_status: int = 400, data: object = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.http_status = http_status
        self.data = data


def unknown_object(what: str) -> OcpiError:
    """An object the request names does not exist: HTTP 404 with status 2004."""
    return OcpiError(UNKNOWN_TOKEN, f"unknown {what}", http_status=404)


def invalid(message: str) -> OcpiError:
    return OcpiError(INVALID_PARAMETERS, message, http_status=400)


def envelope(
    data: object, status_code: int = SUCCESS, message: str | None = None, *, with_data: bool = True
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if with_data:
        body["data"] = ocpi_jsonable(data)
    body["status_code"] = status_code
    text = message if message is not None else _MESSAGES.get(status_code)
    if text:
        body["status_message"] = text[:MESSAGE_MAX]
    body["timestamp"] = ocpi_time(utcnow())
    return body


def ocpi_response(
    data: object,
    *,
    status_code: int = SUCCESS,
    message: str | None = None,
    http_status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = envelope(data, status_code, message, with_data=status_code < 2000 or data is not None)
    return Response(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        status_code=http_status,
        media_type=MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def error_response(
    status_code: int,
    message: str,
    http_status: int,
    headers: Mapping[str, str] | None = None,
    data: object = None,
) -> Response:
    return ocpi_response(
        data, status_code=status_code, message=message, http_status=http_status, headers=headers
    )


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:10]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_handlers(app: FastAPI) -> None:
    async def on_ocpi_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OcpiError)
        return error_response(exc.status_code, exc.message, exc.http_status, data=exc.data)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return error_response(INVALID_PARAMETERS, "the body is not valid JSON", 400)
        return error_response(INVALID_PARAMETERS, _validation_message(exc), 400)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            message = "no such OCPI endpoint"
        elif exc.status_code == 405:
            message = f"method {request.method} not allowed here"
        else:
            message = str(exc.detail)
        return error_response(
            GENERIC_CLIENT_ERROR, message, exc.status_code, headers=exc.headers or None
        )

    async def on_store(request: Request, exc: Exception) -> Response:
        log.warning("OCPI %s %s: store unavailable: %s", request.method, request.url.path, exc)
        return error_response(
            GENERIC_SERVER_ERROR,
            "the database is unavailable; try again shortly",
            503,
            headers={"Retry-After": "5"},
        )

    app.add_exception_handler(OcpiError, on_ocpi_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(StoreUnavailable, on_store)
    # Anything else: 500 / 3000 from the OCPI middleware (middleware.py), which answers
    # without letting the error reach the server (logged there).
