"""Installed certificates, CSR records and security events in SQL (the CertificateStore
and SecurityEventStore ports). Short transactions of their own: certificates change when
a station asks for one or an operator acts, not on the OCPP hot path."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db import tables as t
from ampyre.adapters.db import tables_certificates as tc
from ampyre.adapters.db.database import Database
from ampyre.domain.certificates import (
    CertificateRequest,
    CertificateUse,
    HashData,
    InstalledCertificate,
    RequestStatus,
    SecurityEvent,
    SecurityEventQuery,
    SigningUse,
)
from ampyre.domain.models import Page
from ampyre.services.certificates_port import RequestUpdate

_C = tc.installed_certificates
_R = tc.certificate_requests
_E = tc.security_events
_INT32 = 2**31 - 1
PRUNE_CHUNK = 1000


def _clip(value: str | None, n: int) -> str | None:
    return None if value is None else value[:n]


def _hash_values(h: HashData) -> dict[str, Any]:
    algorithm, name_hash, key_hash, serial = h.key()
    return {
        "hash_algorithm": algorithm[:8],
        "issuer_name_hash": name_hash[:128],
        "issuer_key_hash": key_hash[:128],
        "serial_number": serial[:40],
    }


def _cert_values(c: InstalledCertificate) -> dict[str, Any]:
    return {
        "station_id": c.station_id,
        "use": c.use.value,
        **_hash_values(c.hash_data),
        "source": c.source,
        "subject": _clip(c.subject, 500),
        "issuer": _clip(c.issuer, 500),
        "not_after": c.not_after,
        "pem": c.pem,
        "child_of_serial": None
        if c.child_of is None
        else _hash_values(c.child_of)["serial_number"],
        "updated_at": c.updated_at,
    }


def _cert(row: Any) -> InstalledCertificate:
    m = row._mapping
    child = m["child_of_serial"]
    return InstalledCertificate(
        id=int(m["id"]),
        station_id=m["station_id"],
        use=CertificateUse(m["use"]),
        hash_data=HashData(
            m["hash_algorithm"], m["issuer_name_hash"], m["issuer_key_hash"], m["serial_number"]
        ),
        source=m["source"],
        updated_at=m["updated_at"],
        subject=m["subject"],
        issuer=m["issuer"],
        not_after=m["not_after"],
        pem=m["pem"],
        # Only the serial of the chain's leaf is kept: enough to show the tree.
        child_of=None if child is None else HashData("", "", "", child),
    )


def _request(row: Any) -> CertificateRequest:
    m = row._mapping
    return CertificateRequest(
        id=int(m["id"]),
        station_id=m["station_id"],
        use=None if m["use"] is None else SigningUse(m["use"]),
        csr=m["csr"],
        status=RequestStatus(m["status"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        error=m["error"],
        subject=m["subject"],
        certificate=m["certificate"],
        serial_number=m["serial_number"],
        not_after=m["not_after"],
        request_id=m["request_id"],
        via=m["via"],
    )


def _event(row: Any) -> SecurityEvent:
    m = row._mapping
    return SecurityEvent(
        id=int(m["id"]),
        station_id=m["station_id"],
        type=m["type"],
        timestamp=m["timestamp"],
        received_at=m["received_at"],
        source=m["source"],
        tech_info=m["tech_info"],
        critical=bool(m["critical"]),
    )


class CertificatesSql:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _require_station(self, conn: AsyncConnection, station_id: str) -> None:
        found = await conn.execute(sa.select(t.stations.c.id).where(t.stations.c.id == station_id))
        if found.first() is None:
            raise LookupError(f"station {station_id!r} not found")

    # ------------------------------------------------------------------ requests

    async def add_request(self, request: CertificateRequest) -> CertificateRequest:
        values = {
            "station_id": request.station_id,
            "use": None if request.use is None else request.use.value,
            "status": request.status.value,
            "csr": request.csr,
            "error": _clip(request.error, 500),
            "subject": _clip(request.subject, 500),
            "certificate": request.certificate,
            "serial_number": _clip(request.serial_number, 40),
            "not_after": request.not_after,
            "request_id": request.request_id
            if request.request_id is not None and abs(request.request_id) <= _INT32
            else None,
            "via": request.via[:8],
            "created_at": request.created_at,
            "updated_at": request.updated_at,
        }
        async with self._db.tx() as conn:
            await self._require_station(conn, request.station_id)
            result = await conn.execute(sa.insert(_R).returning(_R.c.id), values)
            request.id = int(result.scalar_one())
        return request

    async def update_request(self, request_id: int, update: RequestUpdate, at: datetime) -> None:
        values: dict[str, Any] = {"status": update.status.value, "updated_at": at}
        if update.error is not None:
            values["error"] = update.error[:500]
        if update.certificate is not None:
            values["certificate"] = update.certificate
        if update.serial_number is not None:
            values["serial_number"] = update.serial_number[:40]
        if update.not_after is not None:
            values["not_after"] = update.not_after
        async with self._db.tx() as conn:
            await conn.execute(sa.update(_R).where(_R.c.id == request_id).values(values))

    async def fail_stale(self, before: datetime, reason: str, at: datetime) -> int:
        open_ = (RequestStatus.SIGNING.value, RequestStatus.SENT.value)
        stmt = (
            sa.update(_R)
            .where(_R.c.status.in_(open_), _R.c.updated_at < before)
            .values(status=RequestStatus.FAILED.value, error=reason[:500], updated_at=at)
        )
        async with self._db.tx() as conn:
            result = await conn.execute(stmt)
        return int(result.rowcount or 0)

    async def get_request(self, request_id: int) -> CertificateRequest | None:
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(_R).where(_R.c.id == request_id))).first()
        return None if row is None else _request(row)

    async def list_requests(
        self, station_id: str | None, status: str | None, limit: int, offset: int
    ) -> Page:
        where: list[Any] = []
        if station_id is not None:
            where.append(_R.c.station_id == station_id)
        if status is not None:
            where.append(_R.c.status == status)
        query = sa.select(_R).where(*where).order_by(_R.c.id.desc())
        count = sa.select(sa.func.count()).select_from(_R).where(*where)
        return await self._db.page(query, count, _request, limit, offset)

    # ------------------------------------------------------------------ certificates

    async def save_certificates(self, items: Sequence[InstalledCertificate]) -> None:
        if not items:
            return
        async with self._db.tx() as conn:
            for item in items:
                await self._upsert(conn, item)

    async def _upsert(self, conn: AsyncConnection, item: InstalledCertificate) -> None:
        values = _cert_values(item)
        keys = [
            "station_id",
            "use",
            "hash_algorithm",
            "issuer_name_hash",
            "issuer_key_hash",
            "serial_number",
        ]
        # What Ampyre learnt from the certificate itself stays when a report (hash
        # data only) of the same certificate comes in.
        rest: dict[str, Any] = {"updated_at": values["updated_at"]}
        for name in ("subject", "issuer", "not_after", "pem", "child_of_serial"):
            if values[name] is not None:
                rest[name] = values[name]
        if item.source != "reported":
            rest["source"] = values["source"]
        stmt = self._db.insert(_C).values(values)
        await conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=rest))

    async def replace_reported(
        self,
        station_id: str,
        uses: Collection[CertificateUse],
        items: Sequence[InstalledCertificate],
    ) -> None:
        names = sorted({u.value for u in uses})
        keep = {(i.use.value, *_hash_values(i.hash_data).values()) for i in items}
        async with self._db.tx() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        _C.c.id,
                        _C.c.use,
                        _C.c.hash_algorithm,
                        _C.c.issuer_name_hash,
                        _C.c.issuer_key_hash,
                        _C.c.serial_number,
                    ).where(_C.c.station_id == station_id, _C.c.use.in_(names))
                )
            ).all()
            gone = [r.id for r in rows if tuple(r[1:]) not in keep]
            if gone:
                await conn.execute(sa.delete(_C).where(_C.c.id.in_(gone)))
            for item in items:
                await self._upsert(conn, item)

    async def delete_certificate(self, station_id: str, cert_id: int) -> bool:
        async with self._db.tx() as conn:
            result = await conn.execute(
                sa.delete(_C).where(_C.c.station_id == station_id, _C.c.id == cert_id)
            )
        return bool(result.rowcount)

    async def get_certificate(self, station_id: str, cert_id: int) -> InstalledCertificate | None:
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(_C).where(_C.c.station_id == station_id, _C.c.id == cert_id)
                )
            ).first()
        return None if row is None else _cert(row)

    async def list_certificates(
        self,
        station_id: str | None,
        expiring_before: datetime | None,
        use: str | None,
        limit: int,
        offset: int,
    ) -> Page:
        where: list[Any] = []
        if station_id is not None:
            where.append(_C.c.station_id == station_id)
        if expiring_before is not None:
            where.append(_C.c.not_after.is_not(None))
            where.append(_C.c.not_after < expiring_before)
        if use is not None:
            where.append(_C.c.use == use)
        order = (
            (_C.c.not_after, _C.c.id)
            if expiring_before is not None
            else (_C.c.station_id, _C.c.use, _C.c.id)
        )
        query = sa.select(_C).where(*where).order_by(*order)
        count = sa.select(sa.func.count()).select_from(_C).where(*where)
        return await self._db.page(query, count, _cert, limit, offset)

    # ------------------------------------------------------------------ security events

    async def add_event(self, event: SecurityEvent) -> SecurityEvent:
        values = {
            "station_id": event.station_id,
            "type": event.type[:50],
            "timestamp": event.timestamp,
            "received_at": event.received_at,
            "source": event.source[:8],
            "tech_info": _clip(event.tech_info, 255),
            "critical": event.critical,
        }
        async with self._db.tx() as conn:
            await self._require_station(conn, event.station_id)
            result = await conn.execute(sa.insert(_E).returning(_E.c.id), values)
            event.id = int(result.scalar_one())
        return event

    async def prune_security_events(self, older_than: datetime) -> int:
        """In batches of PRUNE_CHUNK rows, each its own short transaction."""
        chunk = (
            sa.select(_E.c.id).where(_E.c.received_at < older_than).limit(PRUNE_CHUNK)
        ).scalar_subquery()
        stmt = sa.delete(_E).where(_E.c.id.in_(chunk))
        deleted = 0
        while True:
            async with self._db.tx() as conn:
                n = int((await conn.execute(stmt)).rowcount or 0)
            deleted += n
            if n < PRUNE_CHUNK:
                return deleted
            await asyncio.sleep(0)

    async def list_events(self, query: SecurityEventQuery, limit: int, offset: int) -> Page:
        where: list[Any] = []
        if query.station_id is not None:
            where.append(_E.c.station_id == query.station_id)
        if query.type is not None:
            where.append(_E.c.type == query.type)
        if query.critical is not None:
            where.append(_E.c.critical == query.critical)
        if query.since is not None:
            where.append(_E.c.received_at >= query.since)
        select = sa.select(_E).where(*where).order_by(_E.c.id.desc())
        count = sa.select(sa.func.count()).select_from(_E).where(*where)
        return await self._db.page(select, count, _event, limit, offset)
