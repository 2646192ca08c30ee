"""Firmware files, updates and rollouts in SQL (the FirmwareStore port). Short API-side
transactions; domain events go to the outbox in the same transaction as their data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.database import Database
from ampyre.adapters.db.outbox import outbox_steps
from ampyre.adapters.db.station_targets import select_stations
from ampyre.domain.events import DomainEvent
from ampyre.domain.firmware import (
    ACTIVE_STATES,
    FirmwareFile,
    FirmwareUpdate,
    Rollout,
    RolloutState,
    RolloutTargets,
    UpdateState,
)
from ampyre.domain.models import Page
from ampyre.services.firmware_ports import FileInUse

_ACTIVE = [s.value for s in ACTIVE_STATES]


class FirmwareSql:
    def __init__(self, db: Database, on_events: Callable[[], None] = lambda: None) -> None:
        self._db = db
        self._on_events = on_events

    async def _events(self, conn: AsyncConnection, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        at = events[-1].at
        for step, params in outbox_steps(events, at, self._db.dialect_name, self._db.paramstyle):
            if isinstance(step, str):
                await conn.exec_driver_sql(step, params)
            else:
                await conn.execute(step, params)

    # ------------------------------------------------------------------------ files

    async def add_file(self, file: FirmwareFile) -> FirmwareFile:
        values = _file_values(file)
        values.pop("id")
        async with self._db.tx() as conn:
            row = (
                await conn.execute(
                    sa.insert(t.firmware_files).values(values).returning(t.firmware_files.c.id)
                )
            ).one()
        file.id = int(row[0])
        return file

    async def get_file(self, file_id: int) -> FirmwareFile | None:
        f = t.firmware_files
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(f).where(f.c.id == file_id))).first()
        return None if row is None else _file(row)

    async def update_file(self, file: FirmwareFile) -> None:
        f = t.firmware_files
        stmt = (
            sa.update(f)
            .where(f.c.id == file.id)
            .values(signing_certificate=file.signing_certificate, signature=file.signature)
        )
        async with self._db.tx() as conn:
            await conn.execute(stmt)

    async def file_by_token(self, token: str) -> FirmwareFile | None:
        f = t.firmware_files
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(f).where(f.c.token == token))).first()
        return None if row is None else _file(row)

    async def list_files(self, limit: int, offset: int) -> Page:
        f = t.firmware_files
        return await self._db.page(
            sa.select(f).order_by(f.c.id.desc()),
            sa.select(sa.func.count()).select_from(f),
            _file,
            limit,
            offset,
        )

    async def delete_file(self, file_id: int) -> bool:
        f, r = t.firmware_files, t.firmware_rollouts
        async with self._db.tx() as conn:
            used = (
                await conn.execute(sa.select(sa.func.count()).where(r.c.file_id == file_id))
            ).scalar_one()
            if used:
                raise FileInUse(f"firmware file {file_id} is used by {used} rollout(s)")
            try:
                n = (await conn.execute(sa.delete(f).where(f.c.id == file_id))).rowcount
            except IntegrityError as exc:  # a rollout created meanwhile
                raise FileInUse(f"firmware file {file_id} is used by a rollout") from exc
        return bool(n)

    # ---------------------------------------------------------------------- updates

    async def add_update(self, update: FirmwareUpdate) -> FirmwareUpdate:
        values = _update_values(update)
        values.pop("id")
        async with self._db.tx() as conn:
            row = (
                await conn.execute(
                    sa.insert(t.firmware_updates).values(values).returning(t.firmware_updates.c.id)
                )
            ).one()
        update.id = int(row[0])
        return update

    async def save_update(self, update: FirmwareUpdate, events: Sequence[DomainEvent] = ()) -> bool:
        u = t.firmware_updates
        values = _update_values(update)
        values.pop("id")
        values["revision"] = update.revision + 1
        stmt = (
            sa.update(u).where(u.c.id == update.id, u.c.revision == update.revision).values(values)
        )
        async with self._db.tx() as conn:
            if not (await conn.execute(stmt)).rowcount:
                return False
            await self._events(conn, events)
        update.revision += 1
        if events:
            self._on_events()
        return True

    async def get_update(self, update_id: int) -> FirmwareUpdate | None:
        u = t.firmware_updates
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(u).where(u.c.id == update_id))).first()
        return None if row is None else _update(row)

    async def active_updates(self, station_id: str) -> list[FirmwareUpdate]:
        u = t.firmware_updates
        query = (
            sa.select(u)
            .where(u.c.station_id == station_id, u.c.state.in_(_ACTIVE))
            .order_by(u.c.id.desc())
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_update(r) for r in rows]

    async def list_updates(
        self,
        limit: int,
        offset: int,
        station_id: str | None = None,
        rollout_id: int | None = None,
    ) -> Page:
        u = t.firmware_updates
        where: list[sa.ColumnElement[bool]] = []
        if station_id is not None:
            where.append(u.c.station_id == station_id)
        if rollout_id is not None:
            where.append(u.c.rollout_id == rollout_id)
        order = u.c.id.asc() if rollout_id is not None else u.c.id.desc()
        return await self._db.page(
            sa.select(u).where(*where).order_by(order),
            sa.select(sa.func.count()).select_from(u).where(*where),
            _update,
            limit,
            offset,
        )

    async def stale_updates(self, sent_before: datetime) -> list[FirmwareUpdate]:
        u = t.firmware_updates
        # An update a crash left SENDING has no sent_at: its last change counts.
        since = sa.func.coalesce(u.c.sent_at, u.c.updated_at)
        query = sa.select(u).where(u.c.state.in_(_ACTIVE), since < sent_before)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_update(r) for r in rows]

    # --------------------------------------------------------------------- rollouts

    async def matching_stations(self, targets: RolloutTargets) -> list[tuple[str, str | None]]:
        return await select_stations(
            self._db, targets.station_ids, targets.vendor, targets.model, targets.firmware_version
        )

    async def add_rollout(
        self, rollout: Rollout, updates: Sequence[FirmwareUpdate], events: Sequence[DomainEvent]
    ) -> Rollout:
        values = _rollout_values(rollout)
        values.pop("id")
        async with self._db.tx() as conn:
            row = (
                await conn.execute(
                    sa.insert(t.firmware_rollouts)
                    .values(values)
                    .returning(t.firmware_rollouts.c.id)
                )
            ).one()
            rollout.id = int(row[0])
            rows = []
            for update in updates:
                update.rollout_id = rollout.id
                v = _update_values(update)
                v.pop("id")
                rows.append(v)
            if rows:
                await conn.execute(sa.insert(t.firmware_updates), rows)
            for event in events:
                event.data["rollout_id"] = rollout.id
            await self._events(conn, events)
        self._on_events()
        rollout.counts = {UpdateState.PENDING.value: len(updates)}
        return rollout

    async def save_rollout(self, rollout: Rollout, events: Sequence[DomainEvent] = ()) -> None:
        r = t.firmware_rollouts
        values = _rollout_values(rollout)
        values.pop("id")
        async with self._db.tx() as conn:
            await conn.execute(sa.update(r).where(r.c.id == rollout.id).values(values))
            await self._events(conn, events)
        if events:
            self._on_events()

    async def _counts(self, conn: AsyncConnection, ids: Sequence[int]) -> dict[int, dict[str, int]]:
        u = t.firmware_updates
        query = (
            sa.select(u.c.rollout_id, u.c.state, sa.func.count())
            .where(u.c.rollout_id.in_(ids))
            .group_by(u.c.rollout_id, u.c.state)
        )
        out: dict[int, dict[str, int]] = {i: {} for i in ids}
        for rid, state, n in (await conn.execute(query)).all():
            out[int(rid)][str(state)] = int(n)
        return out

    async def _with_counts(self, rows: Sequence[Any]) -> list[Rollout]:
        rollouts = [_rollout(r) for r in rows]
        if rollouts:
            async with self._db.tx() as conn:
                counts = await self._counts(conn, [x.id for x in rollouts])
            for x in rollouts:
                x.counts = counts.get(x.id, {})
        return rollouts

    async def get_rollout(self, rollout_id: int) -> Rollout | None:
        r = t.firmware_rollouts
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(r).where(r.c.id == rollout_id))).first()
        if row is None:
            return None
        return (await self._with_counts([row]))[0]

    async def list_rollouts(self, limit: int, offset: int) -> Page:
        r = t.firmware_rollouts
        page = await self._db.page(
            sa.select(r).order_by(r.c.id.desc()),
            sa.select(sa.func.count()).select_from(r),
            lambda row: row,
            limit,
            offset,
        )
        rollouts = await self._with_counts(page.items)
        return Page(items=rollouts, total=page.total, limit=page.limit, offset=page.offset)

    async def open_rollouts(self) -> list[Rollout]:
        r = t.firmware_rollouts
        states = [RolloutState.RUNNING.value, RolloutState.PAUSED.value]
        async with self._db.read() as conn:
            rows = (
                await conn.execute(sa.select(r).where(r.c.state.in_(states)).order_by(r.c.id))
            ).all()
        return await self._with_counts(rows)

    async def claim_pending(self, rollout_id: int, n: int, now: datetime) -> list[FirmwareUpdate]:
        u = t.firmware_updates
        pending = UpdateState.PENDING.value
        async with self._db.tx() as conn:
            ids = (
                (
                    await conn.execute(
                        sa.select(u.c.id)
                        .where(u.c.rollout_id == rollout_id, u.c.state == pending)
                        .order_by(u.c.id)
                        .limit(max(0, n))
                    )
                )
                .scalars()
                .all()
            )
            if not ids:
                return []
            # Only rows still pending: another node that claimed them first wins.
            rows = (
                await conn.execute(
                    sa.update(u)
                    .where(u.c.id.in_(ids), u.c.state == pending)
                    .values(
                        state=UpdateState.SENDING.value,
                        updated_at=now,
                        revision=u.c.revision + 1,
                    )
                    .returning(*u.c)
                )
            ).all()
        return sorted((_update(r) for r in rows), key=lambda x: x.id)

    async def cancel_pending(self, rollout_id: int, now: datetime, detail: str) -> int:
        u = t.firmware_updates
        stmt = (
            sa.update(u)
            .where(u.c.rollout_id == rollout_id, u.c.state == UpdateState.PENDING.value)
            .values(
                state=UpdateState.CANCELLED.value,
                detail=detail[:512],
                updated_at=now,
                finished_at=now,
                revision=u.c.revision + 1,
            )
        )
        async with self._db.tx() as conn:
            return int((await conn.execute(stmt)).rowcount)


# ------------------------------------------------------------------------- rows


def _file_values(f: FirmwareFile) -> dict[str, Any]:
    return {
        "id": f.id,
        "version": f.version,
        "vendor": f.vendor,
        "model": f.model,
        "description": f.description,
        "filename": f.filename,
        "size": f.size,
        "sha256": f.sha256,
        "token": f.token,
        "stored_name": f.stored_name,
        "signing_certificate": f.signing_certificate,
        "signature": f.signature,
        "created_at": f.created_at,
    }


def _file(row: Any) -> FirmwareFile:
    return FirmwareFile(
        id=int(row.id),
        version=row.version,
        filename=row.filename,
        size=int(row.size),
        sha256=row.sha256,
        token=row.token,
        stored_name=row.stored_name,
        created_at=row.created_at,
        vendor=row.vendor,
        model=row.model,
        description=row.description,
        signing_certificate=row.signing_certificate,
        signature=row.signature,
    )


def _update_values(u: FirmwareUpdate) -> dict[str, Any]:
    return {
        "id": u.id,
        "station_id": u.station_id,
        "file_id": u.file_id,
        "rollout_id": u.rollout_id,
        "target_version": u.target_version[:50],
        "state": u.state.value,
        "status": u.status,
        "detail": None if u.detail is None else u.detail[:512],
        "ocpp_version": u.ocpp_version,
        "retrieve_at": u.retrieve_at,
        "install_at": u.install_at,
        "retries": u.retries,
        "retry_interval": u.retry_interval,
        "history": list(u.history),
        "created_at": u.created_at,
        "updated_at": u.updated_at,
        "sent_at": u.sent_at,
        "finished_at": u.finished_at,
        "revision": u.revision,
    }


def _update(row: Any) -> FirmwareUpdate:
    return FirmwareUpdate(
        id=int(row.id),
        station_id=row.station_id,
        target_version=row.target_version,
        state=UpdateState(row.state),
        created_at=row.created_at,
        updated_at=row.updated_at,
        file_id=row.file_id,
        rollout_id=row.rollout_id,
        status=row.status,
        detail=row.detail,
        ocpp_version=row.ocpp_version,
        retrieve_at=row.retrieve_at,
        install_at=row.install_at,
        retries=row.retries,
        retry_interval=row.retry_interval,
        sent_at=row.sent_at,
        finished_at=row.finished_at,
        history=list(row.history or []),
        revision=int(row.revision),
    )


def _rollout_values(r: Rollout) -> dict[str, Any]:
    return {
        "id": r.id,
        "file_id": r.file_id,
        "name": r.name[:100],
        "state": r.state.value,
        "batch_size": r.batch_size,
        "pause_seconds": r.pause_seconds,
        "abort_threshold": r.abort_threshold,
        "targets": r.targets.as_json(),
        "retries": r.retries,
        "retry_interval": r.retry_interval,
        "next_batch_at": r.next_batch_at,
        "batches_sent": r.batches_sent,
        "detail": None if r.detail is None else r.detail[:512],
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "finished_at": r.finished_at,
    }


def _rollout(row: Any) -> Rollout:
    targets = dict(row.targets or {})
    return Rollout(
        id=int(row.id),
        file_id=int(row.file_id),
        name=row.name,
        state=RolloutState(row.state),
        batch_size=int(row.batch_size),
        pause_seconds=float(row.pause_seconds),
        abort_threshold=int(row.abort_threshold),
        targets=RolloutTargets(
            station_ids=list(targets.get("station_ids") or []),
            vendor=targets.get("vendor"),
            model=targets.get("model"),
            firmware_version=targets.get("firmware_version"),
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
        retries=row.retries,
        retry_interval=row.retry_interval,
        next_batch_at=row.next_batch_at,
        batches_sent=int(row.batches_sent),
        finished_at=row.finished_at,
        detail=row.detail,
    )
