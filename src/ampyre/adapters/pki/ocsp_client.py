"""The OCSP client (RFC 6960 over HTTP POST, A.1): asks the responder a station (or a
certificate's AIA) names about one certificate, caches each answer until its
nextUpdate (answers without nextUpdate are not cached), and optionally verifies the
response's signature against the issuer.

The responder URL usually comes from a station (OCPP GetCertificateStatus
ocspRequestData): only http(s) URLs, no redirects, a timeout and a response size
limit."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from ampyre.adapters.pki.hierarchy import PkiError, serial_hex
from ampyre.adapters.pki.ocsp_responder import HASHES, cert_id_hashes
from ampyre.services.pki_port import OcspAnswer, OcspRequestData, OcspStatus

log = logging.getLogger(__name__)

MAX_RESPONSE = 64 * 1024  # bytes; a real OCSP response is a few hundred
_SKEW = dt.timedelta(minutes=5)
_STATUS = {
    ocsp.OCSPCertStatus.GOOD: OcspStatus.GOOD,
    ocsp.OCSPCertStatus.REVOKED: OcspStatus.REVOKED,
    ocsp.OCSPCertStatus.UNKNOWN: OcspStatus.UNKNOWN,
}


def responder_url(cert: x509.Certificate) -> str | None:
    """The OCSP URL of a certificate's authorityInformationAccess, if any."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for desc in aia:
        if desc.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            desc.access_location, x509.UniformResourceIdentifier
        ):
            return str(desc.access_location.value)
    return None


def ocsp_request_data(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    url: str | None = None,
    hash_algorithm: str = "SHA256",
) -> OcspRequestData:
    """The OCSPRequestData of `cert` (issued by `issuer`); the responder URL is `url` or
    the certificate's AIA OCSP URL (PkiError when neither)."""
    algorithm = _algorithm(hash_algorithm)
    if algorithm is None:
        raise PkiError(f"unsupported hash algorithm {hash_algorithm!r}")
    name_hash, key_hash = cert_id_hashes(issuer, algorithm)
    target = url or responder_url(cert)
    if not target:
        raise PkiError("the certificate names no OCSP responder (no AIA OCSP URL)")
    return OcspRequestData(
        hash_algorithm=hash_algorithm.upper(),
        issuer_name_hash=name_hash.hex(),
        issuer_key_hash=key_hash.hex(),
        serial_number=serial_hex(cert.serial_number),
        responder_url=target,
    )


def _algorithm(name: str) -> hashes.HashAlgorithm | None:
    cls = HASHES.get(name.upper().replace("-", "").replace("_", ""))
    return None if cls is None else cls()


def build_request(data: OcspRequestData) -> bytes:
    """The DER OCSPRequest for `data`; PkiError when its fields are not usable."""
    algorithm = _algorithm(data.hash_algorithm)
    if algorithm is None:
        raise PkiError(f"unsupported hash algorithm {data.hash_algorithm!r}")
    try:
        name_hash = bytes.fromhex(data.issuer_name_hash)
        key_hash = bytes.fromhex(data.issuer_key_hash)
        serial = int(data.serial_number.strip().lower().removeprefix("0x"), 16)
    except ValueError:
        raise PkiError("issuer hashes and serial must be hexadecimal") from None
    if len(name_hash) != algorithm.digest_size or len(key_hash) != algorithm.digest_size:
        raise PkiError(f"issuer hashes are not {data.hash_algorithm} digests")
    if not 0 <= serial < 1 << 160:
        raise PkiError("serial number beyond 20 octets")
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(name_hash, key_hash, serial, algorithm)
        .build()
    )
    return request.public_bytes(serialization.Encoding.DER)


class HttpOcspClient:
    """The OcspClient port: OCSP over HTTP POST with a cache by nextUpdate."""

    def __init__(
        self,
        timeout: float = 10.0,
        cache_size: int = 10000,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._timeout = timeout
        self._cache_size = max(0, cache_size)
        self._client = client
        self._own_client = client is None
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._cache: OrderedDict[tuple[str, ...], OcspAnswer] = OrderedDict()

    async def close(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def forget(self, serial: str | None = None) -> None:
        if serial is None:
            self._cache.clear()
            return
        wanted = serial.lower().lstrip("0") or "0"
        for key in [k for k in self._cache if k[3] == wanted]:
            del self._cache[key]

    async def status(self, request: OcspRequestData, issuer_pem: str | None = None) -> OcspAnswer:
        try:
            der = build_request(request)
            issuer = _load_issuer(issuer_pem)
        except PkiError as exc:
            return OcspAnswer(OcspStatus.FAILED, error=str(exc))
        url = request.responder_url.strip()
        if not url.lower().startswith(("http://", "https://")):
            return OcspAnswer(OcspStatus.FAILED, error="the responder URL is not http(s)")
        serial = request.serial_number.strip().lower().removeprefix("0x").lstrip("0") or "0"
        key = (
            request.hash_algorithm.upper(),
            request.issuer_name_hash.lower(),
            request.issuer_key_hash.lower(),
            serial,
            url,
            hashlib.sha256(issuer_pem.encode()).hexdigest() if issuer_pem else "",
        )
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None:
            if cached.next_update is not None and cached.next_update > now:
                self._cache.move_to_end(key)
                return cached
            del self._cache[key]
        answer = await self._ask(url, der, request, issuer, now)
        if answer.status is not OcspStatus.FAILED and answer.next_update and self._cache_size:
            self._cache[key] = answer
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return answer

    async def _ask(
        self,
        url: str,
        der: bytes,
        request: OcspRequestData,
        issuer: x509.Certificate | None,
        now: dt.datetime,
    ) -> OcspAnswer:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        try:
            async with self._client.stream(
                "POST",
                url,
                content=der,
                headers={
                    "Content-Type": "application/ocsp-request",
                    "Accept": "application/ocsp-response",
                },
                timeout=self._timeout,
            ) as response:
                if response.status_code != 200:
                    return OcspAnswer(
                        OcspStatus.FAILED, error=f"responder answered HTTP {response.status_code}"
                    )
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_RESPONSE:
                        return OcspAnswer(OcspStatus.FAILED, error="response too large")
        except httpx.HTTPError as exc:
            return OcspAnswer(OcspStatus.FAILED, error=f"responder unreachable: {exc!r}"[:300])
        return parse_response(bytes(body), request, issuer, now)


def _load_issuer(issuer_pem: str | None) -> x509.Certificate | None:
    if not issuer_pem:
        return None
    try:
        return x509.load_pem_x509_certificate(issuer_pem.encode("ascii", "replace"))
    except ValueError as exc:
        raise PkiError(f"issuer certificate: {exc}") from None


def parse_response(
    der: bytes,
    request: OcspRequestData,
    issuer: x509.Certificate | None,
    now: dt.datetime,
) -> OcspAnswer:
    """Check an OCSPResponse against what was asked (and its signature, with `issuer`)."""
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        return OcspAnswer(OcspStatus.FAILED, error=f"malformed OCSP response: {exc}"[:300])
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return OcspAnswer(
            OcspStatus.FAILED, der, error=f"responder status {response.response_status.name}"
        )
    try:
        single = next(
            (r for r in response.responses if _matches(r, request)),
            None,
        )
    except ValueError as exc:
        return OcspAnswer(OcspStatus.FAILED, der, error=f"malformed OCSP response: {exc}")
    if single is None:
        return OcspAnswer(OcspStatus.FAILED, der, error="the response is about another certificate")
    if issuer is not None and not _signed_by(response, issuer):
        return OcspAnswer(OcspStatus.FAILED, der, error="the response's signature does not verify")
    this_update = single.this_update_utc
    next_update = single.next_update_utc
    if this_update > now + _SKEW:
        return OcspAnswer(OcspStatus.FAILED, der, error="the response is from the future")
    if next_update is not None and next_update < now - _SKEW:
        return OcspAnswer(OcspStatus.FAILED, der, error="the response is out of date")
    return OcspAnswer(
        _STATUS[single.certificate_status],
        der,
        this_update=this_update,
        next_update=next_update,
        revoked_at=single.revocation_time_utc,
    )


def _matches(single: ocsp.OCSPSingleResponse, request: OcspRequestData) -> bool:
    try:
        serial = int(request.serial_number.strip().lower().removeprefix("0x"), 16)
    except ValueError:
        return False
    return (
        single.serial_number == serial
        and single.issuer_name_hash.hex() == request.issuer_name_hash.lower()
        and single.issuer_key_hash.hex() == request.issuer_key_hash.lower()
    )


def _signed_by(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> bool:
    """Signed by the issuer itself, or by a responder certificate the issuer issued with
    the OCSPSigning extended key usage (RFC 6960 4.2.2.2)."""
    if _verify(issuer, response):
        return True
    for delegate in response.certificates:
        try:
            delegate.verify_directly_issued_by(issuer)
            usage = delegate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in usage and _verify(delegate, response):
            return True
    return False


def _verify(signer: x509.Certificate, response: ocsp.OCSPResponse) -> bool:
    key = signer.public_key()
    algorithm = response.signature_hash_algorithm
    if algorithm is None:
        return False
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(
                response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm
            )
        else:
            return False
    except InvalidSignature:
        return False
    return True
