"""In-memory doubles of the TransactionStore port and of AuthService for unit tests
(imported as a plain module). The fake store follows the port's rules: duplicates are
absorbed, a transaction is created by whatever event comes first and merged by the
domain's pure functions (domain.transactions.merge / close), as the SQL store is."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ampyre.domain import transactions as rules
from ampyre.domain.authz import AuthDecision, AuthStatus, as_told
from ampyre.domain.events import (
    DomainEvent,
    EventType,
    transaction_closed_event,
    transaction_event,
)
from ampyre.domain.models import Connector, Page
from ampyre.domain.transactions import (
    EventRecord,
    StationMeterValues,
    StoredEvent,
    StoredMeterValue,
    Transaction,
    TransactionEvent,
    TransactionFilter,
    TransactionStatus,
)
from ampyre.services.ports import StoreUnavailable


class Outbox:
    """The domain events a store committed (the real store's outbox rows)."""

    def __init__(self) -> None:
        self.published: list[DomainEvent] = []

    def types(self) -> list[EventType]:
        return [e.type for e in self.published]


class FakeTxStore:
    def __init__(self) -> None:
        self.outbox = Outbox()
        self.transactions: dict[int, Transaction] = {}
        self.by_key: dict[tuple[str, str], int] = {}
        self.start_keys: dict[tuple[str, str], int] = {}
        self.events: dict[int, dict[str, EventRecord]] = {}
        self.meter: dict[int | None, dict[tuple[Any, ...], StoredMeterValue]] = {}
        self.station_meter: dict[tuple[Any, ...], StoredMeterValue] = {}
        self.counters: dict[str, int] = {}
        self.connectors: dict[str, list[Connector]] = {}
        self.fail: bool = False  # every write raises StoreUnavailable
        self.writes = 0
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ writes

    async def record_transaction_events(
        self, events: Sequence[TransactionEvent]
    ) -> list[StoredEvent]:
        if self.fail:
            raise StoreUnavailable("write not stored (fake outage)")
        self.writes += 1
        stored = [self._record(e) for e in events]
        now = datetime.now(UTC)
        for e, st in zip(events, stored, strict=True):
            self.outbox.published.append(transaction_event(e, st, now))
        return stored

    def _record(self, e: TransactionEvent) -> StoredEvent:
        pk: int | None = None
        if e.transaction_id is None:
            assert e.start_key is not None
            pk = self.start_keys.get((e.station_id, e.start_key))
            if pk is None:
                tx_id = str(self.counters.get("transaction", 0) + 1)
                self.counters["transaction"] = int(tx_id)
            else:
                tx_id = self.transactions[pk].transaction_id
        else:
            tx_id = e.transaction_id
            pk = self.by_key.get((e.station_id, tx_id))
        if pk is None:
            pk = next(self._ids)
            self.by_key[(e.station_id, tx_id)] = pk
            if e.start_key is not None:
                self.start_keys[(e.station_id, e.start_key)] = pk
        tx = rules.merge(self.transactions.get(pk), rules.contribution(e, pk, tx_id, e.received_at))
        self.transactions[pk] = tx
        if e.event_key is not None:
            self.events.setdefault(pk, {}).setdefault(
                e.event_key,
                EventRecord(
                    e.kind.value,
                    e.event_key,
                    e.seq_no,
                    e.timestamp,
                    e.trigger_reason,
                    e.charging_state,
                    e.offline,
                    e.payload,
                    e.received_at,
                ),
            )
        rows = self.meter.setdefault(pk, {})
        for reading in e.meter_values:
            for s in reading.values:
                key = (reading.timestamp, s.measurand, s.phase or "", s.location, s.context)
                rows.setdefault(
                    key,
                    StoredMeterValue(
                        reading.timestamp,
                        s,
                        e.evse_id if e.evse_id is not None else tx.evse_id,
                        e.connector_id if e.connector_id is not None else tx.connector_id,
                        e.received_at,
                    ),
                )
        return StoredEvent(pk, tx.transaction_id, replace(tx))

    async def record_meter_values(self, values: Sequence[StationMeterValues]) -> None:
        if self.fail:
            raise StoreUnavailable("write not stored (fake outage)")
        self.writes += 1
        for v in values:
            for reading in v.readings:
                for s in reading.values:
                    key = (
                        v.station_id,
                        v.evse_id,
                        v.connector_id or 0,
                        reading.timestamp,
                        s.measurand,
                        s.phase or "",
                        s.location,
                        s.context,
                    )
                    self.station_meter.setdefault(
                        key,
                        StoredMeterValue(
                            reading.timestamp, s, v.evse_id, v.connector_id, v.received_at
                        ),
                    )

    async def next_id(self, counter: str) -> int:
        self.counters[counter] = self.counters.get(counter, 0) + 1
        return self.counters[counter]

    async def end_transaction(
        self,
        transaction_pk: int,
        at: datetime,
        reason: str,
        closed_by: str | None = None,
        note: str | None = None,
    ) -> Transaction | None:
        if self.fail:
            raise StoreUnavailable("write not stored (fake outage)")
        tx = self.transactions.get(transaction_pk)
        if tx is None:
            return None
        was_active = tx.status is TransactionStatus.ACTIVE
        closed = rules.close(tx, at, reason, closed_by, note)
        self.transactions[transaction_pk] = closed
        if was_active:
            self.outbox.published.append(transaction_closed_event(closed, datetime.now(UTC)))
        return replace(closed)

    # ------------------------------------------------------------------ reads

    async def get_transaction(self, transaction_pk: int) -> Transaction | None:
        tx = self.transactions.get(transaction_pk)
        if tx is None:
            return None
        seqs = sorted(r.seq_no for r in self.events.get(tx.id, {}).values() if r.seq_no is not None)
        missing = sorted(set(range(seqs[0], seqs[-1] + 1)) - set(seqs)) if seqs else []
        return replace(tx, missing_seq_nos=missing)

    async def find_transaction(self, station_id: str, transaction_id: str) -> Transaction | None:
        pk = self.by_key.get((station_id, transaction_id))
        return None if pk is None else await self.get_transaction(pk)

    async def token_in_use(
        self, id_token: str, station_id: str, transaction_id: str | None, evse_id: int | None
    ) -> bool:
        for t in self.transactions.values():
            if t.status is not TransactionStatus.ACTIVE or t.id_token != id_token:
                continue
            if t.station_id != station_id:
                return True
            if transaction_id is not None and t.transaction_id == transaction_id:
                continue
            if evse_id is not None and t.evse_id == evse_id:
                continue
            return True
        return False

    async def active_transactions(self, station_id: str) -> list[Transaction]:
        return [
            replace(t)
            for t in self.transactions.values()
            if t.status is TransactionStatus.ACTIVE and t.station_id == station_id
        ]

    async def list_transactions(self, where: TransactionFilter, limit: int, offset: int) -> Page:
        items = [
            replace(t)
            for t in self.transactions.values()
            if (where.station_id is None or t.station_id == where.station_id)
            and (where.id_token is None or t.id_token == where.id_token)
            and (where.status is None or t.status is where.status)
            and (where.remote_start_id is None or t.remote_start_id == where.remote_start_id)
            and (
                where.started_from is None
                or (t.started_at is not None and t.started_at >= where.started_from)
            )
            and (
                where.started_to is None
                or (t.started_at is not None and t.started_at < where.started_to)
            )
            and (where.stale is None or self._stale(t, where.silent_before) == where.stale)
        ]
        items.sort(key=lambda t: t.started_at or datetime.min.replace(tzinfo=UTC), reverse=True)
        return Page(items[offset : offset + limit], len(items), limit, offset)

    @staticmethod
    def _stale(t: Transaction, silent_before: datetime | None) -> bool:
        # The fake knows no connections: stale = active and silent (domain is_stale).
        return (
            t.status is TransactionStatus.ACTIVE
            and silent_before is not None
            and t.last_message_at is not None
            and t.last_message_at < silent_before
        )

    async def list_transaction_events(self, transaction_pk: int) -> list[EventRecord]:
        return sorted(
            self.events.get(transaction_pk, {}).values(),
            key=lambda r: (r.seq_no if r.seq_no is not None else -1, r.timestamp),
        )

    async def list_transaction_meter_values(
        self, transaction_pk: int, limit: int, offset: int
    ) -> Page:
        items = sorted(self.meter.get(transaction_pk, {}).values(), key=lambda v: v.timestamp)
        return Page(items[offset : offset + limit], len(items), limit, offset)

    async def list_stale_transactions(
        self, silent_since: datetime, limit: int
    ) -> list[Transaction]:
        return [
            replace(t)
            for t in self.transactions.values()
            if t.status is TransactionStatus.ACTIVE
            and t.last_message_at is not None
            and t.last_message_at < silent_since
        ][:limit]

    async def list_connectors(self, station_id: str) -> list[Connector]:
        return list(self.connectors.get(station_id, []))


class FakeAuth:
    """AuthService double: a fixed status per token (default Accepted)."""

    def __init__(self, statuses: dict[str, AuthStatus] | None = None) -> None:
        self.statuses = dict(statuses or {})
        self.asked: list[tuple[str, str, str | None, int | None]] = []
        self.reservations: list[tuple[str, int, int]] = []
        self.reservation_error: Exception | None = None
        self.types: dict[str, str] = {}  # stored token types

    async def authorize(
        self,
        station_id: str,
        id_token: str,
        type_: str | None,
        evse_id: int | None = None,
        ocpp_version: str | None = None,
    ) -> AuthDecision:
        self.asked.append((station_id, id_token, type_, evse_id))
        # Like AuthService: the status as the station's version can be told.
        return AuthDecision(as_told(self.statuses.get(id_token, AuthStatus.ACCEPTED), ocpp_version))

    async def stored_type(self, id_token: str) -> str | None:
        return self.types.get(id_token)

    async def reservation_used(
        self, station_id: str, reservation_id: int, transaction_pk: int
    ) -> None:
        self.reservations.append((station_id, reservation_id, transaction_pk))
        if self.reservation_error is not None:
            raise self.reservation_error

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass
