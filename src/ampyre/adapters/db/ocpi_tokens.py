"""Roaming tokens, published tokens, roaming authorizations and OCPI commands in SQL (the
RoamingTokenStore and RoamingCommandStore ports). Short transactions of their own: a
token push, an authorization or a command is one small write.

Token uids are CiString (OCPI 2.2.1 types 16.1, case insensitive): looked up by
lower(uid) on its index; country codes and party ids are stored upper case."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ampyre.adapters.db import tables as t
from ampyre.adapters.db import tables_ocpi_tokens as tt
from ampyre.adapters.db.database import Database
from ampyre.domain.models import Page
from ampyre.domain.ocpi_commands import (
    CommandDirection,
    CommandRecord,
    CommandResponseType,
    CommandResultType,
    CommandType,
)
from ampyre.domain.ocpi_tokens import (
    AllowedType,
    AuthorizationKind,
    AuthorizationRecord,
    OcpiToken,
    StoredToken,
    TokenSource,
    TokenType,
    token_from_json,
    token_to_json,
)

_T = tt.ocpi_tokens
_P = tt.ocpi_published_tokens
_A = tt.ocpi_authorizations
_C = tt.ocpi_commands
_ACCEPTED = "Accepted"  # AuthStatus.ACCEPTED as stored in `outcome`


class OcpiTokensSql:
    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------------ held tokens

    async def get_token(
        self, country_code: str, party_id: str, uid: str, type_: TokenType
    ) -> StoredToken | None:
        query = sa.select(_T).where(
            _T.c.country_code == country_code.upper(),
            _T.c.party_id == party_id.upper(),
            sa.func.lower(_T.c.uid) == uid.lower(),
            _T.c.type == type_.value,
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _stored(row)

    async def get_token_by_id(self, token_id: int) -> StoredToken | None:
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(_T).where(_T.c.id == token_id))).first()
        return None if row is None else _stored(row)

    async def save_token(self, stored: StoredToken) -> StoredToken:
        tok = stored.token
        values = {
            "partner_id": stored.partner_id,
            "country_code": tok.country_code.upper(),
            "party_id": tok.party_id.upper(),
            "uid": tok.uid,
            "type": tok.type.value,
            "contract_id": tok.contract_id,
            "valid": tok.valid,
            "whitelist": tok.whitelist.value,
            "source": stored.source.value,
            "data": token_to_json(tok),
            "last_updated": tok.last_updated,
            "received_at": stored.received_at,
        }
        where = (
            _T.c.country_code == values["country_code"],
            _T.c.party_id == values["party_id"],
            sa.func.lower(_T.c.uid) == tok.uid.lower(),
            _T.c.type == tok.type.value,
        )
        for attempt in range(2):  # a concurrent first push of the same token: once more
            try:
                async with self._db.tx() as conn:
                    row = (await conn.execute(sa.select(_T).where(*where))).first()
                    if row is None:
                        new_id = (
                            await conn.execute(sa.insert(_T).values(values).returning(_T.c.id))
                        ).scalar_one()
                        return StoredToken(
                            tok, stored.source, stored.partner_id, stored.received_at, new_id
                        )
                    if stored.source is TokenSource.COMMAND and row.source == TokenSource.PUSH:
                        return _stored(row)  # a pushed token is what the eMSP says it is
                    await conn.execute(sa.update(_T).where(_T.c.id == row.id).values(values))
                    return StoredToken(
                        tok, stored.source, stored.partner_id, stored.received_at, row.id
                    )
            except sa_exc.IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def find_tokens(self, uid: str) -> list[StoredToken]:
        query = sa.select(_T).where(sa.func.lower(_T.c.uid) == uid.lower()).order_by(_T.c.id)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_stored(r) for r in rows]

    async def list_tokens(
        self,
        limit: int,
        offset: int,
        country_code: str | None = None,
        party_id: str | None = None,
        uid: str | None = None,
    ) -> Page:
        where: list[sa.ColumnElement[bool]] = []
        if country_code:
            where.append(_T.c.country_code == country_code.upper())
        if party_id:
            where.append(_T.c.party_id == party_id.upper())
        if uid:
            where.append(sa.func.lower(_T.c.uid).contains(uid.lower(), autoescape=True))
        return await self._db.page(
            sa.select(_T).where(*where).order_by(_T.c.id.desc()),
            sa.select(sa.func.count()).select_from(_T).where(*where),
            _stored,
            limit,
            offset,
        )

    async def count_tokens_of(self, partner_id: int) -> int:
        query = sa.select(sa.func.count()).select_from(_T).where(_T.c.partner_id == partner_id)
        async with self._db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    # ------------------------------------------------------------------ published tokens

    async def id_tokens_fingerprint(self) -> tuple[datetime | None, int]:
        k = t.id_tokens
        query = sa.select(sa.func.max(k.c.updated_at), sa.func.count()).select_from(k)
        async with self._db.read() as conn:
            latest, count = (await conn.execute(query)).one()
        # max() keeps the column's type (UtcDateTime): an aware datetime or None.
        return latest, int(count)

    async def published(self) -> list[tuple[int | None, OcpiToken]]:
        async with self._db.read() as conn:
            rows = (await conn.execute(sa.select(_P).order_by(_P.c.id))).all()
        return [(r.id_token_id, token_from_json(dict(r.data))) for r in rows]

    async def save_published(self, tokens: Sequence[tuple[int | None, OcpiToken]]) -> None:
        if not tokens:
            return
        async with self._db.tx() as conn:
            for id_token_id, tok in tokens:
                values = {
                    "uid": tok.uid,
                    "type": tok.type.value,
                    "id_token_id": id_token_id,
                    "valid": tok.valid,
                    "data": token_to_json(tok),
                    "last_updated": tok.last_updated,
                }
                where = (sa.func.lower(_P.c.uid) == tok.uid.lower(), _P.c.type == tok.type.value)
                found = (await conn.execute(sa.select(_P.c.id).where(*where))).first()
                if found is None:
                    await conn.execute(sa.insert(_P).values(values))
                else:
                    await conn.execute(sa.update(_P).where(_P.c.id == found.id).values(values))

    async def list_published(
        self,
        limit: int,
        offset: int,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
    ) -> Page:
        # OCPI 2.2.1 mod_tokens 12.2.2.1: last_updated in [date_from, date_to).
        where: list[sa.ColumnElement[bool]] = []
        if date_from is not None:
            where.append(_P.c.last_updated >= date_from)
        if date_to is not None:
            where.append(_P.c.last_updated < date_to)
        return await self._db.page(
            sa.select(_P).where(*where).order_by(_P.c.last_updated, _P.c.id),
            sa.select(sa.func.count()).select_from(_P).where(*where),
            lambda r: token_from_json(dict(r.data)),
            limit,
            offset,
        )

    # ------------------------------------------------------------------ authorizations

    async def add_authorization(self, record: AuthorizationRecord) -> AuthorizationRecord:
        values = {
            "kind": record.kind.value,
            "uid": record.uid[:36],
            "token_type": record.token_type,
            "country_code": record.country_code,
            "party_id": record.party_id,
            "partner_id": record.partner_id,
            "station_id": record.station_id,
            "evse_id": record.evse_id,
            "location_id": record.location_id,
            "allowed": None if record.allowed is None else record.allowed.value,
            "outcome": record.outcome,
            "reason": None if record.reason is None else record.reason[:500],
            "authorization_reference": record.authorization_reference,
            "valid_until": record.valid_until,
            "created_at": record.created_at,
        }
        async with self._db.tx() as conn:
            record.id = (
                await conn.execute(sa.insert(_A).values(values).returning(_A.c.id))
            ).scalar_one()
        return record

    async def active_grant(
        self, station_id: str, uid: str, now: datetime
    ) -> AuthorizationRecord | None:
        query = (
            sa.select(_A)
            .where(
                sa.func.lower(_A.c.uid) == uid.lower(),
                _A.c.station_id == station_id,
                _A.c.outcome == _ACCEPTED,
                _A.c.valid_until > now,
            )
            .order_by(_A.c.id.desc())
            .limit(1)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _authorization(row)

    async def latest_accepted(self, station_id: str, uid: str) -> AuthorizationRecord | None:
        query = (
            sa.select(_A)
            .where(
                sa.func.lower(_A.c.uid) == uid.lower(),
                _A.c.station_id == station_id,
                _A.c.outcome == _ACCEPTED,
            )
            .order_by(_A.c.id.desc())
            .limit(1)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _authorization(row)

    async def latest_reference(self, station_id: str, uid: str) -> str | None:
        query = (
            sa.select(_A.c.authorization_reference)
            .where(
                sa.func.lower(_A.c.uid) == uid.lower(),
                _A.c.station_id == station_id,
                _A.c.outcome == _ACCEPTED,
            )
            .order_by(_A.c.id.desc())
            .limit(1)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else row[0]

    async def list_authorizations(self, limit: int, offset: int) -> Page:
        return await self._db.page(
            sa.select(_A).order_by(_A.c.id.desc()),
            sa.select(sa.func.count()).select_from(_A),
            _authorization,
            limit,
            offset,
        )

    async def prune_authorizations(self, before: datetime) -> int:
        async with self._db.tx() as conn:
            result = await conn.execute(sa.delete(_A).where(_A.c.created_at < before))
        return int(result.rowcount)

    # ------------------------------------------------------------------ commands

    async def add_command(self, record: CommandRecord) -> CommandRecord:
        async with self._db.tx() as conn:
            record.id = (
                await conn.execute(sa.insert(_C).values(_command_values(record)).returning(_C.c.id))
            ).scalar_one()
        return record

    async def update_command(self, record: CommandRecord) -> None:
        assert record.id is not None
        async with self._db.tx() as conn:
            await conn.execute(
                sa.update(_C).where(_C.c.id == record.id).values(_command_values(record))
            )

    async def finish_command(
        self, command_id: int, result: CommandResultType, message: str | None, at: datetime
    ) -> bool:
        stmt = (
            sa.update(_C)
            .where(_C.c.id == command_id, _C.c.result.is_(None))
            .values(
                result=result.value,
                result_message=None if message is None else message[:512],
                result_at=at,
                updated_at=at,
            )
        )
        async with self._db.tx() as conn:
            return int((await conn.execute(stmt)).rowcount) == 1

    async def get_command(self, command_id: int) -> CommandRecord | None:
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(_C).where(_C.c.id == command_id))).first()
        return None if row is None else _command(row)

    async def get_command_by_uid(self, uid: str) -> CommandRecord | None:
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(_C).where(_C.c.uid == uid))).first()
        return None if row is None else _command(row)

    async def list_commands(
        self,
        limit: int,
        offset: int,
        direction: CommandDirection | None = None,
        partner_id: int | None = None,
        command: str | None = None,
    ) -> Page:
        where: list[sa.ColumnElement[bool]] = []
        if direction is not None:
            where.append(_C.c.direction == direction.value)
        if partner_id is not None:
            where.append(_C.c.partner_id == partner_id)
        if command is not None:
            where.append(_C.c.command == command)
        return await self._db.page(
            sa.select(_C).where(*where).order_by(_C.c.id.desc()),
            sa.select(sa.func.count()).select_from(_C).where(*where),
            _command,
            limit,
            offset,
        )

    async def find_reservation(
        self, country_code: str, party_id: str, ocpi_reservation_id: str
    ) -> CommandRecord | None:
        query = (
            sa.select(_C)
            .where(
                _C.c.direction == CommandDirection.RECEIVED.value,
                _C.c.command == CommandType.RESERVE_NOW.value,
                _C.c.country_code == country_code.upper(),
                _C.c.party_id == party_id.upper(),
                sa.func.lower(_C.c.ocpi_reservation_id) == ocpi_reservation_id.lower(),
                _C.c.reservation_id.is_not(None),
            )
            .order_by(_C.c.id.desc())
            .limit(1)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _command(row)

    async def unfinished(self, before: datetime) -> list[CommandRecord]:
        query = (
            sa.select(_C)
            .where(
                _C.c.direction == CommandDirection.RECEIVED.value,
                _C.c.response == CommandResponseType.ACCEPTED.value,
                _C.c.result.is_(None),
                _C.c.timeout_at < before,
            )
            .order_by(_C.c.id)
            .limit(500)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_command(r) for r in rows]


# ---------------------------------------------------------------------- converters


def _stored(row: Any) -> StoredToken:
    return StoredToken(
        token=token_from_json(dict(row.data)),
        source=TokenSource(row.source),
        partner_id=row.partner_id,
        received_at=row.received_at,
        id=row.id,
    )


def _authorization(row: Any) -> AuthorizationRecord:
    return AuthorizationRecord(
        id=row.id,
        kind=AuthorizationKind(row.kind),
        uid=row.uid,
        token_type=row.token_type,
        country_code=row.country_code,
        party_id=row.party_id,
        partner_id=row.partner_id,
        station_id=row.station_id,
        evse_id=row.evse_id,
        location_id=row.location_id,
        allowed=None if row.allowed is None else AllowedType(row.allowed),
        outcome=row.outcome,
        reason=row.reason,
        authorization_reference=row.authorization_reference,
        valid_until=row.valid_until,
        created_at=row.created_at,
    )


def _command_values(r: CommandRecord) -> dict[str, Any]:
    return {
        "uid": r.uid,
        "direction": r.direction.value,
        "command": r.command.value,
        "partner_id": r.partner_id,
        "country_code": None if r.country_code is None else r.country_code.upper(),
        "party_id": None if r.party_id is None else r.party_id.upper(),
        "request": r.request,
        "response": None if r.response is None else r.response.value,
        "response_message": None if r.response_message is None else r.response_message[:512],
        "result": None if r.result is None else r.result.value,
        "result_message": None if r.result_message is None else r.result_message[:512],
        "response_url": r.response_url,
        "timeout_at": r.timeout_at,
        "result_at": r.result_at,
        "station_id": r.station_id,
        "evse_id": r.evse_id,
        "connector_id": r.connector_id,
        "location_id": r.location_id,
        "transaction_id": r.transaction_id,
        "reservation_id": r.reservation_id,
        "ocpi_reservation_id": r.ocpi_reservation_id,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }


def _command(row: Any) -> CommandRecord:
    return CommandRecord(
        id=row.id,
        uid=row.uid,
        direction=CommandDirection(row.direction),
        command=CommandType(row.command),
        partner_id=row.partner_id,
        country_code=row.country_code,
        party_id=row.party_id,
        request=dict(row.request),
        response=None if row.response is None else CommandResponseType(row.response),
        response_message=row.response_message,
        result=None if row.result is None else CommandResultType(row.result),
        result_message=row.result_message,
        response_url=row.response_url,
        timeout_at=row.timeout_at,
        result_at=row.result_at,
        station_id=row.station_id,
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        location_id=row.location_id,
        transaction_id=row.transaction_id,
        reservation_id=row.reservation_id,
        ocpi_reservation_id=row.ocpi_reservation_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
