"""Repository: the PKI's registry of issued certificates (the PkiStore port)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ampyre.adapters.db.database import Database
from ampyre.adapters.db.tables_pki import pki_certificates as t
from ampyre.domain.models import Page
from ampyre.services.pki_port import CertificateFilter, IssuedCertificate

_SUBJECT_MAX = 500
_LIKE_ESCAPE = "\\"


class PkiSql:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_certificate(self, cert: IssuedCertificate) -> bool:
        values = _values(cert)
        stmt = (
            self._db.insert(t)
            .values(values)
            .on_conflict_do_nothing(index_elements=[t.c.issuer, t.c.serial])
        )
        async with self._db.tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def find_certificate(self, issuer: str, serial: str) -> IssuedCertificate | None:
        query = sa.select(t).where(t.c.issuer == issuer, t.c.serial == serial)
        async with self._db.tx() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _cert(row)

    async def certificates_by_serial(self, serial: str) -> list[IssuedCertificate]:
        query = sa.select(t).where(t.c.serial == serial).order_by(t.c.id)
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
        return [_cert(r) for r in rows]

    async def list_certificates(self, where: CertificateFilter, limit: int, offset: int) -> Page:
        conditions: list[sa.ColumnElement[bool]] = []
        if where.role is not None:
            conditions.append(t.c.role == where.role)
        if where.issuer is not None:
            conditions.append(t.c.issuer == where.issuer)
        if where.station_id is not None:
            conditions.append(t.c.station_id == where.station_id)
        if where.serial is not None:
            conditions.append(t.c.serial == where.serial)
        if where.revoked is True:
            conditions.append(t.c.revoked_at.is_not(None))
        elif where.revoked is False:
            conditions.append(t.c.revoked_at.is_(None))
        if where.subject:
            pattern = "%" + _escape_like(where.subject.lower()) + "%"
            conditions.append(sa.func.lower(t.c.subject).like(pattern, escape=_LIKE_ESCAPE))
        query = sa.select(t).where(*conditions).order_by(t.c.id.desc())
        count = sa.select(sa.func.count()).select_from(t).where(*conditions)
        return await self._db.page(query, count, _cert, limit, offset)

    async def revoke_certificate(
        self, cert_id: int, at: datetime, reason: str, by: str | None
    ) -> IssuedCertificate | None:
        stmt = (
            sa.update(t)
            .where(t.c.id == cert_id, t.c.revoked_at.is_(None))
            .values(revoked_at=at, revocation_reason=reason, revoked_by=by)
        )
        async with self._db.tx() as conn:
            await conn.execute(stmt)
            row = (await conn.execute(sa.select(t).where(t.c.id == cert_id))).first()
        return None if row is None else _cert(row)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _values(cert: IssuedCertificate) -> dict[str, Any]:
    return {
        "serial": cert.serial,
        "issuer": cert.issuer,
        "role": cert.role,
        "subject": cert.subject[:_SUBJECT_MAX],
        "station_id": cert.station_id,
        "not_before": cert.not_before,
        "not_after": cert.not_after,
        "fingerprint": cert.fingerprint,
        "pem": cert.pem,
        "issued_at": cert.issued_at,
        "revoked_at": cert.revoked_at,
        "revocation_reason": cert.revocation_reason,
        "revoked_by": cert.revoked_by,
    }


def _cert(row: Any) -> IssuedCertificate:
    m = row._mapping
    return IssuedCertificate(
        serial=m["serial"],
        issuer=m["issuer"],
        role=m["role"],
        subject=m["subject"],
        not_before=m["not_before"],
        not_after=m["not_after"],
        fingerprint=m["fingerprint"],
        pem=m["pem"],
        issued_at=m["issued_at"],
        station_id=m["station_id"],
        revoked_at=m["revoked_at"],
        revocation_reason=m["revocation_reason"],
        revoked_by=m["revoked_by"],
        id=m["id"],
    )
