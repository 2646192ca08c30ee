"""Ports of OCPI Sessions and CDRs (issue 20): the store of sessions and CDRs, and
what the two services ask of the rest of roaming (token owners, places, prices, pushes).
The adapters: adapters/db/roaming_sessions.py (the store) and services/roaming_links.py
(the other roaming services behind these small interfaces)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ampyre.domain.cdrs import CdrLocation, StoredCdr
from ampyre.domain.events import OutboxEvent
from ampyre.domain.models import Page
from ampyre.domain.ocpi_sessions import Pricing, RoamingSession, TokenGrant

Party = tuple[str, str]  # (country_code, party_id), upper case


@dataclass(slots=True, frozen=True)
class SessionQuery:
    side: str | None = None
    status: str | None = None
    partner_id: int | None = None
    transaction_pk: int | None = None
    token_parties: tuple[Party, ...] | None = None  # only sessions of these token owners
    date_from: datetime | None = None  # last_updated >= date_from
    date_to: datetime | None = None  # last_updated < date_to
    oldest_first: bool = False  # OCPI pages: by last_updated; REST: newest first


@dataclass(slots=True, frozen=True)
class CdrQuery:
    side: str | None = None
    transaction_pk: int | None = None
    credit: bool | None = None
    partner_id: int | None = None
    token_parties: tuple[Party, ...] | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    oldest_first: bool = False


class RoamingStore(Protocol):
    # ------------------------------------------------------------------ the outbox
    async def transaction_events_after(
        self, position: int, upto: int, types: Collection[str], limit: int
    ) -> list[OutboxEvent]:
        """Outbox events of these types with ids in (position, upto], in id order."""
        ...

    async def has_active_sessions(self) -> bool:
        """Whether any session of ours is not completed."""
        ...

    # ------------------------------------------------------------------ sessions
    async def sessions_of_transactions(self, pks: Collection[int]) -> dict[int, RoamingSession]:
        """Our sessions of these transactions, by transaction pk."""
        ...

    async def save_session(self, session: RoamingSession) -> RoamingSession:
        """Insert (id 0) or replace (by id) a session; an insert of a session whose key or
        transaction already has a row updates that row instead (at-least-once consumers)."""
        ...

    async def claim_session_push(
        self, session_id: int, pushed_at: datetime | None, now: datetime, periods: int
    ) -> bool:
        """Compare-and-set of the push mark: True if `pushed_at` was still the stored one
        (this process pushes), the mark then `now` with `periods` and not dirty."""
        ...

    async def dirty_sessions(self, pushed_before: datetime, limit: int) -> list[RoamingSession]:
        """Our sessions with a change not pushed yet, last pushed before `pushed_before`."""
        ...

    async def get_session(self, session_pk: int) -> RoamingSession | None: ...
    async def find_session(
        self, side: str, country_code: str, party_id: str, session_id: str
    ) -> RoamingSession | None: ...
    async def session_page(self, query: SessionQuery, limit: int, offset: int) -> Page: ...

    # ------------------------------------------------------------------ CDRs
    async def add_cdr(self, cdr: StoredCdr) -> StoredCdr:
        """Insert a CDR (id assigned); CdrConflict if its key (side, country, party, id)
        is taken."""
        ...

    async def get_cdr(self, cdr_pk: int) -> StoredCdr | None: ...
    async def find_cdr(
        self, side: str, country_code: str, party_id: str, cdr_id: str
    ) -> StoredCdr | None: ...
    async def cdrs_of_transaction(self, transaction_pk: int) -> list[StoredCdr]: ...
    async def cdr_page(self, query: CdrQuery, limit: int, offset: int) -> Page: ...


@dataclass(slots=True, frozen=True)
class Place:
    """Where a session of ours happens, in OCPI ids (mod_sessions location_id, evse_uid,
    connector_id)."""

    location_id: str
    evse_uid: str
    connector_id: str


class RoamingLinks(Protocol):
    """The rest of roaming as Sessions and CDRs need it."""

    @property
    def our_party(self) -> Party: ...

    async def roaming_token(
        self, uid: str, station_id: str, remote_start: bool
    ) -> TokenGrant | None:
        """The eMSP token of `uid` (None: a local token, not roaming)."""
        ...

    async def place(self, station_id: str, evse_id: int | None, connector_id: int | None) -> Place:
        """The OCPI location/EVSE/connector ids of a station's EVSE."""
        ...

    async def cdr_location(
        self, station_id: str, evse_id: int | None, connector_id: int | None
    ) -> CdrLocation:
        """The CdrLocation of a station's connector (fields unknown: #NA)."""
        ...

    async def price(self, transaction_pk: int, until: datetime | None = None) -> Pricing | None:
        """The transaction's charging periods and costs (None: no tariff applies)."""
        ...

    def default_currency(self) -> str: ...

    async def push(
        self, owner: Party, module: str, method: str, path: str, body: Any, object_key: str
    ) -> int | None:
        """Queue a push to the registered eMSP partner that is `owner` (its `module`
        RECEIVER endpoint + `path`); its partner id, None when there is none."""
        ...

    async def partner_of(self, owner: Party) -> int | None:
        """The registered eMSP partner that is `owner`, if any."""
        ...
