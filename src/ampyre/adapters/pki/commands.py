"""`ampyre pki init | show | issue-station | issue-vehicle | revoke` (called from cli.py).

`init`, `show` and `issue-vehicle` need no database. `issue-station` records the certificate in the
database when it is reachable and migrated (else it says the OCSP responder will not
know it); `revoke` needs the database."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from ampyre.adapters.pki.hierarchy import (
    Issued,
    LocalPki,
    PkiError,
    fingerprint,
    init_pki,
    pem,
)
from ampyre.adapters.pki.profiles import HIERARCHY
from ampyre.config import Settings
from ampyre.services.pki_port import IssuedCertificate, RevocationReason

_SAFE_NAME = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def default_ocsp_url(settings: Settings) -> str:
    """The responder URL issued certificates carry (AIA): AMPYRE_PUBLIC_URL or
    http://{host}:{http_port} (a wildcard host as the loopback address)."""
    if settings.public_url:
        return settings.public_url.rstrip("/") + "/ocsp"
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(
        settings.host, settings.host
    )
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.http_port}/ocsp"


def pki_init(
    settings: Settings,
    directory: str | None,
    organisation: str | None,
    hosts: list[str],
    force: bool,
) -> int:
    target = Path(directory or settings.pki_dir)
    existed = LocalPki.is_initialised(target)
    if existed and not force:
        print(f"{target}: a PKI is there already (--force makes a new one)", file=sys.stderr)
        return 0
    all_hosts = [settings.host, *hosts]
    pki = init_pki(
        target,
        organisation or settings.pki_organisation,
        hosts=all_hosts,
        ocsp_url=default_ocsp_url(settings),
        force=force,
    )
    print(f"PKI in {target} (organisation {pki.organisation()!r}):")
    _print_entries(pki)
    return 0


def pki_show(settings: Settings, directory: str | None) -> int:
    pki = LocalPki.load(directory or settings.pki_dir)
    print(f"PKI in {pki.directory} (organisation {pki.organisation()!r}):")
    _print_entries(pki)
    return 0


def _print_entries(pki: LocalPki) -> None:
    for name, (role, parent, _) in HIERARCHY.items():
        cert = pki.certificate(name)
        key = "key" if pki.has_key(name) else "no key"
        print(
            f"  {name:12} {cert.subject.rfc4514_string()}\n"
            f"  {'':12} issued by {parent or '(self-signed)'}, {role.value}, {key}, "
            f"valid until {cert.not_valid_after_utc:%Y-%m-%d}, "
            f"SHA-256 {fingerprint(cert)}"
        )


async def pki_issue_station(
    settings: Settings,
    station_id: str,
    out: str,
    directory: str | None,
    organisation: str | None,
    days: int | None,
) -> int:
    pki = LocalPki.load(directory or settings.pki_dir, ocsp_url=default_ocsp_url(settings))
    not_after = None
    if days is not None:
        if not 1 <= days <= 5 * 365:
            raise ValueError("--days must be within 1..1825")
        not_after = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    issued = pki.issue_station_certificate(station_id, organisation, not_after=not_after)
    cert_path, key_path, ca_path = _write_station_files(pki, issued, station_id, Path(out))
    print(f"certificate {cert_path} (chain), key {key_path}, CA {ca_path}")
    print(f"serial {issued.serial}, valid until {issued.certificate.not_valid_after_utc:%Y-%m-%d}")
    recorded = await _record(settings, issued.to_record(station_id))
    if not recorded:
        print(
            "warning: not recorded in the database (unreachable or not migrated): the "
            "OCSP responder answers `unknown` for it; run `ampyre migrate` first",
            file=sys.stderr,
        )
    return 0


def _write_station_files(
    pki: LocalPki, issued: Issued, station_id: str, target: Path
) -> tuple[Path, Path, Path]:
    target.mkdir(parents=True, exist_ok=True)
    base = "".join(c if c in _SAFE_NAME else "_" for c in station_id).lstrip(".") or "station"
    cert_path, key_path, ca_path = (
        target / f"{base}.pem",
        target / f"{base}.key",
        target / "ca.pem",
    )
    cert_path.write_text(issued.chain_pem(), encoding="ascii")
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(issued.key_pem())
    os.chmod(key_path, 0o600)
    ca_path.write_text(pem(pki.certificate("csms-root")), encoding="ascii")
    return cert_path, key_path, ca_path


def pki_issue_vehicle(
    settings: Settings,
    pcid: str,
    out: str,
    directory: str | None,
    names: tuple[str, str, str],
) -> int:
    """A simulated ISO 15118 vehicle's files (`ampyre simulate --plug-and-charge OUT`)."""
    pki = LocalPki.load(directory or settings.pki_dir, ocsp_url=default_ocsp_url(settings))
    cert_path, key_path, root_path = write_vehicle_files(pki, pcid, Path(out), names)
    print(f"OEM provisioning certificate {cert_path}, key {key_path}, V2G root {root_path}")
    return 0


def write_vehicle_files(
    pki: LocalPki, pcid: str, target: Path, names: tuple[str, str, str]
) -> tuple[Path, Path, Path]:
    """An OEM provisioning certificate (CN = PCID) with its key, and the V2G root the
    vehicle trusts, written as `names` (certificate, key, root) into `target`."""
    # ISO 15118-2 [V2G2-653]: the PCID is 17 or 18 characters (the last a check digit).
    if not (17 <= len(pcid) <= 18 and pcid.isascii() and pcid.isalnum()):
        raise ValueError("a PCID is 17 or 18 letters and digits")
    issued = pki.issue_oem_provisioning_certificate(pcid.upper())
    target.mkdir(parents=True, exist_ok=True)
    cert_path, key_path, root_path = (target / n for n in names)
    # The leaf only: a CertificateInstallationReq carries just the provisioning
    # certificate, the CSMS chains it to the OEM root it knows.
    cert_path.write_text(issued.certificate_pem(), encoding="ascii")
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(issued.key_pem())
    os.chmod(key_path, 0o600)
    root_path.write_text(pem(pki.certificate("v2g-root")), encoding="ascii")
    return cert_path, key_path, root_path


async def _record(settings: Settings, cert: IssuedCertificate) -> bool:
    from ampyre.adapters.db.pki import PkiSql
    from ampyre.adapters.db.store import SqlStore
    from ampyre.services.ports import SchemaNotCurrent, StoreUnavailable

    store = SqlStore(settings)
    try:
        await store.check_schema()
        await store.start()
    except (SchemaNotCurrent, StoreUnavailable, OSError):
        await store.close()
        return False
    try:
        await PkiSql(store.db).record_certificate(cert)
    finally:
        await store.close()
    return True


async def pki_revoke(settings: Settings, serial: str, reason: str, issuer: str | None) -> int:
    from ampyre.adapters.db.pki import PkiSql
    from ampyre.adapters.db.store import SqlStore
    from ampyre.services.pki import CertificateNotFound, PkiService, RevocationConflict

    try:
        why = RevocationReason(reason)
    except ValueError:
        raise PkiError(
            f"unknown reason {reason!r} (one of {', '.join(r.value for r in RevocationReason)})"
        ) from None
    store = SqlStore(settings)
    await store.check_schema()
    await store.start()
    try:
        service = PkiService(PkiSql(store.db), None)
        try:
            revoked = await service.revoke(serial, why, by="cli", issuer=issuer)
        except CertificateNotFound:
            print(f"ampyre: no issued certificate with serial {serial}", file=sys.stderr)
            return 1
        except RevocationConflict as exc:
            print(f"ampyre: {exc}", file=sys.stderr)
            return 1
    finally:
        await store.close()
    print(f"revoked {revoked.serial} ({revoked.role}, {revoked.subject}), reason {why.value}")
    return 0
