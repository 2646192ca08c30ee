"""Plug & Charge service and handlers (issue 19) over fakes: contract chains from the
built-in PKI (session fixture), a fake OCSP client and contract provider, the 2.0.1
handlers and the 1.6 DataTransfer vendor."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ampyre.adapters.memory import MemoryStore
from ampyre.adapters.pki import LocalPki
from ampyre.config import Settings
from ampyre.demo_pnc import ensure_pki, ensure_vehicle
from ampyre.domain.authz import AuthStatus, IdToken, IdTokenType
from ampyre.domain.certificates import HashAlgorithm
from ampyre.domain.models import OcppVersion, Page
from ampyre.domain.plug_and_charge import (
    CertificateStatus,
    ContractCertificate,
    ContractSource,
    OcspQuery,
    OcspUnavailable,
)
from ampyre.protocol.ocpp16.plug_and_charge import VENDOR_ID, vendor_handler
from ampyre.protocol.plug_and_charge import handlers
from ampyre.protocol.schemas import SchemaRegistry
from ampyre.services.authz import AuthService
from ampyre.services.contract_port import CertificateAction, EvCertificateAnswer, ProviderStatus
from ampyre.services.data_transfer import DataTransferStatus, VendorMessage
from ampyre.services.pki_port import OcspAnswer, OcspRequestData, OcspStatus
from ampyre.services.plug_and_charge import PlugAndChargeService
from ampyre.services.plug_and_charge_port import EvCertificateRequest
from ampyre.services.pnc_chain import ocsp_query, pem_of
from ampyre.simulator.plug_and_charge import PlugAndChargeEv

EMAID = "DEAMPC00000001"
OCSP_URL = "http://ocsp.test/ocsp"
SUBS = ("mo-sub1", "mo-sub2")


class MemContracts:
    def __init__(self) -> None:
        self.rows: dict[str, ContractCertificate] = {}

    async def save_contract(self, cert: ContractCertificate) -> ContractCertificate:
        old = self.rows.get(cert.fingerprint)
        if old is not None and old.source is ContractSource.ISSUED:
            cert.source = ContractSource.ISSUED
        cert.id = old.id if old is not None else len(self.rows) + 1
        self.rows[cert.fingerprint] = cert
        return cert

    async def mark_contract(
        self,
        serial_number: str,
        status: CertificateStatus,
        station_id: str,
        at: datetime,
        fingerprint: str | None = None,
    ) -> int:
        n = 0
        for row in self.rows.values():
            if row.serial_number == serial_number and fingerprint in (None, row.fingerprint):
                row.last_status, row.last_checked_at, row.station_id = status, at, station_id
                n += 1
        return n

    async def list_contracts(self, limit: int, offset: int, *args: Any) -> Page:
        items = list(self.rows.values())
        return Page(items[offset : offset + limit], len(items), limit, offset)

    async def get_contract(self, contract_id: int) -> ContractCertificate | None:
        return next((r for r in self.rows.values() if r.id == contract_id), None)


class FakeOcsp:
    """Answers by serial: revoked ones REVOKED, `failing` FAILED, the rest GOOD."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.failing = False
        self.asked: list[tuple[OcspRequestData, str | None]] = []

    async def status(self, request: OcspRequestData, issuer_pem: str | None = None) -> OcspAnswer:
        self.asked.append((request, issuer_pem))
        if self.failing:
            return OcspAnswer(OcspStatus.FAILED, error="responder unreachable")
        status = OcspStatus.REVOKED if request.serial_number in self.revoked else OcspStatus.GOOD
        return OcspAnswer(status, der=b"\x30\x03\x0a\x01\x00")

    def forget(self, serial: str | None = None) -> None:
        return None


class FakeProvider:
    name = "builtin"

    def __init__(self, pki: LocalPki) -> None:
        self.pki = pki
        self.calls = 0
        self.fail: Exception | None = None

    async def get_ev_certificate(
        self,
        *,
        station_id: str,
        schema_version: str,
        action: CertificateAction,
        exi_request_b64: str,
    ) -> EvCertificateAnswer:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        issued = self.pki.issue_contract_certificate(
            EMAID, ec.generate_private_key(ec.SECP256R1()).public_key()
        )
        return EvCertificateAnswer(
            ProviderStatus.ACCEPTED,
            base64.b64encode(b"exi-response").decode(),
            emaid=EMAID,
            contract_certificate_pem=issued.chain_pem(),
        )

    async def close(self) -> None:
        return None


@pytest.fixture(scope="module")
def pki(pki_dir: Any) -> LocalPki:
    return LocalPki.load(pki_dir, ocsp_url=OCSP_URL)


def roots_of(pki: LocalPki) -> list[str]:
    return [pem_of(pki.certificate("mo-root")), pem_of(pki.certificate("v2g-root"))]


class Rig:
    def __init__(self, pki: LocalPki, now: datetime | None = None) -> None:
        self.pki = pki
        self.store = MemContracts()
        self.ocsp = FakeOcsp()
        self.provider = FakeProvider(pki)
        self.auth = AuthService(MemoryStore(), None, Settings())  # type: ignore[arg-type]
        self.signed: list[tuple[str, str]] = []

        async def sign(station_id: str, csr: str) -> tuple[bool, str | None]:
            self.signed.append((station_id, csr))
            return True, None

        clock = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
        self.svc = PlugAndChargeService(
            self.store,
            self.auth,
            lambda: roots_of(pki),
            ocsp=self.ocsp,
            provider=self.provider,
            signer=sign,
            issuers=lambda: [*roots_of(pki), *(pem_of(pki.certificate(n)) for n in SUBS)],
            clock=clock,
        )

    async def token(self, value: str = EMAID) -> None:
        await self.auth.create_token(IdToken(id_token=value, type=IdTokenType.EMAID))

    def contract(self, emaid: str = EMAID) -> tuple[str, x509.Certificate]:
        issued = self.pki.issue_contract_certificate(
            emaid, ec.generate_private_key(ec.SECP256R1()).public_key()
        )
        return issued.chain_pem(), issued.certificate


async def test_contract_chain_accepted_and_ocsp_asked_per_link(pki: LocalPki) -> None:
    rig = Rig(pki)
    await rig.token()
    chain, leaf = rig.contract()
    decision = await rig.svc.authorize("CS1", EMAID, "eMAID", chain)
    assert decision.certificate_status is CertificateStatus.ACCEPTED
    assert decision.auth.status is AuthStatus.ACCEPTED
    # Each link that names a responder is asked (here the leaf: the fixture's CAs were
    # made without an OCSP address), with its issuer to verify the response against.
    ((request, issuer),) = rig.ocsp.asked
    assert request.serial_number == format(leaf.serial_number, "x")
    assert request.responder_url == OCSP_URL
    assert issuer == pem_of(pki.certificate("mo-sub2"))
    (row,) = rig.store.rows.values()
    assert row.emaid == EMAID and row.source is ContractSource.PRESENTED
    assert row.last_status is CertificateStatus.ACCEPTED and row.station_id == "CS1"


async def test_revoked_contract_refused(pki: LocalPki) -> None:
    rig = Rig(pki)
    await rig.token()
    chain, leaf = rig.contract()
    rig.ocsp.revoked.add(format(leaf.serial_number, "x"))
    decision = await rig.svc.authorize("CS1", EMAID, "eMAID", chain)
    assert decision.certificate_status is CertificateStatus.CERTIFICATE_REVOKED
    assert decision.auth.status is AuthStatus.BLOCKED


async def test_ocsp_unavailable_fails_closed(pki: LocalPki) -> None:
    rig = Rig(pki)
    await rig.token()
    rig.ocsp.failing = True
    decision = await rig.svc.authorize("CS1", EMAID, "eMAID", rig.contract()[0])
    assert decision.certificate_status is CertificateStatus.CERT_CHAIN_ERROR
    assert decision.auth.status is AuthStatus.INVALID


async def test_unknown_root_expired_and_forged_chains(pki: LocalPki) -> None:
    rig = Rig(pki)
    await rig.token()
    # A station CA chain is not an MO chain.
    station = pki.issue_station_certificate("CS1")
    decision = await rig.svc.authorize("CS1", EMAID, "eMAID", station.chain_pem())
    assert decision.certificate_status is CertificateStatus.CERT_CHAIN_ERROR
    # The same name as mo-sub2, another key: the signature does not verify.
    sub2 = pki.certificate("mo-sub2")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string(f"CN={EMAID}"))
        .issuer_name(sub2.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    text = pem_of(forged) + pem_of(sub2) + pem_of(pki.certificate("mo-sub1"))
    decision = await rig.svc.authorize("CS1", EMAID, "eMAID", text)
    assert decision.certificate_status is CertificateStatus.SIGNATURE_ERROR
    # Garbage.
    decision = await rig.svc.authorize("CS1", EMAID, "eMAID", "-----BEGIN CERTIFICATE-----\nxx")
    assert decision.certificate_status is CertificateStatus.CERT_CHAIN_ERROR
    # Years later everything has expired.
    later = Rig(pki, now=datetime.now(UTC) + timedelta(days=365 * 50))
    await later.token()
    decision = await later.svc.authorize("CS1", EMAID, "eMAID", rig.contract()[0])
    assert decision.certificate_status is CertificateStatus.CERTIFICATE_EXPIRED
    assert decision.auth.status is AuthStatus.EXPIRED
    assert not rig.ocsp.failing and len(rig.ocsp.asked) == 0  # refused before any OCSP


async def test_certificate_of_another_emaid(pki: LocalPki) -> None:
    rig = Rig(pki)
    await rig.token()
    decision = await rig.svc.authorize("CS1", EMAID, "eMAID", rig.contract("DEAMPC99999999")[0])
    assert decision.certificate_status is CertificateStatus.ACCEPTED
    assert decision.auth.status is AuthStatus.INVALID


async def test_hash_data_checked_by_ocsp(pki: LocalPki) -> None:
    rig = Rig(pki)
    await rig.token()
    query = OcspQuery(HashAlgorithm.SHA256, "ab" * 32, "cd" * 32, "0a1b", OCSP_URL)
    decision = await rig.svc.authorize("CS1", EMAID, "eMAID", None, (query,))
    assert decision.certificate_status is CertificateStatus.ACCEPTED
    assert rig.ocsp.asked[0][0].serial_number == "0a1b"
    rig.ocsp.revoked.add("0a1b")
    decision = await rig.svc.authorize("CS1", EMAID, "eMAID", None, (query,))
    assert decision.certificate_status is CertificateStatus.CERTIFICATE_REVOKED
    bad = OcspQuery(HashAlgorithm.SHA256, "zz", "cd", "1", "file:///etc/passwd")
    decision = await rig.svc.authorize("CS1", EMAID, "eMAID", None, (bad,))
    assert decision.certificate_status is CertificateStatus.CERT_CHAIN_ERROR
    # Hash data of a real contract: its issuer (mo-sub2) is known, so the OCSP answer
    # is verified against it.
    _chain, leaf = rig.contract()
    query = ocsp_query(leaf, pki.certificate("mo-sub2"))
    assert query is not None
    decision = await rig.svc.authorize("CS1", EMAID, "eMAID", None, (query,))
    assert decision.certificate_status is CertificateStatus.ACCEPTED
    assert rig.ocsp.asked[-1][1] == pem_of(pki.certificate("mo-sub2"))
    # Neither certificate nor hash data: the id token alone, no certificateStatus.
    decision = await rig.svc.authorize("CS1", EMAID, "eMAID")
    assert decision.certificate_status is None and decision.auth.status is AuthStatus.ACCEPTED


async def test_installation_records_contract_and_makes_token(pki: LocalPki) -> None:
    rig = Rig(pki)
    table = handlers(rig.svc)[OcppVersion.V201]
    ctx: Any = type("Ctx", (), {"station_id": "CS1"})()
    exi = base64.b64encode(b"exi-request").decode()
    req = {"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install"}
    answer = await table["Get15118EVCertificate"](ctx, {**req, "exiRequest": exi})
    assert answer["status"] == "Accepted" and answer["exiResponse"]
    (row,) = rig.store.rows.values()
    assert row.source is ContractSource.ISSUED and row.provider == "builtin"
    assert (await rig.auth.authorize("CS1", EMAID, "eMAID")).status is AuthStatus.ACCEPTED
    # Not base64: Failed without bothering the provider; a provider fault: Failed too.
    answer = await table["Get15118EVCertificate"](ctx, {**req, "exiRequest": "not base64!"})
    assert answer["status"] == "Failed" and answer["statusInfo"]["reasonCode"]
    assert rig.provider.calls == 1
    rig.provider.fail = RuntimeError("boom")
    answer = await table["Get15118EVCertificate"](ctx, {**req, "exiRequest": exi})
    assert answer["status"] == "Failed"
    schemas = SchemaRegistry(OcppVersion.V201)
    assert schemas.validate("Get15118EVCertificate", answer, response=True) is None


async def test_2x_handlers_answer_valid_payloads(pki: LocalPki) -> None:
    rig = Rig(pki)
    await rig.token()
    schemas = SchemaRegistry(OcppVersion.V201)
    table = handlers(rig.svc)[OcppVersion.V201]
    ctx: Any = type("Ctx", (), {"station_id": "CS1"})()
    chain, _leaf = rig.contract()
    request = {"idToken": {"idToken": EMAID, "type": "eMAID"}, "certificate": chain}
    assert schemas.validate("Authorize", request, response=False) is None
    answer = await table["Authorize"](ctx, request)
    assert answer["certificateStatus"] == "Accepted"
    assert answer["idTokenInfo"]["status"] == "Accepted"
    assert schemas.validate("Authorize", answer, response=True) is None
    plain = await table["Authorize"](ctx, {"idToken": {"idToken": "nobody", "type": "ISO14443"}})
    assert plain == {"idTokenInfo": {"status": "Unknown"}}
    # 2.1: the same block, the 2.1 schemas.
    answer21 = await handlers(rig.svc)[OcppVersion.V21]["Authorize"](ctx, request)
    assert answer21["certificateStatus"] == "Accepted"
    assert SchemaRegistry(OcppVersion.V21).validate("Authorize", answer21, response=True) is None
    ocsp = {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "ab" * 32,
        "issuerKeyHash": "cd" * 32,
        "serialNumber": "1f",
        "responderURL": OCSP_URL,
    }
    answer = await table["GetCertificateStatus"](ctx, {"ocspRequestData": ocsp})
    assert answer["status"] == "Accepted"
    assert base64.b64decode(answer["ocspResult"]) == b"\x30\x03\x0a\x01\x00"
    assert schemas.validate("GetCertificateStatus", answer, response=True) is None
    rig.ocsp.failing = True
    answer = await table["GetCertificateStatus"](ctx, {"ocspRequestData": ocsp})
    assert answer["status"] == "Failed" and "unreachable" in answer["statusInfo"]["additionalInfo"]
    assert schemas.validate("GetCertificateStatus", answer, response=True) is None


async def test_16_data_transfer_vendor(pki: LocalPki) -> None:
    rig = Rig(pki)
    await rig.token()
    handle = vendor_handler(rig.svc)
    chain, _leaf = rig.contract()

    def msg(message_id: str | None, data: Any) -> VendorMessage:
        return VendorMessage("CS16", VENDOR_ID, message_id, data)

    body = {"idToken": {"idToken": EMAID, "type": "eMAID"}, "certificate": chain}
    reply = await handle(msg("Authorize", json.dumps(body)))
    assert reply.status is DataTransferStatus.ACCEPTED
    assert reply.data["idTokenInfo"]["status"] == "Accepted"
    assert reply.data["certificateStatus"] == "Accepted"
    reply = await handle(msg("SignCertificate", json.dumps({"csr": "-----BEGIN CSR..."})))
    assert reply.status is DataTransferStatus.ACCEPTED and reply.data == {"status": "Accepted"}
    assert rig.signed == [("CS16", "-----BEGIN CSR...")]
    for bad in ("{not json", json.dumps([1, 2]), json.dumps({"idToken": 5}), "x" * 100_000):
        assert (await handle(msg("Authorize", bad))).status is DataTransferStatus.REJECTED
    unknown = await handle(msg("CertificateSigned", "{}"))
    assert unknown.status is DataTransferStatus.UNKNOWN_MESSAGE_ID
    assert (await handle(msg(None, "{}"))).status is DataTransferStatus.UNKNOWN_MESSAGE_ID


class FakeVehicle:
    """Just what PlugAndChargeEv asks of a PncVehicle."""

    def __init__(self, contract: Any) -> None:
        self.contract = contract
        self.responses: list[str] = []

    async def certificate_installation_request(self) -> str:
        return "RVhJ"

    async def read_installation_response(self, exi_response_b64: str) -> Any:
        self.responses.append(exi_response_b64)
        return self.contract


async def test_simulated_ev_wraps_16_messages_in_data_transfer() -> None:
    contract = type("Contract", (), {"emaid": EMAID, "chain_pem": "PEM"})()
    sent: list[tuple[str, dict[str, Any]]] = []
    answers = {
        "Get15118EVCertificate": {"status": "Accepted", "exiResponse": "UkVT"},
        "Authorize": {"idTokenInfo": {"status": "Accepted"}, "certificateStatus": "Accepted"},
    }

    async def exchange(action: str, payload: dict[str, Any]) -> tuple[str, Any]:
        sent.append((action, payload))
        inner = answers[payload["messageId"]]
        return "result", {"status": "Accepted", "data": json.dumps(inner)}

    vehicle = FakeVehicle(contract)
    ev = PlugAndChargeEv("CS16", "ocpp1.6", exchange, vehicle)  # type: ignore[arg-type]
    assert await ev.contract_token() == (EMAID, "eMAID")
    assert vehicle.responses == ["UkVT"]
    assert await ev.authorize(EMAID) is True
    assert [a for a, _ in sent] == ["DataTransfer", "DataTransfer"]
    assert {p["vendorId"] for _, p in sent} == {VENDOR_ID}
    body = json.loads(sent[1][1]["data"])
    assert body == {"idToken": {"idToken": EMAID, "type": "eMAID"}, "certificate": "PEM"}
    answers["Authorize"] = {
        "idTokenInfo": {"status": "Blocked"},
        "certificateStatus": "CertificateRevoked",
    }
    assert await ev.authorize(EMAID) is False
    assert ev.certificate_status == "CertificateRevoked" and ev.counters.refusals == 1


async def test_simulated_ev_without_contract_falls_back() -> None:
    async def exchange(action: str, payload: dict[str, Any]) -> tuple[str, Any]:
        return "result", {"status": "Failed", "exiResponse": "", "statusInfo": {"reasonCode": "x"}}

    ev = PlugAndChargeEv("CS2", "ocpp2.0.1", exchange, FakeVehicle(None))  # type: ignore[arg-type]
    assert await ev.contract_token() is None
    assert ev.install_status == "Failed" and ev.counters.install_failures == 1
    assert await ev.contract_token() is None  # not asked again at once
    assert ev.counters.install_failures == 1
    assert await ev.authorize(EMAID) is False


def test_demo_makes_pki_and_vehicle_once(tmp_path: Any) -> None:
    settings = Settings(pki_dir=str(tmp_path / "pki"))
    assert ensure_pki(settings) and ensure_pki(settings)
    vehicle = ensure_vehicle(settings, tmp_path / "ev")
    assert vehicle is not None
    key = vehicle / "oem-provisioning.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    first = (vehicle / "oem-provisioning.pem").read_text()
    assert ensure_vehicle(settings, tmp_path / "ev") == vehicle
    assert (vehicle / "oem-provisioning.pem").read_text() == first


async def test_ocsp_responders_can_be_restricted(pki: LocalPki) -> None:
    rig = Rig(pki)
    svc = PlugAndChargeService(
        rig.store, rig.auth, lambda: roots_of(pki), ocsp=rig.ocsp, ocsp_hosts=("ocsp.test",)
    )
    allowed = OcspQuery(HashAlgorithm.SHA256, "ab", "cd", "1", OCSP_URL)
    assert (await svc.certificate_status("CS1", allowed)).status is OcspStatus.GOOD
    internal = OcspQuery(HashAlgorithm.SHA256, "ab", "cd", "1", "http://10.0.0.1/admin")
    with pytest.raises(OcspUnavailable, match="not an allowed"):
        await svc.certificate_status("CS1", internal)
    assert len(rig.ocsp.asked) == 1


class BrokenContracts(MemContracts):
    async def save_contract(self, cert: ContractCertificate) -> ContractCertificate:
        raise RuntimeError("database down")

    async def mark_contract(self, *args: Any, **kw: Any) -> int:
        raise RuntimeError("database down")


async def test_answers_survive_a_failing_record(pki: LocalPki) -> None:
    rig = Rig(pki)
    await rig.token()
    svc = PlugAndChargeService(
        BrokenContracts(), rig.auth, lambda: roots_of(pki), ocsp=rig.ocsp, provider=rig.provider
    )
    decision = await svc.authorize("CS1", EMAID, "eMAID", rig.contract()[0])
    assert decision.certificate_status is CertificateStatus.ACCEPTED
    exi = base64.b64encode(b"exi").decode()
    answer = await svc.ev_certificate(
        EvCertificateRequest("CS1", "urn:iso:15118:2:2013:MsgDef", "Install", exi)
    )
    assert answer.status is ProviderStatus.ACCEPTED
