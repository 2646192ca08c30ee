"""Authorization, version-neutral: id tokens, the answer given for one, and (composed)
local authorization lists and reservations.

Id token values are case insensitive (OCPP 1.6 section 7.28 IdToken; 2.0.1 IdTokenType
"IdToken is case insensitive"). They are stored as the operator entered them (that is
what local lists send) and looked up by the exact, upper- and lower-case forms of the
value the station sent: one SELECT on the (id_token, type) index that matches every
token entered in one consistent case, which is how RFID UIDs, eMAIDs and MAC addresses
are written in practice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from ampyre.config import Settings
from ampyre.domain.authz import (
    AuthDecision,
    AuthStatus,
    IdToken,
    IdTokenType,
    Reservation,
    Restriction,
    TokenStatus,
)
from ampyre.domain.models import Page
from ampyre.services.clock import utcnow
from ampyre.services.local_lists import LocalListService
from ampyre.services.ports import AuthStore
from ampyre.services.reservations import Delivery, ReservationService
from ampyre.services.station_port import StationCommands

log = logging.getLogger(__name__)

# OCPP 1.6 IdToken is CiString20Type; 2.0.1 IdTokenType.idToken is string(36); Ampyre
# stores up to 255 (2.1 allows 255). A longer token can never reach a station of the
# older version (its schema refuses it): local lists leave such tokens out.
ID_TAG_MAX_16: Final = 20
ID_TOKEN_MAX_201: Final = 36
ID_TOKEN_MAX: Final = 255
GROUP_ID_MAX: Final = 255
DESCRIPTION_MAX: Final = 500
RESTRICTIONS_MAX: Final = 1000


class AuthError(Exception):
    """Base of the authorization service's refusals."""


class InvalidAuthInput(AuthError, ValueError):
    """A field has a value the service refuses; `field` names it."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class IdTokenExists(AuthError):
    pass


class NotFound(AuthError, LookupError):
    pass


def decide(
    token: IdToken | None,
    station_id: str,
    evse_id: int | None,
    now: datetime,
    type_: str | None = None,
) -> AuthDecision:
    """The answer for `token` (None = unknown) presented at `station_id`/`evse_id`."""
    if type_ == IdTokenType.NO_AUTHORIZATION:
        # 2.0.1 IdTokenEnumType NoAuthorization: the station did no authorization at all
        # (free vend); there is nothing to refuse.
        return AuthDecision(AuthStatus.ACCEPTED, token=token)
    if token is None:
        return AuthDecision(AuthStatus.UNKNOWN)
    if token.type == IdTokenType.NO_AUTHORIZATION:
        return AuthDecision(AuthStatus.ACCEPTED, token.expires_at, token.group_id, token)
    status = _STATUS.get(token.status, AuthStatus.INVALID)
    if status is AuthStatus.ACCEPTED and token.expires_at is not None and token.expires_at <= now:
        status = AuthStatus.EXPIRED
    if status is AuthStatus.ACCEPTED and not usable_at(token, station_id, evse_id):
        status = AuthStatus.NOT_AT_THIS_LOCATION
    return AuthDecision(status, token.expires_at, token.group_id, token)


_STATUS: Final = {
    TokenStatus.ACCEPTED: AuthStatus.ACCEPTED,
    TokenStatus.BLOCKED: AuthStatus.BLOCKED,
    TokenStatus.EXPIRED: AuthStatus.EXPIRED,
    TokenStatus.INVALID: AuthStatus.INVALID,
}


def usable_at(token: IdToken, station_id: str, evse_id: int | None) -> bool:
    """True if the token's restrictions allow the station (and the EVSE, when known:
    2.0.1 Authorize names no EVSE, so a token restricted to some EVSEs of the station is
    accepted there and the EVSE is checked when the transaction names one)."""
    if not token.restrictions:
        return True
    for r in token.restrictions:
        if r.station_id != station_id:
            continue
        if r.evse_id is None or evse_id is None or r.evse_id == evse_id:
            return True
    return False


# How long a looked-up id token is reused (seconds), and how many are kept at most.
TOKEN_CACHE_TTL: Final = 5.0
TOKEN_CACHE_MAX: Final = 50_000


class AuthService:
    def __init__(
        self,
        store: AuthStore,
        commands: StationCommands,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self.lists = LocalListService(
            store, commands, settings, clock, lambda t, station, now: decide(t, station, None, now)
        )
        self.reservations = ReservationService(store, commands, settings, clock)
        # (value, type) -> (monotonic expiry, token or None): every session authorizes
        # twice or more (Authorize, then the start), each a database read otherwise.
        self._cache: dict[tuple[str, str | None], tuple[float, IdToken | None]] = {}

    async def start(self) -> None:
        await self.reservations.start()

    async def close(self) -> None:
        await self.reservations.close()

    def now(self) -> datetime:
        return self._clock()

    # ------------------------------------------------------------------ authorize

    async def authorize(
        self, station_id: str, id_token: str, type_: str | None, evse_id: int | None = None
    ) -> AuthDecision:
        """The answer for an id token a station presents (1.6 Authorize/StartTransaction
        with type None: any type matches; 2.x with the token's type)."""
        if type_ == IdTokenType.NO_AUTHORIZATION:
            return decide(None, station_id, evse_id, self._clock(), type_)
        token = await self._lookup(id_token, type_)
        return decide(token, station_id, evse_id, self._clock(), type_)

    async def _lookup(self, id_token: str, type_: str | None) -> IdToken | None:
        """The stored token, remembered for TOKEN_CACHE_TTL seconds. Changes made through
        this process clear the cache at once; another node's changes show within the TTL.
        Expiry is judged at every decision, not at lookup."""
        key = (id_token, type_)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        token = await self._store.find_id_token(id_token, type_)
        if len(self._cache) >= TOKEN_CACHE_MAX:
            self._cache.clear()
        self._cache[key] = (now + TOKEN_CACHE_TTL, token)
        return token

    async def stored_type(self, id_token: str) -> str | None:
        """The type of the stored token with this value (any type), or None."""
        token = await self._lookup(id_token, None)
        return None if token is None else IdTokenType(token.type).value

    def forget_tokens(self) -> None:
        """Drop remembered lookups (after any change to the id tokens)."""
        self._cache.clear()

    async def reservation_used(
        self, station_id: str, reservation_id: int, transaction_pk: int
    ) -> None:
        await self.reservations.used(station_id, reservation_id, transaction_pk)

    async def reserve(
        self,
        station_id: str,
        id_token: str,
        expires_at: datetime,
        *,
        evse_id: int | None = None,
        id_token_type: IdTokenType | None = None,
        connector_type: str | None = None,
        group_id: str | None = None,
    ) -> tuple[Reservation, Delivery]:
        """Reserve (ReserveNow) for a token; its type and group default to the stored
        token's."""
        type_, group = await reservation_defaults(self._store, id_token, id_token_type, group_id)
        return await self.reservations.create(
            Reservation(
                id=0,
                station_id=station_id,
                id_token=id_token,
                id_token_type=type_,
                expires_at=expires_at,
                evse_id=evse_id,
                connector_type=connector_type,
                group_id=group,
            )
        )

    # ------------------------------------------------------------------ id tokens

    async def list_tokens(self, limit: int, offset: int, search: str | None) -> Page:
        return await self._store.list_id_tokens(limit, offset, search or None)

    async def get_token(self, token_pk: int) -> IdToken:
        token = await self._store.get_id_token(token_pk)
        if token is None:
            raise NotFound(f"id token {token_pk} does not exist")
        return token

    async def create_token(self, token: IdToken) -> IdToken:
        _validate(token)
        now = self._clock()
        token = replace(token, id=None, created_at=now, updated_at=now)
        try:
            return await self._store.create_id_token(token)
        except KeyError:
            raise IdTokenExists(
                f"id token {token.id_token!r} of type {token.type.value} exists"
            ) from None
        finally:
            self.forget_tokens()  # after the write: no lookup can re-remember the old state

    async def update_token(self, token_pk: int, changes: dict[str, Any]) -> IdToken:
        """Apply a partial update (field name -> new value, None clears)."""
        token = await self.get_token(token_pk)
        unknown = set(changes) - _EDITABLE
        if unknown:
            raise InvalidAuthInput(f"unknown field {sorted(unknown)[0]!r}", sorted(unknown)[0])
        for key, value in changes.items():
            if key in ("id_token", "type", "status") and value is None:
                raise InvalidAuthInput(f"{key} cannot be null", key)
            setattr(token, key, value)
        token.type = IdTokenType(token.type)
        token.status = TokenStatus(token.status)
        _validate(token)
        token.updated_at = self._clock()
        try:
            updated = await self._store.update_id_token(token)
        except KeyError:
            raise IdTokenExists(
                f"id token {token.id_token!r} of type {token.type.value} exists"
            ) from None
        finally:
            self.forget_tokens()
        if updated is None:
            raise NotFound(f"id token {token_pk} does not exist")
        return updated

    async def delete_token(self, token_pk: int) -> None:
        try:
            deleted = await self._store.delete_id_token(token_pk)
        finally:
            self.forget_tokens()
        if not deleted:
            raise NotFound(f"id token {token_pk} does not exist")


_EDITABLE: Final = frozenset(
    {"id_token", "type", "status", "expires_at", "group_id", "restrictions", "description"}
)


def _validate(token: IdToken) -> None:
    value = token.id_token
    if not isinstance(value, str) or not 1 <= len(value) <= ID_TOKEN_MAX:
        raise InvalidAuthInput(f"id_token must be 1..{ID_TOKEN_MAX} characters", "id_token")
    if value != value.strip() or not value.isprintable():
        raise InvalidAuthInput(
            "id_token must be printable, without leading or trailing spaces", "id_token"
        )
    if token.group_id is not None and not 1 <= len(token.group_id) <= GROUP_ID_MAX:
        raise InvalidAuthInput(f"group_id must be 1..{GROUP_ID_MAX} characters", "group_id")
    if token.description is not None and len(token.description) > DESCRIPTION_MAX:
        raise InvalidAuthInput(
            f"description must be at most {DESCRIPTION_MAX} characters", "description"
        )
    if len(token.restrictions) > RESTRICTIONS_MAX:
        raise InvalidAuthInput(f"at most {RESTRICTIONS_MAX} restrictions per token", "restrictions")
    for r in token.restrictions:
        if not isinstance(r, Restriction) or not r.station_id:
            raise InvalidAuthInput("a restriction needs a station_id", "restrictions")
        if r.evse_id is not None and r.evse_id < 0:
            raise InvalidAuthInput("a restriction's evse_id must be >= 0", "restrictions")


async def reservation_defaults(
    store: AuthStore, id_token: str, type_: IdTokenType | None, group_id: str | None
) -> tuple[IdTokenType, str | None]:
    """The type and group of a reservation's token when the caller leaves them out: the
    stored token's (ISO14443 and none if it is not stored)."""
    if type_ is not None and group_id is not None:
        return type_, group_id
    stored = await store.find_id_token(id_token, type_.value if type_ else None)
    if stored is None:
        return type_ or IdTokenType.ISO14443, group_id
    return type_ or stored.type, group_id if group_id is not None else stored.group_id
