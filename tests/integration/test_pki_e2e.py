"""The built-in PKI against a real Ampyre (issue 19): the
hierarchy is recorded at start, a contract certificate issued through the service carries
the server's OCSP URL and is `good` over real HTTP; revoked through the REST API (operator
audit trail) it is `revoked`. The registry (SQLite and PostgreSQL) keeps serials beyond
64 bits; the `pki`
command line makes a PKI without a database and issues/revokes with one."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from polling import until

from ampyre.adapters.db.pki import PkiSql
from ampyre.adapters.db.store import SqlStore
from ampyre.adapters.pki import LocalPki
from ampyre.adapters.pki import commands as pki_commands
from ampyre.adapters.pki.hierarchy import new_key
from ampyre.adapters.pki.ocsp_client import ocsp_request_data
from ampyre.config import Settings
from ampyre.services.pki_port import CertificateFilter, IssuedCertificate, OcspStatus

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

AMPYRE = Path(sys.executable).with_name("ampyre")


async def test_ocsp_and_revocation_through_a_running_server(
    start_server: StartServer, sqlite_url: str, pki_dir: Path
) -> None:
    # One backend: the registry's SQL is tested on both below.
    server: Server = await start_server(sqlite_url, pki_dir=str(pki_dir))
    security = server.app.security
    assert security.pki_issuer is not None and security.ocsp_client is not None
    assert security.signer is not None  # the local signer for SignCertificate
    api = server.api()

    async def hierarchy_recorded() -> bool:
        r = await api.get("/pki/certificates", params={"role": "cpo-sub1"})
        return bool(r.json()["total"] == 1)

    await until("hierarchy recorded", hierarchy_recorded)
    overview = (await api.get("/pki")).json()
    assert overview["configured"] is True
    assert overview["ocsp_url"] == f"{server.http_url}/ocsp"

    issued = await security.pki_issuer.issue_contract_certificate(
        "DEABCC123ABC56", new_key().public_key()
    )
    data = ocsp_request_data(issued.certificate, issued.chain[0])
    assert data.responder_url == f"{server.http_url}/ocsp"  # the bound port, not 0
    issuer_pem = issued.chain_pem().split("-----END CERTIFICATE-----\n")[1] + (
        "-----END CERTIFICATE-----\n"
    )
    answer = await security.ocsp_client.status(data, issuer_pem)
    assert answer.status is OcspStatus.GOOD, answer.error

    r = await api.post(f"/pki/certificates/{issued.serial}/revoke", json={"reason": "superseded"})
    assert r.status_code == 200, r.text
    assert r.json()["revoked_by"]
    answer = await security.ocsp_client.status(data, issuer_pem)
    assert answer.status is OcspStatus.REVOKED

    trail = (await api.get("/audit", params={"limit": 50})).json()["items"]
    assert any(f"/pki/certificates/{issued.serial}/revoke" in str(item) for item in trail)


async def test_registry_on_both_backends(store_url: str) -> None:
    store = SqlStore(Settings(database_url=store_url))
    await store.start()
    sql = PkiSql(store.db)
    try:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        big = format((1 << 159) + 12345, "x")  # 160-bit serial: beyond any integer column
        row = IssuedCertificate(
            serial=big,
            issuer="mo-sub2",
            role="contract",
            subject="CN=DE_100%,O=Lab",
            not_before=now,
            not_after=now + dt.timedelta(days=365),
            fingerprint="ab" * 32,
            pem="-----BEGIN CERTIFICATE-----\n...\n",
            issued_at=now,
            station_id="CS-1",
        )
        assert await sql.record_certificate(row) is True
        assert await sql.record_certificate(row) is False  # unique per issuer and serial
        assert await sql.record_certificate(dataclasses.replace(row, issuer="csms-sub"))
        other = dataclasses.replace(row, serial="1", subject="CN=DEX100X,O=Lab")
        assert await sql.record_certificate(other)
        found = await sql.find_certificate("mo-sub2", big)
        assert found is not None and found.serial == big and found.not_after == row.not_after
        assert len(await sql.certificates_by_serial(big)) == 2
        # LIKE wildcards in the filter are literal.
        page = await sql.list_certificates(CertificateFilter(subject="_100%"), 10, 0)
        assert [c.serial for c in page.items] == [big, big]
        page = await sql.list_certificates(CertificateFilter(role="contract"), 2, 1)
        assert page.total == 3 and len(page.items) == 2
        assert found.id is not None
        revoked = await sql.revoke_certificate(found.id, now, "keyCompromise", "op")
        assert revoked is not None and revoked.revoked_at == now
        again = await sql.revoke_certificate(found.id, now + dt.timedelta(hours=1), "x", "y")
        assert again is not None and again.revoked_by == "op"  # the first revocation stays
        page = await sql.list_certificates(CertificateFilter(revoked=True), 10, 0)
        assert [c.id for c in page.items] == [found.id]
    finally:
        await store.close()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMPYRE_")}
    command = [str(AMPYRE)] if AMPYRE.exists() else [sys.executable, "-m", "ampyre"]
    return subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def test_cli(tmp_path: Path, sqlite_url: str) -> None:
    directory = tmp_path / "pki"
    made = await asyncio.to_thread(
        _cli, "pki", "init", "--dir", str(directory), "--organisation", "Lab", "--host", "csms.lab"
    )
    assert made.returncode == 0, made.stderr
    assert "cps-leaf" in made.stdout and "mo-sub2" in made.stdout
    pki = LocalPki.load(directory)
    assert pki.organisation() == "Lab"

    settings = Settings(database_url=sqlite_url, pki_dir=str(directory))
    out = tmp_path / "station"
    assert await pki_commands.pki_issue_station(settings, "CS/1", str(out), None, None, 30) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["CS_1.key", "CS_1.pem", "ca.pem"]
    assert (os.stat(out / "CS_1.key").st_mode & 0o777) == 0o600
    store = SqlStore(settings)
    await store.start()
    try:
        page = await PkiSql(store.db).list_certificates(CertificateFilter(role="station"), 5, 0)
    finally:
        await store.close()
    assert page.total == 1 and page.items[0].station_id == "CS/1"
    serial = page.items[0].serial
    assert await pki_commands.pki_revoke(settings, serial.upper(), "keyCompromise", None) == 0
    assert await pki_commands.pki_revoke(settings, serial, "keyCompromise", None) == 1
    assert await pki_commands.pki_revoke(settings, "abc", "unspecified", None) == 1
    with pytest.raises(ValueError, match="unknown reason"):
        await pki_commands.pki_revoke(settings, serial, "because", None)


async def test_cli_issue_vehicle(tmp_path: Path, pki_dir: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from ampyre.simulator import plug_and_charge as pnc

    out = tmp_path / "vehicle"
    made = await asyncio.to_thread(
        _cli, "pki", "issue-vehicle", "WMIDEMO0000000042", "--out", str(out), "--dir", str(pki_dir)
    )
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [pnc.OEM_CERT, pnc.OEM_KEY, pnc.V2G_ROOT]
    )
    assert (os.stat(out / pnc.OEM_KEY).st_mode & 0o777) == 0o600
    cert = x509.load_pem_x509_certificate((out / pnc.OEM_CERT).read_bytes())
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == "WMIDEMO0000000042"
    pki = LocalPki.load(pki_dir)
    assert pki.issuer_of(cert) == "oem-sub2"
    key = serialization.load_pem_private_key((out / pnc.OEM_KEY).read_bytes(), None)
    assert key.public_key() == cert.public_key()
    root = x509.load_pem_x509_certificate((out / pnc.V2G_ROOT).read_bytes())
    assert root == pki.certificate("v2g-root")
    # A PCID is 17 or 18 letters and digits: anything else is a clear error, no files.
    bad = await asyncio.to_thread(
        _cli,
        "pki",
        "issue-vehicle",
        "TOO-SHORT",
        "--out",
        str(tmp_path / "x"),
        "--dir",
        str(pki_dir),
    )
    assert bad.returncode == 2 and "PCID" in bad.stderr
    assert not (tmp_path / "x").exists()
