"""Contract certificates in SQL (the ContractCertificateStore port). Short transactions
of their own: a contract is recorded at installation and marked at each Plug & Charge
authorization, a few times per charging session at most."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ampyre.adapters.db import tables_pnc as tp
from ampyre.adapters.db.database import Database
from ampyre.domain.models import Page
from ampyre.domain.plug_and_charge import CertificateStatus, ContractCertificate, ContractSource

_C = tp.contract_certificates
# What a later sighting of the same certificate updates (the rest is the certificate).
_UPDATED = ("station_id", "updated_at")


class PlugAndChargeSql:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save_contract(self, cert: ContractCertificate) -> ContractCertificate:
        values = _values(cert)
        stmt = self._db.insert(_C).values(values)
        changes: dict[str, Any] = {k: stmt.excluded[k] for k in _UPDATED}
        # An issued certificate stays "issued" (and keeps its provider) when a station
        # later presents it.
        changes["source"] = sa.case(
            (_C.c.source == ContractSource.ISSUED.value, _C.c.source), else_=stmt.excluded.source
        )
        changes["provider"] = sa.func.coalesce(stmt.excluded.provider, _C.c.provider)
        stmt = stmt.on_conflict_do_update(index_elements=["fingerprint"], set_=changes)
        async with self._db.tx() as conn:
            await conn.execute(stmt)
            row = (
                await conn.execute(sa.select(_C).where(_C.c.fingerprint == cert.fingerprint))
            ).one()
        return _contract(row)

    async def mark_contract(
        self,
        serial_number: str,
        status: CertificateStatus,
        station_id: str,
        at: datetime,
        fingerprint: str | None = None,
    ) -> int:
        where = [_C.c.serial_number == serial_number]
        if fingerprint is not None:
            where.append(_C.c.fingerprint == fingerprint)
        stmt = (
            sa.update(_C)
            .where(*where)
            .values(
                last_status=status.value, last_checked_at=at, station_id=station_id, updated_at=at
            )
        )
        async with self._db.tx() as conn:
            return int((await conn.execute(stmt)).rowcount)

    async def list_contracts(
        self,
        limit: int,
        offset: int,
        emaid: str | None = None,
        status: CertificateStatus | None = None,
        station_id: str | None = None,
    ) -> Page:
        where: list[sa.ColumnElement[bool]] = []
        if emaid is not None:
            where.append(sa.func.lower(_C.c.emaid) == emaid.lower())
        if status is not None:
            where.append(_C.c.last_status == status.value)
        if station_id is not None:
            where.append(_C.c.station_id == station_id)
        return await self._db.page(
            sa.select(_C).where(*where).order_by(_C.c.id.desc()),
            sa.select(sa.func.count()).select_from(_C).where(*where),
            _contract,
            limit,
            offset,
        )

    async def get_contract(self, contract_id: int) -> ContractCertificate | None:
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(_C).where(_C.c.id == contract_id))).first()
        return None if row is None else _contract(row)


def _values(c: ContractCertificate) -> dict[str, Any]:
    return {
        "fingerprint": c.fingerprint,
        "emaid": c.emaid[:255],
        "serial_number": c.serial_number[:64],
        "subject": c.subject[:1000],
        "issuer": c.issuer[:1000],
        "not_before": c.not_before,
        "not_after": c.not_after,
        "source": c.source.value,
        "provider": c.provider,
        "station_id": c.station_id,
        "last_status": None if c.last_status is None else c.last_status.value,
        "last_checked_at": c.last_checked_at,
        "pem": c.pem,
        "created_at": c.created_at,
        "updated_at": c.updated_at or c.created_at,
    }


def _contract(row: Any) -> ContractCertificate:
    return ContractCertificate(
        id=row.id,
        emaid=row.emaid,
        serial_number=row.serial_number,
        fingerprint=row.fingerprint,
        subject=row.subject,
        issuer=row.issuer,
        not_before=row.not_before,
        not_after=row.not_after,
        source=ContractSource(row.source),
        pem=row.pem,
        station_id=row.station_id,
        provider=row.provider,
        last_status=None if row.last_status is None else CertificateStatus(row.last_status),
        last_checked_at=row.last_checked_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
