"""Certificate management and security events as rules without I/O (issue 19 part 3).

The neutral names of certificate uses are OCPP 2.0.1's (GetCertificateIdUseEnumType,
InstallCertificateUseEnumType, CertificateSigningUseEnumType); the 1.6 codec maps its
own (CentralSystemRootCertificate) onto them. Certificate hash data follows OCPP 2.0.1
CertificateHashDataType (the fields of an OCSP CertID, RFC 6960): hashes of the issuer's
DER name and of its public key bits, the serial number in hex without leading zeroes."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID


class CertificateUse(enum.StrEnum):
    """A kind of certificate a station holds."""

    CSMS_ROOT = "CSMSRootCertificate"  # 1.6: CentralSystemRootCertificate
    MANUFACTURER_ROOT = "ManufacturerRootCertificate"
    V2G_ROOT = "V2GRootCertificate"
    MO_ROOT = "MORootCertificate"
    OEM_ROOT = "OEMRootCertificate"  # 2.1 only
    V2G_CHAIN = "V2GCertificateChain"  # the station's own ISO 15118 (SECC) chain
    # The station's own client certificate (only known from CertificateSigned; no
    # version can list it with GetInstalledCertificateIds).
    CHARGING_STATION = "ChargingStationCertificate"


# Installable with InstallCertificate (2.0.1 InstallCertificateUseEnumType, 2.1 + OEM).
INSTALLABLE = frozenset(
    {
        CertificateUse.CSMS_ROOT,
        CertificateUse.MANUFACTURER_ROOT,
        CertificateUse.V2G_ROOT,
        CertificateUse.MO_ROOT,
        CertificateUse.OEM_ROOT,
    }
)
# Uses only an ISO 15118 station has (1.6: through the Plug & Charge DataTransfer).
V2G_USES = frozenset(
    {
        CertificateUse.V2G_ROOT,
        CertificateUse.MO_ROOT,
        CertificateUse.OEM_ROOT,
        CertificateUse.V2G_CHAIN,
    }
)


class SigningUse(enum.StrEnum):
    """What a CSR asks to be signed for (CertificateSigningUseEnumType)."""

    CHARGING_STATION = "ChargingStationCertificate"
    V2G = "V2GCertificate"
    V2G20 = "V2G20Certificate"  # 2.1 only


class RequestStatus(enum.StrEnum):
    """A CSR's way: rejected at once, or accepted -> signing -> sent -> accepted by the
    station (installed) / rejected by it; failed: the signer refused or CertificateSigned
    could not be delivered."""

    REJECTED = "rejected"
    SIGNING = "signing"
    SENT = "sent"
    INSTALLED = "installed"
    STATION_REJECTED = "station_rejected"
    FAILED = "failed"


class HashAlgorithm(enum.StrEnum):
    SHA256 = "SHA256"
    SHA384 = "SHA384"
    SHA512 = "SHA512"


_HASHES = {
    HashAlgorithm.SHA256: hashlib.sha256,
    HashAlgorithm.SHA384: hashlib.sha384,
    HashAlgorithm.SHA512: hashlib.sha512,
}


@dataclasses.dataclass(slots=True, frozen=True)
class HashData:
    """CertificateHashDataType: identifies one certificate on a station."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def key(self) -> tuple[str, str, str, str]:
        """Compared case-insensitively: stations send hex in either case."""
        return (
            self.hash_algorithm.upper(),
            self.issuer_name_hash.lower(),
            self.issuer_key_hash.lower(),
            self.serial_number.lower().lstrip("0") or "0",
        )


@dataclasses.dataclass(slots=True)
class InstalledCertificate:
    """A certificate Ampyre knows a station holds. `pem`, `subject`, `not_after` only
    when Ampyre has seen the certificate itself (installed or signed it); a reported one
    has its hash data only. `parent_id`: the chain entry this sub-CA belongs to."""

    station_id: str
    use: CertificateUse
    hash_data: HashData
    source: str  # "reported" | "installed" | "signed"
    updated_at: datetime
    id: int | None = None
    subject: str | None = None
    issuer: str | None = None
    not_after: datetime | None = None
    pem: str | None = None
    child_of: HashData | None = None


@dataclasses.dataclass(slots=True)
class CertificateRequest:
    """One SignCertificate of a station and what became of it."""

    station_id: str
    use: SigningUse | None  # None: 2.x without certificateType (both uses)
    csr: str
    status: RequestStatus
    created_at: datetime
    updated_at: datetime
    id: int | None = None
    error: str | None = None
    subject: str | None = None
    certificate: str | None = None  # the signed chain, leaf first
    serial_number: str | None = None
    not_after: datetime | None = None
    request_id: int | None = None  # 2.1 requestId
    via: str = "ocpp"  # "ocpp" | "pnc" (1.6 Plug & Charge DataTransfer)


@dataclasses.dataclass(slots=True)
class SecurityEvent:
    """A SecurityEventNotification (source "station") or an event the CSMS itself saw
    about a station (source "csms": a refused TLS handshake, ...)."""

    station_id: str
    type: str
    timestamp: datetime
    received_at: datetime
    source: str = "station"
    tech_info: str | None = None
    critical: bool = False
    id: int | None = None


@dataclasses.dataclass(slots=True, frozen=True)
class SecurityEventQuery:
    station_id: str | None = None
    type: str | None = None
    critical: bool | None = None
    since: datetime | None = None


# OCPP 2.0.1 Part 2 Appendices, "Security Events": the events marked critical (pushed
# to the CSMS at once, A04.FR.02). The 1.6 security whitepaper (edition 3, Appendix 1)
# has the same list; its names for the CSMS side differ and are not critical either.
CRITICAL_EVENTS = frozenset(
    {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "TamperDetectionActivated",
        "MaintenanceLoginAccepted",
        "MaintenanceLoginFailed",
    }
)
# Events the CSMS records itself (source "csms": the gateway's handshake refusals,
# InvalidChargingStationCertificate, FailedToAuthenticateAtCsms, InvalidTLSConnection,
# SecurityProfileDowngrade) are all critical: someone tried to connect as a station and
# was refused.


def is_critical(event_type: str, source: str = "station") -> bool:
    if source == "csms":
        return True
    return event_type in CRITICAL_EVENTS


# ------------------------------------------------------------------ certificates


class BadCertificate(ValueError):
    """A PEM that is not an X.509 certificate (chain) we can use."""


_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"


def load_chain(pem: str) -> list[x509.Certificate]:
    """The certificates of a PEM bundle, in order (raises BadCertificate)."""
    if not isinstance(pem, str) or _PEM_BEGIN not in pem:
        raise BadCertificate("no PEM certificate")
    try:
        certs = x509.load_pem_x509_certificates(pem.encode("ascii"))
        for cert in certs:
            cert.public_key()  # a key type we cannot read is no certificate we can use
    except (ValueError, TypeError, UnicodeEncodeError, UnsupportedAlgorithm) as exc:
        raise BadCertificate(f"not a usable PEM X.509 certificate: {str(exc)[:200]}") from None
    if not certs:
        raise BadCertificate("no PEM certificate")
    return certs


def to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def serial_hex(serial: int) -> str:
    """OCPP serialNumber: hex without '0x' and without leading zeroes (lower case)."""
    return format(serial, "x")


def _key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's value (without tag, length, unused-bits)."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _spki_bits(spki)


def _der_length(data: bytes, at: int) -> tuple[int, int]:
    first = data[at]
    if first < 0x80:
        return first, at + 1
    n = first & 0x7F
    return int.from_bytes(data[at + 1 : at + 1 + n], "big"), at + 1 + n


def _spki_bits(spki: bytes) -> bytes:
    # SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, BIT STRING }
    _, at = _der_length(spki, 1)  # into the outer SEQUENCE
    alg_len, alg_at = _der_length(spki, at + 1)  # AlgorithmIdentifier
    at = alg_at + alg_len
    if spki[at] != 0x03:
        raise BadCertificate("unexpected SubjectPublicKeyInfo")
    bits_len, bits_at = _der_length(spki, at + 1)
    return spki[bits_at + 1 : bits_at + bits_len]  # skip the unused-bits octet


def issuer_hashes(issuer: x509.Certificate, algorithm: HashAlgorithm) -> tuple[str, str]:
    """RFC 6960 CertID's issuerNameHash and issuerKeyHash of the certificates `issuer`
    signs (hex): the hash of its DER subject and of its subjectPublicKey BIT STRING."""
    digest = _HASHES[algorithm]
    return (
        digest(issuer.subject.public_bytes()).hexdigest(),
        digest(_key_bits(issuer)).hexdigest(),
    )


def hash_data_of(
    cert: x509.Certificate,
    issuer: x509.Certificate | None,
    algorithm: HashAlgorithm = HashAlgorithm.SHA256,
) -> HashData:
    """CertificateHashData of `cert` (its issuer given; None: self-signed, a root)."""
    issuer = issuer or cert
    digest = _HASHES[algorithm]
    return HashData(
        hash_algorithm=algorithm.value,
        issuer_name_hash=digest(cert.issuer.public_bytes()).hexdigest(),
        issuer_key_hash=issuer_hashes(issuer, algorithm)[1],
        serial_number=serial_hex(cert.serial_number),
    )


def subject_cn(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def not_after(cert: x509.Certificate) -> datetime:
    return cert.not_valid_after_utc


def describe(cert: x509.Certificate, issuer: x509.Certificate | None) -> dict[str, Any]:
    """What Ampyre keeps about a certificate it has seen."""
    return {
        "hash_data": hash_data_of(cert, issuer),
        "subject": cert.subject.rfc4514_string()[:500],
        "issuer": cert.issuer.rfc4514_string()[:500],
        "not_after": not_after(cert),
        "pem": to_pem(cert),
    }


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool | None:
    """True if `issuer` signed `cert`; False if the names match but the signature does
    not verify; None if `issuer` is not the one `cert` names."""
    if cert.issuer != issuer.subject:
        return None
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def issuer_in(cert: x509.Certificate, chain: list[x509.Certificate]) -> x509.Certificate | None:
    """The certificate of `chain` that issued `cert` (by name and signature)."""
    return next((c for c in chain if signed_by(cert, c)), None)


def ca_constraints(cert: x509.Certificate) -> tuple[bool, int | None]:
    """(whether `cert` is a CA, its path length constraint) from BasicConstraints."""
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False, None
    return bc.ca, bc.path_length


def valid_at(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def same_public_key(cert: x509.Certificate, csr_pem: str) -> bool:
    """Whether `cert` certifies the key of the CSR (False if the CSR does not load)."""
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode("ascii"))
        wanted = csr.public_key().public_bytes(serialization.Encoding.DER, spki)
        got = cert.public_key().public_bytes(serialization.Encoding.DER, spki)
    except (ValueError, TypeError, UnicodeEncodeError, UnsupportedAlgorithm):
        return False
    return wanted == got
