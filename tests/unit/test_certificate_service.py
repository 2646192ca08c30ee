"""Certificate management services with fakes (issue 19 part 3): SignCertificate checked,
signed in the background and sent; the station's answer, signer refusals and expiry
raising alerts; install / refresh / delete keeping the station's list."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from certificate_fakes import (
    NOW,
    FakeAlerts,
    FakeCommands,
    FakeSigner,
    MemoryCertificates,
    make_ca,
)
from cryptography.hazmat.primitives import serialization

from ampyre.domain.alerts import AlertSource
from ampyre.domain.certificates import (
    CertificateRequest,
    CertificateUse,
    HashData,
    RequestStatus,
    SigningUse,
    hash_data_of,
)
from ampyre.domain.models import StationReport
from ampyre.services.certificate_expiry import CertificateExpiryWatch
from ampyre.services.certificates import CertificateError, CertificateService
from ampyre.services.certificates_port import ReportedCertificate
from ampyre.services.security_events import SecurityEventService
from ampyre.simulator.certificates import make_csr


def _service(
    signer: Any = None, answer: str = "Accepted"
) -> tuple[CertificateService, MemoryCertificates, FakeCommands, FakeAlerts]:
    store, commands, alerts = MemoryCertificates(), FakeCommands(answer), FakeAlerts()
    svc = CertificateService(
        store,
        commands,
        signer,
        alerts,  # type: ignore[arg-type]
        organisation="ACME",
        clock=lambda: NOW,
    )
    return svc, store, commands, alerts


async def test_good_csr_is_accepted_signed_sent_and_installed() -> None:
    svc, store, commands, alerts = _service(FakeSigner())
    _, csr = make_csr("CS-1", "ACME", v2g=False)
    assert await svc.sign_request("CS-1", csr, SigningUse.CHARGING_STATION) == (True, None)
    await svc.wait_idle()
    (req,) = store.requests.values()
    assert req.status is RequestStatus.INSTALLED and req.serial_number and req.certificate
    assert commands.calls[0][0] == "CertificateSigned"
    (row,) = store.certs.values()
    assert row.use is CertificateUse.CHARGING_STATION and row.source == "signed"
    assert row.not_after == NOW + dt.timedelta(days=365) and "CN=CS-1" in (row.subject or "")
    # A renewal that went through clears the certificate alert of that use.
    assert [s.clear for s in alerts.sightings] == [True]


async def test_v2g_chain_is_kept_with_its_submake_ca() -> None:
    svc, store, commands, _ = _service(FakeSigner())
    _, csr = make_csr("SECC-1", None, v2g=True)
    assert (await svc.sign_request("CS-1", csr, SigningUse.V2G, request_id=7, via="pnc"))[0]
    await svc.wait_idle()
    assert commands.calls[0][1][1:] == (SigningUse.V2G, 7, True)
    rows = sorted(store.certs.values(), key=lambda c: c.child_of is not None)
    assert [r.use for r in rows] == [CertificateUse.V2G_CHAIN] * 2
    assert rows[1].child_of == rows[0].hash_data


@pytest.mark.parametrize(
    ("signer", "csr_cn", "reason"),
    [
        (None, "CS-1", "no certificate signer"),
        (FakeSigner(), "CS-2", "not the station id"),
    ],
)
async def test_rejected_at_once_and_recorded(signer: Any, csr_cn: str, reason: str) -> None:
    svc, store, commands, _ = _service(signer)
    _, csr = make_csr(csr_cn, "ACME", v2g=False)
    accepted, why = await svc.sign_request("CS-1", csr, None)
    assert not accepted and why is not None and reason in why
    (req,) = store.requests.values()
    assert req.status is RequestStatus.REJECTED and reason in (req.error or "")
    assert commands.calls == []


async def test_signer_refusal_and_station_rejection_fail_with_alerts() -> None:
    svc, store, _, alerts = _service(FakeSigner(refuse="policy says no"))
    _, csr = make_csr("CS-1", "ACME", v2g=False)
    assert (await svc.sign_request("CS-1", csr, None))[0]
    await svc.wait_idle()
    (req,) = store.requests.values()
    assert req.status is RequestStatus.FAILED and "policy says no" in (req.error or "")
    assert alerts.sightings[-1].code == "CertificateSigningFailed"
    assert alerts.sightings[-1].key.source is AlertSource.CERTIFICATE

    svc, store, _, alerts = _service(FakeSigner(), answer="Rejected")
    assert (await svc.sign_request("CS-1", csr, None))[0]
    await svc.wait_idle()
    (req,) = store.requests.values()
    assert req.status is RequestStatus.STATION_REJECTED and store.certs == {}
    assert alerts.sightings[-1].code == "CertificateSignedRejected"


async def test_install_refresh_delete() -> None:
    svc, store, commands, _ = _service()
    _, root = make_ca()
    pem = root.public_bytes(serialization.Encoding.PEM).decode()
    answer = await svc.install("CS-1", CertificateUse.V2G_ROOT, pem, None)
    assert answer.status == "accepted"
    (row,) = store.certs.values()
    assert row.source == "installed" and row.hash_data == hash_data_of(root, None)
    with pytest.raises(CertificateError):
        await svc.install("CS-1", CertificateUse.V2G_CHAIN, pem, None)
    with pytest.raises(CertificateError):
        await svc.install("CS-1", CertificateUse.V2G_ROOT, "not a pem", None)
    # The station reports the root (its hex in upper case) and another one.
    upper = dataclasses.replace(
        row.hash_data, issuer_name_hash=row.hash_data.issuer_name_hash.upper()
    )
    other = HashData("SHA256", "aa", "bb", "1")
    commands.reported = [
        ReportedCertificate(CertificateUse.V2G_ROOT, upper),
        ReportedCertificate(CertificateUse.MO_ROOT, other),
    ]
    answer, count = await svc.refresh("CS-1")
    assert count == 2 and len(store.certs) == 2
    assert store.certs[row.id or 0].pem  # what Ampyre knew of the root stays
    answer = await svc.delete("CS-1", row.id or 0, None)
    assert answer.status == "accepted" and len(store.certs) == 1
    assert commands.calls[-1] == ("DeleteCertificate", row.hash_data)


async def test_expiry_watch_triggers_renewal_once_and_alerts() -> None:
    svc, _, commands, alerts = _service(FakeSigner(days=10))
    _, csr = make_csr("CS-1", "ACME", v2g=False)
    await svc.sign_request("CS-1", csr, None)
    await svc.wait_idle()
    _, root = make_ca()
    await svc.install(
        "CS-1",
        CertificateUse.CSMS_ROOT,
        root.public_bytes(serialization.Encoding.PEM).decode(),
        None,
    )
    commands.calls.clear()
    alerts.sightings.clear()
    watch = CertificateExpiryWatch(svc, lambda s: True, days=30, interval=60)
    assert await watch.check() == 1  # the station certificate; the root lasts 10 years
    assert commands.calls == [("TriggerMessage", SigningUse.CHARGING_STATION)]
    assert [s.code for s in alerts.sightings] == ["CertificateExpiring"]
    assert await watch.check() == 0  # not again within `repeat`


async def test_security_events_critical_alert_and_csms_events() -> None:
    store, alerts = MemoryCertificates(), FakeAlerts()
    reports: list[StationReport] = []

    async def report(r: StationReport) -> None:
        reports.append(r)

    svc = SecurityEventService(store, alerts, report=report, clock=lambda: NOW)  # type: ignore[arg-type]
    await svc.notification("CS-1", "InvalidMessages", None, "x" * 400, {"type": "InvalidMessages"})
    assert alerts.sightings == [] and len(reports) == 1
    assert store.events[0].tech_info == "x" * 255 and not store.events[0].critical
    await svc.notification("CS-1", "TamperDetectionActivated", NOW, None, {})
    assert alerts.sightings[-1].code == "TamperDetectionActivated" and len(alerts.reports) == 1
    assert store.events[-1].critical
    event = await svc.record_csms_event("CS-1", "InvalidChargingStationCertificate", "CN CS-2")
    assert event is not None and event.source == "csms" and svc.recorded == 1
    assert alerts.sightings[-1].key.source is AlertSource.SECURITY_EVENT
    # An unknown station id: logged, nothing raised to the refusing gateway.
    assert await svc.record_csms_event("nobody", "InvalidTLSVersion") is None


async def test_requests_left_signing_by_a_stopped_process_fail() -> None:
    svc, store, _, _ = _service(FakeSigner())
    old = NOW - dt.timedelta(hours=2)
    await store.add_request(
        CertificateRequest("CS-1", None, "csr", RequestStatus.SIGNING, old, old)
    )
    await store.add_request(
        CertificateRequest("CS-1", None, "csr", RequestStatus.SIGNING, NOW, NOW)
    )
    watch = CertificateExpiryWatch(svc, lambda s: True, days=30, interval=60)
    await watch.check()
    assert [r.status for r in store.requests.values()] == [
        RequestStatus.FAILED,
        RequestStatus.SIGNING,  # still within its time
    ]
    assert "interrupted" in (store.requests[1].error or "")


async def test_a_second_csr_while_one_is_signed_is_rejected() -> None:
    svc, store, _, _ = _service(FakeSigner())
    _, csr = make_csr("CS-1", "ACME", v2g=False)
    assert (await svc.sign_request("CS-1", csr, None))[0]
    accepted, reason = await svc.sign_request("CS-1", csr, SigningUse.CHARGING_STATION)
    assert not accepted and "already" in (reason or "")
    await svc.wait_idle()
    assert (await svc.sign_request("CS-1", csr, None))[0]  # free again
    await svc.wait_idle()
    assert [r.status for r in store.requests.values()] == [
        RequestStatus.INSTALLED,
        RequestStatus.REJECTED,
        RequestStatus.INSTALLED,
    ]


class WrongKeySigner(FakeSigner):
    async def sign(self, csr_pem: str, use: str, station_id: str) -> str:
        _, other = make_csr(station_id, "ACME", v2g=False)
        return await super().sign(other, use, station_id)


async def test_a_chain_for_another_key_is_not_sent() -> None:
    svc, store, commands, alerts = _service(WrongKeySigner())
    _, csr = make_csr("CS-1", "ACME", v2g=False)
    assert (await svc.sign_request("CS-1", csr, None))[0]
    await svc.wait_idle()
    (req,) = store.requests.values()
    assert req.status is RequestStatus.FAILED and "another key" in (req.error or "")
    assert commands.calls == [] and alerts.sightings[-1].code == "CertificateSigningFailed"
