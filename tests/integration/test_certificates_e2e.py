"""Certificate management and security events end to end (issue 19 part 3) against a real
Ampyre on SQLite and PostgreSQL: simulated 2.0.1 and 1.6 stations renew their station
certificate (TriggerMessage / ExtendedTriggerMessage -> CSR -> signed by the built-in
PKI -> CertificateSigned), get a root installed, listed and deleted through the REST
API; a scripted station's bad CSR is Rejected and recorded; security events are stored
with alerts for critical ones, and the CSMS's own events too."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from polling import station_connected, until
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from ampyre.simulator.station import Counters, SimulatedStation

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from ampyre.adapters.pki import LocalPki
    from conftest import Server, StartServer

ORG = "Ampyre Test"  # the organisation of tests/pki_fixtures.py


@pytest.fixture
async def ampyre(start_server: StartServer, store_url: str, pki_dir: Path) -> Server:
    # The built-in PKI of tests/pki_fixtures.py signs (the local signer, which records
    # what it issues for the OCSP responder).
    server = await start_server(
        store_url,
        pki_dir=str(pki_dir),
        certificate_organisation=ORG,
        certificate_expiry_interval=0,
    )
    certificates = server.app.security.certificates
    assert certificates is not None and certificates.signer is not None
    return server


async def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


@contextlib.asynccontextmanager
async def simulated(
    server: Server, station_id: str, protocol: str, at_boot: bool = False
) -> AsyncIterator[SimulatedStation]:
    await server.create_station(station_id, registration_status="Accepted")
    station = SimulatedStation(
        station_id=station_id, url=f"{server.ws_url}/ocpp", protocol=protocol, counters=Counters()
    )
    station.certificates.organisation = ORG
    station.certificates.sign_at_boot = at_boot
    task = asyncio.create_task(station.run())
    try:
        api = server.api()
        await until(f"{station_id} online", lambda: station_connected(api, station_id))
        await until(f"{station_id} booted", _true(lambda: station.booted))
        yield station
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _true(check: Any) -> Any:
    async def run() -> bool:
        return bool(check())

    return run


async def _request_status(api: httpx.AsyncClient, station_id: str) -> str | None:
    page = await _ok(await api.get("/certificate-requests", params={"station_id": station_id}))
    return page["items"][0]["status"] if page["items"] else None


async def test_certificates_and_security_events(ampyre: Server, local_pki: LocalPki) -> None:
    # One server per backend (its start is most of the cost): the stations side by side.
    await asyncio.gather(
        _renewal_and_roots(ampyre, local_pki, "ocpp2.0.1"),
        _renewal_and_roots(ampyre, local_pki, "ocpp1.6"),
        _bad_csr_and_security_events(ampyre),
        _certificate_at_boot(ampyre),
    )


async def _certificate_at_boot(ampyre: Server) -> None:
    api = ampyre.api()
    async with simulated(ampyre, "CERT-21", "ocpp2.1", at_boot=True) as station:

        async def installed() -> bool:
            return await _request_status(api, "CERT-21") == "installed"

        await until("the certificate asked for at boot", installed)
        assert station.certificates.certificate_pem() is not None


async def _renewal_and_roots(ampyre: Server, local_pki: LocalPki, protocol: str) -> None:
    api = ampyre.api()
    sid = "CERT-" + protocol.removeprefix("ocpp").replace(".", "")
    async with simulated(ampyre, sid, protocol) as station:
        # Renewal: the trigger, a CSR from the station, signed, sent, accepted.
        out = await _ok(await api.post(f"/stations/{sid}/certificates/renew", json={}))
        assert out["status"] == "accepted"

        async def installed() -> bool:
            return await _request_status(api, sid) == "installed"

        await until("the signed certificate installed", installed)
        chain = x509.load_pem_x509_certificates(station.certificates.certificate_pem().encode())  # type: ignore[union-attr]
        leaf = chain[0]
        leaf.verify_directly_issued_by(local_pki.certificate("csms-sub"))
        assert leaf.subject.rfc4514_string() == f"O={ORG},CN={sid}"
        page = await _ok(await api.get(f"/stations/{sid}/certificates"))
        (own,) = [c for c in page["items"] if c["use"] == "ChargingStationCertificate"]
        assert own["source"] == "signed" and own["expired"] is False
        assert own["hash_data"]["serial_number"] == format(leaf.serial_number, "x")
        requests = await _ok(await api.get(f"/stations/{sid}/certificate-requests"))
        detail = await _ok(await api.get(f"/certificate-requests/{requests['items'][0]['id']}"))
        assert "BEGIN CERTIFICATE REQUEST" in detail["csr"] and detail["certificate"]

        # A root: installed, listed by the station, deleted.
        root_pem = local_pki.certificate("csms-root").public_bytes(serialization.Encoding.PEM)
        body = {"use": "CSMSRootCertificate", "certificate": root_pem.decode()}
        assert (await _ok(await api.post(f"/stations/{sid}/certificates", json=body)))[
            "status"
        ] == "accepted"
        bad = await api.post(f"/stations/{sid}/certificates", json={**body, "certificate": "nope"})
        assert bad.status_code == 422
        refreshed = await _ok(await api.post(f"/stations/{sid}/certificates/refresh", json={}))
        roots = [c for c in refreshed["items"] if c["use"] == "CSMSRootCertificate"]
        assert len(roots) == 1 and roots[0]["subject"] and roots[0]["pem"]
        out = await _ok(await api.delete(f"/stations/{sid}/certificates/{roots[0]['id']}"))
        assert out["status"] == "accepted"
        page = await _ok(await api.get(f"/stations/{sid}/certificates"))
        assert [c["use"] for c in page["items"]] == ["ChargingStationCertificate"]
        assert station.certificates.held.roots["CSMSRootCertificate"] == []

        # Across the fleet: expiring within ten years -> the new certificate.
        page = await _ok(await api.get("/certificates", params={"expiring_within_days": 3650}))
        assert sid in {c["station_id"] for c in page["items"]}
        if protocol == "ocpp1.6":
            for message in ("Heartbeat", "LogStatusNotification"):
                out = await _ok(
                    await api.post(
                        f"/stations/{sid}/extended-trigger", json={"requested_message": message}
                    )
                )
                assert out["status"] == "accepted"
        else:
            refused = await api.post(
                f"/stations/{sid}/extended-trigger", json={"requested_message": "Heartbeat"}
            )
            assert refused.status_code == 422


async def _raw(server: Server, station_id: str) -> ClientConnection:
    ws = await connect(
        server.station_url(station_id), subprotocols=[Subprotocol("ocpp2.0.1")], open_timeout=5
    )
    boot = {"chargingStation": {"vendorName": "ACME", "model": "One"}, "reason": "PowerUp"}
    assert (await _rpc(ws, [2, "b", "BootNotification", boot]))[2]["status"] == "Accepted"
    return ws


async def _rpc(ws: ClientConnection, msg: list[Any]) -> list[Any]:
    await ws.send(json.dumps(msg))
    reply: list[Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return reply


async def _bad_csr_and_security_events(ampyre: Server) -> None:
    api = ampyre.api()
    sid = "SEC-1"
    await ampyre.create_station(sid, registration_status="Accepted")
    ws = await _raw(ampyre, sid)
    try:
        reply = await _rpc(ws, [2, "c", "SignCertificate", {"csr": "-----BEGIN junk"}])
        assert reply[2]["status"] == "Rejected" and reply[2]["statusInfo"]["additionalInfo"]
        assert await _request_status(api, sid) == "rejected"
        event = {"type": "InvalidMessages", "timestamp": "2026-12-01T10:00:00Z", "techInfo": "x"}
        assert await _rpc(ws, [2, "e1", "SecurityEventNotification", event]) == [3, "e1", {}]
        event = {"type": "TamperDetectionActivated", "timestamp": "2026-12-01T10:01:00Z"}
        assert await _rpc(ws, [2, "e2", "SecurityEventNotification", event]) == [3, "e2", {}]
    finally:
        await ws.close()
    # Bad input: 422 (nothing sent), unknown things 404.
    for bad in (
        api.post(
            f"/stations/{sid}/extended-trigger",
            json={"requested_message": "Heartbeat", "connector_id": 2**40},
        ),
        api.post(f"/stations/{sid}/certificates/renew", json={"use": "Nope"}),
        api.get("/certificates", params={"expiring_within_days": "nan"}),
        api.get(f"/certificate-requests/{2**70}"),
        api.delete(f"/stations/{sid}/certificates/{2**70}"),
        api.post(
            f"/stations/{sid}/certificates",
            json={"use": "V2GRootCertificate", "certificate": "x" * 20000},
        ),
    ):
        assert (await bad).status_code == 422
    assert (await api.get("/stations/NOPE/certificates")).status_code == 404
    assert (await api.delete(f"/stations/{sid}/certificates/99999")).status_code == 404
    assert (await api.get("/certificate-requests/99999")).status_code == 404
    events = ampyre.app.security.security_events
    assert events is not None
    await events.record_csms_event(sid, "InvalidChargingStationCertificate", "CN is SEC-2")
    page = await _ok(await api.get(f"/stations/{sid}/security-events"))
    assert [(e["type"], e["critical"], e["source"]) for e in page["items"]] == [
        ("InvalidChargingStationCertificate", True, "csms"),
        ("TamperDetectionActivated", True, "station"),
        ("InvalidMessages", False, "station"),
    ]
    critical = await _ok(await api.get("/security-events", params={"critical": "true"}))
    assert critical["total"] == 2
    alerts = await _ok(await api.get("/alerts", params={"station_id": sid}))
    assert sorted(a["code"] for a in alerts["items"]) == [
        "InvalidChargingStationCertificate",
        "TamperDetectionActivated",
    ]
    # Retention: nothing is older than an hour from now; everything is older than then.
    assert await events.prune(datetime.now(UTC) - timedelta(hours=1)) == 0
    # Still in the station's report history, as before the security events block.
    reports = await _ok(await api.get(f"/stations/{sid}/reports"))
    assert [r["action"] for r in reports["items"]].count("SecurityEventNotification") == 2
    assert await events.prune(datetime.now(UTC) + timedelta(hours=1)) >= 3
    assert (await _ok(await api.get(f"/stations/{sid}/security-events")))["total"] == 0
