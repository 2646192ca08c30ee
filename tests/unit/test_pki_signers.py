"""Certificate signers (issue 19): the local signer over the built-in PKI and the EST
client (RFC 7030) against a small EST server in the test (an ASGI app, no sockets)."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ampyre.adapters.pki import LocalPki
from ampyre.adapters.pki.authority import RecordingPki
from ampyre.adapters.pki.hierarchy import new_key
from ampyre.adapters.pki.signers import EXTERNAL_ISSUER, EstSigner, LocalSigner
from ampyre.services.pki_port import IssuedCertificate, SigningRefused

USER, PASSWORD = "csms", "est-secret"
EST = "https://est.test/.well-known/est"


def _csr(common_name: str) -> str:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ampyre Test"),
                ]
            )
        )
        .sign(new_key(), hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def _certs_only(certs: list[x509.Certificate]) -> bytes:
    return base64.encodebytes(pkcs7.serialize_certificates(certs, serialization.Encoding.DER))


def est_app(pki: LocalPki, seen: list[str]) -> Starlette:
    """An RFC 7030 server: /cacerts, /simpleenroll (HTTP Basic), signing with `pki`."""
    media = "application/pkcs7-mime; smime-type=certs-only"

    async def cacerts(request: Request) -> Response:
        seen.append("cacerts")
        chain = [pki.certificate("csms-sub"), pki.certificate("csms-root")]
        return Response(_certs_only(chain), media_type=media)

    async def simpleenroll(request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="est"'})
        if request.headers.get("content-type") != "application/pkcs10":
            return Response("wrong content type", status_code=415)
        der = base64.b64decode(b"".join((await request.body()).split()))
        csr = x509.load_der_x509_csr(der)
        common_name = str(csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
        seen.append(f"enroll {common_name}")
        if common_name == "PENDING":
            return Response(status_code=202, headers={"Retry-After": "60"})
        if common_name == "GARBAGE":
            return Response(b"not base64 at all!", media_type=media)
        if common_name == "OTHER-KEY":
            other = pki.issue_station_certificate("OTHER-KEY").certificate
            return Response(_certs_only([other]), media_type=media)
        issued = pki.sign_csr(csr, "ChargingStationCertificate")
        return Response(_certs_only([issued.certificate]), media_type=media)

    return Starlette(
        routes=[
            Route("/.well-known/est/cacerts", cacerts, methods=["GET"]),
            Route("/.well-known/est/simpleenroll", simpleenroll, methods=["POST"]),
        ]
    )


async def test_est_client_against_an_est_server(local_pki: LocalPki) -> None:
    seen: list[str] = []
    recorded: list[IssuedCertificate] = []

    async def record(cert: IssuedCertificate) -> bool:
        recorded.append(cert)
        return True

    http = httpx.AsyncClient(transport=httpx.ASGITransport(est_app(local_pki, seen)))
    signer = EstSigner(EST, USER, PASSWORD, client=http, record=record)
    chain_pem = await signer.sign(_csr("CS-EST"), "ChargingStationCertificate", "CS-EST")
    chain = x509.load_pem_x509_certificates(chain_pem.encode())
    # The issued leaf, then the intermediates of /cacerts (no self-signed root).
    assert [c.subject for c in chain] == [
        chain[0].subject,
        local_pki.certificate("csms-sub").subject,
    ]
    assert chain[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CS-EST"
    chain[0].verify_directly_issued_by(chain[1])
    assert seen == ["enroll CS-EST", "cacerts"]
    assert recorded[0].issuer == EXTERNAL_ISSUER and recorded[0].station_id == "CS-EST"
    assert recorded[0].role == "station"

    await signer.sign(_csr("CS-EST2"), "ChargingStationCertificate", "CS-EST2")
    assert seen.count("cacerts") == 1  # fetched once

    for cn, message in (
        ("PENDING", "pending"),
        ("GARBAGE", "malformed PKCS#7"),
        ("OTHER-KEY", "no certificate for the CSR's key"),
    ):
        with pytest.raises(SigningRefused, match=message):
            await signer.sign(_csr(cn), "ChargingStationCertificate", cn)
    with pytest.raises(SigningRefused, match="malformed CSR"):
        await signer.sign("-----BEGIN CERTIFICATE REQUEST-----\nxx\n", "V2GCertificate", "X")
    with pytest.raises(SigningRefused, match="unsupported certificate use"):
        await signer.sign(_csr("CS"), "Other", "CS")

    wrong = EstSigner(EST, USER, "wrong", client=http)
    with pytest.raises(SigningRefused, match="HTTP 401"):
        await wrong.sign(_csr("CS-EST"), "ChargingStationCertificate", "CS-EST")
    await http.aclose()

    async def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    unreachable = EstSigner(EST, client=httpx.AsyncClient(transport=httpx.MockTransport(down)))
    with pytest.raises(SigningRefused, match="unreachable"):
        await unreachable.sign(_csr("CS"), "ChargingStationCertificate", "CS")


async def test_local_signer(local_pki: LocalPki) -> None:
    recorded: list[IssuedCertificate] = []

    async def record(cert: IssuedCertificate) -> bool:
        recorded.append(cert)
        return True

    signer = LocalSigner(RecordingPki(local_pki, record, lambda: "http://csms.test/ocsp"))
    chain_pem = await signer.sign(_csr("CS-9"), "V2GCertificate", "CS-9")
    chain = x509.load_pem_x509_certificates(chain_pem.encode())
    assert len(chain) == 3  # SECC leaf, CPO sub-CA 2, CPO sub-CA 1
    chain[0].verify_directly_issued_by(local_pki.certificate("cpo-sub2"))
    aia = chain[0].extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == "http://csms.test/ocsp"
    assert recorded[0].role == "secc" and recorded[0].issuer == "cpo-sub2"
    with pytest.raises(SigningRefused, match="malformed CSR"):
        await signer.sign("garbage", "V2GCertificate", "CS-9")
    assert len(recorded) == 1


def test_est_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        EstSigner("ftp://est.test")


async def test_build_pki_from_settings(tmp_path: Path, pki_dir: Path) -> None:
    from ampyre.adapters.pki.setup import build_pki
    from ampyre.config import ConfigError, Settings

    store = object()  # not used while building
    parts = build_pki(Settings(pki_dir=str(tmp_path / "none")), store, lambda: "http://h:1")  # type: ignore[arg-type]
    assert parts.pki is None and parts.signer is None and parts.issuer is None
    assert parts.service.configured is False
    await parts.close()
    parts = build_pki(Settings(pki_dir=str(pki_dir)), store, lambda: "http://h:1/")  # type: ignore[arg-type]
    assert isinstance(parts.signer, LocalSigner) and parts.pki is not None
    assert parts.service.ocsp_url is not None and parts.service.ocsp_url() == "http://h:1/ocsp"
    await parts.close()
    est = Settings(pki_dir=str(pki_dir), certificate_signer="est", est_url=EST)
    parts = build_pki(est, store, lambda: "http://h:1")  # type: ignore[arg-type]
    assert isinstance(parts.signer, EstSigner)
    await parts.close()
    for bad in (
        {"certificate_signer": "vault"},
        {"certificate_signer": "est"},
        {"ocsp_validity": 0.0},
        {"ocsp_cache_size": -1},
        {"certificate_signer": "est", "est_url": EST, "est_ca": str(tmp_path / "missing.pem")},
        {"certificate_signer": "est", "est_url": "ftp://est"},
    ):
        with pytest.raises(ConfigError):
            build_pki(Settings(**bad), store, lambda: "http://h:1")  # type: ignore[arg-type]
