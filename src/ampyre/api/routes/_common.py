"""Bits shared by the routers: pagination parameters and documented error responses."""

from typing import Annotated, Any

from fastapi import Query

from ampyre.api.problems import PROBLEM_MEDIA_TYPE
from ampyre.api.schemas import Problem, ValidationProblem

API_PREFIX = "/api/v1"
MAX_LIMIT = 500
# Bounds of integer path/query parameters: a value the database column cannot hold is
# a 422 here, never a driver error (500 on SQLite, a false 503 on PostgreSQL).
INT32_MAX = 2**31 - 1  # INTEGER columns (and OCPP's integer)
INT64_MAX = 2**63 - 1  # BIGINT columns, OFFSET

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
Offset = Annotated[int, Query(ge=0, le=INT64_MAX, description="items to skip")]

_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, unknown or revoked API token",
    403: "The token's role does not allow this",
    404: "Not found",
    409: "Conflict",
    422: "Invalid request",
    502: "The station answered with a CALLERROR",
    503: "Not ready",
    504: "The station did not answer in time",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for problem+json errors (401 and 403 always apply)."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in sorted({401, 403, *codes}):
        model = ValidationProblem if code == 422 else Problem
        out[code] = {
            "model": model,
            "description": _DESCRIPTIONS.get(code, "Error"),
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
    return out
