"""OCPI Sessions and CDRs in SQL (the RoamingStore port of services/roaming_port.py).

Country codes and party ids are kept upper case (OCPI CiString compares them without
case); the OCPI object itself is kept as JSON text exactly as built or received. A CDR row
is never updated: `add_cdr` only inserts.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ampyre.adapters.db import tables as t
from ampyre.adapters.db import tables_roaming as tr
from ampyre.adapters.db.database import Database
from ampyre.domain.cdrs import CdrConflict, CdrSummary, StoredCdr
from ampyre.domain.events import OutboxEvent
from ampyre.domain.models import Page
from ampyre.domain.ocpi_sessions import OURS, Price, RoamingSession
from ampyre.services.roaming_port import CdrQuery, Party, SessionQuery

S = tr.ocpi_sessions
C = tr.ocpi_cdrs


class RoamingSql:
    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------------ the outbox

    async def transaction_events_after(
        self, position: int, upto: int, types: Collection[str], limit: int
    ) -> list[OutboxEvent]:
        """Up to `limit` outbox events of these types with ids in (position, upto], in id
        order: the database skips the others (the outbox is mostly meter values and
        status changes, which the sessions consumer mostly does not need)."""
        o = t.outbox_events
        query = (
            sa.select(o)
            .where(o.c.id > position, o.c.id <= upto, o.c.type.in_(sorted(types)))
            .order_by(o.c.id)
            .limit(max(0, limit))
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            OutboxEvent(
                id=int(r.id),
                type=r.type,
                at=r.occurred_at,
                station_id=r.station_id,
                data=dict(r.data or {}),
                created_at=r.created_at,
            )
            for r in rows
        ]

    async def has_active_sessions(self) -> bool:
        """Whether any of our sessions is still active (its updates are wanted)."""
        query = sa.select(S.c.id).where(S.c.side == OURS, S.c.status != "COMPLETED").limit(1)
        async with self._db.read() as conn:
            return (await conn.execute(query)).first() is not None

    # ------------------------------------------------------------------ sessions

    async def sessions_of_transactions(self, pks: Collection[int]) -> dict[int, RoamingSession]:
        if not pks:
            return {}
        query = sa.select(S).where(S.c.transaction_pk.in_(sorted(set(pks))))
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        out = {}
        for row in rows:
            session = _session(row)
            if session.transaction_pk is not None:
                out[session.transaction_pk] = session
        return out

    async def save_session(self, session: RoamingSession) -> RoamingSession:
        values = _session_values(session)
        async with self._db.tx() as conn:
            if session.id:
                await conn.execute(sa.update(S).where(S.c.id == session.id).values(values))
                return session
            existing = await conn.execute(
                sa.select(S.c.id).where(
                    sa.or_(
                        sa.and_(
                            S.c.side == values["side"],
                            S.c.country_code == values["country_code"],
                            S.c.party_id == values["party_id"],
                            S.c.session_id == values["session_id"],
                        ),
                        sa.and_(
                            S.c.transaction_pk.is_not(None),
                            S.c.transaction_pk == values["transaction_pk"],
                        ),
                    )
                )
            )
            found = existing.scalar()
            if found is not None:
                values.pop("created_at")
                await conn.execute(sa.update(S).where(S.c.id == found).values(values))
                session.id = int(found)
                return session
        try:
            async with self._db.tx() as conn:
                new_id = (
                    await conn.execute(sa.insert(S).values(values).returning(S.c.id))
                ).scalar_one()
        except IntegrityError:
            # Another process inserted the same session meanwhile: update that one.
            return await self.save_session_over(session)
        session.id = int(new_id)
        return session

    async def save_session_over(self, session: RoamingSession) -> RoamingSession:
        values = _session_values(session)
        values.pop("created_at")
        key = sa.and_(
            S.c.side == values["side"],
            S.c.country_code == values["country_code"],
            S.c.party_id == values["party_id"],
            S.c.session_id == values["session_id"],
        )
        async with self._db.tx() as conn:
            found = (await conn.execute(sa.select(S.c.id).where(key))).scalar_one()
            await conn.execute(sa.update(S).where(S.c.id == found).values(values))
        session.id = int(found)
        return session

    async def claim_session_push(
        self, session_id: int, pushed_at: datetime | None, now: datetime, periods: int
    ) -> bool:
        same = S.c.pushed_at.is_(None) if pushed_at is None else S.c.pushed_at == pushed_at
        update = (
            sa.update(S)
            .where(S.c.id == session_id, same)
            .values(pushed_at=now, pushed_periods=periods, dirty=False)
        )
        async with self._db.tx() as conn:
            return bool((await conn.execute(update)).rowcount)

    async def dirty_sessions(self, pushed_before: datetime, limit: int) -> list[RoamingSession]:
        query = (
            sa.select(S)
            .where(
                S.c.dirty.is_(True),
                sa.or_(S.c.pushed_at.is_(None), S.c.pushed_at < pushed_before),
            )
            .order_by(S.c.pushed_at)
            .limit(max(0, limit))
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_session(r) for r in rows]

    async def get_session(self, session_pk: int) -> RoamingSession | None:
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(S).where(S.c.id == session_pk))).first()
        return None if row is None else _session(row)

    async def find_session(
        self, side: str, country_code: str, party_id: str, session_id: str
    ) -> RoamingSession | None:
        query = sa.select(S).where(
            S.c.side == side,
            S.c.country_code == country_code.upper(),
            S.c.party_id == party_id.upper(),
            S.c.session_id == session_id,
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _session(row)

    async def session_page(self, query: SessionQuery, limit: int, offset: int) -> Page:
        where: list[Any] = []
        if query.side is not None:
            where.append(S.c.side == query.side)
        if query.status is not None:
            where.append(S.c.status == query.status)
        if query.partner_id is not None:
            where.append(S.c.partner_id == query.partner_id)
        if query.transaction_pk is not None:
            where.append(S.c.transaction_pk == query.transaction_pk)
        if query.token_parties is not None:
            where.append(_parties(S, query.token_parties))
        if query.date_from is not None:
            where.append(S.c.last_updated >= query.date_from)
        if query.date_to is not None:
            where.append(S.c.last_updated < query.date_to)
        order = (S.c.last_updated, S.c.id) if query.oldest_first else (S.c.id.desc(),)
        select = sa.select(S).where(*where).order_by(*order)
        count = sa.select(sa.func.count()).select_from(S).where(*where)
        return await self._db.page(select, count, _session, limit, offset)

    # ------------------------------------------------------------------ CDRs

    async def add_cdr(self, cdr: StoredCdr) -> StoredCdr:
        values = _cdr_values(cdr)
        try:
            async with self._db.tx() as conn:
                new_id = (
                    await conn.execute(sa.insert(C).values(values).returning(C.c.id))
                ).scalar_one()
        except IntegrityError as exc:
            raise CdrConflict(
                f"a CDR {cdr.summary.cdr_id!r} of {cdr.summary.country_code}/"
                f"{cdr.summary.party_id} exists already"
            ) from exc
        cdr.id = int(new_id)
        return cdr

    async def get_cdr(self, cdr_pk: int) -> StoredCdr | None:
        async with self._db.tx() as conn:
            row = (await conn.execute(sa.select(C).where(C.c.id == cdr_pk))).first()
            if row is None:
                return None
            credited = await _credited_by(conn, [row])
        return _cdr(row, credited)

    async def find_cdr(
        self, side: str, country_code: str, party_id: str, cdr_id: str
    ) -> StoredCdr | None:
        query = sa.select(C).where(
            C.c.side == side,
            C.c.country_code == country_code.upper(),
            C.c.party_id == party_id.upper(),
            C.c.cdr_id == cdr_id,
        )
        async with self._db.tx() as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            credited = await _credited_by(conn, [row])
        return _cdr(row, credited)

    async def cdrs_of_transaction(self, transaction_pk: int) -> list[StoredCdr]:
        query = sa.select(C).where(C.c.transaction_pk == transaction_pk).order_by(C.c.id)
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
            credited = await _credited_by(conn, rows)
        return [_cdr(r, credited) for r in rows]

    async def cdr_page(self, query: CdrQuery, limit: int, offset: int) -> Page:
        where: list[Any] = []
        if query.side is not None:
            where.append(C.c.side == query.side)
        if query.transaction_pk is not None:
            where.append(C.c.transaction_pk == query.transaction_pk)
        if query.credit is not None:
            where.append(C.c.credit.is_(query.credit))
        if query.partner_id is not None:
            where.append(C.c.partner_id == query.partner_id)
        if query.token_parties is not None:
            where.append(_parties(C, query.token_parties))
        if query.date_from is not None:
            where.append(C.c.last_updated >= query.date_from)
        if query.date_to is not None:
            where.append(C.c.last_updated < query.date_to)
        order = (C.c.last_updated, C.c.id) if query.oldest_first else (C.c.id.desc(),)
        select = sa.select(C).where(*where).order_by(*order)
        count = sa.select(sa.func.count()).select_from(C).where(*where)
        limit, offset = max(0, limit), max(0, offset)
        async with self._db.tx() as conn:
            total = (await conn.execute(count)).scalar_one()
            rows = (await conn.execute(select.limit(limit).offset(offset))).all() if limit else []
            credited = await _credited_by(conn, rows)
        return Page(
            items=[_cdr(r, credited) for r in rows], total=int(total), limit=limit, offset=offset
        )


# ---------------------------------------------------------------------- rows


def _parties(table: sa.Table, parties: tuple[Party, ...]) -> Any:
    if not parties:
        return sa.false()
    return sa.or_(
        *(
            sa.and_(table.c.token_country_code == cc.upper(), table.c.token_party_id == pid.upper())
            for cc, pid in parties
        )
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _upper(value: str | None) -> str | None:
    return None if value is None else value.upper()


def _session_values(s: RoamingSession) -> dict[str, Any]:
    cost = s.total_cost
    return {
        "side": s.side,
        "country_code": s.country_code.upper(),
        "party_id": s.party_id.upper(),
        "session_id": s.session_id,
        "transaction_pk": s.transaction_pk,
        "partner_id": s.partner_id,
        "token_uid": s.token_uid,
        "token_country_code": _upper(s.token_country_code),
        "token_party_id": _upper(s.token_party_id),
        "status": s.status,
        "kwh": str(s.kwh),
        "currency": s.currency,
        "total_cost_excl": None if cost is None else str(cost.excl_vat),
        "total_cost_incl": None if cost is None else _text(cost.incl_vat),
        "start_date_time": s.start_date_time,
        "end_date_time": s.end_date_time,
        "last_updated": s.last_updated,
        "body": json.dumps(s.body, separators=(",", ":")),
        "pushed_at": s.pushed_at,
        "pushed_periods": s.pushed_periods,
        "dirty": s.dirty,
        "created_at": s.created_at or s.updated_at,
        "updated_at": s.updated_at,
    }


def _session(row: Any) -> RoamingSession:
    excl = _dec(row.total_cost_excl)
    return RoamingSession(
        id=int(row.id),
        side=row.side,
        country_code=row.country_code,
        party_id=row.party_id,
        session_id=row.session_id,
        status=row.status,
        kwh=Decimal(row.kwh),
        currency=row.currency,
        start_date_time=row.start_date_time,
        last_updated=row.last_updated,
        body=json.loads(row.body),
        end_date_time=row.end_date_time,
        total_cost=None if excl is None else Price(excl, _dec(row.total_cost_incl)),
        transaction_pk=None if row.transaction_pk is None else int(row.transaction_pk),
        partner_id=None if row.partner_id is None else int(row.partner_id),
        token_uid=row.token_uid,
        token_country_code=row.token_country_code,
        token_party_id=row.token_party_id,
        pushed_at=row.pushed_at,
        pushed_periods=int(row.pushed_periods),
        dirty=bool(row.dirty),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _cdr_values(cdr: StoredCdr) -> dict[str, Any]:
    s = cdr.summary
    return {
        "side": cdr.side,
        "country_code": s.country_code.upper(),
        "party_id": s.party_id.upper(),
        "cdr_id": s.cdr_id,
        "transaction_pk": cdr.transaction_pk,
        "session_id": s.session_id,
        "partner_id": cdr.partner_id,
        "token_uid": s.token_uid,
        "token_country_code": s.token_country_code.upper(),
        "token_party_id": s.token_party_id.upper(),
        "credit": s.credit,
        "credit_reference_id": s.credit_reference_id,
        "currency": s.currency,
        "total_cost_excl": str(s.total_cost.excl_vat),
        "total_cost_incl": _text(s.total_cost.incl_vat),
        "total_energy": str(s.total_energy),
        "total_time": str(s.total_time),
        "start_date_time": s.start,
        "end_date_time": s.end,
        "last_updated": s.last_updated,
        "body": json.dumps(cdr.body, separators=(",", ":")),
        "created_at": cdr.created_at or s.last_updated,
    }


async def _credited_by(conn: Any, rows: Any) -> dict[tuple[str, str, str, str], str]:
    """For these CDR rows, the id of the credit CDR that credits each (same side and
    party), keyed by (side, country, party, credited id)."""
    ids = {r.cdr_id for r in rows if not r.credit}
    if not ids:
        return {}
    query = sa.select(
        C.c.side, C.c.country_code, C.c.party_id, C.c.cdr_id, C.c.credit_reference_id
    ).where(C.c.credit.is_(True), C.c.credit_reference_id.in_(sorted(ids)))
    found = (await conn.execute(query)).all()
    return {(f.side, f.country_code, f.party_id, f.credit_reference_id): f.cdr_id for f in found}


def _cdr(row: Any, credited: dict[tuple[str, str, str, str], str]) -> StoredCdr:
    excl = Decimal(row.total_cost_excl)
    summary = CdrSummary(
        country_code=row.country_code,
        party_id=row.party_id,
        cdr_id=row.cdr_id,
        session_id=row.session_id,
        token_uid=row.token_uid,
        token_country_code=row.token_country_code,
        token_party_id=row.token_party_id,
        credit=bool(row.credit),
        credit_reference_id=row.credit_reference_id,
        currency=row.currency,
        total_cost=Price(excl, _dec(row.total_cost_incl)),
        total_energy=Decimal(row.total_energy),
        total_time=Decimal(row.total_time),
        start=row.start_date_time,
        end=row.end_date_time,
        last_updated=row.last_updated,
    )
    return StoredCdr(
        id=int(row.id),
        side=row.side,
        summary=summary,
        body=json.loads(row.body),
        transaction_pk=None if row.transaction_pk is None else int(row.transaction_pk),
        partner_id=None if row.partner_id is None else int(row.partner_id),
        created_at=row.created_at,
        credited_by=credited.get((row.side, row.country_code, row.party_id, row.cdr_id)),
    )
