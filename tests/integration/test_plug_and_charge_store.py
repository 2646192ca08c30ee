"""Contract certificates in SQL (issue 19) on SQLite and PostgreSQL: a certificate
is one row per fingerprint (an issued one stays issued when a station presents it),
statuses are marked by serial, lists filter and page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from ampyre.adapters.db.database import Database
from ampyre.adapters.db.plug_and_charge import PlugAndChargeSql
from ampyre.config import Settings
from ampyre.domain.plug_and_charge import CertificateStatus, ContractCertificate, ContractSource

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sql(store_url: str) -> AsyncIterator[PlugAndChargeSql]:
    db = Database(Settings(database_url=store_url))
    yield PlugAndChargeSql(db)
    await db.dispose()


def cert(n: int, source: ContractSource, **kw: object) -> ContractCertificate:
    c = ContractCertificate(
        emaid=f"DEAMPC{n:08d}",
        serial_number=f"{n:x}",
        fingerprint=f"{n:064x}",
        subject=f"CN=DEAMPC{n:08d},DC=MO",
        issuer="CN=MO Sub2,DC=MO",
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=365),
        source=source,
        pem="-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
        created_at=NOW,
        updated_at=NOW,
    )
    for key, value in kw.items():
        setattr(c, key, value)
    return c


async def test_save_mark_list(sql: PlugAndChargeSql) -> None:
    issued = await sql.save_contract(
        cert(1, ContractSource.ISSUED, provider="builtin", station_id="CS1")
    )
    assert issued.id is not None and issued.source is ContractSource.ISSUED
    # Presented later at another station: the same row, still issued, its provider kept.
    later = NOW + timedelta(hours=1)
    again = await sql.save_contract(
        cert(1, ContractSource.PRESENTED, station_id="CS2", created_at=later, updated_at=later)
    )
    assert again.id == issued.id
    assert (again.source, again.provider, again.station_id) == (
        ContractSource.ISSUED,
        "builtin",
        "CS2",
    )
    assert again.created_at == NOW and again.updated_at == later
    await sql.save_contract(cert(2, ContractSource.PRESENTED, station_id="CS2"))
    assert await sql.mark_contract("1", CertificateStatus.CERTIFICATE_REVOKED, "CS3", later) == 1
    assert await sql.mark_contract("ff", CertificateStatus.ACCEPTED, "CS3", later) == 0
    assert (
        await sql.mark_contract("2", CertificateStatus.ACCEPTED, "CS2", later, fingerprint="00")
        == 0
    )
    page = await sql.list_contracts(10, 0)
    assert page.total == 2 and [c.serial_number for c in page.items] == ["2", "1"]
    revoked = await sql.list_contracts(10, 0, status=CertificateStatus.CERTIFICATE_REVOKED)
    (row,) = revoked.items
    assert row.emaid == "DEAMPC00000001" and row.station_id == "CS3"
    assert row.last_checked_at == later
    by_emaid = await sql.list_contracts(10, 0, emaid="deampc00000002", station_id="CS2")
    assert by_emaid.total == 1
    assert (await sql.list_contracts(1, 1)).items[0].serial_number == "1"
    assert await sql.get_contract(row.id or 0) is not None
    assert await sql.get_contract(2**62) is None
