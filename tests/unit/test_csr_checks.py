"""CSR checks (domain/csr.py) and certificate hash data (domain/certificates.py), issue 19
part 3: every bad CSR is a clear CsrRejected, never another exception; hash data agree
with the OCSP CertID that `cryptography` builds."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
from functools import cache

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ampyre.domain.certificates import (
    HashAlgorithm,
    HashData,
    hash_data_of,
    is_critical,
    issuer_in,
    load_chain,
)
from ampyre.domain.csr import CsrRejected, check_csr

STATION = "CS-1"


@cache
def _p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _csr(
    key: object,
    cn: str | None = STATION,
    org: str | None = "ACME",
    algorithm: hashes.HashAlgorithm | None = None,
) -> str:
    attrs = []
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    if org is not None:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    csr = builder.sign(key, algorithm)  # type: ignore[arg-type]
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def test_good_p256_csr_passes_with_its_facts() -> None:
    info = check_csr(_csr(_p256(), algorithm=hashes.SHA256()), STATION, None, "ACME")
    assert info.common_name == STATION and info.organisation == "ACME"
    assert info.key == "EC secp256r1" and "CN=CS-1" in info.subject


def test_p384_and_rsa2048_are_accepted_for_the_station_certificate() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    assert check_csr(_csr(p384, algorithm=hashes.SHA384()), STATION, None).key == "EC secp384r1"
    rsa2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert check_csr(_csr(rsa2048, algorithm=hashes.SHA256()), STATION, None).key == "RSA 2048"


@cache
def _cases() -> list[tuple[str, str, object, str | None]]:
    """(name, csr, use, organisation) that must be rejected."""
    good = _csr(_p256(), algorithm=hashes.SHA256())
    body = good.splitlines()
    # One character of the signature flipped: still parses, signature does not verify.
    der = x509.load_pem_x509_csr(good.encode()).public_bytes(serialization.Encoding.DER)
    tampered = bytearray(der)
    tampered[-5] ^= 0x01
    b64 = base64.encodebytes(bytes(tampered)).decode()
    bad_sig = f"-----BEGIN CERTIFICATE REQUEST-----\n{b64}-----END CERTIFICATE REQUEST-----\n"
    rsa1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    k1 = ec.generate_private_key(ec.SECP256K1())
    ed = ed25519.Ed25519PrivateKey.generate()
    p384 = ec.generate_private_key(ec.SECP384R1())
    return [
        ("empty", "", None, None),
        ("not text", 12345, None, None),  # type: ignore[list-item]
        ("garbage", "hello world", None, None),
        ("truncated", "\n".join(body[:3]), None, None),
        ("two blocks", good + good, None, None),
        ("oversized", good + "\n" + "A" * 6000, None, None),
        ("bad signature", bad_sig, None, None),
        ("rsa 1024", _csr(rsa1024, algorithm=hashes.SHA256()), None, None),
        ("secp256k1", _csr(k1, algorithm=hashes.SHA256()), None, None),
        ("ed25519", _csr(ed), None, None),
        ("other CN", _csr(_p256(), cn="CS-2", algorithm=hashes.SHA256()), None, None),
        ("no CN", _csr(_p256(), cn=None, algorithm=hashes.SHA256()), None, None),
        ("wrong O", _csr(_p256(), org="Evil", algorithm=hashes.SHA256()), None, "ACME"),
        ("V2G p384", _csr(p384, algorithm=hashes.SHA384()), "V2GCertificate", None),
        ("V2G rsa", _csr(rsa1024, algorithm=hashes.SHA256()), "V2GCertificate", None),
        ("V2G no CN", _csr(_p256(), cn=None, algorithm=hashes.SHA256()), "V2GCertificate", None),
        (
            "a certificate",
            "-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----",
            None,
            None,
        ),
    ]


@pytest.mark.parametrize("index", range(17))
def test_bad_csrs_are_rejected_with_a_reason(index: int) -> None:
    from ampyre.domain.certificates import SigningUse

    name, pem, use, org = _cases()[index]
    signing = SigningUse(use) if isinstance(use, str) else None
    with pytest.raises(CsrRejected) as caught:
        check_csr(pem, STATION, signing, org)
    assert caught.value.reason, name


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
        st.text(max_size=200).map(
            lambda t: f"-----BEGIN CERTIFICATE REQUEST-----\n{t}\n-----END CERTIFICATE REQUEST-----"
        ),
        st.integers(),
        st.none(),
    )
)
def test_fuzzed_csrs_never_raise_anything_else(pem: object) -> None:
    with pytest.raises(CsrRejected):
        check_csr(pem, STATION, None)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=1500), st.integers(min_value=0, max_value=255))
def test_flipped_bytes_of_a_good_csr_never_crash(position: int, flip: int) -> None:
    good = _csr(_p256(), algorithm=hashes.SHA256())
    der = bytearray(x509.load_pem_x509_csr(good.encode()).public_bytes(serialization.Encoding.DER))
    der[position % len(der)] ^= flip
    pem = (
        "-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.encodebytes(bytes(der)).decode()
        + "-----END CERTIFICATE REQUEST-----\n"
    )
    with contextlib.suppress(CsrRejected):
        check_csr(pem, STATION, None)


def _self_signed(key: ec.EllipticCurvePrivateKey, cn: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x00ABCDEF)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def _leaf(issuer_key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(4242)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(issuer_key, hashes.SHA256())
    )


@pytest.mark.parametrize("algorithm", list(HashAlgorithm))
def test_hash_data_is_the_ocsp_cert_id(algorithm: HashAlgorithm) -> None:
    root_key = _p256()
    root = _self_signed(root_key, "Root")
    leaf = _leaf(root_key, root)
    ours = hash_data_of(leaf, root, algorithm)
    algo = {"SHA256": hashes.SHA256(), "SHA384": hashes.SHA384(), "SHA512": hashes.SHA512()}
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, root, algo[algorithm.value]).build()
    assert ours.issuer_name_hash == request.issuer_name_hash.hex()
    assert ours.issuer_key_hash == request.issuer_key_hash.hex()
    assert ours.serial_number == "1092" and ours.hash_algorithm == algorithm.value
    assert hash_data_of(root, None).serial_number == "abcdef"  # no leading zeroes


def test_chain_helpers() -> None:
    root_key = _p256()
    root = _self_signed(root_key, "Root")
    leaf = _leaf(root_key, root)
    pem = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in (leaf, root))
    assert load_chain(pem) == [leaf, root]
    assert issuer_in(leaf, [leaf, root]) == root and issuer_in(root, [leaf]) is None
    upper = HashData("sha256", "AB", "CD", "00FF")
    assert upper.key() == HashData("SHA256", "ab", "cd", "ff").key()
    assert is_critical("TamperDetectionActivated") and not is_critical("InvalidMessages")
    assert is_critical("Whatever", source="csms")


def test_a_csr_with_another_version_is_refused_not_a_crash() -> None:
    # Found by the flipped-bytes test: version 1 raises cryptography's InvalidVersion,
    # which is not a ValueError.
    good = _csr(_p256(), algorithm=hashes.SHA256())
    der = bytearray(x509.load_pem_x509_csr(good.encode()).public_bytes(serialization.Encoding.DER))
    at = der.index(b"\x02\x01\x00")  # CertificationRequestInfo.version INTEGER 0
    der[at + 2] = 1
    pem = (
        "-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.encodebytes(bytes(der)).decode()
        + "-----END CERTIFICATE REQUEST-----\n"
    )
    with pytest.raises(CsrRejected, match="cannot be parsed"):
        check_csr(pem, STATION, None)
