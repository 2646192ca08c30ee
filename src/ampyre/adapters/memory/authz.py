"""MemoryAuth: the `AuthStore` port part of MemoryStore (id tokens, local lists,
reservations), with the semantics of adapters/db/authz.py that callers can observe
(checked by tests/contract)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from ampyre.adapters.memory.stations import MemoryStations, _page
from ampyre.domain.authz import (
    IdToken,
    IdTokenType,
    LocalListState,
    Reservation,
    ReservationStatus,
    TokenStatus,
)
from ampyre.domain.models import Page

_ACTIVE = (ReservationStatus.REQUESTED, ReservationStatus.ACCEPTED)


def _lookup_values(value: str) -> list[str]:
    """The forms of a presented id token that are looked up, exact first (as the SQL
    store does: adapters/db/authz.py lookup_values)."""
    out = [value]
    for form in (value.upper(), value.lower()):
        if form not in out:
            out.append(form)
    return out


def _token_copy(token: IdToken) -> IdToken:
    return dataclasses.replace(token, restrictions=list(token.restrictions))


class MemoryAuth(MemoryStations):
    def __init__(self) -> None:
        super().__init__()
        self.id_tokens: dict[int, IdToken] = {}
        self.local_lists: dict[str, LocalListState] = {}
        self.reservations: dict[int, Reservation] = {}
        self._next_id_token = 1
        self._next_reservation = 1

    # ------------------------------------------------------------------ id tokens

    def _taken(self, token: IdToken, other_than: int | None = None) -> bool:
        return any(
            (t.id_token, t.type) == (token.id_token, IdTokenType(token.type))
            for pk, t in self.id_tokens.items()
            if pk != other_than
        )

    async def create_id_token(self, token: IdToken) -> IdToken:
        self._write()
        if self._taken(token):
            raise KeyError((token.id_token, token.type))
        now = datetime.now(UTC)
        stored = dataclasses.replace(
            _token_copy(token),
            id=self._next_id_token,
            type=IdTokenType(token.type),
            status=TokenStatus(token.status),
            created_at=token.created_at or now,
            updated_at=token.updated_at or now,
        )
        self._next_id_token += 1
        self.id_tokens[self._next_id_token - 1] = stored
        return _token_copy(stored)

    async def get_id_token(self, token_pk: int) -> IdToken | None:
        self._read()
        token = self.id_tokens.get(token_pk)
        return None if token is None else _token_copy(token)

    async def find_id_token(self, id_token: str, type_: str | None) -> IdToken | None:
        self._read()
        forms = _lookup_values(id_token)
        found = [
            t
            for t in self.id_tokens.values()
            if t.id_token in forms and (type_ is None or t.type == type_)
        ]
        if not found:
            return None
        best = min(found, key=lambda t: (t.id_token != id_token, t.id or 0))
        return _token_copy(best)

    async def list_id_tokens(self, limit: int, offset: int, search: str | None) -> Page:
        self._read()
        items = [self.id_tokens[k] for k in sorted(self.id_tokens)]
        if search:
            items = [t for t in items if search.lower() in t.id_token.lower()]
        return _page([_token_copy(t) for t in items], limit, offset)

    async def update_id_token(self, token: IdToken) -> IdToken | None:
        self._write()
        if token.id is None or token.id not in self.id_tokens:
            return None
        if self._taken(token, other_than=token.id):
            raise KeyError((token.id_token, token.type))
        old = self.id_tokens[token.id]
        stored = dataclasses.replace(
            _token_copy(token),
            type=IdTokenType(token.type),
            status=TokenStatus(token.status),
            created_at=old.created_at,
            updated_at=token.updated_at or datetime.now(UTC),
        )
        self.id_tokens[token.id] = stored
        return _token_copy(stored)

    async def delete_id_token(self, token_pk: int) -> bool:
        self._write()
        return self.id_tokens.pop(token_pk, None) is not None

    async def id_tokens_for_station(self, station_id: str) -> list[IdToken]:
        self._read()
        return [
            _token_copy(tok)
            for _, tok in sorted(self.id_tokens.items())
            if not tok.restrictions or any(r.station_id == station_id for r in tok.restrictions)
        ]

    # ------------------------------------------------------------------ local lists

    async def get_local_list(self, station_id: str) -> LocalListState | None:
        self._read()
        state = self.local_lists.get(station_id)
        return None if state is None else dataclasses.replace(state, entries=dict(state.entries))

    async def save_local_list(self, state: LocalListState) -> None:
        self._write()
        self.local_lists[state.station_id] = dataclasses.replace(
            state, entries=dict(state.entries), updated_at=state.updated_at or datetime.now(UTC)
        )

    # ------------------------------------------------------------------ reservations

    async def create_reservation(self, reservation: Reservation) -> Reservation:
        self._write()
        now = datetime.now(UTC)
        stored = dataclasses.replace(
            reservation,
            id=self._next_reservation,
            id_token_type=IdTokenType(reservation.id_token_type),
            status=ReservationStatus(reservation.status),
            created_at=reservation.created_at or now,
            updated_at=reservation.updated_at or now,
        )
        self._next_reservation += 1
        self.reservations[stored.id] = stored
        return dataclasses.replace(stored)

    async def get_reservation(self, reservation_id: int) -> Reservation | None:
        self._read()
        found = self.reservations.get(reservation_id)
        return None if found is None else dataclasses.replace(found)

    async def list_reservations(
        self, station_id: str | None, status: str | None, limit: int, offset: int
    ) -> Page:
        self._read()
        items = [
            dataclasses.replace(r)
            for _, r in sorted(self.reservations.items(), reverse=True)
            if (station_id is None or r.station_id == station_id)
            and (status is None or r.status == status)
        ]
        return _page(items, limit, offset)

    async def update_reservation(self, reservation: Reservation) -> Reservation | None:
        self._write()
        old = self.reservations.get(reservation.id)
        if old is None:
            return None
        stored = dataclasses.replace(
            reservation,
            id_token_type=IdTokenType(reservation.id_token_type),
            status=ReservationStatus(reservation.status),
            created_at=old.created_at,
            updated_at=reservation.updated_at or datetime.now(UTC),
        )
        self.reservations[reservation.id] = stored
        return dataclasses.replace(stored)

    async def expire_reservations(self, now: datetime) -> list[Reservation]:
        self._write()
        expired = []
        for pk in sorted(self.reservations):
            r = self.reservations[pk]
            if r.status in _ACTIVE and r.expires_at <= now:
                r.status, r.updated_at = ReservationStatus.EXPIRED, now
                expired.append(dataclasses.replace(r))
        return expired
