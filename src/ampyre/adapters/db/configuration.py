"""Station configuration in the `station_variables` and `config_reports` tables
(migration 0011): what the configuration service stores and asks for. Plain short
transactions: configuration traffic is rare next to the OCPP hot path."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.database import Database
from ampyre.adapters.db.station_targets import select_stations
from ampyre.domain.device_model import (
    ConfigReport,
    ReportKind,
    ReportState,
    StationVariable,
    VariableRef,
)
from ampyre.domain.models import Page
from ampyre.services.configuration_store import VariableQuery

_ADDRESS = (
    "station_id",
    "component",
    "component_instance",
    "evse_id",
    "connector_id",
    "variable",
    "variable_instance",
    "attribute_type",
)
# Kept when a later write does not know them (a GetVariables answer has only the value).
_KEEP_IF_NULL = ("mutability", "persistent", "constant", "characteristics", "report_id")


class ConfigurationSql:
    def __init__(self, db: Database) -> None:
        self._db = db
        v = t.station_variables
        stmt = db.insert(v)
        set_: dict[str, Any] = {
            "value": stmt.excluded.value,
            "source": stmt.excluded.source,
            "reboot_required": stmt.excluded.reboot_required,
            "updated_at": stmt.excluded.updated_at,
        }
        for name in _KEEP_IF_NULL:
            set_[name] = sa.func.coalesce(stmt.excluded[name], v.c[name])
        self._upsert = stmt.on_conflict_do_update(
            index_elements=[v.c[c] for c in _ADDRESS], set_=set_
        )

    # ------------------------------------------------------------------ variables

    async def save_variables(self, variables: Sequence[StationVariable]) -> None:
        if not variables:
            return
        async with self._db.tx() as conn:
            await self._save(conn, variables)

    async def _save(self, conn: AsyncConnection, variables: Sequence[StationVariable]) -> None:
        # One row per address: a report naming an attribute twice keeps the last.
        rows = {tuple(r[c] for c in _ADDRESS): r for r in map(_row, variables)}
        await conn.execute(self._upsert, list(rows.values()))

    async def replace_keys(
        self, station_id: str, variables: Sequence[StationVariable], report_id: int
    ) -> None:
        """A complete 1.6 GetConfiguration answer: store it, and forget keys it lacks."""
        v = t.station_variables
        async with self._db.tx() as conn:
            if variables:
                await self._save(conn, variables)
            names = [x.ref.variable for x in variables]
            gone = sa.delete(v).where(v.c.station_id == station_id, v.c.component == "")
            if names:
                gone = gone.where(v.c.variable.not_in(names))
            await conn.execute(gone)
            await conn.execute(
                sa.update(t.config_reports)
                .where(t.config_reports.c.id == report_id)
                .values(variables=len(variables))
            )

    async def list_variables(self, query: VariableQuery, limit: int, offset: int) -> Page:
        v = t.station_variables
        where: list[Any] = []
        if query.station_id is not None:
            where.append(v.c.station_id == query.station_id)
        if query.station_ids is not None:
            where.append(v.c.station_id.in_(query.station_ids))
        if query.component is not None:
            where.append(v.c.component == query.component)
        if query.variable is not None:
            where.append(v.c.variable == query.variable)
        if query.evse_id is not None:
            where.append(v.c.evse_id == query.evse_id)
        if query.value is not None:
            where.append(v.c.value == query.value)
        if query.text:
            needle = query.text.lower()
            where.append(
                sa.or_(
                    *(
                        sa.func.lower(col).contains(needle, autoescape=True)
                        for col in (v.c.component, v.c.variable, v.c.value, v.c.component_instance)
                    )
                )
            )
        order = (
            v.c.station_id,
            v.c.component,
            v.c.component_instance,
            v.c.evse_id,
            v.c.connector_id,
            v.c.variable,
            v.c.variable_instance,
            v.c.attribute_type,
        )
        select = sa.select(v).where(*where).order_by(*order)
        count = sa.select(sa.func.count()).select_from(v).where(*where)
        return await self._db.page(select, count, _variable, limit, offset)

    async def matching_stations(
        self,
        station_ids: Sequence[str] | None,
        vendor: str | None,
        model: str | None,
        firmware_version: str | None,
    ) -> tuple[list[str], list[str]]:
        found = [
            i
            for i, _ in await select_stations(
                self._db, station_ids, vendor, model, firmware_version
            )
        ]
        if station_ids is None:
            return found, []
        known = set(found)
        if vendor is not None or model is not None or firmware_version is not None:
            # An id left out by the other criteria exists all the same: not unknown.
            known |= {i for i, _ in await select_stations(self._db, station_ids)}
        matched = set(found)
        given = list(dict.fromkeys(station_ids))
        return [i for i in given if i in matched], [i for i in given if i not in known]

    # ------------------------------------------------------------------ reports

    async def create_report(self, report: ConfigReport) -> ConfigReport:
        """Insert; the row's id becomes the report's requestId (unique per station)."""
        r = t.config_reports
        placeholder = -secrets.randbelow(2**31 - 1) - 1  # until the id is known
        async with self._db.tx() as conn:
            report.id = (
                await conn.execute(
                    sa.insert(r)
                    .values(
                        station_id=report.station_id,
                        request_id=placeholder,
                        kind=report.kind.value,
                        state=report.state.value,
                        criteria=report.criteria or None,
                        requested_at=report.requested_at,
                    )
                    .returning(r.c.id)
                )
            ).scalar_one()
            await conn.execute(sa.update(r).where(r.c.id == report.id).values(request_id=report.id))
        report.request_id = report.id
        return report

    async def set_state(
        self, report_id: int, state: ReportState, at: datetime | None, detail: str | None = None
    ) -> None:
        """Record the answer to the request. A report already past `requested` (its first
        part came before the answer was handled) keeps what its parts made of it."""
        r = t.config_reports
        values: dict[str, Any] = {"state": state.value, "detail": _clip(detail)}
        if at is not None:
            values["finished_at"] = at
        async with self._db.tx() as conn:
            await conn.execute(
                sa.update(r)
                .where(r.c.id == report_id, r.c.state == ReportState.REQUESTED.value)
                .values(values)
            )

    async def record_part(
        self,
        station_id: str,
        request_id: int,
        seq_no: int,
        tbc: bool,
        at: datetime,
        variables: Sequence[StationVariable],
    ) -> ConfigReport:
        """One NotifyReport part, in one transaction: its variables, the report's progress
        and, with the last part, whether it is complete. A complete FullInventory
        replaces the station's device model (attributes it lacks are forgotten)."""
        r, v = t.config_reports, t.station_variables
        async with self._db.tx() as conn:
            row = (
                await conn.execute(
                    _locked(
                        sa.select(r).where(
                            r.c.station_id == station_id, r.c.request_id == request_id
                        ),
                        self._db.dialect_name,
                    )
                )
            ).first()
            if row is None:
                # A NotifyReport for a request Ampyre did not make (the raw endpoint's
                # GetBaseReport, or a station that reports on its own): kept all the same.
                inserted = (
                    await conn.execute(
                        sa.insert(r)
                        .values(
                            station_id=station_id,
                            request_id=request_id,
                            kind=ReportKind.UNREQUESTED.value,
                            state=ReportState.RECEIVING.value,
                            requested_at=at,
                        )
                        .returning(r)
                    )
                ).one()
                row = inserted
            report = _report(row)
            assert report.id is not None
            seen = set(row.seq_nos or [])
            if variables:
                await self._save(
                    conn, [dataclasses.replace(x, report_id=report.id) for x in variables]
                )
            if seq_no not in seen:  # a retransmitted part counts once
                seen.add(seq_no)
                report.parts += 1
                report.variables += len(variables)
            report.last_seq_no = max(seen)
            report.last_part_at = at
            if not tbc:
                # B07.FR.xx: the part with tbc=false is the last; seqNo counts from 0.
                missing = sorted(set(range(max(seen) + 1)) - seen)
                report.finished_at = at
                if missing:
                    report.state = ReportState.INCOMPLETE
                    report.detail = _clip(f"parts missing: seqNo {missing[:20]}")
                else:
                    report.state = ReportState.COMPLETE
                    report.detail = None
                    if report.kind is ReportKind.FULL:
                        await conn.execute(
                            sa.delete(v).where(
                                v.c.station_id == station_id,
                                v.c.component != "",
                                sa.or_(v.c.report_id.is_(None), v.c.report_id != report.id),
                            )
                        )
            elif report.state in (ReportState.REQUESTED, ReportState.INCOMPLETE):
                report.state = ReportState.RECEIVING
            await conn.execute(
                sa.update(r)
                .where(r.c.id == report.id)
                .values(
                    state=report.state.value,
                    parts=report.parts,
                    seq_nos=sorted(seen),
                    last_seq_no=report.last_seq_no,
                    variables=report.variables,
                    last_part_at=at,
                    finished_at=report.finished_at,
                    detail=report.detail,
                )
            )
        return report

    async def expire_reports(self, cutoff: datetime, at: datetime) -> int:
        """Close reports whose last part (or request) is older than `cutoff` without a
        last part: incomplete. Idempotent: any node may run it."""
        r = t.config_reports
        stmt = (
            sa.update(r)
            .where(
                r.c.state.in_([ReportState.REQUESTED.value, ReportState.RECEIVING.value]),
                sa.func.coalesce(r.c.last_part_at, r.c.requested_at) < cutoff,
            )
            .values(
                state=ReportState.INCOMPLETE.value,
                finished_at=at,
                detail="no last part (tbc=false) arrived in time",
            )
        )
        async with self._db.tx() as conn:
            return int((await conn.execute(stmt)).rowcount or 0)

    async def get_report(self, station_id: str, report_id: int) -> ConfigReport | None:
        r = t.config_reports
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(r).where(r.c.station_id == station_id, r.c.id == report_id)
                )
            ).first()
        return None if row is None else _report(row)

    async def list_reports(self, station_id: str, limit: int, offset: int) -> Page:
        r = t.config_reports
        where = r.c.station_id == station_id
        select = sa.select(r).where(where).order_by(r.c.requested_at.desc(), r.c.id.desc())
        count = sa.select(sa.func.count()).select_from(r).where(where)
        return await self._db.page(select, count, _report, limit, offset)


def _locked(select: sa.Select[Any], dialect: str) -> sa.Select[Any]:
    # Two parts of one report on two connections (retransmission) must not both count.
    return select.with_for_update() if dialect == "postgresql" else select


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:512]


def _text(value: str, limit: int) -> str:
    # PostgreSQL text cannot hold NUL; a station's odd byte must not fail its report.
    return value[:limit].replace("\x00", "\ufffd")


def _clean(value: Any) -> Any:
    """A JSON value with NUL replaced in every string (PostgreSQL JSONB refuses it)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


def _row(x: StationVariable) -> dict[str, Any]:
    ref = x.ref
    return {
        "station_id": x.station_id,
        "component": _text(ref.component, 50),
        "component_instance": _text(ref.component_instance, 50),
        "evse_id": ref.evse_id,
        "connector_id": ref.connector_id,
        "variable": _text(ref.variable, 50),
        "variable_instance": _text(ref.variable_instance, 50),
        "attribute_type": _text(ref.attribute_type, 16),
        "value": None if x.value is None else _text(x.value, 2500),
        "mutability": None if x.mutability is None else _text(x.mutability, 16),
        "persistent": x.persistent,
        "constant": x.constant,
        "characteristics": _clean(x.characteristics),
        "source": x.source,
        "reboot_required": x.reboot_required,
        "report_id": x.report_id,
        "updated_at": x.updated_at,
    }


def _variable(row: Any) -> StationVariable:
    return StationVariable(
        station_id=row.station_id,
        ref=VariableRef(
            variable=row.variable,
            component=row.component,
            component_instance=row.component_instance,
            variable_instance=row.variable_instance,
            evse_id=row.evse_id,
            connector_id=row.connector_id,
            attribute_type=row.attribute_type,
        ),
        value=row.value,
        mutability=row.mutability,
        persistent=row.persistent,
        constant=row.constant,
        characteristics=row.characteristics,
        source=row.source,
        reboot_required=bool(row.reboot_required),
        report_id=row.report_id,
        updated_at=row.updated_at,
    )


def _report(row: Any) -> ConfigReport:
    return ConfigReport(
        id=row.id,
        request_id=row.request_id,
        station_id=row.station_id,
        kind=ReportKind(row.kind),
        state=ReportState(row.state),
        requested_at=row.requested_at,
        parts=int(row.parts or 0),
        last_seq_no=row.last_seq_no,
        variables=int(row.variables or 0),
        last_part_at=row.last_part_at,
        finished_at=row.finished_at,
        detail=row.detail,
        criteria=dict(row.criteria or {}),
    )
