"""Certificate profiles of the built-in PKI: what each role's certificate carries.

The V2G, MO, OEM and CPS chains follow ISO 15118-2 Annex F (normative certificate
profiles): X.509 v3, secp256r1 keys, ecdsa-with-SHA256, three tiers (root -> sub-CA 1
-> sub-CA 2 -> leaf), basicConstraints critical with pathLen 1 / 0 on the sub-CAs,
keyUsage critical (keyCertSign+cRLSign on CAs; digitalSignature+keyAgreement on the
SECC and OEM provisioning leaves; digitalSignature+nonRepudiation on contract
certificates), the DomainComponent naming the domain (V2G, MO, OEM; CPO on the SECC
leaf) and validity bounded per role (root up to 40 years, sub-CA 1 up to 4 years,
sub-CA 2 up to 2 years, SECC leaf 2-3 months, contract 4 weeks to 2 years). The CSMS
chain (OCPP security profiles 2 and 3) is an ordinary TLS PKI: a root, one sub-CA, the
server certificate (serverAuth, SAN) and station client certificates (clientAuth,
CN = station id, O = the CPO's organisation; OCPP 2.0.1 A00.FR.403..405).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Role(StrEnum):
    """What a certificate is for; stored with every issued certificate."""

    CSMS_ROOT = "csms-root"
    CSMS_SUB = "csms-sub"
    CSMS_SERVER = "csms-server"
    STATION = "station"  # OCPP ChargingStationCertificate (security profile 3 client)
    V2G_ROOT = "v2g-root"
    CPO_SUB1 = "cpo-sub1"
    CPO_SUB2 = "cpo-sub2"
    SECC = "secc"  # OCPP V2GCertificate: the station's ISO 15118 TLS server certificate
    MO_ROOT = "mo-root"
    MO_SUB1 = "mo-sub1"
    MO_SUB2 = "mo-sub2"
    CONTRACT = "contract"
    OEM_ROOT = "oem-root"
    OEM_SUB1 = "oem-sub1"
    OEM_SUB2 = "oem-sub2"
    OEM_PROVISIONING = "oem-provisioning"
    CPS_SUB1 = "cps-sub1"
    CPS_SUB2 = "cps-sub2"
    CPS_LEAF = "cps-leaf"  # signs the CertificateInstallationRes parts


@dataclass(frozen=True, slots=True)
class Profile:
    role: Role
    ca: bool
    path_length: int | None  # basicConstraints pathLenConstraint (CAs only)
    key_usage: frozenset[str]  # names of x509.KeyUsage arguments that are True
    validity: timedelta  # default validity
    max_validity: timedelta  # the profile's upper bound (a longer request is refused)
    domain_component: str | None = None  # DC attribute of the subject
    server_auth: bool = False  # extendedKeyUsage serverAuth (+ SAN)
    client_auth: bool = False  # extendedKeyUsage clientAuth
    ocsp: bool = True  # authorityInfoAccess with the OCSP responder URL (not on roots)


_CA_USAGE = frozenset({"key_cert_sign", "crl_sign"})
_DAY = timedelta(days=1)
_YEAR = timedelta(days=365)


def _root(role: Role, dc: str | None, years: int = 40) -> Profile:
    # ISO 15118-2 Annex F: root CA, self-signed, CA:TRUE critical, keyCertSign+cRLSign,
    # validity up to 40 years.
    return Profile(role, True, None, _CA_USAGE, years * _YEAR, 40 * _YEAR, dc, ocsp=False)


def _sub1(role: Role, dc: str | None) -> Profile:
    # ISO 15118-2 Annex F: sub-CA 1, pathLenConstraint 1, validity up to 4 years.
    return Profile(role, True, 1, _CA_USAGE, 4 * _YEAR, 4 * _YEAR, dc)


def _sub2(role: Role, dc: str | None) -> Profile:
    # ISO 15118-2 Annex F: sub-CA 2, pathLenConstraint 0 (only leaves below), 1-2 years.
    return Profile(role, True, 0, _CA_USAGE, 2 * _YEAR, 2 * _YEAR, dc)


PROFILES: dict[Role, Profile] = {
    # CSMS chain (OCPP): root 10 years, one sub-CA (pathLen 0) 5 years.
    Role.CSMS_ROOT: _root(Role.CSMS_ROOT, None, years=10),
    Role.CSMS_SUB: Profile(Role.CSMS_SUB, True, 0, _CA_USAGE, 5 * _YEAR, 10 * _YEAR),
    Role.CSMS_SERVER: Profile(
        Role.CSMS_SERVER,
        False,
        None,
        frozenset({"digital_signature", "key_agreement"}),
        397 * _DAY,
        5 * _YEAR,
        server_auth=True,
    ),
    Role.STATION: Profile(
        Role.STATION,
        False,
        None,
        frozenset({"digital_signature", "key_agreement"}),
        _YEAR,
        5 * _YEAR,
        client_auth=True,
    ),
    # V2G chain: V2G root -> CPO sub-CA 1 -> CPO sub-CA 2 -> SECC leaf.
    Role.V2G_ROOT: _root(Role.V2G_ROOT, "V2G"),
    Role.CPO_SUB1: _sub1(Role.CPO_SUB1, "V2G"),
    Role.CPO_SUB2: _sub2(Role.CPO_SUB2, "V2G"),
    # ISO 15118-2 Annex F: SECC leaf, digitalSignature+keyAgreement, DC=CPO, 2-3 months.
    Role.SECC: Profile(
        Role.SECC,
        False,
        None,
        frozenset({"digital_signature", "key_agreement"}),
        60 * _DAY,
        92 * _DAY,
        "CPO",
        server_auth=True,
    ),
    # MO chain: MO root -> MO sub-CA 1 -> MO sub-CA 2 -> contract certificate.
    Role.MO_ROOT: _root(Role.MO_ROOT, "MO"),
    Role.MO_SUB1: _sub1(Role.MO_SUB1, "MO"),
    Role.MO_SUB2: _sub2(Role.MO_SUB2, "MO"),
    # ISO 15118-2 Annex F: contract certificate, CN = eMAID, DC=MO, digitalSignature +
    # nonRepudiation, validity 4 weeks to 2 years (bounded by the contract).
    Role.CONTRACT: Profile(
        Role.CONTRACT,
        False,
        None,
        frozenset({"digital_signature", "content_commitment"}),
        _YEAR,
        2 * _YEAR,
        "MO",
    ),
    # OEM chain: OEM root -> OEM sub-CA 1 -> OEM sub-CA 2 -> provisioning certificate.
    Role.OEM_ROOT: _root(Role.OEM_ROOT, "OEM"),
    Role.OEM_SUB1: _sub1(Role.OEM_SUB1, "OEM"),
    Role.OEM_SUB2: _sub2(Role.OEM_SUB2, "OEM"),
    # ISO 15118-2 Annex F: OEM provisioning certificate, CN = PCID, DC=OEM.
    Role.OEM_PROVISIONING: Profile(
        Role.OEM_PROVISIONING,
        False,
        None,
        frozenset({"digital_signature", "key_agreement"}),
        4 * _YEAR,
        40 * _YEAR,
        "OEM",
    ),
    # Certificate provisioning service chain under the V2G root (signs the
    # CertificateInstallationRes parts): CPS sub-CA 1 -> CPS sub-CA 2 -> CPS leaf.
    Role.CPS_SUB1: _sub1(Role.CPS_SUB1, "V2G"),
    Role.CPS_SUB2: _sub2(Role.CPS_SUB2, "V2G"),
    Role.CPS_LEAF: Profile(
        Role.CPS_LEAF,
        False,
        None,
        frozenset({"digital_signature"}),
        90 * _DAY,
        2 * _YEAR,
        "CPS",
    ),
}

# The hierarchy `pki init` creates: name -> (role, issuing CA name or None for a root,
# default common name). The names are the file names (`<dir>/<name>.pem|.key`).
HIERARCHY: dict[str, tuple[Role, str | None, str]] = {
    "csms-root": (Role.CSMS_ROOT, None, "CSMS Root CA"),
    "csms-sub": (Role.CSMS_SUB, "csms-root", "CSMS Sub-CA"),
    "csms-server": (Role.CSMS_SERVER, "csms-sub", "CSMS"),
    "v2g-root": (Role.V2G_ROOT, None, "V2G Root CA"),
    "cpo-sub1": (Role.CPO_SUB1, "v2g-root", "CPO Sub-CA 1"),
    "cpo-sub2": (Role.CPO_SUB2, "cpo-sub1", "CPO Sub-CA 2"),
    "mo-root": (Role.MO_ROOT, None, "MO Root CA"),
    "mo-sub1": (Role.MO_SUB1, "mo-root", "MO Sub-CA 1"),
    "mo-sub2": (Role.MO_SUB2, "mo-sub1", "MO Sub-CA 2"),
    "oem-root": (Role.OEM_ROOT, None, "OEM Root CA"),
    "oem-sub1": (Role.OEM_SUB1, "oem-root", "OEM Sub-CA 1"),
    "oem-sub2": (Role.OEM_SUB2, "oem-sub1", "OEM Sub-CA 2"),
    "cps-sub1": (Role.CPS_SUB1, "v2g-root", "CPS Sub-CA 1"),
    "cps-sub2": (Role.CPS_SUB2, "cps-sub1", "CPS Sub-CA 2"),
    "cps-leaf": (Role.CPS_LEAF, "cps-sub2", "CPS Leaf"),
}

CA_NAMES: tuple[str, ...] = tuple(n for n, (r, _, _) in HIERARCHY.items() if PROFILES[r].ca)
