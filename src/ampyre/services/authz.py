"""Authorization, version-neutral: id tokens, the answer given for one, and (composed)
local authorization lists and reservations.

Id token values are case insensitive (OCPP 1.6 section 7.28 IdToken; 2.0.1 IdTokenType
"IdToken is case insensitive"): one rule for uniqueness, lookups, blocking and filters.
They are stored as the operator entered them (that is what local lists send) and looked
up by their folded value (an index on lower(id_token)). Which stored token a presented
(value, type) is, and the answer for it, are pure rules in `ampyre.domain.authz`.
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
    as_told,
    decide,
    pick_token,
    why_unknown,
)
from ampyre.domain.models import Page
from ampyre.services.clock import utcnow
from ampyre.services.local_lists import LocalListService
from ampyre.services.ports import AuthStore
from ampyre.services.reservations import Delivery, ReservationService
from ampyre.services.roaming_ports import RoamingAuthorizer
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
        # value -> (monotonic expiry, stored tokens of the value): every session authorizes
        # twice or more (Authorize, then the start), each a database read otherwise.
        self._cache: dict[str, tuple[float, list[IdToken]]] = {}
        self.on_tokens_changed: Callable[[], None] | None = None
        # Asked only about id tokens Ampyre does not know (OCPI roaming, roaming.py).
        self.roaming: RoamingAuthorizer | None = None

    async def start(self) -> None:
        await self.reservations.start()

    async def close(self) -> None:
        await self.reservations.close()

    def now(self) -> datetime:
        return self._clock()

    # ------------------------------------------------------------------ authorize

    async def authorize(
        self,
        station_id: str,
        id_token: str,
        type_: str | None,
        evse_id: int | None = None,
        ocpp_version: str | None = None,
    ) -> AuthDecision:
        """The answer for an id token a station presents (1.6 Authorize/StartTransaction
        with type None: any type matches; 2.x with the token's type). With the station's
        `ocpp_version`, the status is the one that version can be told (1.6: Invalid for
        an unknown token), so what is stored is what the station was told."""
        now = self._clock()
        if type_ == IdTokenType.NO_AUTHORIZATION:
            return decide(None, station_id, evse_id, now, type_)
        candidates = await self._lookup(id_token)
        token = pick_token(candidates, id_token, type_)
        decision = decide(token, station_id, evse_id, now, type_)
        if token is None:
            decision = replace(decision, reason=why_unknown(candidates, id_token, type_))
            if self.roaming is not None:
                try:
                    roamed = await self.roaming.authorize(station_id, id_token, type_, evse_id)
                except Exception:  # a roaming failure leaves the token unknown
                    log.exception("%s: roaming authorization failed", station_id)
                    roamed = None
                if roamed is not None:
                    decision = roamed
        if ocpp_version is not None:
            decision = replace(decision, status=as_told(decision.status, ocpp_version))
        if decision.status is not AuthStatus.ACCEPTED:
            log_refusal(station_id, id_token, type_, decision)
        return decision

    async def _lookup(self, id_token: str) -> list[IdToken]:
        """The stored tokens of this value (any type, any case), remembered for
        TOKEN_CACHE_TTL seconds. Changes made through this process clear the cache at
        once; another node's changes show within the TTL. Expiry is judged at every
        decision, not at lookup."""
        now = time.monotonic()
        hit = self._cache.get(id_token)
        if hit is not None and hit[0] > now:
            return hit[1]
        tokens = await self._store.find_id_tokens(id_token)
        if len(self._cache) >= TOKEN_CACHE_MAX:
            self._cache.clear()
        self._cache[id_token] = (now + TOKEN_CACHE_TTL, tokens)
        return tokens

    async def stored_type(self, id_token: str) -> str | None:
        """The type of the stored token with this value (any type), or None."""
        token = pick_token(await self._lookup(id_token), id_token, None)
        return None if token is None else IdTokenType(token.type).value

    def forget_tokens(self) -> None:
        """Drop remembered lookups (after any change to the id tokens), here and, through
        `on_tokens_changed`, on the other nodes of a cluster."""
        self._cache.clear()
        if self.on_tokens_changed is not None:
            self.on_tokens_changed()

    def drop_cached_tokens(self) -> None:
        """Another node changed id tokens: forget what this one remembers."""
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
                " (id tokens are case insensitive)"
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
                " (id tokens are case insensitive)"
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


def mask_token(value: str) -> str:
    """An id token for a log line: only its last 4 characters (enough to find the card
    among the operator's tokens; the full value is in the transaction record)."""
    return "*" * max(len(value) - 4, 0) + value[-4:] if len(value) > 4 else "*" * len(value)


def log_refusal(station_id: str, id_token: str, type_: str | None, decision: AuthDecision) -> None:
    """One INFO line per refused id token: station, token (masked), type, answer, why."""
    log.info(
        "%s: id token %s (%s) refused: %s (%s)",
        station_id,
        mask_token(id_token),
        type_ or "any type",
        decision.status.value,
        decision.reason or "no reason recorded",
    )


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
