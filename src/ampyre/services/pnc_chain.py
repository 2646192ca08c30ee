"""Contract certificate chains (ISO 15118-2 Annex F profiles): reading a PEM chain,
building the path to a trusted MO or V2G root and checking every link (signature,
validity, CA flag, path length), the OCSP request data of each link, and the record
kept of a contract certificate. Pure computation over `cryptography` objects."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from ampyre.domain.certificates import (
    BadCertificate,
    HashAlgorithm,
    ca_constraints,
    issuer_hashes,
    serial_hex,
    signed_by,
    subject_cn,
    valid_at,
)
from ampyre.domain.plug_and_charge import (
    CertificateStatus,
    ChainCheck,
    ContractCertificate,
    ContractSource,
    OcspQuery,
)

# A contract chain is the leaf and up to two sub-CAs (ISO 15118-2 [V2G2-019]: at most two
# sub-CAs); a few more are tolerated, a long list is refused before any work.
MAX_CHAIN: Final = 5
PEM_MAX: Final = 64 * 1024
_BEGIN: Final = "-----BEGIN CERTIFICATE-----"


class ChainUnreadable(ValueError):
    """The text is not a PEM certificate chain."""


def parse_chain(text: str) -> list[x509.Certificate]:
    """The certificates of a PEM text, leaf first (ChainUnreadable if none, too many or
    malformed)."""
    if not isinstance(text, str) or len(text) > PEM_MAX:
        raise ChainUnreadable("not a PEM certificate chain of a sensible size")
    if text.count(_BEGIN) > MAX_CHAIN:
        raise ChainUnreadable(f"more than {MAX_CHAIN} certificates")
    try:
        certs = x509.load_pem_x509_certificates(text.encode("ascii", "strict"))
    except (ValueError, UnicodeError) as exc:
        raise ChainUnreadable(f"not a PEM certificate chain: {exc}") from None
    if not certs:
        raise ChainUnreadable("no certificate in the text")
    return certs


def load_roots(pem_texts: list[str]) -> list[x509.Certificate]:
    roots: list[x509.Certificate] = []
    for text in pem_texts:
        roots.extend(x509.load_pem_x509_certificates(text.encode("ascii")))
    return roots


def normal_serial(text: str) -> str:
    """A serial as a station sends it (any case, maybe with leading zeroes)."""
    return text.strip().lower().lstrip("0") or "0"


@dataclass(slots=True, frozen=True)
class VerifiedChain:
    check: ChainCheck
    # (certificate, its issuer) from the leaf up to the root's child: what OCSP asks about.
    links: tuple[tuple[x509.Certificate, x509.Certificate], ...] = ()


def verify_chain(
    certs: list[x509.Certificate], roots: list[x509.Certificate], now: datetime
) -> VerifiedChain:
    """Verify the path from the leaf (certs[0]) through the given sub-CAs to one of the
    `roots` (OCPP 2.0.1 C07.FR.06: the CSMS validates a chain the station could not)."""
    leaf = certs[0]
    emaid = subject_cn(leaf.subject)
    serial = serial_hex(leaf.serial_number)

    def verdict(status: CertificateStatus, reason: str | None = None) -> VerifiedChain:
        return VerifiedChain(ChainCheck(status, reason, emaid, serial))

    if ca_constraints(leaf)[0]:
        return verdict(CertificateStatus.CERT_CHAIN_ERROR, "the first certificate is a CA")
    pool = certs[1:]
    path: list[tuple[x509.Certificate, x509.Certificate]] = []
    current = leaf
    # `below`: the CAs between the current certificate and the leaf.
    for below in range(MAX_CHAIN + 1):
        issuer: x509.Certificate | None = None
        bad_signature = False
        for candidate in [*roots, *pool]:
            signed = signed_by(current, candidate)
            if signed:
                issuer = candidate
                break
            bad_signature = bad_signature or signed is False
        if issuer is None and bad_signature:
            return verdict(
                CertificateStatus.SIGNATURE_ERROR,
                f"the signature of {current.subject.rfc4514_string()} does not verify",
            )
        if issuer is None:
            return verdict(
                CertificateStatus.CERT_CHAIN_ERROR,
                f"no trusted issuer for {current.subject.rfc4514_string()}",
            )
        ca, path_len = ca_constraints(issuer)
        if not ca:
            return verdict(CertificateStatus.CERT_CHAIN_ERROR, "an issuer is not a CA")
        if path_len is not None and below > path_len:
            return verdict(CertificateStatus.CERT_CHAIN_ERROR, "a CA's path length is exceeded")
        path.append((current, issuer))
        if issuer in roots:
            break
        current = issuer
    else:
        return verdict(CertificateStatus.CERT_CHAIN_ERROR, "the chain is too long")
    for cert in [leaf, *(i for _c, i in path)]:
        if not valid_at(cert, now):
            return verdict(
                CertificateStatus.CERTIFICATE_EXPIRED,
                f"{cert.subject.rfc4514_string()} is not valid now",
            )
    # The link to the root is kept too: its issuer is the root, asked about by OCSP
    # like the others (the root itself is trusted as installed).
    return VerifiedChain(ChainCheck(CertificateStatus.ACCEPTED, None, emaid, serial), tuple(path))


def ocsp_url(cert: x509.Certificate) -> str | None:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for desc in aia:
        if desc.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            desc.access_location, x509.UniformResourceIdentifier
        ):
            return desc.access_location.value
    return None


def ocsp_query(cert: x509.Certificate, issuer: x509.Certificate) -> OcspQuery | None:
    """The OCSP request data of `cert` (SHA-256 hashes); None without an OCSP URL."""
    url = ocsp_url(cert)
    if url is None:
        return None
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    return OcspQuery(
        hash_algorithm=HashAlgorithm.SHA256,
        issuer_name_hash=request.issuer_name_hash.hex(),
        issuer_key_hash=request.issuer_key_hash.hex(),
        serial_number=serial_hex(request.serial_number),
        responder_url=url,
    )


def contract_record(
    cert: x509.Certificate,
    source: ContractSource,
    station_id: str | None,
    provider: str | None = None,
) -> ContractCertificate:
    der = cert.public_bytes(serialization.Encoding.DER)
    return ContractCertificate(
        emaid=subject_cn(cert.subject) or "",
        serial_number=serial_hex(cert.serial_number),
        fingerprint=hashlib.sha256(der).hexdigest(),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        source=source,
        pem=pem_of(cert),
        station_id=station_id,
        provider=provider,
    )


def pem_of(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def issuer_by_hash(query: OcspQuery, known: list[x509.Certificate]) -> str | None:
    """The PEM of the CA among `known` whose name and key hashes are the query's (the
    certificate's issuer, to verify the OCSP answer with), or None."""
    wanted = (query.issuer_name_hash.lower(), query.issuer_key_hash.lower())
    for ca in known:
        try:
            hashed = issuer_hashes(ca, query.hash_algorithm)
        except BadCertificate:  # a key whose encoding we cannot read: not this issuer
            continue
        if hashed == wanted:
            return pem_of(ca)
    return None
