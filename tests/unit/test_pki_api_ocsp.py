"""PKI service, REST routes, OCSP responder and OCSP client (issue 19), over the real
ASGI app (no sockets): issue -> recorded -> OCSP good; revoke through the API (operator,
audit trail) -> OCSP revoked; unknown serials, malformed requests, foreign CAs; the
client's cache by nextUpdate and its checks."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from ampyre.adapters.memory import MemoryStore
from ampyre.adapters.pki import LocalPki
from ampyre.adapters.pki.authority import LocalAuthority, RecordingPki
from ampyre.adapters.pki.ocsp_client import HttpOcspClient, ocsp_request_data
from ampyre.adapters.pki.ocsp_responder import LocalOcspResponder
from ampyre.api import ApiDeps, create_api
from ampyre.config import Settings
from ampyre.domain.models import Page, Role
from ampyre.metrics import Metrics
from ampyre.services.pki import PkiService
from ampyre.services.pki_port import CertificateFilter, IssuedCertificate, OcspStatus
from ampyre.services.stations import StationService
from ampyre.services.tokens import TokenService

BASE = "http://csms.test"


class MemoryPkiStore:
    """The PkiStore port in memory (the SQL one is tested in integration)."""

    def __init__(self) -> None:
        self.rows: list[IssuedCertificate] = []

    async def record_certificate(self, cert: IssuedCertificate) -> bool:
        if any(r.issuer == cert.issuer and r.serial == cert.serial for r in self.rows):
            return False
        self.rows.append(dataclasses.replace(cert, id=len(self.rows) + 1))
        return True

    async def find_certificate(self, issuer: str, serial: str) -> IssuedCertificate | None:
        return next((r for r in self.rows if (r.issuer, r.serial) == (issuer, serial)), None)

    async def certificates_by_serial(self, serial: str) -> list[IssuedCertificate]:
        return [r for r in self.rows if r.serial == serial]

    async def list_certificates(self, where: CertificateFilter, limit: int, offset: int) -> Page:
        rows = [
            r
            for r in reversed(self.rows)
            if (where.role is None or r.role == where.role)
            and (where.revoked is None or (r.revoked_at is not None) == where.revoked)
            and (where.subject is None or where.subject.lower() in r.subject.lower())
            and (where.serial is None or r.serial == where.serial)
        ]
        return Page(rows[offset : offset + limit], len(rows), limit, offset)

    async def revoke_certificate(
        self, cert_id: int, at: dt.datetime, reason: str, by: str | None
    ) -> IssuedCertificate | None:
        for i, row in enumerate(self.rows):
            if row.id == cert_id:
                if row.revoked_at is None:
                    self.rows[i] = dataclasses.replace(
                        row, revoked_at=at, revocation_reason=reason, revoked_by=by
                    )
                return self.rows[i]
        return None


class Env:
    def __init__(self, pki_dir: Path) -> None:
        self.pki = LocalPki.load(pki_dir)
        self.store = MemoryStore()
        self.tokens = TokenService(self.store)
        self.pki_store = MemoryPkiStore()
        self.service = PkiService(self.pki_store, LocalAuthority(self.pki))
        self.service.ocsp_url = lambda: f"{BASE}/ocsp"
        self.service.responder = LocalOcspResponder(self.pki, self.service.status, 600)
        self.issuer = RecordingPki(self.pki, self.service.record, lambda: f"{BASE}/ocsp")
        self.app = create_api(
            ApiDeps(
                settings=Settings(),
                store=self.store,
                stations=StationService(self.store),
                tokens=self.tokens,
                commands=None,  # type: ignore[arg-type]
                metrics=Metrics(),
                pki=self.service,
            )
        )
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(self.app), base_url=BASE)
        self.client = HttpOcspClient(timeout=5, client=self.http)
        self.service._ocsp_client = self.client
        self.secret: dict[Role, str] = {}

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret[role]}"}


# One app for the module (building it is the slow part); the tests use certificates of
# their own, so sharing the registry is fine.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(pki_dir: Path) -> AsyncIterator[Env]:
    e = Env(pki_dir)
    for role in Role:
        e.secret[role], _ = await e.tokens.create(f"{role.value}-token", role)
    await e.service.sync_hierarchy()
    yield e
    await e.http.aclose()


def _request_der(cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes = b"") -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


async def _ask(env: Env, der: bytes) -> ocsp.OCSPResponse:
    r = await env.http.post(
        "/ocsp", content=der, headers={"Content-Type": "application/ocsp-request"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/ocsp-response"
    return ocsp.load_der_ocsp_response(r.content)


async def test_pki_overview(env: Env) -> None:
    r = await env.http.get("/api/v1/pki", headers=env.auth(Role.VIEWER))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["configured"] is True
    assert body["ocsp_url"] == f"{BASE}/ocsp"
    assert {e["name"] for e in body["roots"]} == {"csms-root", "v2g-root", "mo-root", "oem-root"}
    sub = next(e for e in body["entries"] if e["name"] == "cpo-sub2")
    assert sub["parent"] == "cpo-sub1" and sub["has_key"] is True
    assert len(sub["fingerprint_sha256"]) == 64
    assert (await env.http.get("/api/v1/pki")).status_code == 401


async def test_issue_revoke_and_ocsp_over_http(env: Env) -> None:
    contract = await env.issuer.issue_contract_certificate(
        "DEABCC123ABC56",
        env.pki.issue_oem_provisioning_certificate("PCID1").certificate.public_key(),
    )
    mo_sub2 = env.pki.certificate("mo-sub2")
    answer = await _ask(env, _request_der(contract.certificate, mo_sub2, nonce=b"n" * 16))
    assert answer.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n" * 16
    key = mo_sub2.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(answer.signature, answer.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))

    # The OCSP client, against the responder the certificate's AIA names.
    data = ocsp_request_data(contract.certificate, mo_sub2)
    assert data.responder_url == f"{BASE}/ocsp"
    mo_sub2_pem = mo_sub2.public_bytes(serialization.Encoding.PEM).decode()
    first = await env.client.status(data, issuer_pem=mo_sub2_pem)
    assert first.status is OcspStatus.GOOD and first.next_update is not None

    listed = await env.http.get(
        "/api/v1/pki/certificates", params={"role": "contract"}, headers=env.auth(Role.VIEWER)
    )
    assert listed.json()["total"] == 1
    assert listed.json()["items"][0]["serial"] == contract.serial

    # Revoking needs an operator; a viewer is refused before anything happens.
    path = f"/api/v1/pki/certificates/{contract.serial.upper()}/revoke"
    r = await env.http.post(path, json={"reason": "keyCompromise"}, headers=env.auth(Role.VIEWER))
    assert r.status_code == 403
    r = await env.http.post(path, json={"reason": "keyCompromise"}, headers=env.auth(Role.OPERATOR))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["revoked"] is True and body["revocation_reason"] == "keyCompromise"
    assert body["revoked_by"] == "operator-token"
    again = await env.http.post(path, headers=env.auth(Role.OPERATOR))
    assert again.status_code == 409

    answer = await _ask(env, _request_der(contract.certificate, mo_sub2))
    assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason is x509.ReasonFlags.key_compromise
    # The client's cached `good` was dropped by the revocation.
    second = await env.client.status(data)
    assert second.status is OcspStatus.REVOKED and second.revoked_at is not None

    # GET form (RFC 6960 A.1): base64 of the DER request in the path.
    encoded = base64.b64encode(_request_der(contract.certificate, mo_sub2)).decode()
    r = await env.http.get(f"/ocsp/{encoded}")
    assert ocsp.load_der_ocsp_response(r.content).certificate_status is ocsp.OCSPCertStatus.REVOKED

    revoked_only = await env.http.get(
        "/api/v1/pki/certificates", params={"revoked": "true"}, headers=env.auth(Role.VIEWER)
    )
    assert [i["serial"] for i in revoked_only.json()["items"]] == [contract.serial]


async def test_revoke_errors(env: Env) -> None:
    headers = env.auth(Role.OPERATOR)
    r = await env.http.post("/api/v1/pki/certificates/abcdef/revoke", headers=headers)
    assert r.status_code == 404
    r = await env.http.post("/api/v1/pki/certificates/xyz/revoke", headers=headers)
    assert r.status_code == 422
    r = await env.http.post(
        "/api/v1/pki/certificates/ab/revoke", json={"reason": "because"}, headers=headers
    )
    assert r.status_code == 422
    r = await env.http.post("/api/v1/pki/certificates/ab/revoke")
    assert r.status_code == 401


async def test_responder_unknown_unauthorized_malformed(env: Env) -> None:
    never_recorded = env.pki.issue_station_certificate("CS-NOT-RECORDED").certificate
    answer = await _ask(env, _request_der(never_recorded, env.pki.certificate("csms-sub")))
    assert answer.certificate_status is ocsp.OCSPCertStatus.UNKNOWN
    # The sub-CAs themselves are recorded at start (sync_hierarchy): good.
    answer = await _ask(
        env, _request_der(env.pki.certificate("cpo-sub1"), env.pki.certificate("v2g-root"))
    )
    assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
    # An issuer that is none of our CAs.
    other_issuer = env.pki.issue_station_certificate("FOREIGN").certificate
    answer = await _ask(env, _request_der(never_recorded, other_issuer))
    assert answer.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED
    for junk in (b"", b"\x30\x03\x02\x01\x01", b"x" * 300):
        answer = await _ask(env, junk)
        assert answer.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    r = await env.http.get("/ocsp/!!notbase64!!")
    assert (
        ocsp.load_der_ocsp_response(r.content).response_status
        is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )
    r = await env.http.post("/ocsp", content=b"x" * (17 * 1024))
    assert r.status_code == 413


async def test_client_cache_and_checks(env: Env) -> None:
    issued = await env.issuer.issue_station_certificate("CS-CACHE")
    sub = env.pki.certificate("csms-sub")
    data = ocsp_request_data(issued.certificate, sub, hash_algorithm="SHA256")
    calls: list[bytes] = []
    now = [dt.datetime.now(dt.UTC)]

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.content)
        assert request.headers["content-type"] == "application/ocsp-request"
        body = await env.service.ocsp_respond(request.content)
        return httpx.Response(200, content=body)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = HttpOcspClient(timeout=5, client=http, clock=lambda: now[0])
    sub_pem = sub.public_bytes(serialization.Encoding.PEM).decode()
    first = await client.status(data, sub_pem)
    assert first.status is OcspStatus.GOOD
    assert (await client.status(data, sub_pem)).der == first.der
    assert len(calls) == 1  # cached until nextUpdate
    now[0] += dt.timedelta(seconds=601)
    await client.status(data, sub_pem)
    assert len(calls) == 2
    client.forget()
    await client.status(data, sub_pem)
    assert len(calls) == 3

    # Signature checked against the given issuer: another CA -> FAILED.
    now[0] = dt.datetime.now(dt.UTC)
    wrong = env.pki.certificate("mo-sub2").public_bytes(serialization.Encoding.PEM).decode()
    failed = await client.status(data, wrong)
    assert failed.status is OcspStatus.FAILED and "signature" in (failed.error or "")

    bad = [
        dataclasses.replace(data, responder_url="file:///etc/passwd"),
        dataclasses.replace(data, hash_algorithm="MD5"),
        dataclasses.replace(data, issuer_name_hash="zz"),
        dataclasses.replace(data, issuer_key_hash="ab"),
        dataclasses.replace(data, serial_number="f" * 50),
    ]
    for request in bad:
        answer = await client.status(request)
        assert answer.status is OcspStatus.FAILED, request
    assert len(calls) == 4  # none of them reached the responder

    async def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"\x00" * 10)

    async def huge(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"\x00" * (70 * 1024))

    async def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    for transport in (broken, huge, down):
        other = HttpOcspClient(client=httpx.AsyncClient(transport=httpx.MockTransport(transport)))
        answer = await other.status(data)
        assert answer.status is OcspStatus.FAILED and answer.error
    await http.aclose()


async def test_record_what_the_adapter_issued(env: Env) -> None:
    issued = env.pki.issue_station_certificate("CS-REC")
    assert await env.service.record(issued, "CS-REC") is True
    assert await env.service.record(issued.to_record()) is False  # once per issuer+serial
    status = await env.service.status("csms-sub", issued.serial)
    assert status.status is OcspStatus.GOOD
    row = await env.pki_store.find_certificate("csms-sub", issued.serial)
    assert row is not None and row.station_id == "CS-REC"
