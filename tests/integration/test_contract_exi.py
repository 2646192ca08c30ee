"""ISO 15118-2 certificate installation through the EXI codec (issue 19): the
simulated vehicle -> the built-in contract-certificate provider -> the vehicle, tampering,
the HTTP provider against an in-test platform, and a missing JVM / jar.

One JVM for the module (the `codec` fixture); the PKI is the session's `pki_dir`."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ampyre.adapters.exi import codec as exi_codec
from ampyre.adapters.exi.codec import ISO15118_2_MSG_DEF, ExiCodec, ExiUnavailable
from ampyre.adapters.pki import LocalPki, v2g_crypto
from ampyre.adapters.pki.authority import RecordingPki
from ampyre.adapters.pki.contract_builtin import BuiltinContractProvider, derive_emaid
from ampyre.adapters.pki.contract_http import HttpContractProvider
from ampyre.adapters.pki.contract_setup import build_contract_provider
from ampyre.config import ConfigError, Settings
from ampyre.services.contract_port import (
    ISO15118_2_SCHEMA,
    ISO15118_20_SCHEMA,
    CertificateAction,
    ProviderStatus,
)
from ampyre.services.pki_port import CertStatus, IssuedCertificate, OcspStatus
from ampyre.simulator.vehicle_pnc import PncVehicle, VehicleError

INSTALL = CertificateAction.INSTALL


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def codec() -> Iterator[ExiCodec]:
    codec = ExiCodec()
    try:
        codec.check()
    except ExiUnavailable as exc:
        if _on_ci():
            pytest.fail(f"EXI codec unavailable on CI: {exc}")
        pytest.skip(f"EXI codec unavailable: {exc}")
    yield codec
    codec.close()


class Recorder:
    """PkiService.record stand-in (what RecordingPki records)."""

    def __init__(self) -> None:
        self.issued: list[IssuedCertificate] = []

    async def __call__(self, issued: IssuedCertificate) -> bool:
        self.issued.append(issued)
        return True


def _vehicle(pki: LocalPki, codec: ExiCodec, pcid: str = "WMIV1234567890ABC1") -> PncVehicle:
    oem = pki.issue_oem_provisioning_certificate(pcid)
    assert oem.key is not None
    return PncVehicle(oem.certificate, oem.key, [pki.certificate("v2g-root")], codec)


async def _install(provider: BuiltinContractProvider | HttpContractProvider, exi: str) -> Any:
    return await provider.get_ev_certificate(
        station_id="CS-PNC",
        schema_version=ISO15118_2_SCHEMA,
        action=INSTALL,
        exi_request_b64=exi,
    )


async def test_vehicle_installs_a_contract_certificate(
    local_pki: LocalPki, codec: ExiCodec
) -> None:
    recorder = Recorder()
    provider = BuiltinContractProvider(local_pki, codec, issuer=RecordingPki(local_pki, recorder))
    vehicle = _vehicle(local_pki, codec)

    answer = await _install(provider, await vehicle.certificate_installation_request())
    assert answer.status is ProviderStatus.ACCEPTED, answer.reason
    assert len(answer.exi_response_b64) <= 7500
    contract = await vehicle.read_installation_response(answer.exi_response_b64)

    # The decrypted key is the contract certificate's key; CN = eMAID; from mo-sub2.
    assert (
        contract.key.public_key().public_numbers()
        == contract.certificate.public_key().public_numbers()
    )  # type: ignore[union-attr]
    assert contract.emaid == answer.emaid == derive_emaid("ZZAMP", "WMIV1234567890ABC1")
    cn = contract.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == contract.emaid and len(contract.emaid) == 14
    assert local_pki.issuer_of(contract.certificate) == "mo-sub2"
    assert [c.subject for c in contract.chain] == [
        local_pki.certificate("mo-sub2").subject,
        local_pki.certificate("mo-sub1").subject,
    ]
    assert answer.contract_certificate_pem == contract.chain_pem
    [recorded] = recorder.issued
    assert (
        recorded.station_id == "CS-PNC"
        and recorded.subject == contract.certificate.subject.rfc4514_string()
    )

    # The same vehicle keeps its eMAID; another vehicle gets another one.
    again = await _install(provider, await vehicle.certificate_installation_request())
    assert again.emaid == contract.emaid
    other = await _install(
        provider,
        await _vehicle(local_pki, codec, "WMIV99999999999XY2").certificate_installation_request(),
    )
    assert other.status is ProviderStatus.ACCEPTED and other.emaid != contract.emaid


async def _decoded_request(codec: ExiCodec, exi_b64: str) -> dict[str, Any]:
    return await codec.decode(base64.b64decode(exi_b64), ISO15118_2_MSG_DEF)


async def _encoded(codec: ExiCodec, document: dict[str, Any]) -> str:
    return base64.b64encode(await codec.encode(document, ISO15118_2_MSG_DEF)).decode()


async def test_tampered_or_foreign_requests_are_refused(
    local_pki: LocalPki, codec: ExiCodec
) -> None:
    recorder = Recorder()
    provider = BuiltinContractProvider(local_pki, codec, issuer=RecordingPki(local_pki, recorder))
    vehicle = _vehicle(local_pki, codec)
    genuine = await vehicle.certificate_installation_request()

    # A signed field changed after signing: the digest no longer matches.
    document = await _decoded_request(codec, genuine)
    body = document["V2G_Message"]["Body"]["CertificateInstallationReq"]
    body["ListOfRootCertificateIDs"]["RootCertificateID"][0]["X509SerialNumber"] += 1
    answer = await _install(provider, await _encoded(codec, document))
    assert answer.status is ProviderStatus.FAILED and "digest" in (answer.reason or "")

    # Another vehicle's certificate swapped in (signature by the first vehicle's key).
    document = await _decoded_request(codec, genuine)
    other = local_pki.issue_oem_provisioning_certificate("WMIVOTHER000000001")
    body = document["V2G_Message"]["Body"]["CertificateInstallationReq"]
    body["OEMProvisioningCert"] = base64.b64encode(
        other.certificate.public_bytes(serialization.Encoding.DER)
    ).decode()
    answer = await _install(provider, await _encoded(codec, document))
    assert answer.status is ProviderStatus.FAILED

    # No signature at all.
    document = await _decoded_request(codec, genuine)
    del document["V2G_Message"]["Header"]["Signature"]
    answer = await _install(provider, await _encoded(codec, document))
    assert answer.status is ProviderStatus.FAILED and "signature" in (answer.reason or "")

    # Correctly signed, but by an OEM provisioning certificate of an unknown OEM root.
    foreign_key = ec.generate_private_key(ec.SECP256R1())
    foreign = _self_signed(foreign_key, "WMIVFOREIGN0000001")
    stranger = PncVehicle(foreign, foreign_key, [local_pki.certificate("v2g-root")], codec)
    answer = await _install(provider, await stranger.certificate_installation_request())
    assert answer.status is ProviderStatus.FAILED and "trusted" in (answer.reason or "")

    # A vehicle that does not trust our V2G root could not check our signature.
    oem = local_pki.issue_oem_provisioning_certificate("WMIVNOROOT00000001")
    assert oem.key is not None
    blind = PncVehicle(oem.certificate, oem.key, [local_pki.certificate("mo-root")], codec)
    answer = await _install(provider, await blind.certificate_installation_request())
    assert answer.status is ProviderStatus.FAILED and "V2G root" in (answer.reason or "")

    # Garbage in: clear Failed answers, nothing raised, nothing issued.
    for bad in ("", "not base64!", "A" * 6000, base64.b64encode(b"\x80\x98\x02garbage").decode()):
        answer = await _install(provider, bad)
        assert answer.status is ProviderStatus.FAILED and answer.reason
        assert answer.exi_response_b64 == ""
    assert recorder.issued == []

    # What the built-in provider does not do is answered Failed with the reason.
    for schema, action, word in (
        (ISO15118_20_SCHEMA, INSTALL, "15118-20"),
        (ISO15118_2_SCHEMA, CertificateAction.UPDATE, "not CertificateUpdateReq"),
        ("urn:other", INSTALL, "schema"),
    ):
        answer = await provider.get_ev_certificate(
            station_id="CS-PNC", schema_version=schema, action=action, exi_request_b64=genuine
        )
        assert answer.status is ProviderStatus.FAILED and word in (answer.reason or "")


async def test_vehicle_refuses_a_tampered_response(local_pki: LocalPki, codec: ExiCodec) -> None:
    provider = BuiltinContractProvider(local_pki, codec)
    vehicle = _vehicle(local_pki, codec)
    answer = await _install(provider, await vehicle.certificate_installation_request())
    document = await _decoded_request(codec, answer.exi_response_b64)
    document["V2G_Message"]["Body"]["CertificateInstallationRes"]["eMAID"]["value"] = (
        "ZZAMPAAAAAAAAA"
    )
    with pytest.raises(VehicleError, match="digest"):
        await vehicle.read_installation_response(await _encoded(codec, document))
    # A vehicle without our V2G root does not accept the CPS chain.
    oem = local_pki.issue_oem_provisioning_certificate("WMIVNOROOT00000002")
    assert oem.key is not None
    distrustful = PncVehicle(oem.certificate, oem.key, [local_pki.certificate("oem-root")], codec)
    with pytest.raises(VehicleError, match="trusted issuer"):
        await distrustful.read_installation_response(answer.exi_response_b64)
    with pytest.raises(VehicleError):
        await vehicle.read_installation_response("bm90IGV4aQ==")


async def test_vehicle_renews_its_contract(local_pki: LocalPki, codec: ExiCodec) -> None:
    revoked: set[int] = set()

    async def is_revoked(cert: x509.Certificate) -> bool:
        return cert.serial_number in revoked

    provider = BuiltinContractProvider(local_pki, codec, is_revoked=is_revoked)
    vehicle = _vehicle(local_pki, codec, "WMIVRENEW000000001")
    first = await vehicle.read_installation_response(
        (
            await _install(provider, await vehicle.certificate_installation_request())
        ).exi_response_b64
    )

    async def update(exi: str) -> Any:
        return await provider.get_ev_certificate(
            station_id="CS-PNC",
            schema_version=ISO15118_2_SCHEMA,
            action=CertificateAction.UPDATE,
            exi_request_b64=exi,
        )

    answer = await update(await vehicle.certificate_update_request(first))
    assert answer.status is ProviderStatus.ACCEPTED, answer.reason
    renewed = await vehicle.read_update_response(answer.exi_response_b64, first)
    assert renewed.emaid == first.emaid
    assert renewed.certificate.serial_number != first.certificate.serial_number
    assert renewed.key.private_numbers() != first.key.private_numbers()
    # The new key was encrypted for the current contract key, not the OEM key.
    with pytest.raises(VehicleError):
        await vehicle.read_installation_response(answer.exi_response_b64)

    # Signed by someone else than the contract's holder.
    stranger = type(first)(first.emaid, first.certificate, first.chain, renewed.key)
    answer = await update(await vehicle.certificate_update_request(stranger))
    assert answer.status is ProviderStatus.FAILED and "signature" in (answer.reason or "")
    # Another eMAID than the certificate's.
    liar = type(first)("ZZAMPAAAAAAAAA", first.certificate, first.chain, first.key)
    answer = await update(await vehicle.certificate_update_request(liar))
    assert answer.status is ProviderStatus.FAILED and "eMAID" in (answer.reason or "")
    # A contract from outside our MO PKI (the vehicle's own OEM certificate posing as one).
    oem = local_pki.issue_oem_provisioning_certificate("WMIVRENEW000000002")
    assert oem.key is not None
    fake = type(first)(first.emaid, oem.certificate, oem.chain, oem.key)
    answer = await update(await vehicle.certificate_update_request(fake))
    assert answer.status is ProviderStatus.FAILED
    # A revoked contract is not renewed.
    revoked.add(renewed.certificate.serial_number)
    answer = await update(await vehicle.certificate_update_request(renewed))
    assert answer.status is ProviderStatus.FAILED and "revoked" in (answer.reason or "")


def test_private_key_transport_round_trip() -> None:
    vehicle_key = ec.generate_private_key(ec.SECP256R1())
    contract_key = ec.generate_private_key(ec.SECP256R1())
    dh, encrypted = v2g_crypto.encrypt_private_key(vehicle_key.public_key(), contract_key)
    assert len(dh) == 65 and dh[0] == 4 and len(encrypted) == 48
    key = v2g_crypto.decrypt_private_key(encrypted, dh, vehicle_key)
    assert key.private_numbers() == contract_key.private_numbers()
    # Another vehicle's key yields another (wrong) scalar, never the contract key.
    wrong = v2g_crypto.decrypt_private_key(encrypted, dh, ec.generate_private_key(ec.SECP256R1()))
    assert wrong.private_numbers() != contract_key.private_numbers()
    with pytest.raises(v2g_crypto.V2GCryptoError):
        v2g_crypto.decrypt_private_key(encrypted[:-1], dh, vehicle_key)
    with pytest.raises(v2g_crypto.V2GCryptoError):
        v2g_crypto.decrypt_private_key(encrypted, b"\x04" + b"\x01" * 64, vehicle_key)
    with pytest.raises(v2g_crypto.V2GCryptoError, match="secp256r1"):
        v2g_crypto.encrypt_private_key(
            ec.generate_private_key(ec.SECP384R1()).public_key(), contract_key
        )


def test_certificate_paths(local_pki: LocalPki) -> None:
    oem = local_pki.issue_oem_provisioning_certificate("WMIVPATH0000000001")
    roots = [local_pki.certificate("oem-root")]
    subs = [local_pki.certificate("oem-sub2"), local_pki.certificate("oem-sub1")]
    path = v2g_crypto.verify_path(oem.certificate, subs, roots)
    assert [c.subject for c in path[1:]] == [c.subject for c in (*subs, *roots)]
    with pytest.raises(v2g_crypto.V2GCryptoError, match="trusted issuer"):
        v2g_crypto.verify_path(oem.certificate, subs, [local_pki.certificate("v2g-root")])
    later = datetime.now(UTC) + timedelta(days=365 * 60)
    with pytest.raises(v2g_crypto.V2GCryptoError, match="not valid"):
        v2g_crypto.verify_path(oem.certificate, subs, roots, at=later)
    # A leaf cannot issue: the contract certificate as an "issuer" is refused.
    with pytest.raises(v2g_crypto.V2GCryptoError):
        v2g_crypto.verify_path(oem.certificate, [oem.certificate], roots)


# -- the HTTP provider against an in-test platform ---------------------------------------


class Platform:
    """A Plug & Charge platform on 127.0.0.1 speaking the OCPP Get15118EVCertificate JSON:
    answers with the built-in provider, or with `answers` (status, body) queued."""

    def __init__(self, backend: BuiltinContractProvider) -> None:
        self.backend = backend
        self.answers: list[tuple[int, bytes]] = []
        self.seen: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/ev-certificate"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode("latin-1")
            headers = {}
            for line in head.split("\r\n")[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = json.loads(await reader.readexactly(int(headers["content-length"])))
            self.seen.append((headers, body))
            if self.answers:
                code, payload = self.answers.pop(0)
            else:
                answer = await self.backend.get_ev_certificate(
                    station_id=body["stationId"],
                    schema_version=body["iso15118SchemaVersion"],
                    action=CertificateAction(body["action"]),
                    exi_request_b64=body["exiRequest"],
                )
                code, payload = (
                    200,
                    json.dumps(
                        {"status": answer.status.value, "exiResponse": answer.exi_response_b64}
                    ).encode(),
                )
            writer.write(
                f"HTTP/1.1 {code} X\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def platform(local_pki: LocalPki, codec: ExiCodec) -> AsyncIterator[Platform]:
    platform = Platform(BuiltinContractProvider(local_pki, codec))
    platform.server = await asyncio.start_server(platform._handle, "127.0.0.1", 0)
    yield platform
    platform.server.close()
    await platform.server.wait_closed()


async def test_http_provider_forwards_to_the_platform(
    platform: Platform, local_pki: LocalPki, codec: ExiCodec
) -> None:
    provider = HttpContractProvider(platform.url, token="s3cret", timeout=20, codec=codec)
    try:
        vehicle = _vehicle(local_pki, codec)
        request = await vehicle.certificate_installation_request()
        answer = await _install(provider, request)
        assert answer.status is ProviderStatus.ACCEPTED, answer.reason
        headers, body = platform.seen[0]
        assert headers["authorization"] == "Bearer s3cret"
        assert body == {
            "stationId": "CS-PNC",
            "iso15118SchemaVersion": ISO15118_2_SCHEMA,
            "action": "Install",
            "exiRequest": request,
        }
        contract = await vehicle.read_installation_response(answer.exi_response_b64)
        assert answer.emaid == contract.emaid  # learnt from the decoded response
        assert answer.contract_certificate_pem == contract.chain_pem

        platform.answers += [
            (500, b"oops"),
            (200, b"not json"),
            (200, b'{"status": "Maybe", "exiResponse": ""}'),
            (200, b'{"status": "Accepted", "exiResponse": "%%%"}'),
            (200, b'{"status": "Accepted", "exiResponse": ""}'),
            (200, b'{"status": "Failed", "statusInfo": {"reasonCode": "NoContract"}}'),
        ]
        reasons = []
        for _ in range(6):
            answer = await _install(provider, request)
            assert answer.status is ProviderStatus.FAILED
            reasons.append(answer.reason)
        assert "HTTP 500" in (reasons[0] or "") and reasons[-1] == "NoContract"
    finally:
        await provider.close()
    unreachable = HttpContractProvider("http://127.0.0.1:9/none", timeout=2)
    try:
        answer = await _install(unreachable, request)
        assert answer.status is ProviderStatus.FAILED and "unreachable" in (answer.reason or "")
    finally:
        await unreachable.close()


# -- no JVM, no jar ------------------------------------------------------------------------


async def test_missing_java_or_jar_is_a_clear_error(
    local_pki: LocalPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_java = ExiCodec(java=str(tmp_path / "no-java"))
    try:
        with pytest.raises(ExiUnavailable, match="default-jre-headless"):
            no_java.check()
        with pytest.raises(ExiUnavailable, match="Java runtime"):
            await no_java.encode(
                {"eMAID": {"Id": "id4", "value": "ZZAMP123456789"}}, ISO15118_2_MSG_DEF
            )
        provider = BuiltinContractProvider(local_pki, no_java)
        answer = await _install(provider, base64.b64encode(b"\x80\x98\x02\x10").decode())
        assert answer.status is ProviderStatus.FAILED and "Java" in (answer.reason or "")
    finally:
        no_java.close()
    with pytest.raises(ExiUnavailable, match="not a file"):
        ExiCodec(jar=str(tmp_path / "missing.jar")).check()
    # A jar without the codec: the JVM starts, is stopped again, the error says why.
    (tmp_path / "empty.jar").write_bytes(b"")
    wrong_jar = ExiCodec(jar=str(tmp_path / "empty.jar"))
    try:
        wrong_jar.check()
        for _ in range(2):  # the failure is remembered: no second JVM
            with pytest.raises(ExiUnavailable, match="did not start"):
                await wrong_jar.decode(b"\x80", ISO15118_2_MSG_DEF)
    finally:
        wrong_jar.close()
    monkeypatch.setattr(exi_codec.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ExiUnavailable, match="--no-deps iso15118"):
        exi_codec.find_jar("")


def _self_signed(key: ec.EllipticCurvePrivateKey, cn: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


async def test_settings_choose_the_provider(local_pki: LocalPki) -> None:
    built = []
    for settings, kind in (
        (Settings(), BuiltinContractProvider),
        (
            Settings(contract_provider="http", contract_provider_url="https://p.example/x"),
            HttpContractProvider,
        ),
        (Settings(contract_provider="none"), type(None)),
    ):
        codec, provider = build_contract_provider(settings, local_pki, None)
        assert isinstance(provider, kind)
        built.append((codec, provider))
    # No initialised PKI: no built-in provider (Get15118EVCertificate answered Failed).
    codec, provider = build_contract_provider(Settings(), None, None)
    assert provider is None
    built.append((codec, provider))
    for codec, provider in built:
        if provider is not None:
            await provider.close()
        codec.close()

    # The registry's word on revocation reaches the built-in provider.
    async def registry(issuer: str, serial: str) -> CertStatus:
        asked.append((issuer, serial))
        return CertStatus(OcspStatus.REVOKED)

    asked: list[tuple[str, str]] = []
    codec, provider = build_contract_provider(Settings(), local_pki, None, registry)
    assert isinstance(provider, BuiltinContractProvider) and provider._is_revoked is not None
    contract = local_pki.issue_contract_certificate(
        "ZZAMPREVOKED01", ec.generate_private_key(ec.SECP256R1()).public_key()
    )
    assert await provider._is_revoked(contract.certificate)
    assert asked == [("mo-sub2", contract.serial)]
    codec.close()
    for bad in (
        Settings(contract_provider="magic"),
        Settings(contract_provider="http"),
        Settings(contract_provider="http", contract_provider_url="ftp://x"),
        Settings(contract_provider_timeout=0),
        Settings(contract_emaid_prefix="de1"),
    ):
        with pytest.raises(ConfigError, match="AMPYRE_CONTRACT"):
            build_contract_provider(bad, local_pki, None)
