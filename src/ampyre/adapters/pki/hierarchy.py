"""The built-in PKI: a directory of CA certificates and keys (`<dir>/<name>.pem`,
`<dir>/<name>.key`, keys mode 0600) and the issuing of certificates from it.

`init_pki` creates the hierarchy of profiles.HIERARCHY (what is missing; files already
in the directory are kept, so an operator can drop external CA files in first);
`LocalPki.load` reads it. Issuing is pure (no database): the caller records what was
issued (services/pki.py `PkiService.record`) so the OCSP responder knows it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import NameOID

from ampyre.adapters.pki.certs import (
    CSR_USES,
    DEFAULT_ORGANISATION,
    PkiError,
    build_certificate,
    certificate_record,
    check_public_key,
    fingerprint,
    is_dns_name,
    key_pem,
    load_csr,
    load_public_key,
    new_key,
    normalise_serial,
    pem,
    serial_hex,
    subject_name,
    write_private,
)
from ampyre.adapters.pki.profiles import CA_NAMES, HIERARCHY, PROFILES, Role
from ampyre.services.pki_port import IssuedCertificate

__all__ = [
    "CSR_USES",
    "DEFAULT_ORGANISATION",
    "Issued",
    "LocalPki",
    "PkiError",
    "build_certificate",
    "certificate_record",
    "fingerprint",
    "init_pki",
    "key_pem",
    "load_csr",
    "new_key",
    "normalise_serial",
    "pem",
    "serial_hex",
]


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate the PKI issued: the leaf, the sub-CAs above it (nearest first,
    without the root), the private key when the PKI generated it, the issuing CA's
    name and the role."""

    role: Role
    issuer: str
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    key: ec.EllipticCurvePrivateKey | None = None

    @property
    def serial(self) -> str:
        return serial_hex(self.certificate.serial_number)

    def certificate_pem(self) -> str:
        return pem(self.certificate)

    def chain_pem(self) -> str:
        """Leaf first, then the sub-CAs (OCPP CertificateSigned certificateChain)."""
        return "".join(pem(c) for c in (self.certificate, *self.chain))

    def to_record(self, station_id: str | None = None) -> IssuedCertificate:
        """The registry row for this certificate (services/pki.py `PkiService.record`)."""
        return certificate_record(
            self.certificate, self.issuer, self.role.value, station_id=station_id
        )

    def key_pem(self) -> str:
        if self.key is None:
            raise PkiError("this certificate was issued for a key the PKI does not hold")
        return key_pem(self.key)


class LocalPki:
    """The CA hierarchy in a directory. `ca(name)` gives a CA's certificate and key."""

    def __init__(
        self,
        directory: Path,
        entries: dict[str, tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes | None]],
        ocsp_url: str | None = None,
    ) -> None:
        self.directory = directory
        self._entries = entries
        self.ocsp_url = ocsp_url

    # --- loading ---------------------------------------------------------------

    @staticmethod
    def is_initialised(directory: str | Path) -> bool:
        base = Path(directory)
        return all((base / f"{name}.pem").is_file() for name in HIERARCHY)

    @classmethod
    def load(cls, directory: str | Path, ocsp_url: str | None = None) -> LocalPki:
        """Read every `<name>.pem` (and `<name>.key` when present) of the hierarchy;
        PkiError when the directory holds no initialised PKI."""
        base = Path(directory)
        if not cls.is_initialised(base):
            missing = [n for n in HIERARCHY if not (base / f"{n}.pem").is_file()]
            raise PkiError(f"no initialised PKI in {base} (missing {', '.join(missing)})")
        entries: dict[str, tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes | None]] = {}
        for name in HIERARCHY:
            entries[name] = _read_entry(base, name)
        return cls(base, entries, ocsp_url)

    def with_ocsp_url(self, ocsp_url: str | None) -> LocalPki:
        """The same PKI (shared entries) issuing with another AIA OCSP URL."""
        return LocalPki(self.directory, self._entries, ocsp_url)

    # --- reading ---------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._entries)

    def certificate(self, name: str) -> x509.Certificate:
        try:
            return self._entries[name][0]
        except KeyError:
            raise PkiError(f"unknown PKI entry {name!r}") from None

    def ca(self, name: str) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]:
        """A CA's (or the csms-server's / cps-leaf's) certificate and private key."""
        cert = self.certificate(name)
        key = self._entries[name][1]
        if key is None:
            raise PkiError(f"{name}: no private key in {self.directory} (external CA?)")
        return cert, key

    def has_key(self, name: str) -> bool:
        return name in self._entries and self._entries[name][1] is not None

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.pem"

    def key_path(self, name: str) -> Path:
        return self.directory / f"{name}.key"

    def role(self, name: str) -> Role:
        return HIERARCHY[name][0]

    def chain(self, name: str) -> list[x509.Certificate]:
        """The entry's certificate and its issuers up to and including the root."""
        out = [self.certificate(name)]
        parent = HIERARCHY[name][1]
        while parent is not None:
            out.append(self.certificate(parent))
            parent = HIERARCHY[parent][1]
        return out

    def root_of(self, name: str) -> str:
        parent: str | None = name
        while parent is not None and HIERARCHY[parent][1] is not None:
            parent = HIERARCHY[parent][1]
        return parent or name

    def organisation(self) -> str | None:
        attrs = self.certificate("csms-sub").subject.get_attributes_for_oid(
            NameOID.ORGANIZATION_NAME
        )
        return str(attrs[0].value) if attrs else None

    def ca_names(self) -> tuple[str, ...]:
        return CA_NAMES

    def issuer_of(self, cert: x509.Certificate) -> str | None:
        """The name of the CA in this PKI that signed `cert` (subject and signature)."""
        for name in CA_NAMES:
            ca_cert = self._entries[name][0]
            if ca_cert.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(ca_cert)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return name
        return None

    # --- issuing ---------------------------------------------------------------

    def _issue(
        self,
        role: Role,
        issuer_name: str,
        subject: x509.Name,
        public_key: CertificatePublicKeyTypes,
        *,
        key: ec.EllipticCurvePrivateKey | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> Issued:
        issuer_cert, issuer_key = self.ca(issuer_name)
        cert = build_certificate(
            PROFILES[role],
            subject,
            public_key,
            (issuer_cert, issuer_key),
            issuer_key,
            ocsp_url=self.ocsp_url,
            not_before=not_before,
            not_after=not_after,
        )
        chain = tuple(self.chain(issuer_name)[:-1])  # without the root
        return Issued(role, issuer_name, cert, chain, key)

    def issue_station_certificate(
        self,
        station_id: str,
        organisation: str | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> Issued:
        """A security profile 3 client certificate (and a new key) for a station:
        CN = station id, O = organisation (default: the PKI's); from csms-sub."""
        # OCPP 2.0.1 A00.FR.404/405: CN is the station's identity, O the CPO's name.
        key = new_key()
        subject = subject_name(station_id, organisation or self.organisation(), None)
        return self._issue(
            Role.STATION,
            "csms-sub",
            subject,
            key.public_key(),
            key=key,
            not_before=not_before,
            not_after=not_after,
        )

    def issue_secc_certificate(self, secc_id: str, organisation: str | None = None) -> Issued:
        """An ISO 15118 SECC (V2GCertificate) leaf and key from cpo-sub2, DC=CPO."""
        key = new_key()
        subject = subject_name(secc_id, organisation or self.organisation(), "CPO")
        return self._issue(Role.SECC, "cpo-sub2", subject, key.public_key(), key=key)

    def issue_oem_provisioning_certificate(
        self, pcid: str, organisation: str | None = None
    ) -> Issued:
        """A vehicle's OEM provisioning certificate (and key) from oem-sub2: CN = PCID,
        DC=OEM (ISO 15118-2 Annex F)."""
        key = new_key()
        subject = subject_name(pcid, organisation or self.organisation(), "OEM")
        return self._issue(Role.OEM_PROVISIONING, "oem-sub2", subject, key.public_key(), key=key)

    def issue_contract_certificate(
        self,
        emaid: str,
        public_key: CertificatePublicKeyTypes | bytes | str,
        organisation: str | None = None,
        not_after: dt.datetime | None = None,
    ) -> Issued:
        """A contract certificate for `public_key` (a key object or PEM) from mo-sub2:
        CN = eMAID, DC=MO (ISO 15118-2 Annex F, [V2G2-652]: the eMAID is the CN)."""
        key = load_public_key(public_key)
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            # ISO 15118-2 [V2G2-006]: contract keys are secp256r1.
            raise PkiError("a contract certificate needs a secp256r1 public key")
        subject = subject_name(emaid, organisation or self.organisation(), "MO")
        return self._issue(Role.CONTRACT, "mo-sub2", subject, key, not_after=not_after)

    def sign_csr(
        self,
        csr: x509.CertificateSigningRequest | bytes | str,
        use: str,
        not_after: dt.datetime | None = None,
    ) -> Issued:
        """Sign a station's CSR: use `ChargingStationCertificate` (from csms-sub) or
        `V2GCertificate` (SECC leaf from cpo-sub2). The subject is the CSR's (the
        caller checked CN and O); the extensions are the profile's, never the CSR's."""
        request = load_csr(csr)
        try:
            issuer_name, role = CSR_USES[use]
        except KeyError:
            raise PkiError(f"unsupported certificate use {use!r}") from None
        if not request.is_signature_valid:
            raise PkiError("the CSR's signature does not verify")
        public_key = request.public_key()
        check_public_key(public_key)
        subject = request.subject
        dc = PROFILES[role].domain_component
        if dc and not subject.get_attributes_for_oid(NameOID.DOMAIN_COMPONENT):
            subject = x509.Name([*subject, x509.NameAttribute(NameOID.DOMAIN_COMPONENT, dc)])
        return self._issue(role, issuer_name, subject, public_key, not_after=not_after)


def _read_entry(
    base: Path, name: str
) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes | None]:
    cert_path = base / f"{name}.pem"
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError as exc:
        raise PkiError(f"{cert_path}: not a PEM certificate ({exc})") from None
    key_path = base / f"{name}.key"
    if not key_path.is_file():
        return cert, None
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"{key_path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise PkiError(f"{key_path}: unsupported key type")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != cert.public_key().public_bytes(der, spki):
        raise PkiError(f"{key_path} does not belong to {cert_path}")
    return cert, key


def init_pki(
    directory: str | Path,
    organisation: str = DEFAULT_ORGANISATION,
    hosts: Sequence[str] = (),
    ocsp_url: str | None = None,
    force: bool = False,
) -> LocalPki:
    """Create the hierarchy in `directory` (made if missing): every entry whose
    `<name>.pem` is absent (all of them with `force`). The csms-server certificate's
    SAN holds localhost, 127.0.0.1, ::1 and `hosts`. Returns the loaded PKI."""
    base = Path(directory)
    base.mkdir(parents=True, exist_ok=True)
    if force:
        for name in HIERARCHY:
            for suffix in (".pem", ".key"):
                (base / f"{name}{suffix}").unlink(missing_ok=True)
    entries: dict[str, tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes | None]] = {}
    for name, (role, parent, common_name) in HIERARCHY.items():
        if (base / f"{name}.pem").is_file():
            entries[name] = _read_entry(base, name)
            continue
        profile = PROFILES[role]
        key = new_key()
        san: list[str] = []
        if role is Role.CSMS_SERVER:
            san = ["localhost", "127.0.0.1", "::1", *hosts]
            common_name = next((h for h in hosts if is_dns_name(h)), "localhost")
        subject = subject_name(common_name, organisation, profile.domain_component)
        issuer: tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes] | None = None
        signing_key: CertificateIssuerPrivateKeyTypes = key
        if parent is not None:
            parent_cert, parent_key = entries[parent]
            if parent_key is None:
                raise PkiError(f"cannot create {name}: {parent} has no private key in {base}")
            issuer = (parent_cert, parent_key)
            signing_key = parent_key
        cert = build_certificate(
            profile,
            subject,
            key.public_key(),
            issuer,
            signing_key,
            ocsp_url=ocsp_url,
            hosts=san,
        )
        write_private(base / f"{name}.key", key_pem(key))
        (base / f"{name}.pem").write_text(pem(cert), encoding="ascii")
        entries[name] = (cert, key)
    return LocalPki(base, entries, ocsp_url)
