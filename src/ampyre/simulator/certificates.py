"""A simulated station's certificates (issue 19 part 3), kept as a real station would:

- asked for a CSR (2.x TriggerMessage SignChargingStationCertificate / SignV2GCertificate,
  1.6 ExtendedTriggerMessage SignChargePointCertificate or the Plug & Charge
  DataTransfer TriggerMessage SignV2GCertificate), or at boot when `sign_at_boot`: a new
  EC P-256 key, a CSR with CN = station id (V2G: CN = the SECC id, DC=CPO) and O =
  `organisation`, sent in SignCertificate (1.6 V2G: through the PnC DataTransfer);
- CertificateSigned: the chain is taken when its leaf carries the public key of the
  pending CSR (else Rejected: a chain for another key is of no use); the key stays;
- InstallCertificate / GetInstalledCertificateIds / DeleteCertificate over the
  installed roots and the V2G chain, with OCPP CertificateHashData.
1.6 stations answer the security extension's messages and, for V2G uses, the OCA note
"Using ISO 15118 Plug & Charge with OCPP 1.6" DataTransfer (vendor
org.openchargealliance.iso15118pnc, data: the 2.0.1 payload as JSON text)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ampyre.domain.certificates import (
    BadCertificate,
    HashData,
    hash_data_of,
    issuer_in,
    load_chain,
    to_pem,
)
from ampyre.simulator import messages as m

log = logging.getLogger(__name__)

Payload = dict[str, Any]
Call = Callable[[str, Payload], Awaitable[Payload | None]]
Later = Callable[[Callable[[], Coroutine[Any, Any, None]]], None]
Handler = Callable[[Payload], Payload]

PNC_VENDOR = "org.openchargealliance.iso15118pnc"
STATION = "ChargingStationCertificate"
V2G = "V2GCertificate"
V2G_CHAIN = "V2GCertificateChain"
_ROOTS_16 = {
    "CentralSystemRootCertificate": "CSMSRootCertificate",
    "ManufacturerRootCertificate": "ManufacturerRootCertificate",
}
_ROOTS_2X = frozenset(
    {
        "CSMSRootCertificate",
        "ManufacturerRootCertificate",
        "V2GRootCertificate",
        "MORootCertificate",
        "OEMRootCertificate",
    }
)


@dataclass(slots=True)
class Held:
    """What the station holds: installed roots per use, its own chains per signing use
    (leaf first) with their keys, and the keys of CSRs not answered yet."""

    roots: dict[str, list[x509.Certificate]] = field(default_factory=dict)
    chains: dict[str, list[x509.Certificate]] = field(default_factory=dict)
    keys: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict)
    pending: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict)


def make_csr(
    common_name: str, organisation: str | None, v2g: bool
) -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    if v2g:
        attributes.append(x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "CPO"))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(attributes))
        .sign(key, hashes.SHA256())
    )
    return key, csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _same_key(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return cert.public_key().public_bytes(der, fmt) == key.public_key().public_bytes(der, fmt)


def _hash_payload(h: HashData) -> Payload:
    return {
        "hashAlgorithm": h.hash_algorithm,
        "issuerNameHash": h.issuer_name_hash,
        "issuerKeyHash": h.issuer_key_hash,
        "serialNumber": h.serial_number,
    }


class StationCertificates:
    def __init__(
        self,
        station_id: str,
        protocol: str,
        call: Call,
        later: Later,
        *,
        organisation: str | None = None,
        secc_id: str | None = None,
    ) -> None:
        """`call` sends a CALL and returns its answer (None without one); `later` runs
        a coroutine once the current answer has been sent."""
        self.station_id = station_id
        self.v16 = m.is_v16(protocol)
        self._call = call
        self._later = later
        self.organisation = organisation
        self.secc_id = secc_id or station_id
        self.sign_at_boot = False
        self.held = Held()
        self.sign_answers: list[str] = []  # statuses of our SignCertificate requests

    # ---- handlers -----------------------------------------------------------------

    def handlers(
        self, trigger: Handler, data_transfer: Handler | None = None
    ) -> dict[str, Handler]:
        """`trigger` answers the TriggerMessages that are not about certificates;
        `data_transfer` the DataTransfers of other vendors (1.6)."""
        out: dict[str, Handler] = {
            "CertificateSigned": self._certificate_signed,
            "InstallCertificate": self._install,
            "GetInstalledCertificateIds": self._get_installed,
            "DeleteCertificate": self._delete,
            "TriggerMessage": self._trigger(trigger),
        }
        if self.v16:
            out["ExtendedTriggerMessage"] = self._extended_trigger(trigger)
            out["DataTransfer"] = self._data_transfer(data_transfer)
        return out

    def _trigger(self, fallback: Handler) -> Handler:
        def answer(payload: Payload) -> Payload:
            requested = payload.get("requestedMessage")
            if not self.v16 and requested == "SignChargingStationCertificate":
                return self._ask_later(STATION)
            if not self.v16 and requested == "SignV2GCertificate":
                return self._ask_later(V2G)
            return fallback(payload)

        return answer

    def _extended_trigger(self, fallback: Handler) -> Handler:
        def answer(payload: Payload) -> Payload:
            requested = payload.get("requestedMessage")
            if requested == "SignChargePointCertificate":
                return self._ask_later(STATION)
            if requested == "LogStatusNotification":
                # Whitepaper: no upload going on -> status Idle.
                async def idle() -> None:
                    await self._call("LogStatusNotification", {"status": "Idle"})

                self._later(idle)
                return {"status": "Accepted"}
            # The others are TriggerMessage's (1.6 section 5.17).
            return fallback(payload)

        return answer

    def _ask_later(self, use: str) -> Payload:
        async def send() -> None:
            await self.request_certificate(use)

        self._later(send)
        return {"status": "Accepted"}

    def _data_transfer(self, fallback: Handler | None) -> Handler:
        routes: dict[str, Handler] = {
            "CertificateSigned": lambda p: self._certificate_signed({**p, "certificateType": V2G}),
            "InstallCertificate": self._install_2x,
            "GetInstalledCertificateIds": self._get_installed_2x,
            "DeleteCertificate": self._delete,
            "TriggerMessage": self._pnc_trigger,
        }

        def answer(payload: Payload) -> Payload:
            if str(payload.get("vendorId", "")).lower() != PNC_VENDOR:
                if fallback is not None:
                    return fallback(payload)
                return {"status": "UnknownVendorId"}
            route = routes.get(str(payload.get("messageId")))
            if route is None:
                return {"status": "UnknownMessageId"}
            try:
                inner = json.loads(str(payload.get("data", "")))
            except ValueError:
                return {"status": "Rejected"}
            if not isinstance(inner, dict):
                return {"status": "Rejected"}
            result = route(inner)
            return {"status": "Accepted", "data": json.dumps(result)}

        return answer

    def _pnc_trigger(self, payload: Payload) -> Payload:
        if payload.get("requestedMessage") == "SignV2GCertificate":
            return self._ask_later(V2G)
        return {"status": "NotImplemented"}

    # ---- signing --------------------------------------------------------------------

    async def request_certificate(self, use: str = STATION) -> str | None:
        """Make a key and CSR and send SignCertificate; the CSMS's status (None: no
        answer)."""
        v2g = use == V2G
        key, csr = make_csr(self.secc_id if v2g else self.station_id, self.organisation, v2g)
        self.held.pending[use] = key
        if self.v16 and v2g:
            data = json.dumps({"csr": csr, "certificateType": V2G})
            reply = await self._call(
                "DataTransfer",
                {"vendorId": PNC_VENDOR, "messageId": "SignCertificate", "data": data},
            )
            status = None
            if reply is not None and isinstance(reply.get("data"), str):
                try:
                    status = json.loads(reply["data"]).get("status")
                except (ValueError, AttributeError):
                    status = None
        else:
            payload: Payload = {"csr": csr}
            if not self.v16:
                payload["certificateType"] = use
            reply = await self._call("SignCertificate", payload)
            status = None if reply is None else reply.get("status")
        self.sign_answers.append(str(status))
        return status if isinstance(status, str) else None

    def _certificate_signed(self, payload: Payload) -> Payload:
        use = str(payload.get("certificateType") or STATION)
        key = self.held.pending.get(use)
        try:
            chain = load_chain(str(payload.get("certificateChain", "")))
        except BadCertificate:
            return self._refuse(use)
        if key is None or not _same_key(chain[0], key):
            # Not for the key of our CSR: refused, the old certificate stays.
            return self._refuse(use)
        del self.held.pending[use]
        self.held.chains[use] = chain
        self.held.keys[use] = key
        return {"status": "Accepted"}

    def _refuse(self, use: str) -> Payload:
        """Rejected; a station certificate it cannot use is also reported as a security
        event (OCPP 2.0.1 A02 / the 1.6 whitepaper: InvalidChargingStationCertificate,
        1.6 InvalidChargePointCertificate)."""
        if use == STATION:
            kind = (
                "InvalidChargePointCertificate" if self.v16 else "InvalidChargingStationCertificate"
            )
            event = {
                "type": kind,
                "timestamp": m.now_iso(),
                "techInfo": "CertificateSigned refused",
            }

            async def report() -> None:
                await self._call("SecurityEventNotification", event)

            self._later(report)
        return {"status": "Rejected"}

    def certificate_pem(self, use: str = STATION) -> str | None:
        chain = self.held.chains.get(use)
        return "".join(to_pem(c) for c in chain) if chain else None

    def key_pem(self, use: str = STATION) -> str | None:
        key = self.held.keys.get(use)
        if key is None:
            return None
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    # ---- installed certificates -----------------------------------------------------

    def _install(self, payload: Payload) -> Payload:
        if not self.v16:
            return self._install_2x(payload)
        use = _ROOTS_16.get(str(payload.get("certificateType")))
        if use is None:
            return {"status": "Rejected"}
        return self._keep_root(use, payload.get("certificate"), failed="Failed")

    def _install_2x(self, payload: Payload) -> Payload:
        use = str(payload.get("certificateType"))
        if use not in _ROOTS_2X:
            return {"status": "Rejected"}
        return self._keep_root(use, payload.get("certificate"), failed="Failed")

    def _keep_root(self, use: str, pem: object, failed: str) -> Payload:
        try:
            certs = load_chain(str(pem))
        except BadCertificate:
            return {"status": failed}
        roots = self.held.roots.setdefault(use, [])
        if all(
            c.fingerprint(hashes.SHA256()) != certs[0].fingerprint(hashes.SHA256()) for c in roots
        ):
            roots.append(certs[0])
        return {"status": "Accepted"}

    def _known(self) -> list[x509.Certificate]:
        return [
            c for certs in (*self.held.roots.values(), *self.held.chains.values()) for c in certs
        ]

    def _entries(self) -> list[tuple[str, HashData, list[HashData], tuple[str, int]]]:
        """(use, hash, children's hashes, where it is kept) for all listable ones."""
        known = self._known()
        out: list[tuple[str, HashData, list[HashData], tuple[str, int]]] = []
        for use, roots in self.held.roots.items():
            for n, cert in enumerate(roots):
                out.append((use, hash_data_of(cert, None), [], (use, n)))
        chain = self.held.chains.get(V2G)
        if chain:
            hashes_ = []
            for cert in chain:
                issuer = issuer_in(cert, known)
                if issuer is not None:
                    hashes_.append(hash_data_of(cert, issuer))
            if hashes_:
                out.append((V2G_CHAIN, hashes_[0], hashes_[1:], (V2G, 0)))
        return out

    def _get_installed(self, payload: Payload) -> Payload:
        if not self.v16:
            return self._get_installed_2x(payload)
        use = _ROOTS_16.get(str(payload.get("certificateType")))
        found = [_hash_payload(h) for u, h, _, _ in self._entries() if u == use]
        if not found:
            return {"status": "NotFound"}
        return {"status": "Accepted", "certificateHashData": found}

    def _get_installed_2x(self, payload: Payload) -> Payload:
        wanted = payload.get("certificateType")
        chain = []
        for use, h, children, _ in self._entries():
            if isinstance(wanted, list) and use not in wanted:
                continue
            entry: Payload = {"certificateType": use, "certificateHashData": _hash_payload(h)}
            if children:
                entry["childCertificateHashData"] = [_hash_payload(c) for c in children]
            chain.append(entry)
        if not chain:
            return {"status": "NotFound"}
        return {"status": "Accepted", "certificateHashDataChain": chain}

    def _delete(self, payload: Payload) -> Payload:
        raw = payload.get("certificateHashData")
        if not isinstance(raw, dict):
            return {"status": "Failed"}
        try:
            wanted = HashData(
                str(raw["hashAlgorithm"]),
                str(raw["issuerNameHash"]),
                str(raw["issuerKeyHash"]),
                str(raw["serialNumber"]),
            ).key()
        except KeyError:
            return {"status": "Failed"}
        for _, h, _, (use, n) in self._entries():
            if h.key() != wanted:
                continue
            if use in self.held.roots:
                del self.held.roots[use][n]
            else:
                self.held.chains.pop(use, None)
            return {"status": "Accepted"}
        return {"status": "NotFound"}
