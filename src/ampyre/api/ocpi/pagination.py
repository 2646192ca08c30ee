"""Pagination of OCPI Sender GET lists (OCPI 2.2.1 transport_and_format 4.1.3.1-4.1.3.3):
`offset`, `limit`, `date_from` (inclusive), `date_to` (exclusive) in; `X-Total-Count`,
`X-Limit` and a `Link: <...>; rel="next"` (with the request's filters) out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.datastructures import URL
from starlette.responses import Response

from ampyre.api.ocpi.envelope import ocpi_response
from ampyre.api.ocpi.types import parse_query_time

OFFSET_MAX = 2**63 - 1


class PageQuery:
    """The page a client asks for, as a FastAPI dependency:
    `query: Annotated[PageQuery, Depends()]` (or the `Paging` alias). A limit above
    ocpi_page_limit (or none) is lowered to it ("the server might decide to return fewer
    objects", 4.1.3.1); a malformed date is 2001."""

    __slots__ = ("date_from", "date_to", "limit", "offset")

    def __init__(
        self,
        request: Request,
        offset: Annotated[int, Query(ge=0, le=OFFSET_MAX)] = 0,
        limit: Annotated[int | None, Query(ge=0, le=OFFSET_MAX)] = None,
        date_from: Annotated[str | None, Query(max_length=40)] = None,
        date_to: Annotated[str | None, Query(max_length=40)] = None,
    ) -> None:
        cap = int(request.app.state.deps.settings.ocpi_page_limit)
        self.offset: int = offset
        self.limit: int = cap if limit is None else min(limit, cap)
        self.date_from: datetime | None = parse_query_time("date_from", date_from)
        self.date_to: datetime | None = parse_query_time("date_to", date_to)

    @classmethod
    def of(
        cls,
        offset: int,
        limit: int,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
    ) -> PageQuery:
        """A page built in code (tests, services)."""
        query = cls.__new__(cls)
        query.offset, query.limit = offset, limit
        query.date_from, query.date_to = date_from, date_to
        return query


Paging = Annotated[PageQuery, Depends()]


def public_url(request: Request) -> URL:
    """The request's URL under our public OCPI base URL (ocpi_base_url, or public_url +
    /ocpi), so a Link works behind a proxy; the request's own URL otherwise."""
    partners = getattr(request.app.state.deps, "ocpi_partners", None)
    root = str(request.scope.get("root_path", ""))
    path = request.url.path
    if partners is None or not path.startswith(root):
        return request.url
    query = request.url.query
    return URL(partners.identity.base_url() + path[len(root) :] + (f"?{query}" if query else ""))


def paged_response(
    request: Request, items: Sequence[object], total: int, query: PageQuery
) -> Response:
    headers = {"X-Total-Count": str(total), "X-Limit": str(query.limit)}
    following = query.offset + len(items)
    if items and following < total:
        url = public_url(request).include_query_params(offset=following, limit=query.limit)
        headers["Link"] = f'<{url}>; rel="next"'
    return ocpi_response(list(items), headers=headers)
