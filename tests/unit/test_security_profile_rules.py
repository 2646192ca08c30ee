"""The security profile rules of the handshake (gateway/admission.py, client_certs.py)
and the password rules of rotations (services/station_security.py), without sockets."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ampyre.gateway import client_certs
from ampyre.gateway.admission import Admitted, TransportSecurity, check_profile
from ampyre.gateway.client_certs import CertRefused
from ampyre.services.station_control import InvalidCommand
from ampyre.services.station_security import check_password, generate_password
from ampyre.services.stations import InvalidPassword

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ORG = "Ampyre Test"


def _name(cn: str, org: str | None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(parts)


def _cert(
    cn: str,
    org: str | None = ORG,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    days: tuple[int, int] = (-1, 30),
    ca: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(cn, org)
    signer_name, signer_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + timedelta(days=days[0]))
        .not_valid_after(NOW + timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), False
        )
    return builder.sign(signer_key, hashes.SHA256()), key


@pytest.fixture(scope="module")
def root() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    return _cert("Root", ca=True, days=(-10, 3650))


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_profile_rules() -> None:
    plain, tls = TransportSecurity(secure=False), TransportSecurity(secure=True)
    check = check_profile
    # Downgrades.
    assert check(3, False, tls, "CS1", "", NOW).refusal == (
        "downgrade",
        "configured for security profile 3; connected without a client certificate",
    )
    assert check(3, True, plain, "CS1", "", NOW).refusal is not None
    assert check(2, True, plain, "CS1", "", NOW).refusal == (
        "downgrade",
        "configured for security profile 2 (TLS); connected without TLS",
    )
    # Passwords: profile 1 and 2, or a password without a configured profile.
    assert check(2, True, tls, "CS1", "", NOW).needs_password
    assert check(2, True, tls, "CS1", "", NOW).profile == 2
    assert check(1, True, tls, "CS1", "", NOW).profile == 2  # higher is fine
    assert check(1, True, plain, "CS1", "", NOW).profile == 1
    assert check(None, True, plain, "CS1", "", NOW).needs_password
    assert check(2, False, tls, "CS1", "", NOW).refusal is not None  # no password set
    open_ = check(None, False, plain, "CS1", "", NOW)
    assert (open_.refusal, open_.needs_password, open_.profile) == (None, False, 0)
    assert check(7, False, tls, "CS1", "", NOW).refusal is not None
    # A proxied certificate that could not be used.
    bad = TransportSecurity(secure=True, cert_error="nope")
    assert check(None, False, bad, "CS1", "", NOW).refusal == ("cert_refused", "nope")


def test_certificates_must_name_the_station(
    root: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
) -> None:
    issuer = root
    own, _ = _cert("CS1", issuer=issuer)
    verdict = check_profile(3, False, TransportSecurity(True, own), "CS1", ORG, NOW)
    assert verdict.refusal is None and verdict.profile == 3 and not verdict.needs_password
    assert verdict.certificate is not None and verdict.certificate.common_name == "CS1"
    # Even a station with a password and no profile: someone else's certificate is refused.
    other = check_profile(None, True, TransportSecurity(True, own), "CS2", ORG, NOW)
    assert other.refusal is not None and "is not the station id 'CS2'" in other.refusal[1]
    wrong_org = check_profile(3, False, TransportSecurity(True, own), "CS1", "Other", NOW)
    assert wrong_org.refusal is not None and "organisation" in wrong_org.refusal[1]
    old, _ = _cert("CS1", issuer=issuer, days=(-30, -1))
    expired = check_profile(3, False, TransportSecurity(True, old), "CS1", ORG, NOW)
    assert expired.refusal is not None and "expired" in expired.refusal[1]
    future, _ = _cert("CS1", issuer=issuer, days=(1, 30))
    early = check_profile(3, False, TransportSecurity(True, future), "CS1", ORG, NOW)
    assert early.refusal is not None and "not valid before" in early.refusal[1]


def test_proxied_certificates(root: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]) -> None:
    sub = _cert("Sub", ca=True, issuer=root, days=(-5, 365))
    leaf, _ = _cert("CS1", issuer=sub)
    # URL-encoded PEM (nginx), PEM with spaces, base64 DER: the same certificate.
    der = leaf.public_bytes(serialization.Encoding.DER)
    for value in (
        quote(_pem(leaf)),
        _pem(leaf).replace("\n", " "),
        base64.b64encode(der).decode(),
    ):
        assert client_certs.from_header(value)[0] == leaf
    chain = client_certs.from_header(quote(_pem(leaf) + _pem(sub[0])))
    assert chain == [leaf, sub[0]]
    # Chained through the sub-CA from the header or from the bundle.
    client_certs.verify_chain(leaf, [root[0]], NOW, [sub[0]])
    client_certs.verify_chain(leaf, [root[0], sub[0]], NOW)
    with pytest.raises(CertRefused, match="does not chain"):
        client_certs.verify_chain(leaf, [root[0]], NOW)
    stranger = _cert("Stranger", ca=True, days=(-5, 365))
    with pytest.raises(CertRefused, match="does not chain"):
        client_certs.verify_chain(leaf, [stranger[0]], NOW, [sub[0]])
    with pytest.raises(CertRefused, match="expired"):
        client_certs.verify_chain(leaf, [root[0], sub[0]], NOW + timedelta(days=40))
    with pytest.raises(CertRefused, match="no CA"):
        client_certs.verify_chain(leaf, [], NOW)
    for junk in ("not a certificate", "%%%", "A" * 20_000, quote("-----BEGIN CERTIFICATE-----x")):
        with pytest.raises(CertRefused):
            client_certs.from_header(junk)


def test_admitted_changes() -> None:
    assert not Admitted("CS1", 2, 2, 2, False).changes
    assert Admitted("CS1", 2, 2, 2, True).changes  # the rotated password used
    assert Admitted("CS1", 3, 2, 2, False).changes  # upgraded
    assert Admitted("CS1", 1, None, None, False).changes  # first connection
    assert not Admitted("CS1", 0, None, None, False).changes  # nothing to record


def test_passwords() -> None:
    for v16 in (True, False):
        password = generate_password(v16)
        assert check_password(password, v16) == password
        assert password.isalnum()
    assert len(generate_password(True)) == 20  # 1.6: 20 bytes, 40 hex digits
    assert check_password("x" * 40, False)
    with pytest.raises(InvalidCommand):
        check_password("x" * 21, True)
    with pytest.raises(InvalidPassword):
        check_password("short", False)
    with pytest.raises(InvalidPassword):
        check_password("with a space inside it", False)
