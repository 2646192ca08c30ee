"""Building blocks of the built-in PKI: certificates by profile, names, keys, PEM,
CSR and public-key parsing, serials (used by hierarchy.py and the OCSP modules)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ampyre.adapters.pki.profiles import Profile, Role
from ampyre.domain.certificates import serial_hex as serial_hex  # stored and shown so
from ampyre.services.pki import clean_serial
from ampyre.services.pki_port import IssuedCertificate

DEFAULT_ORGANISATION = "Ampyre"
_SKEW = dt.timedelta(minutes=5)  # not_before lies this far back (stations' clocks drift)
_MAX_CN = 64  # X.520 ub-common-name

# OCPP CertificateSigningUseEnumType -> (issuing CA, role of the issued certificate).
CSR_USES: dict[str, tuple[str, Role]] = {
    "ChargingStationCertificate": ("csms-sub", Role.STATION),
    "V2GCertificate": ("cpo-sub2", Role.SECC),
}


class PkiError(ValueError):
    """The PKI cannot do what was asked (not initialised, missing CA key, bad input)."""


def normalise_serial(text: str) -> str:
    """`0x00AB:CD` -> `abcd`; raises PkiError for what is not a hex serial."""
    try:
        return clean_serial(text)
    except ValueError as exc:
        raise PkiError(str(exc)) from None


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def certificate_record(
    cert: x509.Certificate,
    issuer: str,
    role: str,
    station_id: str | None = None,
    issued_at: dt.datetime | None = None,
) -> IssuedCertificate:
    return IssuedCertificate(
        serial=serial_hex(cert.serial_number),
        issuer=issuer,
        role=role,
        subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint=fingerprint(cert),
        pem=pem(cert),
        issued_at=issued_at or _utcnow(),
        station_id=station_id,
    )


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def new_key() -> ec.EllipticCurvePrivateKey:
    # ISO 15118-2 [V2G2-006]: secp256r1 keys (also used for the CSMS chain: fast, OCPP allows).
    return ec.generate_private_key(ec.SECP256R1())


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def subject_name(common_name: str, organisation: str | None, dc: str | None) -> x509.Name:
    if not common_name or len(common_name) > _MAX_CN:
        raise PkiError(f"common name must be 1..{_MAX_CN} characters: {common_name[:80]!r}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in common_name):
        raise PkiError("common name contains control characters")
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:_MAX_CN]))
    if dc:
        attrs.append(x509.NameAttribute(NameOID.DOMAIN_COMPONENT, dc))
    return x509.Name(attrs)


def _key_usage(names: frozenset[str]) -> x509.KeyUsage:
    flags = {
        flag: flag in names
        for flag in (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
        )
    }
    return x509.KeyUsage(**flags, encipher_only=False, decipher_only=False)


def build_certificate(
    profile: Profile,
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    issuer: tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes] | None,
    signing_key: CertificateIssuerPrivateKeyTypes,
    *,
    ocsp_url: str | None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    hosts: Sequence[str] = (),
) -> x509.Certificate:
    """One certificate by `profile`; `issuer` None = self-signed with `signing_key`."""
    now = _utcnow()
    start = not_before or now - _SKEW
    end = not_after or now + profile.validity
    if end <= start:
        raise PkiError("not_after must lie after not_before")
    if end - start > profile.max_validity + _SKEW:
        raise PkiError(
            f"validity of {(end - start).days} days exceeds the {profile.role.value} "
            f"profile's maximum of {profile.max_validity.days} days"
        )
    issuer_name = subject if issuer is None else issuer[0].subject
    if issuer is not None and end > issuer[0].not_valid_after_utc:
        end = issuer[0].not_valid_after_utc  # a certificate never outlives its issuer
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        # RFC 5280 4.1.2.2: positive, at most 20 octets; random (159 bits), so > 64 bit.
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.BasicConstraints(ca=profile.ca, path_length=profile.path_length),
            critical=True,
        )
        .add_extension(_key_usage(profile.key_usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[0].public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    usages = []
    if profile.server_auth:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if profile.client_auth:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(_alt_names(hosts)), False)
    if profile.ocsp and ocsp_url and issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(ocsp_url),
                    )
                ]
            ),
            critical=False,
        )
    return builder.sign(signing_key, hashes.SHA256())


def _alt_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    seen: set[str] = set()
    for host in hosts:
        host = host.strip().strip("[]")
        if not host or host in seen or host in ("0.0.0.0", "::"):
            continue
        seen.add(host)
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def is_dns_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return bool(host) and len(host) <= _MAX_CN
    return False


def write_private(path: Path, data: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(data)
    os.chmod(path, 0o600)


def load_csr(csr: x509.CertificateSigningRequest | bytes | str) -> x509.CertificateSigningRequest:
    if isinstance(csr, x509.CertificateSigningRequest):
        return csr
    data = csr.encode("ascii", "replace") if isinstance(csr, str) else csr
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_csr(data)
        return x509.load_der_x509_csr(data)
    except ValueError as exc:
        raise PkiError(f"malformed CSR: {exc}") from None


def check_public_key(key: object) -> None:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ("secp256r1", "secp384r1"):
            raise PkiError(f"unsupported curve {key.curve.name}")
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise PkiError(f"RSA key of {key.key_size} bits (at least 2048 required)")
    else:
        raise PkiError("unsupported public key type")


def load_public_key(value: CertificatePublicKeyTypes | bytes | str) -> CertificatePublicKeyTypes:
    if isinstance(value, str):
        value = value.encode("ascii", "replace")
    if isinstance(value, bytes):
        try:
            loaded = (
                serialization.load_pem_public_key(value)
                if value.lstrip().startswith(b"-----BEGIN")
                else serialization.load_der_public_key(value)
            )
        except (ValueError, TypeError) as exc:
            raise PkiError(f"malformed public key: {exc}") from None
        return loaded  # type: ignore[return-value]
    return value
