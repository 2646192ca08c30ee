"""Transactions, version-neutral: recording, remote start/stop, silent transactions.

Handlers of every OCPP version reduce their messages to `TransactionEvent`s and call
`record`, which authorizes the id token (if any), writes the event (durable before ack:
the call returns only after the commit; StoreUnavailable propagates so the station gets
an InternalError and retries). The store writes the domain event (transaction.started,
.updated, .ended) in the same commit (the outbox, adapters/db/outbox.py), so webhooks and
other consumers see an event iff its data is stored. Resent messages are absorbed by the
store and get the same answer.

Stop reasons Ampyre itself sets when it closes a transaction nobody closed (none of them
is an OCPP reason, so they cannot be mistaken for what a station reported):

- `NotOngoing`: 2.x GetTransactionStatus said the transaction is not ongoing and nothing
  about it is queued at the station (OCPP 2.0.1 E14).
- `ConnectorIdle`: a silent 1.6 transaction whose connector reports Available,
  Unavailable or Faulted: nothing is charging there any more.
- `Superseded`: a 1.6 StartTransaction arrived for a connector that still had an
  active transaction that started earlier; one connector carries one transaction.
- `ClosedByOperator`: an operator closed it administratively (`close_administratively`:
  who, why and when are stored with it; the transaction.ended event says
  `closed_administratively: true`).

A StopTransaction / Ended event that the station sends after any of these still wins: its
time, reason and meter replace what the close set (domain.transactions.merge).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ampyre.config import Settings
from ampyre.domain.authz import AuthDecision, AuthStatus
from ampyre.domain.models import Page
from ampyre.domain.transactions import (
    EventKind,
    EventRecord,
    StationMeterValues,
    StoredEvent,
    Transaction,
    TransactionEvent,
    TransactionFilter,
    TransactionStatus,
    is_stale,
)
from ampyre.domain.versions import traits
from ampyre.services.authz import AuthService, log_refusal, mask_token
from ampyre.services.clock import utcnow
from ampyre.services.commands import CallOutcome, StationNotConnected
from ampyre.services.pending_starts import PendingStart, PendingStarts
from ampyre.services.periodic import Periodic
from ampyre.services.ports import TransactionStore
from ampyre.services.station_port import NotAddressable, StationCommands, Trigger

log = logging.getLogger(__name__)

REASON_NOT_ONGOING = "NotOngoing"
REASON_CONNECTOR_IDLE = "ConnectorIdle"
REASON_SUPERSEDED = "Superseded"
REASON_CLOSED_BY_OPERATOR = "ClosedByOperator"

# 1.6 connector states in which no transaction can be running (1.6 4.9 / 7.7).
IDLE_CONNECTOR_STATES = frozenset({"Available", "Unavailable", "Faulted"})
STALE_BATCH = 100  # silent transactions examined per round
PROBE_CONCURRENCY = 10
STATUS_WAIT = 5.0  # seconds to wait for a triggered StatusNotification (1.6)
_NO_CONCURRENCY_TYPES = frozenset({"NoAuthorization", "Central"})


class TransactionNotFound(LookupError):
    pass


class TransactionNotActive(Exception):
    """The transaction has ended (or cannot be addressed at its station)."""


class TransactionNotStale(Exception):
    """An administrative close of a transaction that is not stale, without `force`."""


@dataclass(slots=True, frozen=True)
class Recorded:
    """What `record` answers: the stored ids and the authorization of the event's token."""

    stored: StoredEvent
    decision: AuthDecision | None = None


@dataclass(slots=True, frozen=True)
class RemoteStartResult:
    outcome: CallOutcome
    remote_start_id: int
    transaction: Transaction | None = None


class TransactionService:
    def __init__(
        self,
        store: TransactionStore,
        auth: AuthService,
        commands: StationCommands,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        pending: PendingStarts | None = None,
        holds: Callable[[str], bool] | None = None,
    ) -> None:
        self._store = store
        self._auth = auth
        self._commands = commands
        self._settings = settings
        self._clock = clock
        # Remote starts waiting for their transaction (shared with the other nodes).
        self.pending = pending if pending is not None else PendingStarts()
        # Whether this process holds the station's socket: in a cluster each node probes
        # the silent transactions of its own stations only (None: all of them).
        self._holds = holds
        self._watcher = Periodic(
            "silent transactions check",
            self.check_silent,
            settings.transaction_check_interval,
            log=log,
            first_wait=True,
        )

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        await self.pending.start()
        self._watcher.start()

    async def close(self) -> None:
        await self._watcher.close()
        self.pending.close()

    def now(self) -> datetime:
        return self._clock()

    # ------------------------------------------------------------------ OCPP path

    async def record(self, event: TransactionEvent) -> Recorded:
        """Authorize the event's id token (if it has one), store the event (durable before
        ack, with its domain event). Raises StoreUnavailable."""
        decision: AuthDecision | None = None
        if event.id_token is not None:
            decision = await self._authorize(event)
            event = dataclasses.replace(event, auth_status=decision.status.value)
        if event.id_token is None and event.remote_start_id is not None:
            event = self._token_of_remote_start(event)
        matched = self.pending.match_16(event)
        if matched is not None and event.remote_start_id is None:
            event = dataclasses.replace(event, remote_start_id=matched.remote_start_id)
        stored = (await self._store.record_transaction_events([event]))[0]
        self.pending.resolve(event, stored.id, matched)
        if event.reservation_id is not None and event.kind is not EventKind.ENDED:
            # Rare (starts on a reservation): done inline, bounded, never failing the ack.
            await self._reservation_used(event.station_id, event.reservation_id, stored.id)
        if event.kind is EventKind.STARTED and event.transaction_id is None:
            await self._close_superseded(event, stored)
        self._check_energy(event, stored)
        if event.kind is not EventKind.UPDATED:
            _log_lifecycle(event.kind, stored.transaction)
        return Recorded(stored, decision)

    def _token_of_remote_start(self, event: TransactionEvent) -> TransactionEvent:
        """2.x: a Started event may leave out the idToken of the remote start it answers
        (remoteStartId); the transaction has the token Ampyre sent. Not authorized again
        (Ampyre itself asked for it), so the station gets no idTokenInfo for it."""
        pending = self.pending.token_of(event)
        if pending is None:
            return event
        return dataclasses.replace(
            event, id_token=pending.id_token, id_token_type=pending.id_token_type
        )

    async def record_station_meter_values(self, values: StationMeterValues) -> None:
        """Meter values outside any transaction (durable before ack)."""
        await self._store.record_meter_values([values])

    async def _authorize(self, event: TransactionEvent) -> AuthDecision:
        assert event.id_token is not None
        decision = await self._auth.authorize(
            event.station_id,
            event.id_token,
            event.id_token_type,
            event.evse_id,
            event.ocpp_version,  # the status stored is the one the station is told
        )
        # A token may drive one transaction at a time (1.6 ConcurrentTx, 2.0.1
        # AuthorizationStatusEnumType ConcurrentTx); the stop itself is never refused.
        if (
            decision.status is AuthStatus.ACCEPTED
            and event.kind is not EventKind.ENDED
            and event.id_token
            and (event.id_token_type or "") not in _NO_CONCURRENCY_TYPES
            and await self._in_other_transaction(event)
        ):
            decision = dataclasses.replace(
                decision,
                status=AuthStatus.CONCURRENT_TX,
                reason="in a transaction at another station or EVSE",
            )
            log_refusal(event.station_id, event.id_token, event.id_token_type, decision)
        return decision

    async def _in_other_transaction(self, event: TransactionEvent) -> bool:
        assert event.id_token is not None
        # The same EVSE/connector (1.6: evse = connector) does not count: a retransmitted
        # 1.6 start, or an older transaction there that this one replaces (Superseded).
        return await self._store.token_in_use(
            event.id_token, event.station_id, event.transaction_id, event.evse_id
        )

    async def _close_superseded(self, event: TransactionEvent, stored: StoredEvent) -> None:
        """1.6: a start on a connector closes an older transaction still open there (its
        StopTransaction was lost). Best effort: the new start is already stored."""
        try:
            for tx in await self._store.active_transactions(event.station_id):
                if (
                    tx.id == stored.id
                    or tx.connector_id != event.connector_id
                    or tx.started_at is None
                    or tx.started_at >= event.timestamp
                ):
                    continue
                log.warning(
                    "%s: transaction %s on connector %s never stopped; closing it (%s)",
                    event.station_id,
                    tx.transaction_id,
                    tx.connector_id,
                    REASON_SUPERSEDED,
                )
                await self._close(tx, event.timestamp, REASON_SUPERSEDED)
        except Exception:
            log.exception("%s: could not close superseded transactions", event.station_id)

    async def _close(self, tx: Transaction, at: datetime, reason: str) -> Transaction | None:
        # The store writes its transaction.ended event with it.
        return await self._store.end_transaction(tx.id, at, reason)

    def stale(self, tx: Transaction) -> bool:
        """domain.transactions.is_stale with the configured silence timeout."""
        return is_stale(tx, self._clock(), self._silence())

    def _silence(self) -> timedelta:
        return timedelta(seconds=self._settings.transaction_silence_timeout)

    async def close_administratively(
        self, transaction_pk: int, reason: str, closed_by: str, force: bool = False
    ) -> Transaction:
        """An operator ends a transaction the station will not end (offline, replaced,
        gone): status ended now, the energy known so far is final, who and why are stored,
        and transaction.ended is written with `closed_administratively: true`. Only a
        stale transaction unless `force`. Raises TransactionNotFound, TransactionNotActive,
        TransactionNotStale, StoreUnavailable."""
        tx = await self._store.get_transaction(transaction_pk)
        if tx is None:
            raise TransactionNotFound(transaction_pk)
        if tx.status is not TransactionStatus.ACTIVE:
            raise TransactionNotActive(f"transaction {transaction_pk} has already ended")
        if not force and not self.stale(tx):
            raise TransactionNotStale(
                f"transaction {transaction_pk} is not stale: its station is connected and "
                "reported it recently; stop it through the station, or close it with force"
            )
        at = self._clock()
        closed = await self._store.end_transaction(
            tx.id, at, REASON_CLOSED_BY_OPERATOR, closed_by=closed_by, note=reason
        )
        if closed is None:
            raise TransactionNotFound(transaction_pk)
        if closed.closed_by is None or closed.closed_at != at:
            # The station's end (or another close) got there first.
            raise TransactionNotActive(f"transaction {transaction_pk} has already ended")
        # The store wrote its transaction.ended event (closed_administratively: true) with it.
        log.warning(
            "%s: transaction %s (id %s) closed administratively by %s: %s",
            closed.station_id,
            closed.transaction_id,
            closed.id,
            closed_by,
            reason,
        )
        return closed

    async def _reservation_used(self, station_id: str, reservation_id: int, pk: int) -> None:
        try:
            async with asyncio.timeout(5):
                await self._auth.reservation_used(station_id, reservation_id, pk)
        except Exception:
            log.warning(
                "%s: could not mark reservation %s used by transaction %s",
                station_id,
                reservation_id,
                pk,
                exc_info=True,
            )

    def _check_energy(self, event: TransactionEvent, stored: StoredEvent) -> None:
        energy = stored.transaction.energy_wh
        if event.kind is not EventKind.UPDATED and energy is not None and energy < 0:
            # Stored anyway (a stop is never lost); someone has to look at it.
            log.warning(
                "%s: transaction %s: stop meter %s Wh is below start meter %s Wh",
                event.station_id,
                stored.transaction.transaction_id,
                stored.transaction.meter_stop_wh,
                stored.transaction.meter_start_wh,
            )

    # ------------------------------------------------------------------ remote start/stop

    async def remote_start(
        self,
        station_id: str,
        id_token: str,
        evse_id: int | None = None,
        id_token_type: str | None = None,
        charging_profile: dict[str, Any] | None = None,
        wait: float | None = None,
    ) -> RemoteStartResult:
        """1.6 RemoteStartTransaction / 2.x RequestStartTransaction (OCPP 2.0.1 F01/F02:
        the remoteStartId correlates the TransactionEvent). Raises CommandError."""
        version = self._commands.connected_version(station_id)
        if version is None:
            raise StationNotConnected(station_id)
        # Without remoteStartId in its messages (1.6), the start is matched by idTag.
        v16 = not traits(version).echoes_remote_start_id
        remote_start_id = await self._store.next_id("remote_start")
        if id_token_type is None and not v16:
            # Without a type: the stored token's (the station checks value and type), else
            # Central, the type of a token the CSMS vouches for (2.0.1 IdTokenEnumType).
            id_token_type = await self._auth.stored_type(id_token) or "Central"
        # Registered before sending: the station may report the start before it answers.
        pending = PendingStart(
            station_id, remote_start_id, evse_id, id_token, v16, time.monotonic(), id_token_type
        )
        await self.pending.add(pending)
        assert pending.future is not None
        try:
            answer = await self._commands.start_charging(
                station_id,
                evse_id,
                id_token,
                id_token_type or "Central",
                remote_start_id,
                charging_profile,
            )
        except BaseException:
            self._forget(pending)
            raise
        outcome = answer.outcome
        if not answer.accepted:
            self._forget(pending)
            return RemoteStartResult(outcome, remote_start_id)
        limit = self._settings.remote_start_wait if wait is None else wait
        found: int | None = None  # the transaction's id, from whichever node stored it
        if pending.future.done() and not pending.future.cancelled():
            found = pending.future.result()
        elif limit > 0:
            # asyncio.wait neither raises on timeout nor cancels the future.
            await asyncio.wait({pending.future}, timeout=limit)
            if pending.future.done() and not pending.future.cancelled():
                found = pending.future.result()
        tx: Transaction | None = None
        if found is not None:
            tx = await self._store.get_transaction(found)
        elif answer.transaction_id is not None:
            # F01: a transaction was already running (cable plugged in first).
            tx = await self._store.find_transaction(station_id, answer.transaction_id)
        return RemoteStartResult(outcome, remote_start_id, tx)

    def _forget(self, pending: PendingStart) -> None:
        self.pending.forget(pending)

    async def remote_stop(self, transaction_pk: int) -> tuple[Transaction, CallOutcome]:
        """1.6 RemoteStopTransaction / 2.x RequestStopTransaction (OCPP 2.0.1 F03).
        Raises TransactionNotFound, TransactionNotActive, CommandError."""
        tx = await self._store.get_transaction(transaction_pk)
        if tx is None:
            raise TransactionNotFound(transaction_pk)
        if tx.status is TransactionStatus.ENDED:
            raise TransactionNotActive(f"transaction {transaction_pk} has already ended")
        try:
            outcome = await self._commands.stop_charging(tx.station_id, tx.transaction_id)
        except NotAddressable as exc:
            raise TransactionNotActive(str(exc)) from None
        return tx, outcome

    # ------------------------------------------------------------------ reads

    async def get(self, transaction_pk: int) -> Transaction | None:
        return await self._store.get_transaction(transaction_pk)

    async def list_transactions(self, where: TransactionFilter, limit: int, offset: int) -> Page:
        if where.stale is not None:
            where = dataclasses.replace(where, silent_before=self._clock() - self._silence())
        return await self._store.list_transactions(where, limit, offset)

    async def events(self, transaction_pk: int) -> list[EventRecord]:
        return await self._store.list_transaction_events(transaction_pk)

    async def meter_values(self, transaction_pk: int, limit: int, offset: int) -> Page:
        return await self._store.list_transaction_meter_values(transaction_pk, limit, offset)

    # ------------------------------------------------------------------ silent transactions

    async def check_silent(self) -> int:
        """Query the stations of active transactions that have been silent for longer
        than the silence timeout; close those the station says are over. Returns how
        many were closed."""
        now = self._clock()
        silent_since = now - timedelta(seconds=self._settings.transaction_silence_timeout)
        stale = await self._store.list_stale_transactions(silent_since, STALE_BATCH)
        live = [
            (tx, v)
            for tx in stale
            if (self._holds is None or self._holds(tx.station_id))
            and (v := self._commands.connected_version(tx.station_id)) is not None
        ]
        if not live:
            return 0
        gate = asyncio.Semaphore(PROBE_CONCURRENCY)
        closed = 0

        async def probe(tx: Transaction, version: str) -> None:
            nonlocal closed
            async with gate:
                try:
                    if await self._probe(tx, version, silent_since):
                        closed += 1
                except Exception:
                    log.warning(
                        "%s: probing transaction %s failed", tx.station_id, tx.id, exc_info=True
                    )

        async with asyncio.TaskGroup() as group:
            for tx, version in live:
                group.create_task(probe(tx, version))
        return closed

    async def _probe(self, tx: Transaction, version: str, silent_since: datetime) -> bool:
        if traits(version).transaction_status:
            reason = await self._probe_2x(tx)
        else:
            reason = await self._probe_16(tx)
        if reason is None:
            return False
        # Something may have arrived while we asked: only close what is still silent.
        current = await self._store.get_transaction(tx.id)
        if (
            current is None
            or current.status is not TransactionStatus.ACTIVE
            or (current.last_message_at is not None and current.last_message_at > silent_since)
        ):
            return False
        log.warning(
            "%s: closing silent transaction %s (%s)", tx.station_id, tx.transaction_id, reason
        )
        return await self._close(current, self._clock(), reason) is not None

    async def _probe_2x(self, tx: Transaction) -> str | None:
        answer = await self._commands.transaction_status(tx.station_id, tx.transaction_id)
        if not answer.answered:
            log.info(
                "%s: could not query transaction %s: %s",
                tx.station_id,
                tx.id,
                answer.detail or answer.station_answer,
            )
            return None
        if answer.ongoing is False and answer.messages_in_queue is False:
            return REASON_NOT_ONGOING
        if answer.ongoing is True:
            # Still running but silent: ask for a TransactionEvent (F06 TriggerMessage) so
            # that it reports its meter (and is not probed again until silent again).
            await self._commands.trigger_message(
                tx.station_id, Trigger.TRANSACTION_EVENT, evse_id=tx.evse_id or None
            )
        # messagesInQueue true: the station will deliver the rest itself.
        return None

    async def _probe_16(self, tx: Transaction) -> str | None:
        connector = tx.connector_id
        if not connector:
            return None
        # Ask for the meter (a running transaction answers with a MeterValues carrying its
        # transactionId, which refreshes it) and for the connector's current status.
        meter = await self._commands.trigger_message(
            tx.station_id, Trigger.METER_VALUES, connector_id=connector
        )
        if meter.status in ("not_connected", "timeout"):
            log.info("%s: could not query transaction %s: %s", tx.station_id, tx.id, meter.detail)
            return None
        asked_at = self._clock()
        outcome = await self._commands.trigger_message(
            tx.station_id, Trigger.STATUS_NOTIFICATION, connector_id=connector
        )
        fresh = outcome.status == "accepted"
        deadline = time.monotonic() + min(STATUS_WAIT, self._settings.call_timeout)
        while True:
            status, updated = await self._connector_status(tx.station_id, connector)
            if status is not None and updated is not None:
                # A status sent after we asked or, if the trigger was refused, one newer
                # than the transaction's last message tells whether it still charges.
                last = tx.last_message_at
                newer = updated >= asked_at or (not fresh and last is not None and updated > last)
                if newer:
                    return REASON_CONNECTOR_IDLE if status in IDLE_CONNECTOR_STATES else None
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.1)

    async def _connector_status(
        self, station_id: str, connector_id: int
    ) -> tuple[str | None, datetime | None]:
        for c in await self._store.list_connectors(station_id):
            if c.connector_id == connector_id and c.evse_id == connector_id:
                return c.status, c.updated_at
        return None, None


def _log_lifecycle(kind: EventKind, tx: Transaction) -> None:
    """One INFO line when a station reports a transaction's start or end (issue 13, 2.12:
    an operator follows sessions in the log; the token is masked)."""
    if kind is EventKind.STARTED:
        log.info(
            "%s: transaction %s (id %s) started on EVSE %s, id token %s",
            tx.station_id,
            tx.transaction_id,
            tx.id,
            tx.evse_id,
            mask_token(tx.id_token) if tx.id_token else "none",
        )
    else:
        log.info(
            "%s: transaction %s (id %s) ended: %s, %s Wh",
            tx.station_id,
            tx.transaction_id,
            tx.id,
            tx.stop_reason or "no reason given",
            "unknown" if tx.energy_wh is None else f"{tx.energy_wh:.0f}",
        )
