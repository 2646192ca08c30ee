"""MemoryTransactions: the `TransactionStore` port part of MemoryStore, applying the
merge rules of adapters/db/transactions.py (see its module docstring) so that what a
caller observes is the same in any arrival order (checked by tests/contract):

- a 1.6 start (no transaction id) gets the next id of the `transaction` counter, and a
  resent start (same start key) the id issued the first time; a 1.6 id a station reports
  moves the counter past it;
- the start meter is the Transaction.Begin register reading, else the earliest; the stop
  meter the Transaction.End reading, else the latest (ties: smaller / larger value);
- an Ended event ends it for good; first-known values are kept; flags only turn on;
- events and sampled values already stored are skipped.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ampyre.adapters.memory.stations import MemoryStations, _page
from ampyre.domain import transactions as rules
from ampyre.domain.authz import same_value
from ampyre.domain.events import transaction_closed_event, transaction_event
from ampyre.domain.models import Page
from ampyre.domain.transactions import (
    EventRecord,
    MeterReading,
    StationMeterValues,
    StoredEvent,
    StoredMeterValue,
    Transaction,
    TransactionEvent,
    TransactionFilter,
    TransactionStatus,
)
from ampyre.services.ports import StoreUnavailable

_INT32_MAX = 2**31 - 1
_MAX_REPORTED_GAPS = 1000


@dataclasses.dataclass(slots=True)
class _Row:
    tx: Transaction


class MemoryTransactions(MemoryStations):
    def __init__(self) -> None:
        super().__init__()
        self.transactions: dict[int, _Row] = {}
        self._by_id: dict[tuple[str, str], int] = {}
        self._by_start_key: dict[tuple[str, str], int] = {}
        self.transaction_events: dict[int, dict[str, tuple[int, EventRecord]]] = {}
        self.meter_values: dict[tuple[Any, ...], StoredMeterValue] = {}
        self.counters: dict[str, int] = {"transaction": 0, "remote_start": 0}
        self._pks = itertools.count(1)
        self._event_ids = itertools.count(1)

    # ------------------------------------------------------------------ writes

    async def record_transaction_events(
        self, events: Sequence[TransactionEvent]
    ) -> list[StoredEvent]:
        if not events:
            return []
        for ev in events:
            if ev.transaction_id is None and ev.start_key is None:
                raise ValueError("a transaction event needs a transaction_id or a start_key")
        self._write()
        missing = {ev.station_id for ev in events} - self.stations.keys()
        if missing:  # the SQL store fails such a write on its foreign key
            raise StoreUnavailable(f"write not stored: unknown station(s) {sorted(missing)}")
        for ev in events:
            tid = ev.transaction_id
            if ev.ocpp_version == "ocpp1.6" and tid is not None and tid.isdigit():
                reported = int(tid)
                if reported <= _INT32_MAX:
                    self.counters["transaction"] = max(self.counters["transaction"], reported)
        stored = [self._record(ev) for ev in events]
        now = datetime.now(UTC)
        self._emit([transaction_event(ev, st, now) for ev, st in zip(events, stored, strict=True)])
        return stored

    def _record(self, ev: TransactionEvent) -> StoredEvent:
        now = datetime.now(UTC)
        tid = ev.transaction_id
        if tid is None:
            known = self._by_start_key.get((ev.station_id, str(ev.start_key)))
            if known is not None:
                tid = self.transactions[known].tx.transaction_id
            else:
                self.counters["transaction"] += 1
                tid = str(self.counters["transaction"])
        pk = self._by_id.get((ev.station_id, tid))
        current: Transaction | None = None
        if pk is None:
            pk = next(self._pks)
            self._by_id[(ev.station_id, tid)] = pk
        else:
            current = self.transactions[pk].tx
        # The merge rules are the domain's (domain.transactions.merge), as the SQL rows are.
        tx = rules.merge(current, rules.contribution(ev, pk, tid, now))
        row = self.transactions.setdefault(pk, _Row(tx))
        row.tx = tx
        if tx.start_key is not None:
            self._by_start_key.setdefault((ev.station_id, tx.start_key), pk)
        if ev.event_key is not None:
            self.transaction_events.setdefault(pk, {}).setdefault(
                ev.event_key,
                (
                    next(self._event_ids),
                    EventRecord(
                        kind=ev.kind.value,
                        event_key=ev.event_key,
                        seq_no=ev.seq_no,
                        timestamp=ev.timestamp,
                        trigger_reason=ev.trigger_reason,
                        charging_state=ev.charging_state,
                        offline=ev.offline,
                        payload=ev.payload,
                        received_at=ev.received_at,
                    ),
                ),
            )
        # An event naming no EVSE: the transaction's, if known (as the SQL store does).
        evse, connector = rules.meter_place(ev, row.tx)
        self._store_readings(pk, ev.station_id, evse, connector, ev.meter_values, ev)
        return StoredEvent(pk, tid, dataclasses.replace(row.tx, missing_seq_nos=[]))

    def _store_readings(
        self,
        pk: int | None,
        station_id: str,
        evse_id: int,
        connector_id: int | None,
        readings: Sequence[MeterReading],
        ev: TransactionEvent | StationMeterValues,
    ) -> None:
        connector = connector_id if connector_id is not None else 0
        for r in readings:
            for s in r.values:
                where: tuple[Any, ...] = (
                    (pk,) if pk is not None else (station_id, evse_id, connector)
                )
                key = (*where, r.timestamp, s.measurand, s.phase or "", s.location, s.context)
                key = (*key, s.format or "")
                self.meter_values.setdefault(
                    key, StoredMeterValue(r.timestamp, s, evse_id, connector, ev.received_at)
                )

    async def prune_transaction_data(self, older_than: datetime) -> int:
        self._write()
        ended = {
            pk
            for pk, row in self.transactions.items()
            if row.tx.status is TransactionStatus.ENDED
            and row.tx.ended_at is not None
            and row.tx.ended_at < older_than
        }
        old = [
            key
            for key, v in self.meter_values.items()
            if (key[0] in ended if isinstance(key[0], int) else v.received_at < older_than)
        ]
        for key in old:
            del self.meter_values[key]
        events = sum(len(self.transaction_events.pop(pk, {})) for pk in ended)
        return len(old) + events

    async def record_meter_values(self, values: Sequence[StationMeterValues]) -> None:
        if not values:
            return
        self._write()
        missing = {v.station_id for v in values} - self.stations.keys()
        if missing:
            raise StoreUnavailable(f"write not stored: unknown station(s) {sorted(missing)}")
        for v in values:
            self._store_readings(None, v.station_id, v.evse_id, v.connector_id, v.readings, v)

    async def end_transaction(
        self,
        transaction_pk: int,
        at: datetime,
        reason: str,
        closed_by: str | None = None,
        note: str | None = None,
    ) -> Transaction | None:
        self._write()
        row = self.transactions.get(transaction_pk)
        if row is not None and row.tx.status is TransactionStatus.ACTIVE:
            row.tx = rules.close(row.tx, at, reason, closed_by, note)
            row.tx.updated_at = datetime.now(UTC)
            closed = dataclasses.replace(row.tx)
            self._emit([transaction_closed_event(closed, row.tx.updated_at)])
        return await self.get_transaction(transaction_pk)

    async def next_id(self, counter: str) -> int:
        self._write()
        if counter not in self.counters:
            raise KeyError(f"no counter named {counter!r}")
        self.counters[counter] += 1
        return self.counters[counter]

    # ------------------------------------------------------------------ reads

    def _has_active_transaction(self, station_id: str) -> bool:
        return any(
            r.tx.station_id == station_id and r.tx.status is TransactionStatus.ACTIVE
            for r in self.transactions.values()
        )

    def _out(self, pk: int) -> Transaction:
        tx = self.transactions[pk].tx
        station = self.stations.get(tx.station_id)
        return dataclasses.replace(
            tx,
            missing_seq_nos=self._gaps(pk),
            station_connected=station.connected if station is not None else False,
        )

    def _gaps(self, pk: int) -> list[int]:
        seqs = {
            r.seq_no
            for _, r in self.transaction_events.get(pk, {}).values()
            if r.seq_no is not None
        }
        if not seqs or max(seqs) + 1 == len(seqs):
            return []
        missing = (n for n in range(max(seqs) + 1) if n not in seqs)
        return list(itertools.islice(missing, _MAX_REPORTED_GAPS))

    async def get_transaction(self, transaction_pk: int) -> Transaction | None:
        self._read()
        return self._out(transaction_pk) if transaction_pk in self.transactions else None

    async def find_transaction(self, station_id: str, transaction_id: str) -> Transaction | None:
        self._read()
        pk = self._by_id.get((station_id, transaction_id))
        return None if pk is None else self._out(pk)

    async def list_transactions(self, where: TransactionFilter, limit: int, offset: int) -> Page:
        self._read()
        items = [
            pk for pk in sorted(self.transactions, reverse=True) if _matches(self._out(pk), where)
        ]
        total = len(items)
        limit, offset = max(0, limit), max(0, offset)
        chosen = [self._out(pk) for pk in items[offset : offset + limit]]
        return Page(items=chosen, total=total, limit=limit, offset=offset)

    async def list_transaction_events(self, transaction_pk: int) -> list[EventRecord]:
        self._read()
        found = self.transaction_events.get(transaction_pk, {}).values()
        ordered = sorted(
            found, key=lambda e: (e[1].seq_no is None, e[1].seq_no or 0, e[1].timestamp, e[0])
        )
        return [record for _, record in ordered]

    async def list_transaction_meter_values(
        self, transaction_pk: int, limit: int, offset: int
    ) -> Page:
        self._read()
        mine = [(k, v) for k, v in self.meter_values.items() if k[0] == transaction_pk]
        mine.sort(key=lambda kv: kv[0][1:6])
        return _page([v for _, v in mine], limit, offset)

    async def token_in_use(
        self, id_token: str, station_id: str, transaction_id: str | None, evse_id: int | None
    ) -> bool:
        self._read()
        for row in self.transactions.values():
            tx = row.tx
            if tx.id_token != id_token or tx.status is not TransactionStatus.ACTIVE:
                continue
            if tx.station_id != station_id:
                return True
            other_tx = transaction_id is None or tx.transaction_id != transaction_id
            other_evse = evse_id is None or tx.evse_id is None or tx.evse_id != evse_id
            if other_tx and other_evse:
                return True
        return False

    async def active_transactions(self, station_id: str) -> list[Transaction]:
        self._read()
        return [
            dataclasses.replace(row.tx)
            for _, row in sorted(self.transactions.items())
            if row.tx.station_id == station_id and row.tx.status is TransactionStatus.ACTIVE
        ][:1000]

    async def list_stale_transactions(
        self, silent_since: datetime, limit: int
    ) -> list[Transaction]:
        self._read()
        stale = [
            row.tx
            for row in self.transactions.values()
            if row.tx.status is TransactionStatus.ACTIVE
            and row.tx.last_message_at is not None
            and row.tx.last_message_at < silent_since
        ]
        stale.sort(key=lambda tx: (tx.last_message_at or silent_since, tx.id))
        return [dataclasses.replace(tx) for tx in stale[: max(0, limit)]]


def _matches(tx: Transaction, where: TransactionFilter) -> bool:
    started = tx.started_at
    if where.started_from is not None and (started is None or started < where.started_from):
        return False
    if where.started_to is not None and (started is None or started >= where.started_to):
        return False
    return (
        (where.station_id is None or tx.station_id == where.station_id)
        and (
            where.id_token is None
            or (tx.id_token is not None and same_value(tx.id_token, where.id_token))
        )
        and (where.status is None or tx.status == where.status)
        and (where.remote_start_id is None or tx.remote_start_id == where.remote_start_id)
        and (where.stale is None or _stale(tx, where.silent_before) == where.stale)
        and (where.before_id is None or tx.id < where.before_id)
    )


def _stale(tx: Transaction, silent_before: datetime | None) -> bool:
    """domain.transactions.is_stale with the cut-off the service computed."""
    if tx.status is not TransactionStatus.ACTIVE:
        return False
    if not tx.station_connected:
        return True
    return (
        silent_before is not None
        and tx.last_message_at is not None
        and tx.last_message_at < silent_before
    )
