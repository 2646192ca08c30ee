"""OCPI 2.2.1 Sessions (issue 20).

As CPO: an outbox consumer ("ocpi-sessions") over transaction.started / updated / ended.
A transaction whose id token belongs to an eMSP partner (a roaming token) gets an OCPI
Session (id = the transaction's pk), priced by the tariff engine and pushed to that eMSP
(mod_sessions 9.1.1 push model): PUT when it starts, then at most one update per
`ocpi_session_update_interval` seconds (PATCH of kwh / total_cost / status /
last_updated; PUT of the whole object when charging periods were added, so no receiver
has to guess whether a PATCHed list adds or replaces), and a PUT with status COMPLETED
when it ends. Local tokens get no Session. When a transaction ends, the CDR service is
asked for its CDR.

Several processes may run the consumer: a stretch of events is handled, then the cursor
is moved by compare-and-set; a stretch handled twice (the cursor moved meanwhile) only
repeats idempotent work (a session saved again, a push of the same state).

As eMSP: Sessions CPO partners push (PUT / PATCH) are stored and served back (GET).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ampyre.domain.events import EventType, OutboxEvent
from ampyre.domain.models import Page
from ampyre.domain.ocpi import Partner
from ampyre.domain.ocpi_sessions import (
    OURS,
    PATCH_FIELDS,
    RECEIVED,
    AuthMethod,
    RoamingSession,
    SessionFacts,
    SessionRejected,
    SessionStatus,
    TokenGrant,
    grant_of,
    kwh_of_wh,
    merge_patch,
    received_session,
    same_key,
    session_object,
)
from ampyre.domain.transactions import Transaction, TransactionStatus
from ampyre.services.clock import utcnow
from ampyre.services.events import EventBus
from ampyre.services.ports import OutboxReader
from ampyre.services.roaming_port import RoamingLinks, RoamingStore, SessionQuery

log = logging.getLogger(__name__)

CONSUMER = "ocpi-sessions"  # this consumer's cursor in the outbox
BATCH = 200  # outbox events per look
POLL_EVERY = 1.0  # seconds between looks when nothing woke the loop
_LOCAL_MEMORY = 10_000  # transactions remembered as local (no roaming token)
_EDGE_EVENTS = frozenset({EventType.TRANSACTION_STARTED.value, EventType.TRANSACTION_ENDED.value})
_TX_EVENTS = _EDGE_EVENTS | {EventType.TRANSACTION_UPDATED.value}
# Seconds from the start of one look at the outbox to the next however often commits
# signal (under load the store commits many times a second): a session's news waits at
# most this long, and the outbox is not read per commit.
PAUSE = 0.25


class SessionNotFound(LookupError):
    pass


class TransactionReader(Protocol):
    async def get(self, transaction_pk: int) -> Transaction | None: ...


class CdrMaker(Protocol):
    async def create_for_transaction(self, transaction_pk: int) -> object | None: ...


@dataclass(slots=True)
class _Seen:
    """What a stretch of outbox events said about one transaction."""

    station_id: str | None = None
    id_token: str | None = None
    remote_start: bool = False
    started: bool = False
    ended: bool = False


class OcpiSessions:
    def __init__(
        self,
        store: RoamingStore,
        outbox: OutboxReader,
        transactions: TransactionReader,
        links: RoamingLinks,
        events: EventBus,
        *,
        update_interval: float = 60.0,
        cdrs: CdrMaker | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._transactions = transactions
        self._links = links
        self._events = events
        self._interval = timedelta(seconds=max(0.0, update_interval))
        self.cdrs = cdrs
        self._clock = clock
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._position: int | None = None
        # Transactions found to have a local token: their updates need no lookup.
        self._local: OrderedDict[int, None] = OrderedDict()
        # Transactions started without an id token yet (OCPP 2.0.1 E02: the transaction
        # starts at plug-in, the token comes in a later Updated event): their updates are
        # read until the token is known.
        self._tokenless: OrderedDict[int, None] = OrderedDict()

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        if self._tasks:
            return
        self._events.subscribe(CONSUMER, self._wake.set)
        self._wake.set()
        self._tasks = [
            asyncio.create_task(self._consume_forever(), name="ocpi-sessions"),
            asyncio.create_task(self._flush_forever(), name="ocpi-sessions-flush"),
        ]

    async def close(self) -> None:
        self._events.unsubscribe(CONSUMER)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _consume_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_EVERY):
                    await self._wake.wait()
            started = loop.time()
            self._wake.clear()
            try:
                while await self.consume():
                    pass
            except Exception:
                log.warning("OCPI sessions: could not read the outbox; will retry", exc_info=True)
            rest = PAUSE - (loop.time() - started)
            if rest > 0:
                await asyncio.sleep(rest)

    async def _flush_forever(self) -> None:
        pause = max(1.0, self._interval.total_seconds() / 4)
        while True:
            await asyncio.sleep(pause)
            try:
                await self.flush()
            except Exception:
                log.warning("OCPI sessions: could not push pending updates", exc_info=True)

    # ------------------------------------------------------------------ CPO: the outbox

    async def consume(self) -> bool:
        """Handle the next stretch of outbox events and move the cursor past it. True if
        there was one (more may wait). Only transaction events are read (the database
        skips the rest), and updates only while a session of ours is active: without one,
        a start or an end is all that can matter."""
        if self._position is None:
            self._position = await self._outbox.consumer_position(CONSUMER)
        position = self._position
        last = await self._outbox.last_event_id()
        if last <= position:
            return False
        watching = bool(self._tokenless) or await self._store.has_active_sessions()
        types = _TX_EVENTS if watching else _EDGE_EVENTS
        events = await self._store.transaction_events_after(position, last, types, BATCH)
        if events:
            await self.handle(events)
        upto = events[-1].id if len(events) >= BATCH else last
        if await self._outbox.advance_consumer(CONSUMER, position, upto):
            self._position = upto
        else:
            self._position = None  # another process moved it: read it again
        return True

    async def handle(self, events: list[OutboxEvent]) -> None:
        """The transaction events of a stretch, coalesced per transaction (one refresh
        each, in the order they first appear)."""
        seen: dict[int, _Seen] = {}
        for event in events:
            if event.type not in _TX_EVENTS:
                continue
            pk = event.data.get("id")
            if not isinstance(pk, int):
                continue
            info = seen.setdefault(pk, _Seen())
            info.station_id = info.station_id or event.station_id
            token = event.data.get("id_token")
            if isinstance(token, str) and token:
                info.id_token = info.id_token or token
            if event.data.get("remote_start_id") is not None:
                info.remote_start = True
            if event.type == EventType.TRANSACTION_STARTED.value:
                info.started = True
            elif event.type == EventType.TRANSACTION_ENDED.value:
                info.ended = True
        if not seen:
            return
        sessions = await self._store.sessions_of_transactions(list(seen))
        for pk, info in seen.items():
            try:
                await self._handle_one(pk, info, sessions.get(pk))
            except Exception:
                log.warning("OCPI session of transaction %s: not updated", pk, exc_info=True)
            if info.ended and self.cdrs is not None:
                try:
                    await self.cdrs.create_for_transaction(pk)
                except Exception:
                    log.warning("CDR of transaction %s: not made", pk, exc_info=True)

    async def _handle_one(self, pk: int, info: _Seen, session: RoamingSession | None) -> None:
        now = self._clock()
        if session is None:
            if pk in self._local:
                return
            tx = await self._transactions.get(pk)
            if tx is None:
                return
            uid = tx.id_token or info.id_token
            if not uid and tx.status is not TransactionStatus.ENDED:
                self._remember_tokenless(pk)  # not local: its token may still come
                return
            self._tokenless.pop(pk, None)
            grant = None
            if uid:
                remote = info.remote_start or tx.remote_start_id is not None
                grant = await self._links.roaming_token(uid, tx.station_id, remote)
            if grant is None:
                self._remember_local(pk)
                return
            session = await self._refresh(tx, grant, None, now)
            await self._push(session, now, first=True)
            return
        if session.status == SessionStatus.COMPLETED.value:
            return  # final (mod_sessions: no more modifications after COMPLETED)
        due = session.pushed_at is None or now - session.pushed_at >= self._interval
        # A Started event of a session already made (a stretch handled twice) is an update.
        if not (info.ended or due):
            if not session.dirty:
                session.dirty = True
                session.updated_at = now
                await self._store.save_session(session)
            return
        tx = await self._transactions.get(pk)
        if tx is None:
            return
        session = await self._refresh(tx, grant_of(session.body), session, now)
        await self._push(session, now, first=False)

    def _remember_local(self, pk: int) -> None:
        self._local[pk] = None
        while len(self._local) > _LOCAL_MEMORY:
            self._local.popitem(last=False)

    def _remember_tokenless(self, pk: int) -> None:
        self._tokenless[pk] = None
        while len(self._tokenless) > _LOCAL_MEMORY:
            self._tokenless.popitem(last=False)

    async def flush(self) -> int:
        """Push the sessions whose throttled updates are due; how many were pushed."""
        now = self._clock()
        pushed = 0
        for session in await self._store.dirty_sessions(now - self._interval, 100):
            tx = (
                None
                if session.transaction_pk is None
                else await self._transactions.get(session.transaction_pk)
            )
            if tx is None:
                continue
            try:
                refreshed = await self._refresh(tx, grant_of(session.body), session, now)
                if await self._push(refreshed, now, first=False):
                    pushed += 1
            except Exception:
                log.warning("OCPI session %s: update not pushed", session.id, exc_info=True)
        return pushed

    async def refresh_transaction(self, transaction_pk: int) -> RoamingSession | None:
        """Rebuild and push the session of a transaction now (tests, operator tools)."""
        sessions = await self._store.sessions_of_transactions([transaction_pk])
        session = sessions.get(transaction_pk)
        tx = await self._transactions.get(transaction_pk)
        if session is None or tx is None:
            return session
        now = self._clock()
        session = await self._refresh(tx, grant_of(session.body), session, now)
        await self._push(session, now, first=False)
        return session

    async def _refresh(
        self, tx: Transaction, grant: TokenGrant, previous: RoamingSession | None, now: datetime
    ) -> RoamingSession:
        """Build the Session of `tx` as it is now, and store it."""
        ended = tx.status is TransactionStatus.ENDED
        pricing = await self._links.price(tx.id, None if ended else now)
        place = await self._links.place(tx.station_id, tx.evse_id, tx.connector_id)
        our_cc, our_pid = self._links.our_party
        start = tx.started_at or tx.created_at or now
        last_updated = now
        if previous is not None and previous.last_updated > now:
            last_updated = previous.last_updated
        facts = SessionFacts(
            country_code=our_cc,
            party_id=our_pid,
            session_id=str(tx.id),
            start=start,
            end=(tx.ended_at or now) if ended else None,
            kwh=pricing.total_energy if pricing is not None else kwh_of_wh(tx.energy_wh),
            token=grant.token,
            auth_method=grant.auth_method,
            authorization_reference=grant.authorization_reference,
            location_id=place.location_id,
            evse_uid=place.evse_uid,
            connector_id=place.connector_id,
            currency=pricing.currency if pricing is not None else self._links.default_currency(),
            status=SessionStatus.COMPLETED if ended else SessionStatus.ACTIVE,
            last_updated=last_updated,
            periods=pricing.periods if pricing is not None else (),
            total_cost=pricing.total_cost if pricing is not None else None,
        )
        body = session_object(facts)
        owner = grant.token.owner
        session = RoamingSession(
            id=0 if previous is None else previous.id,
            side=OURS,
            country_code=our_cc,
            party_id=our_pid,
            session_id=facts.session_id,
            status=facts.status.value,
            kwh=facts.kwh,
            currency=facts.currency,
            start_date_time=start,
            last_updated=last_updated,
            body=body,
            end_date_time=facts.end,
            total_cost=facts.total_cost,
            transaction_pk=tx.id,
            partner_id=(
                await self._links.partner_of(owner) if previous is None else previous.partner_id
            ),
            token_uid=grant.token.uid,
            token_country_code=owner[0],
            token_party_id=owner[1],
            pushed_at=None if previous is None else previous.pushed_at,
            pushed_periods=0 if previous is None else previous.pushed_periods,
            dirty=True,
            created_at=now if previous is None else previous.created_at,
            updated_at=now,
        )
        return await self._store.save_session(session)

    async def _push(self, session: RoamingSession, now: datetime, *, first: bool) -> bool:
        """Queue the push of a stored session's state to its eMSP: PUT when it is new,
        complete, or has new charging periods; else a PATCH of the changing fields."""
        periods = len(session.body.get("charging_periods", []))
        if not await self._store.claim_session_push(session.id, session.pushed_at, now, periods):
            return False  # another process pushed it meanwhile
        whole = (
            first
            or session.pushed_at is None
            or session.status != SessionStatus.ACTIVE.value
            or periods != session.pushed_periods
        )
        owner = (session.token_country_code or "", session.token_party_id or "")
        path = f"/{session.country_code}/{session.party_id}/{session.session_id}"
        if whole:
            method, body = "PUT", session.body
        else:
            method = "PATCH"
            body = {k: session.body[k] for k in PATCH_FIELDS if k in session.body}
        key = f"session:{session.session_id}"
        partner = await self._links.push(owner, "sessions", method, path, body, key)
        return partner is not None

    # ------------------------------------------------------------------ CPO: GET

    async def page_for(
        self,
        partner: Partner,
        date_from: datetime | None,
        date_to: datetime | None,
        offset: int,
        limit: int,
    ) -> Page:
        """Our sessions of the tokens of `partner`'s parties, oldest update first (the
        Sender GET, mod_sessions 9.2.1.1: a CPO returns what is relevant to the caller)."""
        parties = tuple((r.country_code.upper(), r.party_id.upper()) for r in partner.roles)
        query = SessionQuery(
            side=OURS,
            token_parties=parties,
            date_from=date_from,
            date_to=date_to,
            oldest_first=True,
        )
        return await self._store.session_page(query, limit, offset)

    async def ours(self, session_id: str) -> RoamingSession | None:
        cc, pid = self._links.our_party
        return await self._store.find_session(OURS, cc, pid, session_id)

    # ------------------------------------------------------------------ eMSP: received

    async def receive_put(
        self,
        partner: Partner,
        country_code: str,
        party_id: str,
        session_id: str,
        body: Mapping[str, Any],
    ) -> tuple[RoamingSession, bool]:
        """Store a Session a CPO partner PUT (mod_sessions 9.2.2.2): (session, created)."""
        same_key(body, country_code, party_id, session_id)
        previous = await self._store.find_session(RECEIVED, country_code, party_id, session_id)
        session = received_session(partner.id, dict(body), previous, self._clock())
        return await self._store.save_session(session), previous is None

    async def receive_patch(
        self,
        partner: Partner,
        country_code: str,
        party_id: str,
        session_id: str,
        patch: Mapping[str, Any],
    ) -> RoamingSession:
        """Apply a PATCH a CPO partner sent (mod_sessions 9.2.2.3); SessionNotFound when
        it has not PUT the session first."""
        previous = await self._store.find_session(RECEIVED, country_code, party_id, session_id)
        if previous is None:
            raise SessionNotFound(f"no session {country_code}/{party_id}/{session_id}")
        merged = merge_patch(previous.body, patch)
        session = received_session(partner.id, merged, previous, self._clock())
        return await self._store.save_session(session)

    async def received(
        self, country_code: str, party_id: str, session_id: str
    ) -> RoamingSession | None:
        return await self._store.find_session(RECEIVED, country_code, party_id, session_id)

    # ------------------------------------------------------------------ operator

    async def list(
        self,
        *,
        side: str | None = None,
        status: str | None = None,
        partner_id: int | None = None,
        transaction_pk: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page:
        query = SessionQuery(
            side=side, status=status, partner_id=partner_id, transaction_pk=transaction_pk
        )
        return await self._store.session_page(query, limit, offset)

    async def get(self, session_pk: int) -> RoamingSession | None:
        return await self._store.get_session(session_pk)


__all__ = ["AuthMethod", "OcpiSessions", "SessionNotFound", "SessionRejected"]
