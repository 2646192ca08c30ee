"""Our tariffs, their versions and partners' tariffs in SQL (the TariffStore port of
services/tariffs_port.py). The OCPI Tariff object is stored as its JSON (domain/
tariff_json.py), so what is served is exactly what was saved."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db import tables_tariffs as tt
from ampyre.adapters.db.database import Database
from ampyre.domain.models import Page
from ampyre.domain.tariff_json import tariff_from_json, tariff_to_json
from ampyre.domain.tariffs import Tariff
from ampyre.services.tariffs_port import ReceivedTariff, TariffRecord, TariffVersion

_T, _V, _R = tt.tariffs, tt.tariff_versions, tt.received_tariffs


class TariffsSql:
    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------------ ours

    async def list_tariffs(
        self,
        limit: int,
        offset: int,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
    ) -> Page:
        where = []
        if updated_from is not None:
            where.append(_T.c.last_updated >= updated_from)
        if updated_to is not None:
            where.append(_T.c.last_updated < updated_to)
        query = sa.select(_T).where(*where).order_by(_T.c.id)
        count = sa.select(sa.func.count()).select_from(_T).where(*where)
        return await self._db.page(query, count, _record, limit, offset)

    async def get_tariff(self, tariff_id: str) -> TariffRecord | None:
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(_T).where(_T.c.id == tariff_id))).first()
        return None if row is None else _record(row)

    async def save_tariff(self, record: TariffRecord, at: datetime) -> bool:
        t = record.tariff
        values = {
            "id": t.id,
            "body": tariff_to_json(t),
            "station_ids": list(record.station_ids),
            "is_default": record.is_default,
            "last_updated": t.last_updated,
        }
        async with self._db.tx() as conn:
            existing = (
                await conn.execute(sa.select(_T.c.created_at).where(_T.c.id == t.id))
            ).first()
            created_at = existing[0] if existing is not None else record.created_at
            stmt = self._db.insert(_T).values({**values, "created_at": created_at or at})
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["id"], set_={k: v for k, v in values.items() if k != "id"}
                )
            )
            await self._version(conn, t.id, at, values)
        return existing is None

    async def _version(
        self, conn: AsyncConnection, tariff_id: str, at: datetime, values: dict[str, Any]
    ) -> None:
        await conn.execute(
            sa.insert(_V).values(
                tariff_id=tariff_id,
                valid_from=at,
                body=values.get("body"),
                station_ids=values.get("station_ids", []),
                is_default=values.get("is_default", False),
            )
        )

    async def delete_tariff(self, tariff_id: str, at: datetime) -> bool:
        async with self._db.tx() as conn:
            gone = (await conn.execute(sa.delete(_T).where(_T.c.id == tariff_id))).rowcount
            if gone:
                await self._version(conn, tariff_id, at, {})
        return bool(gone)

    async def tariff_versions(self) -> list[TariffVersion]:
        query = sa.select(_V).order_by(_V.c.valid_from, _V.c.id)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            TariffVersion(
                tariff_id=r.tariff_id,
                valid_from=r.valid_from,
                tariff=None if r.body is None else _tariff(r.body),
                station_ids=tuple(r.station_ids or ()),
                is_default=bool(r.is_default),
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ received

    async def save_received(self, partner_id: int, tariff: Tariff, at: datetime) -> ReceivedTariff:
        keys = _keys(tariff.country_code, tariff.party_id, tariff.id)
        values = {
            "partner_id": partner_id,
            **keys,
            "body": tariff_to_json(tariff),
            "last_updated": tariff.last_updated,
            "received_at": at,
        }
        stmt = self._db.insert(_R).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={k: v for k, v in values.items() if k not in keys}
        ).returning(_R.c.id)
        async with self._db.tx() as conn:
            pk = (await conn.execute(stmt)).scalar_one()
        return ReceivedTariff(id=int(pk), partner_id=partner_id, tariff=tariff, received_at=at)

    async def get_received(
        self, country_code: str, party_id: str, tariff_id: str
    ) -> ReceivedTariff | None:
        where = [
            c == v
            for c, v in zip(
                _key_columns(), _keys(country_code, party_id, tariff_id).values(), strict=True
            )
        ]
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(_R).where(*where))).first()
        return None if row is None else _received(row)

    async def delete_received(self, country_code: str, party_id: str, tariff_id: str) -> bool:
        keys = _keys(country_code, party_id, tariff_id).values()
        where = [c == v for c, v in zip(_key_columns(), keys, strict=True)]
        async with self._db.tx() as conn:
            return bool((await conn.execute(sa.delete(_R).where(*where))).rowcount)

    async def list_received(self, partner_id: int | None, limit: int, offset: int) -> Page:
        where = [] if partner_id is None else [_R.c.partner_id == partner_id]
        query = sa.select(_R).where(*where).order_by(_R.c.received_at.desc(), _R.c.id.desc())
        count = sa.select(sa.func.count()).select_from(_R).where(*where)
        return await self._db.page(query, count, _received, limit, offset)


def _keys(country_code: str, party_id: str, tariff_id: str) -> dict[str, str]:
    """OCPI 2.2.1 CiString keys: compared case-insensitively."""
    return {
        "country_code_key": country_code.upper(),
        "party_id_key": party_id.upper(),
        "tariff_id_key": tariff_id.upper(),
    }


def _key_columns() -> tuple[Any, Any, Any]:
    return (_R.c.country_code_key, _R.c.party_id_key, _R.c.tariff_id_key)


def _tariff(body: Any) -> Tariff:
    return tariff_from_json(body)


def _record(row: Any) -> TariffRecord:
    return TariffRecord(
        tariff=_tariff(row.body),
        station_ids=tuple(row.station_ids or ()),
        is_default=bool(row.is_default),
        created_at=row.created_at,
    )


def _received(row: Any) -> ReceivedTariff:
    return ReceivedTariff(
        id=int(row.id),
        partner_id=int(row.partner_id),
        tariff=_tariff(row.body),
        received_at=row.received_at,
    )
