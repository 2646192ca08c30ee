"""Transactions as CSV (`GET /transactions/export.csv`): RFC 4180 (CRLF line ends, fields
with a comma, quote or line break quoted, quotes doubled), one header row, streamed page
by page so that an export of any size holds one page in memory.

CSV injection: a spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and some
with a tab or carriage return) as a formula, and id tokens, stop reasons and operators'
close reasons are text that stations and people choose. Such text cells get a leading
single quote (OWASP's advice); numbers and times are ours and left as they are.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from ampyre.domain.models import Page
from ampyre.domain.transactions import Transaction

log = logging.getLogger(__name__)

PAGE = 500  # transactions per query
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = (
    "id",
    "station_id",
    "transaction_id",
    "status",
    "evse_id",
    "connector_id",
    "id_token",
    "id_token_type",
    "started_at",
    "ended_at",
    "energy_wh",
    "meter_start_wh",
    "meter_stop_wh",
    "stop_reason",
    "charging_state",
    "remote_start_id",
    "offline",
    "stale",
    "closed_by",
    "close_reason",
)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def row(tx: Transaction, stale: bool) -> list[str]:
    values: dict[str, Any] = {name: getattr(tx, name, None) for name in COLUMNS}
    values["status"] = tx.status.value
    values["energy_wh"] = tx.energy_wh
    values["stale"] = stale
    return [cell(values[name]) for name in COLUMNS]


def lines(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).writerows(rows)
    return out.getvalue().encode()


# A page of transactions with an id below the given one (None: from the newest).
PageReader = Callable[[int | None, int], Awaitable[Page]]


async def export(
    first: Page, read: PageReader, stale: Callable[[Transaction], bool]
) -> AsyncIterator[bytes]:
    """The header and `first` (read before the response starts, so that a failure there
    is still an error status), then the following pages, each below the last id sent."""
    yield lines([list(COLUMNS)])
    page = first
    while True:
        items: list[Transaction] = page.items
        if items:
            yield lines([row(tx, stale(tx)) for tx in items])
        if len(items) < PAGE:
            return
        try:
            page = await read(items[-1].id, PAGE)
        except Exception:
            # The status line is sent: the connection is broken off (no last chunk), so
            # the client sees an incomplete download rather than a short file.
            log.warning("transaction export broken off: the next page failed", exc_info=True)
            raise
