"""Which stations a fleet operation is for (a firmware rollout, a bulk configuration
change): the given ids (any of them), narrowed by vendor, model and current firmware
version (each exact, when given). One query, ordered by id."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.database import Database


async def select_stations(
    db: Database,
    station_ids: Sequence[str] | None,
    vendor: str | None = None,
    model: str | None = None,
    firmware_version: str | None = None,
) -> list[tuple[str, str | None]]:
    """(station id, OCPP version it last connected with) of each matching station;
    `station_ids` None or empty: every station."""
    s = t.stations
    where: list[sa.ColumnElement[bool]] = []
    if station_ids:
        where.append(s.c.id.in_(list(station_ids)))
    if vendor is not None:
        where.append(s.c.vendor == vendor)
    if model is not None:
        where.append(s.c.model == model)
    if firmware_version is not None:
        where.append(s.c.firmware_version == firmware_version)
    query = sa.select(s.c.id, s.c.ocpp_version).where(*where).order_by(s.c.id)
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
    return [(str(r[0]), r[1]) for r in rows]
