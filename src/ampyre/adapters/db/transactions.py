"""SqlStore part: transactions, their events and meter values (the TransactionStore port).

Writes go through the group commit (adapters/db/writes.py). A batch of transaction
events becomes, whatever the number of stations in it, at most six statements:

0. (1.6 only) move the id counter past any 1.6 id a station reports;
1. (1.6 starts only) look up start keys already stored: a resent StartTransaction gets
   the id issued the first time;
2. (1.6 starts only) take a block of ids from the `transaction` counter;
3. upsert every transaction the batch touches and get their primary keys back
   (INSERT ... ON CONFLICT (station_id, transaction_id) DO UPDATE ... RETURNING);
4. insert the events into the history, ignoring ones already stored;
5. insert the sampled values, ignoring ones already stored.

The upsert merges each event into the row with the rules of `domain.transactions.merge`
(which do not depend on arrival order, so offline replays and out-of-order events
reconstruct the same transaction); the row each event contributes is built by
`domain.transactions.contribution`. tests/integration/test_tx_merge_sql.py feeds events
in random orders to this store and compares the result with the pure function.

Meter values of an event that names no EVSE/connector (1.6 StopTransaction, 2.x
Updated/Ended without `evse`) are stored under the transaction's EVSE/connector as known
after the upsert; if no event naming them has arrived yet they are stored under 0 and
shown under the transaction's EVSE/connector when read (`list_transaction_meter_values`),
so arrival order does not matter.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.database import Database
from ampyre.adapters.db.engine import json_text
from ampyre.adapters.db.parts import StorePart
from ampyre.adapters.db.pg_writer import ReturningSql
from ampyre.adapters.db.writer import GroupWriter
from ampyre.adapters.db.writes import (
    Op,
    Program,
    Step,
    aware_utc,
    driver_insert_sql,
    sqlite_utc,
)
from ampyre.domain.events import transaction_closed_event, transaction_event
from ampyre.domain.models import Page
from ampyre.domain.transactions import (
    EventRecord,
    MeterReading,
    SampledValue,
    StationMeterValues,
    StoredEvent,
    StoredMeterValue,
    Transaction,
    TransactionEvent,
    TransactionFilter,
    TransactionStatus,
    contribution,
    meter_place,
)

_ACTIVE = TransactionStatus.ACTIVE.value
_ENDED = TransactionStatus.ENDED.value
TRANSACTION_COUNTER = "transaction"
MAX_REPORTED_GAPS = 1000


# Payloads of the group commit (adapters/db/writes.py), one type per kind of write.
@dataclasses.dataclass(slots=True, frozen=True)
class TransactionEvents:
    events: tuple[TransactionEvent, ...]


@dataclasses.dataclass(slots=True, frozen=True)
class LooseMeterValues:
    values: tuple[StationMeterValues, ...]


@dataclasses.dataclass(slots=True, frozen=True)
class EndTransaction:
    transaction_pk: int
    at: datetime
    reason: str
    closed_by: str | None = None  # an operator's administrative close (API token name)
    note: str | None = None


class TransactionSql(StorePart):
    def __init__(self, db: Database, writer: GroupWriter) -> None:
        super().__init__(db, writer)
        self._build_transaction_statements(db.paramstyle)

    def _build_transaction_statements(self, paramstyle: str) -> None:
        """`paramstyle`: the group commit's driver, for the rows given to it as tuples."""
        tx = t.transactions
        upsert = self._insert(tx)
        new = upsert.excluded

        def better(prefix: str, newer_wins: bool) -> Any:
            """The new reading replaces the stored one if it ranks higher (a begin/end
            reading beats a sample), then if it is earlier (start) / later (stop) by
            meter time, then if smaller (start) / larger (stop): the same result in any
            arrival order."""
            at, wh, rank = (new[f"{prefix}_{c}"] for c in ("at", "wh", "rank"))
            old_at, old_wh, old_rank = (tx.c[f"{prefix}_{c}"] for c in ("at", "wh", "rank"))
            if newer_wins:
                time_wins, value_wins = at > old_at, wh > old_wh
            else:
                time_wins, value_wins = at < old_at, wh < old_wh
            return sa.and_(
                at.is_not(None),
                sa.or_(
                    old_at.is_(None),
                    rank > old_rank,
                    sa.and_(
                        rank == old_rank,
                        sa.or_(time_wins, sa.and_(at == old_at, value_wins)),
                    ),
                ),
            )

        def pick(condition: Any, column: str) -> Any:
            return sa.case((condition, new[column]), else_=tx.c[column])

        def first_known(column: str) -> Any:
            return sa.func.coalesce(tx.c[column], new[column])

        start_better = better("meter_start", newer_wins=False)
        stop_better = better("meter_stop", newer_wins=True)
        state_newer = sa.and_(
            new.charging_state.is_not(None),
            sa.or_(
                tx.c.charging_state_at.is_(None),
                new.charging_state_at >= tx.c.charging_state_at,
            ),
        )
        self._tx_upsert_stmt = upsert.on_conflict_do_update(
            index_elements=[tx.c.station_id, tx.c.transaction_id],
            set_={
                "start_key": first_known("start_key"),
                # An Ended event ends it for good; a late Updated does not reopen it.
                "status": sa.case((new.status == _ENDED, new.status), else_=tx.c.status),
                "ocpp_version": sa.func.coalesce(new.ocpp_version, tx.c.ocpp_version),
                "evse_id": first_known("evse_id"),
                "connector_id": first_known("connector_id"),
                "id_token": first_known("id_token"),
                "id_token_type": first_known("id_token_type"),
                "auth_status": first_known("auth_status"),
                # The Started event's time is the start; without it, the earliest known.
                "started_at": sa.case(
                    (new.start_seen, new.started_at),
                    (tx.c.start_seen, tx.c.started_at),
                    (tx.c.started_at.is_(None), new.started_at),
                    (new.started_at < tx.c.started_at, new.started_at),
                    else_=tx.c.started_at,
                ),
                "ended_at": sa.func.coalesce(new.ended_at, tx.c.ended_at),
                "start_seen": sa.or_(tx.c.start_seen, new.start_seen),
                "stop_reason": sa.func.coalesce(new.stop_reason, tx.c.stop_reason),
                "meter_start_wh": pick(start_better, "meter_start_wh"),
                "meter_start_at": pick(start_better, "meter_start_at"),
                "meter_start_rank": pick(start_better, "meter_start_rank"),
                "meter_stop_wh": pick(stop_better, "meter_stop_wh"),
                "meter_stop_at": pick(stop_better, "meter_stop_at"),
                "meter_stop_rank": pick(stop_better, "meter_stop_rank"),
                "charging_state": pick(state_newer, "charging_state"),
                "charging_state_at": pick(state_newer, "charging_state_at"),
                "remote_start_id": first_known("remote_start_id"),
                "reservation_id": first_known("reservation_id"),
                "offline": sa.or_(tx.c.offline, new.offline),
                "last_message_at": sa.case(
                    (tx.c.last_message_at.is_(None), new.last_message_at),
                    (new.last_message_at > tx.c.last_message_at, new.last_message_at),
                    else_=tx.c.last_message_at,
                ),
                "updated_at": new.updated_at,
            },
        ).returning(*tx.columns)
        self._event_insert_stmt = self._insert(t.transaction_events).on_conflict_do_nothing()
        # PostgreSQL (asyncpg): the upsert and the history as driver SQL with plain tuples,
        # one pipelined executemany/fetchmany each (adapters/db/pg_writer.py) instead of
        # SQLAlchemy's per-row parameter processing and multi-VALUES rewriting.
        self._tx_upsert_sql: ReturningSql | None = None
        self._tx_upsert_params: tuple[str, ...] = ()
        self._tx_upsert_fixed: dict[str, Any] = {}
        self._event_sql: str | None = None
        if self._dialect_name == "postgresql" and paramstyle == "numeric_dollar":
            compiled = self._tx_upsert_stmt.compile(
                dialect=self._db.engine.dialect, column_keys=[*_ROW_FIELDS, "status"]
            )
            self._tx_upsert_sql = ReturningSql(compiled.string)
            self._tx_upsert_params = tuple(compiled.positiontup or ())
            # Bound constants of the statement itself (the 'ended' status it compares).
            self._tx_upsert_fixed = {
                name: value
                for name, value in compiled.params.items()
                if name not in _ROW_FIELDS and name != "status"
            }
            self._event_sql = driver_insert_sql(
                paramstyle, "transaction_events", _EVENT_COLUMNS, " ON CONFLICT DO NOTHING"
            )
        self._meter_insert_stmt = self._insert(t.meter_values).on_conflict_do_nothing()
        # A row per sampled value (nine per 3-phase AC meter value): plain tuples.
        self._meter_sql = driver_insert_sql(
            paramstyle, "meter_values", _METER_COLUMNS, " ON CONFLICT DO NOTHING"
        )
        self._stamp = sqlite_utc if self._dialect_name == "sqlite" else aware_utc
        c = t.id_counters
        self._counter_stmt = (
            sa.update(c)
            .where(c.c.name == sa.bindparam("b_name"))
            .values(value=c.c.value + sa.bindparam("b_n", type_=sa.BigInteger()))
            .returning(c.c.value)
        )
        floor = sa.bindparam("b_floor", type_=sa.BigInteger())
        self._counter_floor_stmt = (
            sa.update(c)
            .where(c.c.name == sa.bindparam("b_name"), c.c.value < floor)
            .values(value=floor)
        )
        self._end_stmt = (
            sa.update(tx)
            .where(tx.c.id == sa.bindparam("b_id"), tx.c.status == _ACTIVE)
            .values(
                status=_ENDED,
                ended_at=sa.bindparam("b_at", type_=t.UtcDateTime()),
                stop_reason=sa.func.coalesce(tx.c.stop_reason, sa.bindparam("b_reason")),
                updated_at=sa.bindparam("b_now", type_=t.UtcDateTime()),
                # An operator's administrative close (None for Ampyre's own closes).
                closed_by=sa.bindparam("b_by", type_=sa.String()),
                close_reason=sa.bindparam("b_note", type_=sa.String()),
                closed_at=sa.bindparam("b_closed_at", type_=t.UtcDateTime()),
            )
            .returning(*tx.columns)
        )

    # ------------------------------------------------------------------ writes (port)

    async def record_transaction_events(
        self, events: Sequence[TransactionEvent]
    ) -> list[StoredEvent]:
        if not events:
            return []
        for ev in events:
            if ev.transaction_id is None and ev.start_key is None:
                raise ValueError("a transaction event needs a transaction_id or a start_key")
        result: list[StoredEvent] = await self._submit(TransactionEvents(tuple(events)))
        return result

    async def record_meter_values(self, values: Sequence[StationMeterValues]) -> None:
        if values:
            await self._submit(LooseMeterValues(tuple(values)))

    async def end_transaction(
        self,
        transaction_pk: int,
        at: datetime,
        reason: str,
        closed_by: str | None = None,
        note: str | None = None,
    ) -> Transaction | None:
        await self._submit(EndTransaction(transaction_pk, at, reason, closed_by, note))
        return await self.get_transaction(transaction_pk)

    async def next_id(self, counter: str) -> int:
        async with self._tx() as conn:
            row = (await conn.execute(self._counter_stmt, {"b_name": counter, "b_n": 1})).first()
        if row is None:
            raise KeyError(f"no counter named {counter!r}")
        return int(row[0])

    # ------------------------------------------------------------------ group commit

    # Planners, registered with the writer by SqlStore in this order: ends, loose meter
    # values, events (the module docstring's statements).

    def plan_ends(self, ops: list[Op], now: datetime) -> Program:
        # One statement per end (they are rare): the closed transaction comes back for its
        # transaction.ended event; a transaction that was not active gives none.
        for op in ops:
            end: EndTransaction = op.payload
            closed = yield (
                self._end_stmt,
                {
                    "b_id": end.transaction_pk,
                    "b_at": end.at,
                    "b_reason": end.reason,
                    "b_now": now,
                    "b_by": end.closed_by,
                    "b_note": end.note,
                    "b_closed_at": end.at if end.closed_by is not None else None,
                },
            )
            if closed:
                op.events.append(transaction_closed_event(_transaction(closed[0]), now))

    def plan_meter_values(self, ops: list[Op], now: datetime) -> Program:
        loose: list[StationMeterValues] = [mv for op in ops for mv in op.payload.values]
        rows = [
            _meter_row(None, mv.station_id, mv.evse_id, mv.connector_id, r, s, mv.received_at)
            for mv in loose
            for r in mv.readings
            for s in r.values
        ]
        if rows:
            yield self._meter_rows(rows)

    def plan_events(self, ops: list[Op], now: datetime) -> Program:
        """The statements for the transaction events of one batch (module docstring)."""
        events: list[tuple[Op, int, TransactionEvent]] = []
        for op in ops:
            op.result = [None] * len(op.payload.events)
            events.extend((op, i, ev) for i, ev in enumerate(op.payload.events))
        # One statement may not upsert the same transaction twice (PostgreSQL refuses):
        # a repeated key goes to the next round (only a misbehaving station does that).
        while events:
            this_round: list[tuple[Op, int, TransactionEvent]] = []
            later_rounds: list[tuple[Op, int, TransactionEvent]] = []
            seen: set[tuple[str, str]] = set()
            for item in events:
                ev = item[2]
                key = (ev.station_id, ev.transaction_id or f"start:{ev.start_key}")
                (later_rounds if key in seen else this_round).append(item)
                seen.add(key)
            yield from self._event_round(this_round, now)
            events = later_rounds

    def _event_round(self, items: list[tuple[Op, int, TransactionEvent]], now: datetime) -> Program:
        ids: list[str | None] = [ev.transaction_id for _, _, ev in items]
        starts = [i for i, (_, _, ev) in enumerate(items) if ev.transaction_id is None]
        seen = _highest_16_id(ev for _, _, ev in items)
        if seen is not None:
            # 0. A 1.6 id that a station reports (a stop after a database restore, say)
            # moves the counter past it, so it is never issued again to a new start.
            yield self._counter_floor_stmt, {"b_name": TRANSACTION_COUNTER, "b_floor": seen}
        if starts:
            # 1. Resent 1.6 starts keep their id.
            tx = t.transactions
            stations = sorted({items[i][2].station_id for i in starts})
            keys = sorted({str(items[i][2].start_key) for i in starts})
            found = yield (
                sa.select(tx.c.station_id, tx.c.start_key, tx.c.transaction_id).where(
                    tx.c.station_id.in_(stations), tx.c.start_key.in_(keys)
                ),
                {},
            )
            known = {(row[0], row[1]): row[2] for row in found}
            fresh: list[int] = []
            for i in starts:
                ev = items[i][2]
                existing = known.get((ev.station_id, ev.start_key))
                if existing is not None:
                    ids[i] = existing
                else:
                    fresh.append(i)
            if fresh:
                # 2. A block of new 1.6 transaction ids.
                rows = yield self._counter_stmt, {"b_name": TRANSACTION_COUNTER, "b_n": len(fresh)}
                last = int(rows[0][0])
                for n, i in enumerate(fresh):
                    ids[i] = str(last - len(fresh) + 1 + n)
        # 3. Upsert the transactions; their primary keys come back.
        returned = yield self._upsert_rows(
            [_transaction_row(ev, str(ids[i]), now) for i, (_, _, ev) in enumerate(items)]
        )
        if self._tx_upsert_sql is None:  # SQLAlchemy rows
            merged = {(row.station_id, row.transaction_id): row for row in returned}
        else:  # asyncpg Records
            merged = {(row["station_id"], row["transaction_id"]): row for row in returned}
        event_rows: list[dict[str, Any]] = []
        meter_rows: list[dict[str, Any]] = []
        for i, (op, index, ev) in enumerate(items):
            tid = str(ids[i])
            row = merged[(ev.station_id, tid)]
            pk = int(row[0])  # the first column RETURNING gives: id
            stored = StoredEvent(pk, tid, _transaction(row))
            op.result[index] = stored
            op.events.append(transaction_event(ev, stored, now))
            if ev.event_key is not None:
                event_rows.append(_event_row(pk, ev))
            # An event naming no EVSE (module docstring): the transaction's, if known.
            evse, connector = meter_place(ev, stored.transaction)
            meter_rows.extend(
                _meter_row(pk, ev.station_id, evse, connector, r, s, ev.received_at)
                for r in ev.meter_values
                for s in r.values
            )
        # 4. and 5. History and sampled values; what is stored already is skipped.
        if event_rows:
            yield self._event_rows(event_rows)
        if meter_rows:
            yield self._meter_rows(meter_rows)

    def _upsert_rows(self, rows: list[dict[str, Any]]) -> Step:
        if self._tx_upsert_sql is None:
            return self._tx_upsert_stmt, rows
        fixed = self._tx_upsert_fixed
        params = self._tx_upsert_params
        out = []
        for r in rows:
            for name in _ROW_TIMES:
                if r[name] is not None:
                    r[name] = aware_utc(r[name])
            out.append(tuple(fixed[p] if p in fixed else r[p] for p in params))
        return self._tx_upsert_sql, out

    def _event_rows(self, rows: list[dict[str, Any]]) -> Step:
        if self._event_sql is None:
            return self._event_insert_stmt, rows
        return self._event_sql, [
            (
                *(r[c] for c in _EVENT_COLUMNS[:4]),
                aware_utc(r["timestamp"]),
                r["trigger_reason"],
                r["charging_state"],
                bool(r["offline"]),
                json_text(r["payload"]),
                aware_utc(r["received_at"]),
            )
            for r in rows
        ]

    def _meter_rows(self, rows: list[dict[str, Any]]) -> Step:
        if self._meter_sql is None:
            return self._meter_insert_stmt, rows
        stamp = self._stamp
        return self._meter_sql, [
            (
                *(r[c] for c in _METER_COLUMNS[:4]),
                stamp(r["timestamp"]),
                *(r[c] for c in _METER_COLUMNS[5:16]),
                None if r["signed"] is None else json_text(r["signed"]),
                stamp(r["received_at"]),
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ reads

    async def get_transaction(self, transaction_pk: int) -> Transaction | None:
        tx = t.transactions
        return await self._one_transaction(tx.c.id == transaction_pk)

    async def find_transaction(self, station_id: str, transaction_id: str) -> Transaction | None:
        tx = t.transactions
        return await self._one_transaction(
            sa.and_(tx.c.station_id == station_id, tx.c.transaction_id == transaction_id)
        )

    async def _one_transaction(self, where: Any) -> Transaction | None:
        async with self._tx() as conn:
            row = (
                await conn.execute(_with_station(sa.select(t.transactions)).where(where))
            ).first()
            if row is None:
                return None
            found = _transaction(row)
            gaps = await _missing_seq_nos(conn, [found.id])
        found.missing_seq_nos = gaps.get(found.id, [])
        return found

    async def list_transactions(self, where: TransactionFilter, limit: int, offset: int) -> Page:
        tx = t.transactions
        conditions: list[Any] = []
        if where.station_id is not None:
            conditions.append(tx.c.station_id == where.station_id)
        if where.id_token is not None:
            # Id tokens are case insensitive (index ix_transactions_lower_id_token).
            conditions.append(sa.func.lower(tx.c.id_token) == sa.func.lower(where.id_token))
        if where.status is not None:
            conditions.append(tx.c.status == TransactionStatus(where.status).value)
        if where.started_from is not None:
            conditions.append(tx.c.started_at >= where.started_from)
        if where.started_to is not None:
            conditions.append(tx.c.started_at < where.started_to)
        if where.remote_start_id is not None:
            conditions.append(tx.c.remote_start_id == where.remote_start_id)
        if where.stale is not None:
            # domain.transactions.is_stale: active, and the station is not connected or
            # silent since before `silent_before`.
            s = t.stations
            stale = sa.and_(
                tx.c.status == _ACTIVE,
                sa.or_(
                    sa.func.coalesce(s.c.connected, sa.false()) == sa.false(),
                    tx.c.last_message_at < where.silent_before
                    if where.silent_before is not None
                    else sa.false(),
                ),
            )
            conditions.append(stale if where.stale else sa.not_(stale))
        if where.before_id is not None:
            conditions.append(tx.c.id < where.before_id)
        query = _with_station(sa.select(tx)).where(*conditions).order_by(tx.c.id.desc())
        count = (
            sa.select(sa.func.count())
            .select_from(tx.outerjoin(t.stations, t.stations.c.id == tx.c.station_id))
            .where(*conditions)
        )
        page = await self._page(query, count, _transaction, limit, offset)
        if page.items:
            async with self._tx() as conn:
                gaps = await _missing_seq_nos(conn, [x.id for x in page.items])
            for item in page.items:
                item.missing_seq_nos = gaps.get(item.id, [])
        return page

    async def list_transaction_events(self, transaction_pk: int) -> list[EventRecord]:
        e = t.transaction_events
        query = (
            sa.select(e)
            .where(e.c.transaction_pk == transaction_pk)
            .order_by(e.c.seq_no, e.c.timestamp, e.c.id)
        )
        async with self._tx() as conn:
            rows = (await conn.execute(query)).all()
        return [
            EventRecord(
                kind=r.kind,
                event_key=r.event_key,
                seq_no=r.seq_no,
                timestamp=r.timestamp,
                trigger_reason=r.trigger_reason,
                charging_state=r.charging_state,
                offline=bool(r.offline),
                payload=r.payload,
                received_at=r.received_at,
            )
            for r in rows
        ]

    async def list_transaction_meter_values(
        self, transaction_pk: int, limit: int, offset: int
    ) -> Page:
        m, tx = t.meter_values, t.transactions
        mine = m.c.transaction_pk == transaction_pk
        # Values stored under EVSE/connector 0 because their event named none and the
        # transaction's was not known yet are shown under the transaction's (docstring).
        evse = sa.case(
            (m.c.evse_id == 0, sa.func.coalesce(tx.c.evse_id, 0)), else_=m.c.evse_id
        ).label("evse_id")
        connector = sa.case(
            (m.c.connector_id == 0, sa.func.coalesce(tx.c.connector_id, 0)),
            else_=m.c.connector_id,
        ).label("connector_id")
        columns = [c for c in m.c if c.name not in ("evse_id", "connector_id")]
        # The order of the unique index: served by it, no sort.
        query = (
            sa.select(*columns, evse, connector)
            .select_from(m.join(tx, tx.c.id == m.c.transaction_pk))
            .where(mine)
            .order_by(m.c.timestamp, m.c.measurand, m.c.phase, m.c.location, m.c.context)
        )
        count = sa.select(sa.func.count()).select_from(m).where(mine)
        return await self._page(query, count, _stored_meter_value, limit, offset)

    async def token_in_use(
        self, id_token: str, station_id: str, transaction_id: str | None, evse_id: int | None
    ) -> bool:
        tx = t.transactions
        # Elsewhere = another station, or another transaction on another EVSE here.
        here_but_other = [tx.c.station_id == station_id]
        if transaction_id is not None:
            here_but_other.append(tx.c.transaction_id != transaction_id)
        if evse_id is not None:
            here_but_other.append(sa.or_(tx.c.evse_id.is_(None), tx.c.evse_id != evse_id))
        query = (
            sa.select(tx.c.id)
            .where(
                sa.func.lower(tx.c.id_token) == sa.func.lower(id_token),
                tx.c.status == _ACTIVE,
                sa.or_(tx.c.station_id != station_id, sa.and_(*here_but_other)),
            )
            .limit(1)
        )
        async with self._read() as conn:
            return (await conn.execute(query)).first() is not None

    async def active_transactions(self, station_id: str) -> list[Transaction]:
        tx = t.transactions
        query = (
            sa.select(tx).where(tx.c.status == _ACTIVE, tx.c.station_id == station_id).limit(1000)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [_transaction(r) for r in rows]

    async def list_stale_transactions(
        self, silent_since: datetime, limit: int
    ) -> list[Transaction]:
        tx = t.transactions
        query = (
            sa.select(tx)
            .where(tx.c.status == _ACTIVE, tx.c.last_message_at < silent_since)
            .order_by(tx.c.last_message_at)
            .limit(max(0, limit))
        )
        async with self._tx() as conn:
            rows = (await conn.execute(query)).all()
        return [_transaction(r) for r in rows]


# ---------------------------------------------------------------------- rows


def _with_station(query: Any) -> Any:
    """A select of transactions with whether their station is connected now."""
    s, tx = t.stations, t.transactions
    return query.add_columns(s.c.connected.label("station_connected")).select_from(
        tx.outerjoin(s, s.c.id == tx.c.station_id)
    )


_INT32_MAX = 2**31 - 1
# meter_values columns in the order of the tuples given to the driver.
_METER_COLUMNS = (
    *("transaction_pk", "station_id", "evse_id", "connector_id", "timestamp", "measurand"),
    *("phase", "location", "context", "unit", "multiplier", "format", "value", "raw_value"),
    *("si_value", "si_unit", "signed", "received_at"),
)


def _highest_16_id(events: Iterable[TransactionEvent]) -> int | None:
    """The highest 1.6 transaction id (an integer Ampyre issues) among events that name
    one, if it is within the 32-bit range stations use for it."""
    highest = None
    for ev in events:
        tid = ev.transaction_id
        if ev.ocpp_version == "ocpp1.6" and tid is not None and tid.isdigit():
            value = int(tid)
            if value <= _INT32_MAX and (highest is None or value > highest):
                highest = value
    return highest


# The columns of the transactions row an event contributes (`contribution`).
_ROW_FIELDS = (
    *("station_id", "transaction_id", "start_key", "ocpp_version", "evse_id", "connector_id"),
    *("id_token", "id_token_type", "auth_status", "started_at", "ended_at", "start_seen"),
    *("stop_reason", "meter_start_wh", "meter_start_at", "meter_start_rank", "meter_stop_wh"),
    *("meter_stop_at", "meter_stop_rank", "charging_state", "charging_state_at"),
    *("remote_start_id", "reservation_id", "offline", "last_message_at", "created_at"),
    "updated_at",
)


# Its timestamp columns (UtcDateTime: aware UTC for the driver).
_ROW_TIMES = tuple(
    name for name in _ROW_FIELDS if isinstance(t.transactions.c[name].type, t.UtcDateTime)
)
# transaction_events columns in the order of the tuples given to the driver.
_EVENT_COLUMNS = (
    *("transaction_pk", "event_key", "kind", "seq_no", "timestamp", "trigger_reason"),
    *("charging_state", "offline", "payload", "received_at"),
)


def _transaction_row(ev: TransactionEvent, transaction_id: str, now: datetime) -> dict[str, Any]:
    row = contribution(ev, 0, transaction_id, now)
    values = {name: getattr(row, name) for name in _ROW_FIELDS}
    values["status"] = row.status.value
    return values


def _event_row(pk: int, ev: TransactionEvent) -> dict[str, Any]:
    return {
        "transaction_pk": pk,
        "event_key": ev.event_key,
        "kind": ev.kind.value,
        "seq_no": ev.seq_no,
        "timestamp": ev.timestamp,
        "trigger_reason": ev.trigger_reason,
        "charging_state": ev.charging_state,
        "offline": ev.offline,
        "payload": ev.payload,
        "received_at": ev.received_at,
    }


def _meter_row(
    pk: int | None,
    station_id: str,
    evse_id: int,
    connector_id: int | None,
    reading: MeterReading,
    s: SampledValue,
    received_at: datetime,
) -> dict[str, Any]:
    return {
        "transaction_pk": pk,
        "station_id": station_id,
        "evse_id": evse_id,
        "connector_id": connector_id if connector_id is not None else 0,
        "timestamp": reading.timestamp,
        "measurand": s.measurand,
        "phase": s.phase or "",
        "location": s.location,
        "context": s.context,
        "unit": s.unit,
        "multiplier": s.multiplier,
        "format": s.format or "",
        "value": s.value,
        "raw_value": s.raw_value,
        "si_value": s.si_value,
        "si_unit": s.si_unit,
        "signed": s.signed,
        "received_at": received_at,
    }


_TRANSACTION_FIELDS = frozenset(f.name for f in dataclasses.fields(Transaction))


def _mapping(row: Any) -> Any:
    """A row's columns by name: a SQLAlchemy Row's mapping, or an asyncpg Record."""
    return getattr(row, "_mapping", row)


def _transaction(row: Any) -> Transaction:
    values = {k: v for k, v in _mapping(row).items() if k in _TRANSACTION_FIELDS}
    values["status"] = TransactionStatus(values["status"])
    values["start_seen"] = bool(values["start_seen"])
    values["offline"] = bool(values["offline"])
    if values.get("station_connected") is not None:
        values["station_connected"] = bool(values["station_connected"])
    return Transaction(**values)


def _stored_meter_value(row: Any) -> StoredMeterValue:
    return StoredMeterValue(
        timestamp=row.timestamp,
        sample=SampledValue(
            value=row.value,
            raw_value=row.raw_value,
            measurand=row.measurand,
            phase=row.phase or None,
            location=row.location,
            context=row.context,
            unit=row.unit,
            multiplier=row.multiplier,
            format=row.format or None,
            signed=row.signed,
            si_value=row.si_value,
            si_unit=row.si_unit,
        ),
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        received_at=row.received_at,
    )


async def _missing_seq_nos(conn: Any, pks: list[int]) -> dict[int, list[int]]:
    """2.x seqNo values missing between the lowest and the highest received, per
    transaction (an offline station's queue that has not fully arrived, or lost messages).
    Missing numbers below the lowest received count too: the first event of a 2.x
    transaction has seqNo 0."""
    e = t.transaction_events
    rows = (
        await conn.execute(
            sa.select(e.c.transaction_pk, e.c.seq_no).where(
                e.c.transaction_pk.in_(pks), e.c.seq_no.is_not(None)
            )
        )
    ).all()
    seen: dict[int, set[int]] = {}
    for pk, seq in rows:
        seen.setdefault(int(pk), set()).add(int(seq))
    gaps: dict[int, list[int]] = {}
    for pk, seqs in seen.items():
        top = max(seqs)
        if top + 1 > len(seqs):  # something is missing in 0..top
            # The first MAX_REPORTED_GAPS only: a station sending seqNo 10**9 must not
            # make every read of its transaction walk a billion numbers.
            missing = (n for n in range(top + 1) if n not in seqs)
            gaps[pk] = list(itertools.islice(missing, MAX_REPORTED_GAPS))
    return gaps
