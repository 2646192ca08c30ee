"""ISO 15118 Plug & Charge on the CSMS side, version-neutral: contract certificates seen
or issued, OCSP look-ups, and the rules that turn a certificate check and an id token
answer into one Authorize answer (pure functions: no I/O, no clock)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from ampyre.domain.authz import AuthDecision, AuthStatus
from ampyre.domain.certificates import HashAlgorithm


class CertificateStatus(enum.StrEnum):
    """2.0.1 AuthorizeCertificateStatusEnumType (the same values in 2.1 and in the 1.6
    Plug & Charge application note)."""

    ACCEPTED = "Accepted"
    SIGNATURE_ERROR = "SignatureError"
    CERTIFICATE_EXPIRED = "CertificateExpired"
    CERTIFICATE_REVOKED = "CertificateRevoked"
    NO_CERTIFICATE_AVAILABLE = "NoCertificateAvailable"
    CERT_CHAIN_ERROR = "CertChainError"
    CONTRACT_CANCELLED = "ContractCancelled"


@dataclass(slots=True, frozen=True)
class OcspQuery:
    """2.0.1 OCSPRequestDataType: which certificate (issuer name and key hashes, serial
    as lower-case hex without leading zeroes) and whom to ask."""

    hash_algorithm: HashAlgorithm
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    responder_url: str


class OcspUnavailable(Exception):
    """The responder could not be asked or gave no usable answer (the message says why)."""


class ContractSource(enum.StrEnum):
    ISSUED = "issued"  # Get15118EVCertificate: a provider issued it through Ampyre
    PRESENTED = "presented"  # a station sent it with Authorize (central validation)


@dataclass(slots=True)
class ContractCertificate:
    """A contract certificate Ampyre knows (the leaf: its subject's commonName is the
    eMAID, ISO 15118-2 Annex F contract certificate profile)."""

    emaid: str
    serial_number: str  # lower-case hex, no leading zeroes (as in OCSPRequestDataType)
    fingerprint: str  # SHA-256 of the DER, lower-case hex
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    source: ContractSource
    pem: str
    station_id: str | None = None  # the station it was issued through or last seen at
    provider: str | None = None  # builtin | http (issued ones)
    # The certificateStatus last answered for it (None: never presented yet).
    last_status: CertificateStatus | None = None
    last_checked_at: datetime | None = None
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(slots=True, frozen=True)
class ChainCheck:
    """The verdict on a presented chain: its status and, when the leaf could be read,
    the leaf's eMAID and serial."""

    status: CertificateStatus
    reason: str | None = None
    emaid: str | None = None
    serial_number: str | None = None


@dataclass(slots=True, frozen=True)
class PncDecision:
    """One Authorize answer: idTokenInfo (auth) and, when a certificate or its hash
    data was presented, certificateStatus."""

    auth: AuthDecision
    certificate_status: CertificateStatus | None = None


# What a refused certificate makes of the id token's status: the token may be fine, but
# the vehicle cannot prove it holds the contract (OCPP 2.0.1 C07.FR.04: the answer
# carries the reason for rejection; certificateStatus says what was wrong).
_REFUSED: Final = {
    CertificateStatus.CERTIFICATE_EXPIRED: AuthStatus.EXPIRED,
    CertificateStatus.CERTIFICATE_REVOKED: AuthStatus.BLOCKED,
    CertificateStatus.CONTRACT_CANCELLED: AuthStatus.BLOCKED,
}

EMAID_SEPARATORS: Final = str.maketrans("", "", "-* ")


def same_emaid(a: str, b: str) -> bool:
    """eMAIDs compare without their optional separators ('-' in ISO 15118-2 Annex H,
    '*' in DIN SPEC 91286) and case."""
    return a.translate(EMAID_SEPARATORS).casefold() == b.translate(EMAID_SEPARATORS).casefold()


def combine(
    token: AuthDecision, check: ChainCheck | None, id_token: str, type_: str | None
) -> PncDecision:
    """The Authorize answer from the id token's decision and the certificate check
    (None: neither certificate nor hash data was presented)."""
    if check is None:
        return PncDecision(token)
    if check.status is not CertificateStatus.ACCEPTED:
        if token.status is AuthStatus.ACCEPTED:
            status = _REFUSED.get(check.status, AuthStatus.INVALID)
            token = replace(
                token,
                status=status,
                reason=f"contract certificate: {check.reason or check.status.value}",
            )
        return PncDecision(token, check.status)
    if (
        check.emaid is not None
        and type_ == "eMAID"
        and not same_emaid(check.emaid, id_token)
        and token.status is AuthStatus.ACCEPTED
    ):
        # The certificate is sound but it is another contract's.
        token = replace(
            token,
            status=AuthStatus.INVALID,
            reason=f"the contract certificate is of eMAID {check.emaid}",
        )
    return PncDecision(token, check.status)


def worst(statuses: list[CertificateStatus]) -> CertificateStatus:
    """One status for several checked certificates: the first refusal, else Accepted."""
    for status in statuses:
        if status is not CertificateStatus.ACCEPTED:
            return status
    return CertificateStatus.ACCEPTED
