"""Security profile 3: whether a station's client certificate is its own.

The certificate comes from the TLS connection (already chained to the configured CA by
OpenSSL; its validity period is checked here, where the station id is known) or, behind
a TLS-terminating proxy, from a header the proxy sets: then the chain to the CA is
verified here too. Either way the subject must name the station: CN == station id (OCPP
1.6 security whitepaper A00.FR.511, OCPP 2.0.1 Part 2 A00: the Charging Station
certificate's CN is its identity), O == the configured organisation when one is set
(A00.FR.509: O is the certificate owner's organisation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

MAX_HEADER_CERT = 16 * 1024  # characters of a proxied certificate (one leaf, URL-encoded)
_PEM = re.compile(
    r"-----BEGIN CERTIFICATE-----(?P<body>[A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----"
)


class CertRefused(Exception):
    """The certificate cannot be used by this station; the message says why."""


@dataclass(slots=True, frozen=True)
class ClientCert:
    common_name: str | None
    organisation: str | None
    serial: int
    not_before: datetime
    not_after: datetime
    fingerprint: str  # SHA-256 of the DER, hex

    @classmethod
    def of(cls, cert: x509.Certificate) -> ClientCert:
        return cls(
            common_name=_attribute(cert, NameOID.COMMON_NAME),
            organisation=_attribute(cert, NameOID.ORGANIZATION_NAME),
            serial=cert.serial_number,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            fingerprint=hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest(),
        )


def _attribute(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    values = cert.subject.get_attributes_for_oid(oid)
    if len(values) != 1:  # none, or ambiguous
        return None
    value = values[0].value
    return value if isinstance(value, str) else None


def from_der(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise CertRefused(f"unreadable client certificate: {exc}") from None


def check_station(
    cert: x509.Certificate, station_id: str, organisation: str, now: datetime
) -> ClientCert:
    """The certificate's facts if it is this station's and valid now; CertRefused if not."""
    info = ClientCert.of(cert)
    if now < info.not_before:
        raise CertRefused(f"client certificate not valid before {info.not_before.isoformat()}")
    if now > info.not_after:
        raise CertRefused(f"client certificate expired on {info.not_after.isoformat()}")
    if info.common_name != station_id:
        raise CertRefused(
            f"client certificate CN {info.common_name!r} is not the station id {station_id!r}"
        )
    if organisation and info.organisation != organisation:
        raise CertRefused(
            f"client certificate O {info.organisation!r} is not the organisation {organisation!r}"
        )
    return info


def load_cas(pem: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem) if pem.strip() else []


def from_header(value: str) -> list[x509.Certificate]:
    """The proxied certificate, leaf first (a proxy may add its chain): URL-encoded PEM
    (nginx $ssl_client_escaped_cert), PEM with its line breaks turned into spaces, or
    base64 DER."""
    if len(value) > MAX_HEADER_CERT:
        raise CertRefused("proxied client certificate too large")
    text = unquote(value.strip())
    bodies = [m.group("body") for m in _PEM.finditer(text)] or [text]
    certs = []
    for body in bodies:
        try:
            der = base64.b64decode("".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            raise CertRefused("proxied client certificate is neither PEM nor base64 DER") from None
        certs.append(from_der(der))
    return certs


def verify_chain(
    cert: x509.Certificate,
    cas: Sequence[x509.Certificate],
    now: datetime,
    intermediates: Sequence[x509.Certificate] = (),
) -> None:
    """The chain from `cert` to one of `cas` (what OpenSSL does on a direct TLS
    connection), over `intermediates` and the CAs of the bundle, at `now`; CertRefused
    if there is none."""
    if not cas:
        raise CertRefused("no CA configured for client certificates (AMPYRE_OCPP_TLS_CA)")
    # Intermediate CAs may be in the bundle: they are offered as intermediates and
    # trusted as anchors alike (the bundle is what the operator trusts).
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(list(cas)))
        .time(now)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=verification.ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(cert, [*intermediates, *cas])
    except verification.VerificationError as exc:
        if now > cert.not_valid_after_utc:
            raise CertRefused(
                f"client certificate expired on {cert.not_valid_after_utc.isoformat()}"
            ) from None
        raise CertRefused(f"client certificate does not chain to the CA: {exc}") from None
