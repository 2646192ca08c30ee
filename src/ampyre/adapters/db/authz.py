"""SqlStore part: id tokens, local lists, reservations (the AuthStore port)."""

from __future__ import annotations

from datetime import datetime

from ampyre.adapters.db.parts import StorePart
from ampyre.domain.authz import IdToken, LocalListState, Reservation
from ampyre.domain.models import Page


class AuthSql(StorePart):
    async def create_id_token(self, token: IdToken) -> IdToken:
        raise NotImplementedError

    async def get_id_token(self, token_pk: int) -> IdToken | None:
        raise NotImplementedError

    async def find_id_token(self, id_token: str, type_: str | None) -> IdToken | None:
        raise NotImplementedError

    async def list_id_tokens(self, limit: int, offset: int, search: str | None) -> Page:
        raise NotImplementedError

    async def update_id_token(self, token: IdToken) -> IdToken | None:
        raise NotImplementedError

    async def delete_id_token(self, token_pk: int) -> bool:
        raise NotImplementedError

    async def id_tokens_for_station(self, station_id: str) -> list[IdToken]:
        raise NotImplementedError

    async def get_local_list(self, station_id: str) -> LocalListState | None:
        raise NotImplementedError

    async def save_local_list(self, state: LocalListState) -> None:
        raise NotImplementedError

    async def create_reservation(self, reservation: Reservation) -> Reservation:
        raise NotImplementedError

    async def get_reservation(self, reservation_id: int) -> Reservation | None:
        raise NotImplementedError

    async def list_reservations(
        self, station_id: str | None, status: str | None, limit: int, offset: int
    ) -> Page:
        raise NotImplementedError

    async def update_reservation(self, reservation: Reservation) -> Reservation | None:
        raise NotImplementedError

    async def expire_reservations(self, now: datetime) -> list[Reservation]:
        raise NotImplementedError
