"""SqlStore part: id tokens, local lists, reservations (the AuthStore port)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.parts import StorePart
from ampyre.domain.authz import (
    IdToken,
    IdTokenType,
    LocalListState,
    Reservation,
    ReservationStatus,
    Restriction,
    TokenStatus,
    pick_token,
)
from ampyre.domain.models import Page

_ACTIVE = (ReservationStatus.REQUESTED.value, ReservationStatus.ACCEPTED.value)


class AuthSql(StorePart):
    # ------------------------------------------------------------------ id tokens

    async def create_id_token(self, token: IdToken) -> IdToken:
        k = t.id_tokens
        values = _token_row(token)
        now = datetime.now(UTC)
        values["created_at"] = token.created_at or now
        values["updated_at"] = token.updated_at or now
        stmt = sa.insert(k).values(values).returning(*k.columns)
        async with self._tx() as conn:
            try:
                row = (await conn.execute(stmt)).one()
            except sa_exc.IntegrityError as exc:  # (lower(id_token), type) taken
                raise KeyError((token.id_token, token.type)) from exc
        return _token(row)

    async def get_id_token(self, token_pk: int) -> IdToken | None:
        k = t.id_tokens
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(k).where(k.c.id == token_pk))).first()
        return None if row is None else _token(row)

    async def find_id_token(self, id_token: str, type_: str | None) -> IdToken | None:
        return pick_token(await self.find_id_tokens(id_token), id_token, type_)

    async def find_id_tokens(self, id_token: str) -> list[IdToken]:
        """One SELECT on the lower(id_token) index: every type, oldest first."""
        k = t.id_tokens
        query = (
            sa.select(k)
            .where(sa.func.lower(k.c.id_token) == sa.func.lower(id_token))
            .order_by(k.c.id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [_token(r) for r in rows]

    async def list_id_tokens(self, limit: int, offset: int, search: str | None) -> Page:
        k = t.id_tokens
        query = sa.select(k).order_by(k.c.id)
        count = sa.select(sa.func.count()).select_from(k)
        if search:
            match = sa.func.lower(k.c.id_token).contains(search.lower(), autoescape=True)
            query, count = query.where(match), count.where(match)
        return await self._page(query, count, _token, limit, offset)

    async def update_id_token(self, token: IdToken) -> IdToken | None:
        k = t.id_tokens
        values = _token_row(token)
        values["updated_at"] = token.updated_at or datetime.now(UTC)
        stmt = sa.update(k).where(k.c.id == token.id).values(values).returning(*k.columns)
        async with self._tx() as conn:
            try:
                row = (await conn.execute(stmt)).first()
            except sa_exc.IntegrityError as exc:  # (lower(id_token), type) taken by another
                raise KeyError((token.id_token, token.type)) from exc
        return None if row is None else _token(row)

    async def delete_id_token(self, token_pk: int) -> bool:
        k = t.id_tokens
        async with self._tx() as conn:
            result = await conn.execute(sa.delete(k).where(k.c.id == token_pk))
        return bool(result.rowcount)

    async def id_tokens_for_station(self, station_id: str) -> list[IdToken]:
        """Restrictions are a JSON list, so the filter runs here: fine for the sizes a
        local list can have (stations hold thousands of entries, not millions)."""
        k = t.id_tokens
        async with self._tx() as conn:
            rows = (await conn.execute(sa.select(k).order_by(k.c.id))).all()
        tokens = [_token(r) for r in rows]
        return [
            tok
            for tok in tokens
            if not tok.restrictions or any(r.station_id == station_id for r in tok.restrictions)
        ]

    # ------------------------------------------------------------------ local lists

    async def get_local_list(self, station_id: str) -> LocalListState | None:
        ll = t.local_lists
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(ll).where(ll.c.station_id == station_id))).first()
        if row is None:
            return None
        entries = {str(k): (str(v[0]), str(v[1])) for k, v in (row.entries or {}).items()}
        return LocalListState(
            station_id=row.station_id,
            version=row.version,
            entries=entries,
            last_status=row.last_status,
            updated_at=row.updated_at,
        )

    async def save_local_list(self, state: LocalListState) -> None:
        ll = t.local_lists
        values: dict[str, Any] = {
            "station_id": state.station_id,
            "version": state.version,
            "entries": {k: [v[0], v[1]] for k, v in state.entries.items()},
            "last_status": state.last_status,
            "updated_at": state.updated_at or datetime.now(UTC),
        }
        insert = self._insert(ll).values(values)
        stmt = insert.on_conflict_do_update(
            index_elements=[ll.c.station_id],
            set_={k: insert.excluded[k] for k in values if k != "station_id"},
        )
        async with self._tx() as conn:
            await conn.execute(stmt)

    # ------------------------------------------------------------------ reservations

    async def create_reservation(self, reservation: Reservation) -> Reservation:
        rv = t.reservations
        values = _reservation_row(reservation)
        now = datetime.now(UTC)
        values["created_at"] = reservation.created_at or now
        values["updated_at"] = reservation.updated_at or now
        async with self._tx() as conn:
            row = (await conn.execute(sa.insert(rv).values(values).returning(*rv.columns))).one()
        return _reservation(row)

    async def get_reservation(self, reservation_id: int) -> Reservation | None:
        rv = t.reservations
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(rv).where(rv.c.id == reservation_id))).first()
        return None if row is None else _reservation(row)

    async def list_reservations(
        self, station_id: str | None, status: str | None, limit: int, offset: int
    ) -> Page:
        rv = t.reservations
        where: list[Any] = []
        if station_id is not None:
            where.append(rv.c.station_id == station_id)
        if status is not None:
            where.append(rv.c.status == status)
        return await self._page(
            sa.select(rv).where(*where).order_by(rv.c.id.desc()),
            sa.select(sa.func.count()).select_from(rv).where(*where),
            _reservation,
            limit,
            offset,
        )

    async def update_reservation(self, reservation: Reservation) -> Reservation | None:
        rv = t.reservations
        values = _reservation_row(reservation)
        values["updated_at"] = reservation.updated_at or datetime.now(UTC)
        stmt = sa.update(rv).where(rv.c.id == reservation.id).values(values).returning(*rv.columns)
        async with self._tx() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _reservation(row)

    async def expire_reservations(self, now: datetime) -> list[Reservation]:
        rv = t.reservations
        stmt = (
            sa.update(rv)
            .where(rv.c.status.in_(_ACTIVE), rv.c.expires_at <= now)
            .values(status=ReservationStatus.EXPIRED.value, updated_at=now)
            .returning(*rv.columns)
        )
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).all()
        return sorted((_reservation(r) for r in rows), key=lambda r: r.id)


# ---------------------------------------------------------------------- converters


def _token_row(token: IdToken) -> dict[str, Any]:
    return {
        "id_token": token.id_token,
        "type": IdTokenType(token.type).value,
        "status": TokenStatus(token.status).value,
        "expires_at": token.expires_at,
        "group_id": token.group_id,
        "restrictions": [
            {"station_id": r.station_id, "evse_id": r.evse_id} for r in token.restrictions
        ],
        "description": token.description,
    }


def _token(row: Any) -> IdToken:
    return IdToken(
        id=row.id,
        id_token=row.id_token,
        type=IdTokenType(row.type),
        status=TokenStatus(row.status),
        expires_at=row.expires_at,
        group_id=row.group_id,
        restrictions=[
            Restriction(str(r["station_id"]), r.get("evse_id")) for r in row.restrictions or []
        ],
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _reservation_row(r: Reservation) -> dict[str, Any]:
    values: dict[str, Any] = {
        "station_id": r.station_id,
        "evse_id": r.evse_id,
        "connector_type": r.connector_type,
        "id_token": r.id_token,
        "id_token_type": IdTokenType(r.id_token_type).value,
        "group_id": r.group_id,
        "expires_at": r.expires_at,
        "status": ReservationStatus(r.status).value,
        "station_answer": r.station_answer,
        "transaction_id": r.transaction_id,
    }
    return values


def _reservation(row: Any) -> Reservation:
    return Reservation(
        id=row.id,
        station_id=row.station_id,
        id_token=row.id_token,
        id_token_type=IdTokenType(row.id_token_type),
        expires_at=row.expires_at,
        status=ReservationStatus(row.status),
        evse_id=row.evse_id,
        connector_type=row.connector_type,
        group_id=row.group_id,
        station_answer=row.station_answer,
        transaction_id=row.transaction_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
