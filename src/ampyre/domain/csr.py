"""The checks a station's certificate signing request passes before Ampyre has it signed
(issue 19 part 3): pure rules over the PEM text, no I/O.

OCPP 2.0.1 A02/A03 and the 1.6 security whitepaper (edition 3, use cases A02/A03): the
CSMS answers SignCertificate at once (Accepted: it will forward the CSR to the CA) and
may refuse a CSR it cannot have signed; the CSR is PKCS#10 (RFC 2986) PEM encoded.
What Ampyre requires:
- at most `max_bytes` of PEM (the schema allows 5500 characters), one CSR block;
- its self-signature verifies (proof the station holds the private key);
- key: EC on secp256r1 or secp384r1, or RSA of 2048 bits or more (OCPP 2.0.1 Part 2
  A00 "Certificate properties" / whitepaper "Certificate Properties": RSA or DSA of at
  least 2048 bits, or ECC of at least 224 bits; P-256/P-384 are the curves of the TLS
  cipher suites OCPP names); a V2G (SECC) certificate must be EC secp256r1 (ISO 15118-2
  Annex F certificate profiles);
- ChargingStationCertificate: subject CN equals the station id and, when an
  organisation is configured, O equals it (same section: the CN holds the charging
  station's serial number / identity, O the CSO);
- V2GCertificate: a subject CN (the SECC id) is present."""

from __future__ import annotations

import dataclasses

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ampyre.domain.certificates import SigningUse, subject_cn

MAX_CSR_BYTES = 5500
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192  # beyond: a CPU cost nobody needs, refused
_EC_CURVES = frozenset({"secp256r1", "secp384r1"})
_V2G_CURVES = frozenset({"secp256r1"})
_BEGIN = "-----BEGIN CERTIFICATE REQUEST-----"
# What `cryptography` raises for input it cannot take (found by the CSR fuzz tests; a
# flipped version byte raises InvalidVersion, which is not a ValueError).
_UNREADABLE = (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion)


class CsrRejected(ValueError):
    """The CSR cannot be signed; the message says why (shown to operators, sent to the
    station in statusInfo)."""

    def __init__(self, reason: str, code: str = "InvalidCSR") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclasses.dataclass(slots=True, frozen=True)
class CsrInfo:
    subject: str
    common_name: str | None
    organisation: str | None
    key: str  # "EC secp256r1", "RSA 2048"


def _name_value(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def parse_csr(pem: object, max_bytes: int = MAX_CSR_BYTES) -> x509.CertificateSigningRequest:
    if not isinstance(pem, str):
        raise CsrRejected("the CSR is not text")
    if len(pem.encode("utf-8", "replace")) > max_bytes:
        raise CsrRejected(f"the CSR is larger than {max_bytes} bytes", "CSRTooLarge")
    if pem.count(_BEGIN) != 1:
        raise CsrRejected("not one PEM certificate request (RFC 2986)")
    try:
        return x509.load_pem_x509_csr(pem.strip().encode("ascii"))
    except (*_UNREADABLE, UnicodeEncodeError) as exc:
        raise CsrRejected(f"the CSR cannot be parsed: {str(exc)[:200]}") from None


def _key_description(csr: x509.CertificateSigningRequest, use: SigningUse | None) -> str:
    try:
        key = csr.public_key()
    except _UNREADABLE as exc:
        raise CsrRejected(f"unsupported public key: {str(exc)[:200]}", "InvalidKey") from None
    v2g = use in (SigningUse.V2G, SigningUse.V2G20)
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = key.curve.name
        allowed = _V2G_CURVES if v2g else _EC_CURVES
        if curve not in allowed:
            raise CsrRejected(
                f"EC curve {curve} not accepted (use {', '.join(sorted(allowed))})",
                "InvalidKey",
            )
        return f"EC {curve}"
    if isinstance(key, rsa.RSAPublicKey):
        if v2g:
            raise CsrRejected("a V2G certificate needs an EC secp256r1 key", "InvalidKey")
        bits = key.key_size
        if bits < MIN_RSA_BITS or bits > MAX_RSA_BITS:
            raise CsrRejected(
                f"RSA key of {bits} bits not accepted ({MIN_RSA_BITS}..{MAX_RSA_BITS})",
                "InvalidKey",
            )
        return f"RSA {bits}"
    raise CsrRejected(f"key type {type(key).__name__} not accepted", "InvalidKey")


def check_csr(
    pem: object,
    station_id: str,
    use: SigningUse | None,
    organisation: str | None = None,
    max_bytes: int = MAX_CSR_BYTES,
) -> CsrInfo:
    """The CSR's facts if Ampyre can have it signed; raises CsrRejected otherwise."""
    csr = parse_csr(pem, max_bytes)
    key = _key_description(csr, use)
    try:
        valid = csr.is_signature_valid
    except _UNREADABLE as exc:
        raise CsrRejected(f"the CSR signature cannot be checked: {str(exc)[:200]}") from None
    if not valid:
        raise CsrRejected("the CSR's signature does not verify", "InvalidSignature")
    try:
        cn = subject_cn(csr.subject)
        org = _name_value(csr.subject, NameOID.ORGANIZATION_NAME)
        subject = csr.subject.rfc4514_string()
    except _UNREADABLE as exc:
        raise CsrRejected(f"the CSR subject cannot be read: {str(exc)[:200]}") from None
    if use in (SigningUse.V2G, SigningUse.V2G20):
        if not cn:
            raise CsrRejected("the CSR subject has no CN (the SECC id)", "InvalidSubject")
    else:
        # None (2.x without certificateType) is both uses: the station rules apply.
        if cn != station_id:
            raise CsrRejected(
                f"the CSR subject CN {cn!r} is not the station id {station_id!r}",
                "InvalidSubject",
            )
        if organisation and org != organisation:
            raise CsrRejected(
                f"the CSR subject O {org!r} is not the organisation {organisation!r}",
                "InvalidSubject",
            )
    return CsrInfo(subject=subject[:500], common_name=cn, organisation=org, key=key)
