"""The OCSP responder of the built-in PKI (RFC 6960), served on the HTTP port at
`POST /ocsp` and `GET /ocsp/{base64}` (api/routes/ocsp.py).

Each CA signs the responses about the certificates it issued itself (RFC 6960 4.2.2.2:
the CA who issued the certificate may sign), responder id by key hash; the status
comes from the registry (services/pki.py): recorded -> good, revoked -> revoked with
time and reason, never recorded -> unknown. A request about a CA we do not hold (or
hold without its key) is answered `unauthorized` (RFC 6960 2.3); one we cannot parse
`malformedRequest` (so is one about several certificates at once: cryptography
reads single requests, as RFC 5019 clients send).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from ampyre.adapters.pki.hierarchy import LocalPki, serial_hex
from ampyre.services.pki_port import CertStatus, OcspStatus, RevocationReason

log = logging.getLogger(__name__)

StatusLookup = Callable[[str, str], Awaitable[CertStatus]]

# Hash algorithms a CertID may use (OCPP HashAlgorithmEnumType: SHA256/384/512; SHA-1
# is what most OCSP clients send, RFC 5019).
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA1": hashes.SHA1,
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}

_REASONS: dict[str, x509.ReasonFlags] = {
    RevocationReason.KEY_COMPROMISE.value: x509.ReasonFlags.key_compromise,
    RevocationReason.CA_COMPROMISE.value: x509.ReasonFlags.ca_compromise,
    RevocationReason.AFFILIATION_CHANGED.value: x509.ReasonFlags.affiliation_changed,
    RevocationReason.SUPERSEDED.value: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION.value: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.PRIVILEGE_WITHDRAWN.value: x509.ReasonFlags.privilege_withdrawn,
}


def cert_id_hashes(
    issuer: x509.Certificate, algorithm: hashes.HashAlgorithm
) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of a CertID for certificates `issuer` issued
    (RFC 6960 4.1.1: hashes of the issuer's DN and of its subjectPublicKey bits)."""
    name_hash = hashes.Hash(algorithm)
    name_hash.update(issuer.subject.public_bytes())
    # A CertID built with `issuer` as the issuer carries its key hash (the certificate
    # argument only gives the serial and the issuer DN, which we hash ourselves above).
    request = ocsp.OCSPRequestBuilder().add_certificate(issuer, issuer, algorithm).build()
    return name_hash.finalize(), request.issuer_key_hash


class LocalOcspResponder:
    """The OcspResponder port over a LocalPki and the registry's status lookup."""

    def __init__(
        self,
        pki: LocalPki,
        lookup: StatusLookup,
        validity: float = 600.0,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._pki = pki
        self._lookup = lookup
        self._validity = dt.timedelta(seconds=validity)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        # (algorithm name, issuerNameHash, issuerKeyHash) -> CA name
        self._issuers: dict[tuple[str, bytes, bytes], str] = {}
        for name in pki.ca_names():
            cert = pki.certificate(name)
            for alg_name, alg in HASHES.items():
                name_hash, key_hash = cert_id_hashes(cert, alg())
                self._issuers[(alg_name, name_hash, key_hash)] = name

    def issuer_for(self, algorithm: str, name_hash: bytes, key_hash: bytes) -> str | None:
        return self._issuers.get((algorithm, name_hash, key_hash))

    async def respond(self, request_der: bytes) -> bytes:
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            algorithm = request.hash_algorithm
            serial = request.serial_number
            name_hash, key_hash = request.issuer_name_hash, request.issuer_key_hash
        except Exception:  # malformed DER, several requests, unsupported hash: all malformed
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        alg_name = algorithm.name.upper().replace("-", "")
        issuer = self.issuer_for(alg_name, name_hash, key_hash)
        if issuer is None or not self._pki.has_key(issuer):
            return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        try:
            status = await self._lookup(issuer, serial_hex(serial))
        except Exception:
            log.exception("ocsp: status lookup failed")
            return _unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
        try:
            return self._sign(request, issuer, status)
        except Exception:
            log.exception("ocsp: cannot build the response")
            return _unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)

    def _sign(self, request: ocsp.OCSPRequest, issuer: str, status: CertStatus) -> bytes:
        ca_cert, ca_key = self._pki.ca(issuer)
        now = self._clock()
        cert_status = {
            OcspStatus.GOOD: ocsp.OCSPCertStatus.GOOD,
            OcspStatus.REVOKED: ocsp.OCSPCertStatus.REVOKED,
        }.get(status.status, ocsp.OCSPCertStatus.UNKNOWN)
        revoked = cert_status is ocsp.OCSPCertStatus.REVOKED
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=request.hash_algorithm,
            cert_status=cert_status,
            this_update=now,
            next_update=now + self._validity,
            revocation_time=(status.revoked_at or now) if revoked else None,
            revocation_reason=_REASONS.get(status.reason or "") if revoked else None,
        )
        # The signer (the issuing CA) rides along so clients need not look it up.
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, ca_cert).certificates(
            [ca_cert]
        )
        for ext in request.extensions:
            if isinstance(ext.value, x509.OCSPNonce):  # RFC 6960 4.4.1: echo the nonce
                builder = builder.add_extension(ext.value, critical=False)
        response = builder.sign(ca_key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )
