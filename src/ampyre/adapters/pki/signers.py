"""CertificateSigner implementations: the built-in CA (`LocalSigner`) and an EST client
(`EstSigner`, RFC 7030 Enrollment over Secure Transport: /cacerts and /simpleenroll)."""

from __future__ import annotations

import base64
import binascii
import logging
import ssl

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from ampyre.adapters.pki.authority import Record, RecordingPki
from ampyre.adapters.pki.hierarchy import CSR_USES, PkiError, certificate_record, load_csr, pem
from ampyre.services.pki_port import SigningRefused

log = logging.getLogger(__name__)

MAX_EST_RESPONSE = 256 * 1024  # bytes
EXTERNAL_ISSUER = "external"  # the registry's issuer name of EST-signed certificates


class LocalSigner:
    """Signs with the built-in PKI (csms-sub for ChargingStationCertificate, cpo-sub2
    for V2GCertificate) and records the certificate for the OCSP responder."""

    def __init__(self, issuer: RecordingPki) -> None:
        self._issuer = issuer

    async def sign(self, csr_pem: str, use: str, station_id: str) -> str:
        try:
            issued = await self._issuer.sign_csr(csr_pem, use, station_id)
        except PkiError as exc:
            raise SigningRefused(str(exc)) from None
        return issued.chain_pem()


class EstSigner:
    """Forwards CSRs to an EST server (RFC 7030 4.2.1 simpleenroll): the CSR as base64
    DER `application/pkcs10`, the answer a base64 certs-only PKCS#7. The chain sent to
    the station is the issued certificate and the intermediates of `/cacerts`
    (RFC 7030 4.1), without self-signed roots."""

    def __init__(
        self,
        url: str,
        username: str = "",
        password: str = "",
        ca_file: str = "",
        cert_file: str = "",
        key_file: str = "",
        timeout: float = 30.0,
        client: httpx.AsyncClient | None = None,
        record: Record | None = None,
    ) -> None:
        if not url.lower().startswith(("https://", "http://")):
            raise PkiError(f"AMPYRE_EST_URL must be an http(s) URL, got {url!r}")
        self._url = url.rstrip("/")
        self._auth = httpx.BasicAuth(username, password) if username else None
        self._timeout = timeout
        self._record = record
        self._own_client = client is None
        if client is None:
            context = ssl.create_default_context(cafile=ca_file or None)
            if cert_file:
                context.load_cert_chain(cert_file, key_file or None)
            client = httpx.AsyncClient(verify=context, follow_redirects=False)
        self._client = client
        self._cacerts: list[x509.Certificate] | None = None

    async def close(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def cacerts(self) -> list[x509.Certificate]:
        """The EST server's CA certificates (RFC 7030 4.1.3), fetched once."""
        if self._cacerts is None:
            status, body = await self._request("GET", "/cacerts")
            if status != 200:
                raise SigningRefused(f"EST /cacerts answered HTTP {status}")
            self._cacerts = _certs_only(body)
        return self._cacerts

    async def sign(self, csr_pem: str, use: str, station_id: str) -> str:
        if use not in CSR_USES:
            raise SigningRefused(f"unsupported certificate use {use!r}")
        try:
            csr = load_csr(csr_pem)
        except PkiError as exc:
            raise SigningRefused(str(exc)) from None
        der = csr.public_bytes(serialization.Encoding.DER)
        status, body = await self._request(
            "POST",
            "/simpleenroll",
            content=base64.encodebytes(der),
            headers={
                "Content-Type": "application/pkcs10",
                "Content-Transfer-Encoding": "base64",
            },
        )
        if status == 202:  # RFC 7030 4.2.3: accepted, not yet issued
            raise SigningRefused("EST server: the request is pending manual approval")
        if status != 200:
            detail = body[:200].decode("utf-8", "replace").strip()
            raise SigningRefused(f"EST server answered HTTP {status}: {detail}".rstrip(": "))
        certs = _certs_only(body)
        wanted = csr.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        leaf = next(
            (
                c
                for c in certs
                if c.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                == wanted
            ),
            None,
        )
        if leaf is None:
            raise SigningRefused("EST server returned no certificate for the CSR's key")
        intermediates = [c for c in certs if c is not leaf and c.subject != c.issuer]
        if not intermediates:
            try:
                intermediates = [c for c in await self.cacerts() if c.subject != c.issuer]
            except SigningRefused as exc:
                log.warning("est: no chain for the issued certificate: %s", exc.reason)
        if self._record is not None:
            role = CSR_USES[use][1].value
            await self._record(certificate_record(leaf, EXTERNAL_ISSUER, role, station_id))
        return "".join(pem(c) for c in (leaf, *_ordered(leaf, intermediates)))

    async def _request(
        self,
        method: str,
        path: str,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        try:
            async with self._client.stream(
                method,
                self._url + path,
                content=content,
                headers=headers,
                auth=self._auth or httpx.USE_CLIENT_DEFAULT,
                timeout=self._timeout,
            ) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_EST_RESPONSE:
                        raise SigningRefused("EST server: response too large")
                return response.status_code, bytes(body)
        except httpx.HTTPError as exc:
            raise SigningRefused(f"EST server unreachable: {exc!r}"[:300]) from None


def _certs_only(body: bytes) -> list[x509.Certificate]:
    """A base64 certs-only CMS (application/pkcs7-mime) -> its certificates."""
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
        certs = pkcs7.load_der_pkcs7_certificates(der)
    except (ValueError, binascii.Error) as exc:
        raise SigningRefused(f"EST server: malformed PKCS#7 answer ({exc})"[:300]) from None
    if not certs:
        raise SigningRefused("EST server: the answer holds no certificate")
    return certs


def _ordered(leaf: x509.Certificate, pool: list[x509.Certificate]) -> list[x509.Certificate]:
    """The intermediates on the path from the leaf upwards (by issuer name)."""
    out: list[x509.Certificate] = []
    rest = list(pool)
    current = leaf
    while True:
        parent = next((c for c in rest if c.subject == current.issuer), None)
        if parent is None:
            break
        out.append(parent)
        rest.remove(parent)
        current = parent
    return out
