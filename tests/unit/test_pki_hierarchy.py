"""The built-in PKI (issue 19): the hierarchy `pki init` makes follows the ISO 15118-2
Annex F profiles, and what it issues chains to the right CA."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ampyre.adapters.pki import HIERARCHY, LocalPki, PkiError, Role, init_pki, normalise_serial
from ampyre.adapters.pki.hierarchy import build_certificate, new_key
from ampyre.adapters.pki.ocsp_client import build_request, ocsp_request_data
from ampyre.adapters.pki.profiles import PROFILES


def _bc(cert: x509.Certificate) -> x509.BasicConstraints:
    ext = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert ext.critical
    return ext.value


def _ku(cert: x509.Certificate) -> x509.KeyUsage:
    ext = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ext.critical
    return ext.value


def _dc(cert: x509.Certificate) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.DOMAIN_COMPONENT)]


def _csr(common_name: str, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def test_hierarchy_follows_the_iso15118_profiles(local_pki: LocalPki) -> None:
    year = dt.timedelta(days=365)
    for name, (role, parent, _) in HIERARCHY.items():
        cert = local_pki.certificate(name)
        key = cert.public_key()
        # ISO 15118-2 [V2G2-006]: secp256r1, ecdsa-with-SHA256.
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
        assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
        assert cert.version is x509.Version.v3
        issuer = local_pki.certificate(parent or name)
        cert.verify_directly_issued_by(issuer)
        assert cert.not_valid_after_utc <= issuer.not_valid_after_utc
        if PROFILES[role].ca:
            assert _ku(cert).key_cert_sign and _ku(cert).crl_sign
            assert not _ku(cert).digital_signature
    for root in ("v2g-root", "mo-root", "oem-root"):
        cert = local_pki.certificate(root)
        assert _bc(cert).ca and _bc(cert).path_length is None
        assert cert.not_valid_after_utc - cert.not_valid_before_utc <= 40 * year + dt.timedelta(
            hours=1
        )
    for sub1 in ("cpo-sub1", "mo-sub1", "oem-sub1", "cps-sub1"):
        cert = local_pki.certificate(sub1)
        assert _bc(cert).ca and _bc(cert).path_length == 1
        assert cert.not_valid_after_utc - cert.not_valid_before_utc <= 4 * year + dt.timedelta(
            hours=1
        )
    for sub2 in ("cpo-sub2", "mo-sub2", "oem-sub2", "cps-sub2", "csms-sub"):
        assert _bc(local_pki.certificate(sub2)).path_length == 0
    assert _dc(local_pki.certificate("v2g-root")) == ["V2G"]
    assert _dc(local_pki.certificate("mo-sub2")) == ["MO"]
    assert _dc(local_pki.certificate("oem-sub1")) == ["OEM"]
    server = local_pki.certificate("csms-server")
    assert not _bc(server).ca
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "::1"}
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku


def test_keys_are_private_files(pki_dir: Path) -> None:
    for name in HIERARCHY:
        mode = stat.S_IMODE(os.stat(pki_dir / f"{name}.key").st_mode)
        assert mode == 0o600, name


def test_station_certificate(local_pki: LocalPki) -> None:
    issued = local_pki.issue_station_certificate("CS-0001")
    cert = issued.certificate
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CS-0001"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "Ampyre Test"
    )
    cert.verify_directly_issued_by(local_pki.certificate("csms-sub"))
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
    assert issued.chain == (local_pki.certificate("csms-sub"),)
    assert issued.chain_pem().count("BEGIN CERTIFICATE") == 2
    assert "PRIVATE KEY" in issued.key_pem()
    assert cert.serial_number.bit_length() > 64  # stored as hex text
    assert issued.serial == format(cert.serial_number, "x")
    record = issued.to_record("CS-0001")
    assert (record.issuer, record.role, record.station_id) == ("csms-sub", "station", "CS-0001")


def test_expired_station_certificate_for_tests(local_pki: LocalPki) -> None:
    now = dt.datetime.now(dt.UTC)
    issued = local_pki.issue_station_certificate(
        "CS-OLD", not_before=now - dt.timedelta(days=3), not_after=now - dt.timedelta(days=1)
    )
    assert issued.certificate.not_valid_after_utc < now


def test_contract_and_provisioning_certificates(local_pki: LocalPki) -> None:
    vehicle = local_pki.issue_oem_provisioning_certificate("WMIV1234567890ABCDEX")
    prov = vehicle.certificate
    prov.verify_directly_issued_by(local_pki.certificate("oem-sub2"))
    assert _dc(prov) == ["OEM"] and not _bc(prov).ca
    assert _ku(prov).digital_signature and _ku(prov).key_agreement
    contract_key = new_key()
    pem_key = contract_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    issued = local_pki.issue_contract_certificate("DEABCC123ABC56", pem_key)
    cert = issued.certificate
    cert.verify_directly_issued_by(local_pki.certificate("mo-sub2"))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "DEABCC123ABC56"
    assert _dc(cert) == ["MO"]
    assert _ku(cert).digital_signature and _ku(cert).content_commitment
    assert issued.key is None
    assert [c.subject for c in issued.chain] == [
        local_pki.certificate("mo-sub2").subject,
        local_pki.certificate("mo-sub1").subject,
    ]
    with pytest.raises(PkiError, match="secp256r1"):
        local_pki.issue_contract_certificate(
            "DEABCC123ABC57", ec.generate_private_key(ec.SECP384R1()).public_key()
        )
    with pytest.raises(PkiError, match="malformed public key"):
        local_pki.issue_contract_certificate("DEABCC123ABC57", b"not a key")
    with pytest.raises(PkiError, match="common name"):
        local_pki.issue_contract_certificate("X" * 65, contract_key.public_key())


def test_sign_csr(local_pki: LocalPki) -> None:
    issued = local_pki.sign_csr(_csr("CS-7", new_key()), "ChargingStationCertificate")
    assert issued.role is Role.STATION and issued.issuer == "csms-sub"
    v2g = local_pki.sign_csr(_csr("CS-7", new_key()), "V2GCertificate")
    assert v2g.role is Role.SECC and v2g.issuer == "cpo-sub2"
    assert _dc(v2g.certificate) == ["CPO"]  # ISO 15118-2 Annex F: SECC leaf DC=CPO
    assert len(v2g.chain) == 2
    with pytest.raises(PkiError, match="malformed CSR"):
        local_pki.sign_csr("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", "V2GCertificate")
    with pytest.raises(PkiError, match="unsupported certificate use"):
        local_pki.sign_csr(_csr("CS-7", new_key()), "ManufacturerRootCertificate")
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(PkiError, match="at least 2048"):
        local_pki.sign_csr(_csr("CS-7", weak), "ChargingStationCertificate")


def test_validity_beyond_the_profile_is_refused(local_pki: LocalPki) -> None:
    ca_cert, ca_key = local_pki.ca("cpo-sub2")
    key = new_key()
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(PkiError, match="exceeds"):
        build_certificate(
            PROFILES[Role.SECC],
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "S")]),
            key.public_key(),
            (ca_cert, ca_key),
            ca_key,
            ocsp_url=None,
            not_after=now + dt.timedelta(days=365),
        )


def test_ocsp_url_in_issued_certificates(pki_dir: Path) -> None:
    pki = LocalPki.load(pki_dir, ocsp_url="http://csms.example:8000/ocsp")
    cert = pki.issue_station_certificate("CS-1").certificate
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [d.access_location.value for d in aia] == ["http://csms.example:8000/ocsp"]


def test_init_keeps_external_files_and_load_checks_keys(tmp_path: Path, pki_dir: Path) -> None:
    # An operator's own V2G root (certificate and key) dropped in before `pki init`.
    external = tmp_path / "pki"
    external.mkdir()
    for suffix in (".pem", ".key"):
        (external / f"v2g-root{suffix}").write_bytes((pki_dir / f"v2g-root{suffix}").read_bytes())
    pki = init_pki(external, "Other Org")
    assert pki.certificate("v2g-root") == LocalPki.load(pki_dir).certificate("v2g-root")
    pki.certificate("cpo-sub1").verify_directly_issued_by(pki.certificate("v2g-root"))
    # A key that does not belong to its certificate is refused at load.
    (external / "mo-sub2.key").write_bytes((external / "mo-sub1.key").read_bytes())
    with pytest.raises(PkiError, match="does not belong"):
        LocalPki.load(external)
    # A CA without its key: loads (an external CA), cannot sign.
    (external / "mo-sub2.key").unlink()
    loaded = LocalPki.load(external)
    assert not loaded.has_key("mo-sub2")
    with pytest.raises(PkiError, match="no private key"):
        loaded.issue_contract_certificate("DEABCC123ABC56", new_key().public_key())
    with pytest.raises(PkiError, match="no initialised PKI"):
        LocalPki.load(tmp_path / "nothing")


def test_serials() -> None:
    assert normalise_serial("0x00AB:CD") == "abcd"
    assert normalise_serial("000") == "0"
    for bad in ("", "xyz", "1" * 65, "12 34"):
        with pytest.raises(PkiError):
            normalise_serial(bad)


def test_build_request_round_trip(local_pki: LocalPki) -> None:
    cert = local_pki.issue_station_certificate("CS-RT").certificate
    data = ocsp_request_data(cert, local_pki.certificate("csms-sub"), url="http://x/ocsp")
    request = ocsp.load_der_ocsp_request(build_request(data))
    assert request.serial_number == cert.serial_number
    assert isinstance(request.hash_algorithm, hashes.SHA256)
    with pytest.raises(ValueError, match="no OCSP responder"):
        ocsp_request_data(cert, local_pki.certificate("csms-sub"))
