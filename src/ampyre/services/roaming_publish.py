"""Ampyre's own id tokens as an eMSP (OCPI 2.2.1 mod_tokens, Sender interface).

Each id token is published as an OCPI Token (domain.ocpi_tokens.publish: our country
code and party id, uid = the value, type from the OCPP type, valid from its status and
expiry). What was last published is kept (ocpi_published_tokens): the Sender GET serves
it, and every `ocpi_token_sync_interval` seconds the leading node compares it with the id
tokens and PUTs every changed token to each CPO partner's tokens Receiver (through the
durable push queue). Tokens cannot be deleted in OCPI (mod_tokens 12.1.1): a deleted id
token is pushed once more with valid=false. Nothing is read while nothing changed (the
id tokens' latest update time and count) and no published token expires. A CPO partner
that just registered (or changed its endpoints) gets every published token as a PUT
(`sync_partner`), since the loop pushes changes only.

Real-time authorization (POST {tokens}/{uid}/authorize) is answered with Ampyre's own
rules (domain.authz.decide): an operator's status, the expiry, and station restrictions
(a token restricted to some of Ampyre's stations is NOT_ALLOWED at a partner's location).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime
from typing import Final
from urllib.parse import quote

from ampyre.config import Settings
from ampyre.domain.authz import IdToken, decide, same_value
from ampyre.domain.models import Page
from ampyre.domain.ocpi import OcpiRole, Partner
from ampyre.domain.ocpi_tokens import (
    AllowedType,
    AuthorizationInfo,
    AuthorizationKind,
    AuthorizationRecord,
    Identity,
    LocationReferences,
    OcpiToken,
    TokenType,
    WhitelistType,
    allowed_of,
    ampyre_types_for,
    publish,
    same_published,
    token_to_json,
)
from ampyre.services.clock import utcnow
from ampyre.services.ocpi_port import PushPort
from ampyre.services.periodic import Periodic
from ampyre.services.ports import AuthStore
from ampyre.services.roaming_ports import RoamingTokenStore

log = logging.getLogger(__name__)

PAGE: Final = 1000  # id tokens read per query while comparing
# A station id no restriction names: a partner's location is never one of our stations.
FOREIGN_STATION: Final = ""


class TokenPublisher:
    def __init__(
        self,
        store: RoamingTokenStore,
        auth_store: AuthStore,
        push: PushPort,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        leads: Callable[[], bool] = lambda: True,
    ) -> None:
        self._store = store
        self._auth_store = auth_store
        self._push = push
        self._settings = settings
        self._clock = clock
        self._lock = asyncio.Lock()
        self._seen: tuple[datetime | None, int] | None = None
        self._next_expiry: datetime | None = None
        self._loop = Periodic(
            "id token publishing",
            self.sync,
            lambda: settings.ocpi_token_sync_interval,
            log=log,
            leads=leads,
        )

    def identity(self) -> Identity:
        s = self._settings
        return Identity(
            country_code=s.ocpi_country_code,
            party_id=s.ocpi_party_id,
            issuer=s.ocpi_business_name,
            rfid_whitelist=WhitelistType(s.ocpi_token_whitelist),
        )

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        if self._settings.ocpi_publish_tokens:
            self._loop.start()

    async def close(self) -> None:
        await self._loop.close()

    # ------------------------------------------------------------------ publishing

    async def sync(self, force: bool = False) -> int:
        """Publish what changed since the last time; the number of tokens pushed."""
        async with self._lock:
            seen = await self._store.id_tokens_fingerprint()
            now = self._clock()
            due = self._next_expiry is not None and self._next_expiry <= now
            if not force and seen == self._seen and not due:
                return 0
            changes = await self._changes(now)
            await self._store.save_published(changes)
            for _, token in changes:
                await self._push.to_receivers(
                    "tokens",
                    "PUT",
                    self._path(token),
                    token_to_json(token),
                    _key(token),
                    party_role=OcpiRole.CPO,
                )
            self._seen = seen
            if changes:
                log.info("%d id tokens published to the CPO partners", len(changes))
            return len(changes)

    async def sync_partner(self, partner: Partner, hold: float = 0.0) -> int:
        """PUT every published token (the Sender GET's list, invalidated ones too) to this
        just registered CPO partner alone, `hold` seconds from now, page by page, under
        the keys of the change pushes; how many were queued. Under the publishing lock:
        a change found meanwhile is queued after these (for every partner)."""
        if (
            not self._settings.ocpi_publish_tokens
            or not partner.registered
            or not partner.has_role(OcpiRole.CPO)
        ):
            return 0
        queued, offset = 0, 0
        async with self._lock:
            while True:
                page = await self._store.list_published(PAGE, offset)
                for token in page.items:
                    if not await self._push.to_partner(
                        partner,
                        "tokens",
                        "PUT",
                        self._path(token),
                        token_to_json(token),
                        _key(token),
                        delay=hold,
                    ):
                        return queued  # no tokens Receiver endpoint
                    queued += 1
                offset += len(page.items)
                if not page.items or offset >= page.total:
                    return queued

    def _path(self, token: OcpiToken) -> str:
        # mod_tokens 12.2.2.3: {country_code}/{party_id}/{token_uid}[?type={type}]
        me = self.identity()
        uid = quote(token.uid, safe="")
        return f"/{me.country_code}/{me.party_id}/{uid}?type={token.type.value}"

    async def _changes(self, now: datetime) -> list[tuple[int | None, OcpiToken]]:
        me = self.identity()
        wanted: dict[tuple[str, TokenType], tuple[int | None, OcpiToken]] = {}
        next_expiry: datetime | None = None
        async for token in self._id_tokens():
            ocpi = publish(token, me, now, now)
            if ocpi is None:
                continue
            wanted.setdefault((ocpi.uid.lower(), ocpi.type), (token.id, ocpi))
            expiry = token.expires_at
            if ocpi.valid and expiry is not None and (next_expiry is None or expiry < next_expiry):
                next_expiry = expiry
        self._next_expiry = next_expiry
        published = {(t.uid.lower(), t.type): (i, t) for i, t in await self._store.published()}
        changes: list[tuple[int | None, OcpiToken]] = []
        for key, (id_token_id, ocpi_token) in wanted.items():
            old = published.get(key)
            if old is None or old[0] != id_token_id or not same_published(old[1], ocpi_token):
                changes.append((id_token_id, ocpi_token))
        for key, (_, old_token) in published.items():
            if key not in wanted and old_token.valid:
                # Deleted (or no longer publishable): OCPI tokens are invalidated, never
                # deleted (mod_tokens 12.1.1).
                changes.append((None, replace(old_token, valid=False, last_updated=now)))
        return changes

    async def _id_tokens(self) -> AsyncIterator[IdToken]:
        offset = 0
        while True:
            page = await self._auth_store.list_id_tokens(PAGE, offset, None)
            for token in page.items:
                yield token
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    async def page(
        self, offset: int, limit: int, date_from: datetime | None, date_to: datetime | None
    ) -> Page:
        """The Sender GET (mod_tokens 12.2.2.1): published tokens by last_updated."""
        return await self._store.list_published(limit, offset, date_from, date_to)

    # ------------------------------------------------------------------ real-time

    async def answer(
        self,
        partner_id: int | None,
        uid: str,
        type_: TokenType,
        location: LocationReferences | None,
    ) -> AuthorizationInfo | None:
        """Our answer to a CPO's real-time authorization (mod_tokens 12.2.2.2); None if
        Ampyre has no such token (the route answers HTTP 404 / 2004)."""
        now = self._clock()
        types = ampyre_types_for(type_)
        candidates = [
            t
            for t in await self._auth_store.find_id_tokens(uid)
            if t.type in types and same_value(t.id_token, uid)
        ]
        token = _best(candidates, uid)
        ocpi = None if token is None else publish(token, self.identity(), now, _updated(token))
        if token is None or ocpi is None:
            await self._record(partner_id, uid, type_, location, None, "unknown token", now)
            return None
        # A partner's location is none of Ampyre's stations: restrictions refuse it.
        decision = decide(token, FOREIGN_STATION, None, now)
        allowed = allowed_of(decision.status)
        reference = uuid.uuid4().hex if allowed is AllowedType.ALLOWED else None
        info = AuthorizationInfo(
            allowed=allowed,
            token=ocpi,
            # "only if the EV driver is allowed to charge at that location" (12.3.1)
            location=location if allowed is AllowedType.ALLOWED else None,
            authorization_reference=reference,
        )
        await self._record(partner_id, uid, type_, location, info, decision.reason, now)
        return info

    async def _record(
        self,
        partner_id: int | None,
        uid: str,
        type_: TokenType,
        location: LocationReferences | None,
        info: AuthorizationInfo | None,
        reason: str | None,
        now: datetime,
    ) -> None:
        me = self.identity()
        try:
            await self._store.add_authorization(
                AuthorizationRecord(
                    kind=AuthorizationKind.ANSWERED,
                    uid=uid,
                    created_at=now,
                    token_type=type_.value,
                    country_code=me.country_code,
                    party_id=me.party_id,
                    partner_id=partner_id,
                    location_id=None if location is None else location.location_id,
                    allowed=None if info is None else info.allowed,
                    outcome="UNKNOWN" if info is None else info.allowed.value,
                    reason=reason,
                    authorization_reference=None if info is None else info.authorization_reference,
                )
            )
        except Exception:
            log.warning("could not record a real-time authorization answer", exc_info=True)


def _key(token: OcpiToken) -> str:
    return f"token:{token.type.value}:{token.uid.lower()}"


def _best(candidates: list[IdToken], uid: str) -> IdToken | None:
    if not candidates:
        return None
    return min(candidates, key=lambda t: (t.id_token != uid, t.id or 0))


def _updated(token: IdToken) -> datetime:
    return token.updated_at or token.created_at or utcnow()
