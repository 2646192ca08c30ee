"""Plug & Charge end to end (issue 19 "Tests and proof"): a simulated 2.0.1 station with a
simulated ISO 15118 vehicle installs a contract certificate through Ampyre (built-in
provider, the PKI's MO sub-CA), authorizes with it (the chain checked to the MO root and
OCSP asked of Ampyre's own responder) and charges with the eMAID; the operator revokes
the contract (PKI API) and the next Authorize is refused with CertificateRevoked. A 1.6
station does the same over DataTransfer (org.openchargealliance.iso15118pnc).

Needs java for the EXI codec (skips without, fails on CI)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from polling import station_connected
from polling import until as _until

from ampyre.adapters.exi.codec import ExiCodec, ExiUnavailable
from ampyre.adapters.pki import LocalPki
from ampyre.services.pnc_chain import ocsp_url
from ampyre.simulator import plug_and_charge as pnc
from ampyre.simulator import run_simulation, vehicle_pnc
from ampyre.simulator.session import SessionConfig
from ampyre.simulator.station import SimulatedStation

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer


@pytest.fixture(scope="module")
def java() -> None:
    codec = ExiCodec()
    try:
        codec.check()
    except ExiUnavailable as exc:
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"EXI codec unavailable on CI: {exc}")
        pytest.skip(f"EXI codec unavailable: {exc}")
    finally:
        codec.close()


def vehicle_dir(pki_dir: Path, target: Path, pcid: str) -> Path:
    """What `ampyre simulate --plug-and-charge DIR` reads: an OEM provisioning certificate
    and key from the PKI's oem-sub2, and the V2G root the vehicle trusts."""
    pki = LocalPki.load(pki_dir)
    oem = pki.issue_oem_provisioning_certificate(pcid)
    target.mkdir(parents=True, exist_ok=True)
    (target / pnc.OEM_CERT).write_text(oem.certificate_pem())
    (target / pnc.OEM_KEY).write_text(oem.key_pem())
    (target / pnc.V2G_ROOT).write_text(
        (pki_dir / "v2g-root.pem").read_text(encoding="ascii"), encoding="ascii"
    )
    return target


async def _json(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_plug_and_charge(
    java: None,
    start_server: StartServer,
    store_url: str,
    pki_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 2.0.1 and a 1.6 station side by side. The vehicles use the server's EXI codec
    (one JVM for both sides: its start is most of this test's time)."""
    ampyre = await start_server(store_url, pki_dir=str(pki_dir))
    assert ampyre.app.security.exi_codec is not None
    monkeypatch.setattr(vehicle_pnc, "_shared", ampyre.app.security.exi_codec)
    await asyncio.gather(
        _install_authorize_revoke(ampyre, "ocpp2.0.1", pki_dir, tmp_path),
        _install_authorize_revoke(ampyre, "ocpp1.6", pki_dir, tmp_path),
    )


async def _install_authorize_revoke(
    ampyre: Server, protocol: str, pki_dir: Path, tmp_path: Path
) -> None:
    api = ampyre.api()
    prefix = "PNC" + protocol.removeprefix("ocpp").replace(".", "") + "-"
    sid = f"{prefix}00001"
    await ampyre.create_station(sid, registration_status="Accepted")
    cards = (f"{prefix}RFID-1", f"{prefix}RFID-2")
    for card in cards:
        r = await api.post("/id-tokens", json={"id_token": card, "type": "ISO14443"})
        await _json(r, 201)
    stations: list[SimulatedStation] = []
    stop = asyncio.Event()
    sim = asyncio.create_task(
        run_simulation(
            f"{ampyre.ws_url}/ocpp",
            1,
            protocol,
            prefix=prefix,
            stop=stop,
            seed=5,
            status_change_interval=0,
            sessions=SessionConfig(
                id_tokens=cards, meter_interval=0.3, session_duration=0.6, idle_time=0.2
            ),
            stations_out=stations,
            plug_and_charge=str(vehicle_dir(pki_dir, tmp_path / protocol, f"WMIPNC{protocol}")),
        )
    )
    try:
        await _until("the station online", lambda: station_connected(api, sid))
        (station,) = stations
        ev = station.pnc
        assert ev is not None

        async def authorized() -> bool:
            return ev.contract is not None and ev.certificate_status == "Accepted"

        await _until("a contract installed and accepted", authorized, timeout=60)
        assert ev.contract is not None
        emaid = ev.contract.emaid
        serial = format(ev.contract.certificate.serial_number, "x")
        # The contract names Ampyre's own OCSP responder: its Accepted status is that
        # responder's "good" (a revocation status Ampyre cannot learn is not accepted).
        assert ocsp_url(ev.contract.certificate) == f"{ampyre.http_url}/ocsp"

        # The eMAID is an id token; the contract is recorded, issued by the built-in
        # provider through this station, last answered Accepted.
        tokens = await _json(await api.get("/id-tokens", params={"search": emaid}))
        assert [t["type"] for t in tokens["items"] if t["id_token"] == emaid] == ["eMAID"]
        listed = await _json(await api.get("/contract-certificates", params={"emaid": emaid}))
        (contract,) = listed["items"]
        assert contract["source"] == "issued" and contract["provider"] == "builtin"
        assert contract["serial_number"] == serial and contract["station_id"] == sid
        assert contract["last_status"] == "Accepted"
        detail = await _json(await api.get(f"/contract-certificates/{contract['id']}"))
        assert detail["pem"].startswith("-----BEGIN CERTIFICATE-----")

        # A session charges with the eMAID.
        async def charged() -> bool:
            page = await _json(await api.get("/transactions", params={"station_id": sid}))
            return any(t.get("id_token") == emaid for t in page["items"])

        await _until("a transaction with the eMAID", charged, timeout=30)

        # Revoked through the PKI: the next Authorize answers CertificateRevoked.
        await _json(await api.post(f"/pki/certificates/{serial}/revoke"))

        async def refused() -> bool:
            return ev.certificate_status == "CertificateRevoked"

        await _until("the revoked contract refused", refused, timeout=30)
        revoked = await _json(
            await api.get(
                "/contract-certificates", params={"status": "CertificateRevoked", "station_id": sid}
            )
        )
        assert [c["emaid"] for c in revoked["items"]] == [emaid]
        assert ev.counters.refusals >= 1
    finally:
        stop.set()
        await asyncio.wait_for(sim, timeout=30)
