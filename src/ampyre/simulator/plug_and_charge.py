"""Plug & Charge sessions of a simulated station (issue 19): its ISO 15118 vehicle
(simulator/vehicle_pnc.py) gets a contract certificate through the CSMS (OCPP 2.0.1
Get15118EVCertificate, M01: the station forwards the vehicle's EXI
CertificateInstallationReq and hands back the response), then every session authorizes
with that contract (Authorize with the eMAID and the certificate chain for central
contract validation, C07.FR.06) and charges with the eMAID as its id token.

OCPP 1.6 stations speak the same 2.0.1 messages inside DataTransfer, vendorId
org.openchargealliance.iso15118pnc (OCA application note "Using ISO 15118 Plug & Charge
with OCPP 1.6"); their transactions carry the eMAID as idTag."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ampyre.simulator import messages as m
from ampyre.simulator.vehicle_pnc import ContractCredentials, PncVehicle, VehicleError

if TYPE_CHECKING:
    from ampyre.simulator.station import SimulatedStation

log = logging.getLogger(__name__)

PNC_TOKEN_TYPE: Final = "eMAID"
VENDOR_ID: Final = "org.openchargealliance.iso15118pnc"
ISO15118_2_SCHEMA: Final = "urn:iso:15118:2:2013:MsgDef"
# Files of a vehicle directory (`ampyre simulate --plug-and-charge DIR`).
OEM_CERT: Final = "oem-provisioning.pem"
OEM_KEY: Final = "oem-provisioning.key"
V2G_ROOT: Final = "v2g-root.pem"
# After a failed installation the next attempt waits this long (seconds): meanwhile the
# connector's EVs use their cards.
RETRY_AFTER: Final = 60.0

# (action, payload) -> ("result", payload) | ("error", frame) | ("timeout"|"closed", None)
Exchange = Callable[[str, dict[str, Any]], Awaitable[tuple[str, Any]]]


@dataclass(slots=True)
class PncCounters:
    installs: int = 0
    install_failures: int = 0
    authorizations: int = 0
    refusals: int = 0


def vehicle_from_dir(directory: str | Path) -> PncVehicle:
    """A vehicle from DIR/oem-provisioning.pem, .key and v2g-root.pem."""
    base = Path(directory)
    missing = [n for n in (OEM_CERT, OEM_KEY, V2G_ROOT) if not (base / n).is_file()]
    if missing:
        raise ValueError(f"{base}: missing {', '.join(missing)}")
    return PncVehicle.from_files(base / OEM_CERT, base / OEM_KEY, [base / V2G_ROOT])


class PlugAndChargeEv:
    """The Plug & Charge side of one simulated station and the vehicle that visits it."""

    def __init__(
        self,
        station_id: str,
        protocol: str,
        exchange: Exchange,
        vehicle: PncVehicle,
        counters: PncCounters | None = None,
    ) -> None:
        self.station_id = station_id
        self.v16 = m.is_v16(protocol)
        self._exchange = exchange
        self.vehicle = vehicle
        self.counters = counters or PncCounters()
        self.contract: ContractCredentials | None = None
        # What the CSMS answered last: Get15118EVCertificate status, certificateStatus.
        self.install_status: str | None = None
        self.certificate_status: str | None = None
        self._retry_at = 0.0

    async def contract_token(self) -> tuple[str, str] | None:
        """(eMAID, "eMAID") of the vehicle's contract, installed first if it has none;
        None when installation failed (the driver then uses a card)."""
        if self.contract is None:
            now = asyncio.get_running_loop().time()
            if now < self._retry_at:
                return None
            if not await self.install():
                self._retry_at = now + RETRY_AFTER
                return None
        assert self.contract is not None
        return self.contract.emaid, PNC_TOKEN_TYPE

    async def install(self) -> bool:
        """ISO 15118-2 certificate installation through the CSMS (2.0.1 M01)."""
        try:
            exi = await self.vehicle.certificate_installation_request()
        except Exception as exc:  # the codec may be missing (no java): no PnC then
            log.warning("%s: vehicle cannot build its request: %s", self.station_id, exc)
            self.counters.install_failures += 1
            return False
        reply = await self._call(
            "Get15118EVCertificate",
            {"iso15118SchemaVersion": ISO15118_2_SCHEMA, "action": "Install", "exiRequest": exi},
        )
        self.install_status = None if reply is None else reply.get("status")
        if reply is None or reply.get("status") != "Accepted":
            log.info("%s: contract installation failed: %s", self.station_id, reply)
            self.counters.install_failures += 1
            return False
        try:
            self.contract = await self.vehicle.read_installation_response(reply["exiResponse"])
        except (VehicleError, KeyError) as exc:
            log.warning("%s: unusable CertificateInstallationRes: %s", self.station_id, exc)
            self.counters.install_failures += 1
            return False
        self.counters.installs += 1
        log.info("%s: contract %s installed", self.station_id, self.contract.emaid)
        return True

    async def authorize(self, emaid: str) -> bool | None:
        """Authorize with the contract (C07); None when the CSMS could not be asked."""
        if self.contract is None:
            return False
        payload: dict[str, Any] = {
            "idToken": {"idToken": emaid, "type": PNC_TOKEN_TYPE},
            "certificate": self.contract.chain_pem,
        }
        reply = await self._call("Authorize", payload)
        if reply is None:
            return None
        self.counters.authorizations += 1
        info = reply.get("idTokenInfo")
        self.certificate_status = reply.get("certificateStatus")
        accepted = (
            isinstance(info, dict)
            and info.get("status") == "Accepted"
            and self.certificate_status == "Accepted"
        )
        if not accepted:
            self.counters.refusals += 1
            log.info("%s: contract %s refused: %s", self.station_id, emaid, reply)
        return accepted

    async def _call(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """A 2.x CALL, or for 1.6 the same message inside DataTransfer; the answer's
        payload (None: no answer, an error, or a DataTransfer that was not Accepted)."""
        if not self.v16:
            kind, reply = await self._exchange(action, payload)
            return reply if kind == "result" and isinstance(reply, dict) else None
        wrapped = {"vendorId": VENDOR_ID, "messageId": action, "data": json.dumps(payload)}
        kind, reply = await self._exchange("DataTransfer", wrapped)
        if kind != "result" or not isinstance(reply, dict) or reply.get("status") != "Accepted":
            return None
        try:
            data = json.loads(reply.get("data") or "null")
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


def attach(stations: Sequence[SimulatedStation], vehicle_dir: str | Path) -> list[PlugAndChargeEv]:
    """Give each simulated station a Plug & Charge vehicle on its first connector. The
    vehicles share the directory's OEM provisioning certificate, so they get one
    contract (one eMAID) between them."""
    counters = PncCounters()
    evs = []
    for station in stations:
        ev = PlugAndChargeEv(
            station.station_id,
            station.protocol,
            station._exchange,
            vehicle_from_dir(vehicle_dir),
            counters,
        )
        station.pnc = ev
        evs.append(ev)
    return evs
