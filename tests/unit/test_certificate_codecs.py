"""Certificate management on the wire (issue 19 part 3): Ampyre's codecs and handlers
against the simulated station's certificate store, every message checked against the
official OCPP JSON schemas of its version (1.6's V2G messages: the 2.0.1 payloads inside
the Plug & Charge DataTransfer). No network: a fake router joins the two sides."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from certificate_fakes import FakeAlerts, FakeSigner, MemoryCertificates, make_ca
from cryptography.hazmat.primitives import serialization

from ampyre.domain.certificates import CertificateUse, RequestStatus, SigningUse
from ampyre.domain.models import OcppVersion
from ampyre.protocol.certificates import OcppCertificateCommands
from ampyre.protocol.certificates import handlers as certificate_handlers
from ampyre.protocol.ocpp16.certificates import PNC_VENDOR
from ampyre.protocol.schemas import SchemaRegistry
from ampyre.protocol.session import CallContext
from ampyre.services.certificates import CertificateService
from ampyre.services.commands import CallOutcome
from ampyre.services.security_events import SecurityEventService
from ampyre.simulator.certificates import StationCertificates

PROTOCOLS = {"ocpp1.6": OcppVersion.V16, "ocpp2.0.1": OcppVersion.V201, "ocpp2.1": OcppVersion.V21}
_SCHEMAS: dict[OcppVersion, SchemaRegistry] = {}


def _check(
    version: OcppVersion,
    action: str,
    payload: dict[str, Any],
    response: bool,
    pnc_message: str | None = None,
) -> None:
    """Valid for `version`; a 1.6 PnC DataTransfer (`pnc_message` its messageId) also
    carries a valid 2.0.1 message in its data (the request's, or the answer's)."""
    schemas = _SCHEMAS.setdefault(version, SchemaRegistry(version))
    violation = schemas.validate(action, payload, response)
    assert violation is None, (action, response, violation, payload)
    if pnc_message is not None and isinstance(payload.get("data"), str):
        _check(OcppVersion.V201, pnc_message, json.loads(payload["data"]), response)


def _pnc_message(action: str, payload: dict[str, Any]) -> str | None:
    if action == "DataTransfer" and payload.get("vendorId") == PNC_VENDOR:
        return str(payload["messageId"])
    return None


class Wire:
    """The CSMS's router to one simulated station, and the station's CALLs back."""

    def __init__(
        self, protocol: str, svc: CertificateService, events: SecurityEventService
    ) -> None:
        self.protocol = protocol
        self.version = PROTOCOLS[protocol]
        self.svc = svc
        self.later: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.station = StationCertificates("CS-1", protocol, self.station_call, self.later.append)
        self.station.organisation = "ACME"
        self.station_handlers = self.station.handlers(lambda p: {"status": "NotImplemented"})
        self.csms = certificate_handlers(svc, events)[self.version]
        self.messages: list[str] = []

    # CSMS -> station
    def ocpp_version(self, station_id: str) -> str | None:
        return self.version.value

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> CallOutcome:
        pnc = _pnc_message(action, payload)
        _check(self.version, action, payload, False, pnc)
        self.messages.append(action if pnc is None else f"PnC {pnc}")
        result = self.station_handlers[action](payload)
        _check(self.version, action, result, True, pnc)
        jobs, self.later[:] = list(self.later), []
        self.tasks += [asyncio.create_task(job()) for job in jobs]
        return CallOutcome(True, result)

    async def disconnect(self, station_id: str, reason: str) -> bool:
        return False

    # station -> CSMS
    async def station_call(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        pnc = _pnc_message(action, payload)
        _check(self.version, action, payload, False, pnc)
        ctx = CallContext("CS-1", self.version, None)  # type: ignore[arg-type]
        if action == "DataTransfer":
            # What the Plug & Charge vendor does with a 1.6 V2G CSR.
            inner = json.loads(payload["data"])
            ok, _ = await self.svc.sign_request("CS-1", inner["csr"], SigningUse.V2G, via="pnc")
            result = {
                "status": "Accepted",
                "data": json.dumps({"status": "Accepted" if ok else "Rejected"}),
            }
        else:
            result = await self.csms[action](ctx, payload)
        _check(self.version, action, result, True, pnc)
        return result

    async def settle(self) -> None:
        while self.tasks:
            tasks, self.tasks = self.tasks, []
            await asyncio.gather(*tasks)
        await self.svc.wait_idle()


def _setup(protocol: str) -> tuple[Wire, CertificateService, MemoryCertificates]:
    store, alerts = MemoryCertificates(), FakeAlerts()
    svc = CertificateService(store, None, FakeSigner(), alerts, organisation="ACME")  # type: ignore[arg-type]
    events = SecurityEventService(store, alerts)  # type: ignore[arg-type]
    wire = Wire(protocol, svc, events)
    svc._commands = OcppCertificateCommands(wire)
    return wire, svc, store


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
async def test_renewal_round_trip(protocol: str) -> None:
    wire, svc, store = _setup(protocol)
    answer = await svc.renew("CS-1", SigningUse.CHARGING_STATION, None)
    assert answer.status == "accepted"
    await wire.settle()
    trigger = "ExtendedTriggerMessage" if protocol == "ocpp1.6" else "TriggerMessage"
    assert wire.messages == [trigger, "CertificateSigned"]
    (req,) = store.requests.values()
    assert req.status is RequestStatus.INSTALLED, req.error
    assert wire.station.certificate_pem() == req.certificate
    assert wire.station.key_pem() is not None


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
async def test_v2g_certificate_and_root_management(protocol: str) -> None:
    wire, svc, store = _setup(protocol)
    assert (await svc.renew("CS-1", SigningUse.V2G, None)).status == "accepted"
    await wire.settle()
    (req,) = store.requests.values()
    assert req.status is RequestStatus.INSTALLED, req.error
    assert wire.station.held.chains.get("V2GCertificate")
    for use in (CertificateUse.CSMS_ROOT, CertificateUse.V2G_ROOT):
        pem = make_ca()[1].public_bytes(serialization.Encoding.PEM).decode()
        assert (await svc.install("CS-1", use, pem, None)).status == "accepted"
    before = {c.hash_data.key(): c for c in store.certs.values()}
    answer, count = await svc.refresh("CS-1")
    # Both roots; the V2G chain whose sub-CA's issuer the station does not hold is
    # listed with its leaf only.
    assert answer.answered and count == 3
    after = {c.hash_data.key(): c for c in store.certs.values()}
    assert set(before) <= set(after)
    assert all(after[k].pem for k in before)  # known PEMs survive the report
    v2g_root = next(c for c in store.certs.values() if c.use is CertificateUse.V2G_ROOT)
    assert v2g_root.id is not None
    assert (await svc.delete("CS-1", v2g_root.id, None)).status == "accepted"
    assert wire.station.held.roots["V2GRootCertificate"] == []
    assert len(wire.station.held.roots["CSMSRootCertificate"]) == 1
    if protocol == "ocpp1.6":
        assert (
            "PnC InstallCertificate" in wire.messages and "PnC CertificateSigned" in wire.messages
        )
        assert "InstallCertificate" in wire.messages  # the CSMS root: the extension itself


async def test_version_specific_refusals() -> None:
    _, svc, _ = _setup("ocpp2.0.1")
    _, root = make_ca()
    pem = root.public_bytes(serialization.Encoding.PEM).decode()
    answer = await svc.install("CS-1", CertificateUse.OEM_ROOT, pem, None)
    assert answer.status == "not_supported" and "2.1" in (answer.detail or "")
    answer = await svc.extended_trigger("CS-1", "Heartbeat", None, None)
    assert answer.status == "not_supported"
    wire16, svc16, _ = _setup("ocpp1.6")
    answer = await svc16.extended_trigger("CS-1", "Heartbeat", 0, None)
    assert answer.status == "notimplemented"  # what the fallback of this fake station says
    answer = await svc16.extended_trigger("CS-1", "NoSuchMessage", None, None)
    assert answer.status == "not_supported"
    assert wire16.messages == ["ExtendedTriggerMessage"]


async def test_station_refuses_a_chain_for_another_key() -> None:
    wire, svc, store = _setup("ocpp2.0.1")
    await wire.station.request_certificate()  # key A pending
    await wire.settle()
    # No CSR pending any more: a chain (even the one it took) is refused.
    chain = next(iter(store.requests.values())).certificate or ""
    outcome = await wire.call("CS-1", "CertificateSigned", {"certificateChain": chain})
    assert outcome.payload == {"status": "Rejected"}
    await wire.settle()  # the station reports the refusal as a security event
    (event,) = store.events
    assert event.type == "InvalidChargingStationCertificate" and not event.critical
    assert await svc.sign_request("CS-1", "junk", None) == (
        False,
        "not one PEM certificate request (RFC 2986)",
    )
