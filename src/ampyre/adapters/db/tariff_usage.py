"""A transaction's usage for the tariff engine, read in one short read transaction (the
UsageSource port of services/tariffs_port.py): the transaction with its start/stop meters,
its energy-register, power and current samples, its charging states (2.x chargingState
from the event history; for 1.6 the connector's status notifications), and the
reservation it used.

Several readings of one measurand may share a timestamp (a 1.6 MeterValues sample taken
at the very time of StartTransaction beside its meterStart; a Sample.Clock reading beside
the Transaction.End one). `merge_samples` keeps one per (time, measurand, phase),
whatever order the rows come in: the transaction's own begin/end reading first (context
Transaction.Begin/End, the reading the transaction's meter_start/meter_stop are made of,
ADR 0004, so the priced energy agrees with the transaction's), else the one stored last
(highest id: the station's latest word on that instant)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.database import Database
from ampyre.domain.transactions import BEGIN_CONTEXT, END_CONTEXT, ENERGY_REGISTER
from ampyre.domain.usage import ChargingState, MeterSample, RegisterReading, ReservationUsage
from ampyre.services.tariffs_port import TransactionUsage

POWER, CURRENT = "Power.Active.Import", "Current.Import"
# 2.0.1 ChargingStateEnumType and 1.6 ChargePointStatus: only these mean energy flows
# (OCPI 2.2.1 PARKING_TIME is "time not charging").
CHARGING_STATES = frozenset({"Charging"})
KNOWN_STATES = frozenset(
    {
        "Charging",
        "EVConnected",
        "SuspendedEV",
        "SuspendedEVSE",
        "Idle",
        # 1.6 connector statuses seen during a transaction
        "Preparing",
        "Finishing",
        "Available",
        "Unavailable",
        "Faulted",
    }
)
# Per-phase values summed when no total is reported (the neutral is not a phase).
_PHASES = {"L1": "L1", "L2": "L2", "L3": "L3", "L1-N": "L1", "L2-N": "L2", "L3-N": "L3"}


class TariffUsageSql:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def transaction_usage(self, transaction_pk: int) -> TransactionUsage | None:
        tx = t.transactions
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(tx).where(tx.c.id == transaction_pk))).first()
            if row is None or row.started_at is None:
                return None
            samples = await _samples(conn, transaction_pk)
            states = await _event_states(conn, transaction_pk)
            if not states and row.connector_id is not None:
                states = await _status_states(conn, row)
            reservation = await _reservation(conn, row)
        return TransactionUsage(
            transaction_pk=transaction_pk,
            station_id=row.station_id,
            evse_id=row.evse_id,
            connector_id=row.connector_id,
            started_at=row.started_at,
            ended_at=row.ended_at,
            samples=samples,
            states=states,
            reservation=reservation,
            meter_start=_reading(row.meter_start_at, row.meter_start_wh),
            meter_stop=_reading(row.meter_stop_at, row.meter_stop_wh),
        )


def _reading(at: datetime | None, wh: float | None) -> RegisterReading | None:
    return None if at is None or wh is None else RegisterReading(at, wh)


@dataclass(frozen=True, slots=True)
class SampleRow:
    """One stored meter value as the merge needs it."""

    id: int
    timestamp: datetime
    measurand: str
    phase: str  # '' for none
    context: str
    si_value: float
    si_unit: str | None


async def _samples(conn: AsyncConnection, pk: int) -> list[MeterSample]:
    m = t.meter_values
    query = sa.select(
        m.c.id, m.c.timestamp, m.c.measurand, m.c.phase, m.c.context, m.c.si_value, m.c.si_unit
    ).where(
        m.c.transaction_pk == pk,
        m.c.measurand.in_((ENERGY_REGISTER, POWER, CURRENT)),
        m.c.location == "Outlet",
        m.c.si_value.is_not(None),
    )
    rows = (await conn.execute(query)).all()
    return merge_samples(
        SampleRow(
            r.id, r.timestamp, r.measurand, r.phase or "", r.context, float(r.si_value), r.si_unit
        )
        for r in rows
    )


def merge_samples(rows: Iterable[SampleRow]) -> list[MeterSample]:
    """One MeterSample per timestamp, by time; of the readings of one measurand and phase
    at one time, the begin/end reading else the highest id wins (module docstring), so the
    result does not depend on the order of `rows`. Per-phase power/current are summed when
    no total is reported; per-phase registers are not the delivered energy."""
    units = {ENERGY_REGISTER: "Wh", POWER: "W", CURRENT: "A"}
    ranked = sorted(rows, key=lambda r: (r.context not in (BEGIN_CONTEXT, END_CONTEXT), -r.id))
    # timestamp -> measurand -> {"" (total) | phase: value}
    seen: dict[datetime, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in ranked:
        if units.get(r.measurand) != r.si_unit:
            continue
        phase = r.phase
        if phase:
            if r.measurand == ENERGY_REGISTER or phase not in _PHASES:
                continue
            phase = _PHASES[phase]
        seen[r.timestamp][r.measurand].setdefault(phase, r.si_value)
    out = []
    for at in sorted(seen):
        values = seen[at]
        out.append(
            MeterSample(
                at=at,
                energy_wh=values[ENERGY_REGISTER].get("") if ENERGY_REGISTER in values else None,
                power_w=_total(values.get(POWER)),
                current_a=_total(values.get(CURRENT)),
            )
        )
    return out


def _total(by_phase: dict[str, float] | None) -> float | None:
    if not by_phase:
        return None
    if "" in by_phase:
        return by_phase[""]
    return sum(by_phase.values())


async def _event_states(conn: AsyncConnection, pk: int) -> list[ChargingState]:
    e = t.transaction_events
    query = (
        sa.select(e.c.timestamp, e.c.charging_state)
        .where(e.c.transaction_pk == pk, e.c.charging_state.is_not(None))
        .order_by(e.c.timestamp, e.c.id)
    )
    rows = (await conn.execute(query)).all()
    return [
        ChargingState(r.timestamp, r.charging_state in CHARGING_STATES)
        for r in rows
        if r.charging_state in KNOWN_STATES
    ]


async def _status_states(conn: AsyncConnection, tx: Any) -> list[ChargingState]:
    """1.6: the connector's status notifications from the last one before the start to
    the end (by the station's timestamp, else by arrival)."""
    h = t.status_history
    at = sa.func.coalesce(h.c.timestamp, h.c.received_at, type_=t.UtcDateTime)
    mine = [h.c.station_id == tx.station_id, h.c.connector_id == tx.connector_id]
    if tx.evse_id is not None:
        mine.append(h.c.evse_id == tx.evse_id)
    before = (
        sa.select(h.c.status, at.label("at"))
        .where(*mine, at <= tx.started_at)
        .order_by(at.desc(), h.c.id.desc())
        .limit(1)
    )
    during = sa.select(h.c.status, at.label("at")).where(*mine, at > tx.started_at)
    if tx.ended_at is not None:
        during = during.where(at <= tx.ended_at)
    first = (await conn.execute(before)).first()
    rows = (await conn.execute(during.order_by(at, h.c.id))).all()
    out = []
    if first is not None and first.status in KNOWN_STATES:
        out.append(ChargingState(tx.started_at, first.status in CHARGING_STATES))
    out.extend(
        ChargingState(r.at, r.status in CHARGING_STATES) for r in rows if r.status in KNOWN_STATES
    )
    return out


async def _reservation(conn: AsyncConnection, tx: Any) -> ReservationUsage | None:
    """The reservation the transaction used: from when it was made to the start."""
    if tx.reservation_id is None:
        return None
    r = t.reservations
    row = (
        await conn.execute(
            sa.select(r.c.created_at).where(
                r.c.id == tx.reservation_id, r.c.station_id == tx.station_id
            )
        )
    ).first()
    if row is None or row.created_at >= tx.started_at:
        return None
    return ReservationUsage(row.created_at, tx.started_at)
