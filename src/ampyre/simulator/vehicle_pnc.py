"""A simulated ISO 15118-2 vehicle for Plug & Charge (issue 19): it holds an OEM
provisioning certificate and key and the V2G roots it trusts, builds a signed
CertificateInstallationReq (what its charging station forwards with OCPP
Get15118EVCertificate), and reads the CertificateInstallationRes: checks the CPS signature
against its V2G roots, decrypts the contract key with its OEM provisioning key and checks
that the key belongs to the contract certificate.

It uses the CSMS's EXI codec and ISO 15118 crypto modules (one implementation of the
standard on both sides of the test)."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ampyre.adapters.exi import v2g_messages as v2g
from ampyre.adapters.exi.codec import ISO15118_2_MSG_DEF, ExiCodec, ExiError, ExiUnavailable
from ampyre.adapters.pki import v2g_crypto

REQUEST_ID = "id1"

_shared: ExiCodec | None = None


def shared_codec() -> ExiCodec:
    """One codec (one JVM, started on first use) for all simulated vehicles of a process."""
    global _shared
    if _shared is None:
        _shared = ExiCodec()
    return _shared


def close_shared_codec() -> None:
    global _shared
    if _shared is not None:
        _shared.close()
        _shared = None


class VehicleError(ValueError):
    """The response cannot be used (not a CertificateInstallationRes, bad signature, a
    key that does not fit the certificate) or the EXI codec is unavailable (no Java, no
    jar: the message says what to install)."""


@dataclass(frozen=True, slots=True)
class ContractCredentials:
    emaid: str
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]  # the MO sub-CAs, nearest first
    key: ec.EllipticCurvePrivateKey

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def chain_pem(self) -> str:
        """Leaf first, then the sub-CAs."""
        return "".join(
            c.public_bytes(serialization.Encoding.PEM).decode("ascii")
            for c in (self.certificate, *self.chain)
        )


class PncVehicle:
    def __init__(
        self,
        oem_certificate: x509.Certificate,
        oem_key: ec.EllipticCurvePrivateKey,
        v2g_roots: Sequence[x509.Certificate],
        codec: ExiCodec | None = None,
    ) -> None:
        """`codec`: default the process's shared one (shared_codec())."""
        if not v2g_roots:
            raise ValueError("a vehicle needs at least one V2G root")
        self.oem_certificate = oem_certificate
        self._oem_key = oem_key
        self._roots = list(v2g_roots)
        self._codec = codec or shared_codec()
        self.session_id = os.urandom(8).hex().upper()

    @classmethod
    def from_files(
        cls,
        cert_path: str | Path,
        key_path: str | Path,
        root_paths: Sequence[str | Path],
        codec: ExiCodec | None = None,
    ) -> PncVehicle:
        """PEM files: the OEM provisioning certificate, its key, the trusted V2G roots."""
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the OEM provisioning key must be an EC key")
        roots = [x509.load_pem_x509_certificate(Path(p).read_bytes()) for p in root_paths]
        return cls(cert, key, roots, codec)

    def _root_ids(self) -> list[v2g.RootCertificateId]:
        return [
            v2g.RootCertificateId(root.issuer.rfc4514_string(), root.serial_number)
            for root in self._roots
        ]

    async def certificate_installation_request(self) -> str:
        """The base64 EXI CertificateInstallationReq (OCPP exiRequest, action Install),
        signed with the OEM provisioning key."""
        body = v2g.installation_request_body(REQUEST_ID, self.oem_certificate, self._root_ids())
        return await self._signed(body, self._oem_key)

    async def certificate_update_request(self, contract: ContractCredentials) -> str:
        """The base64 EXI CertificateUpdateReq (OCPP exiRequest, action Update) for the
        current `contract`, signed with its key (ISO 15118-2 8.4.3.10.2)."""
        body = v2g.update_request_body(
            REQUEST_ID, (contract.certificate, *contract.chain), contract.emaid, self._root_ids()
        )
        return await self._signed(body, contract.key)

    async def _signed(self, body: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> str:
        try:
            signature = await v2g.sign(self._codec, [(REQUEST_ID, body)], key)
            exi = await self._codec.encode(
                v2g.v2g_message(self.session_id, body, signature), ISO15118_2_MSG_DEF
            )
        except (ExiError, ExiUnavailable) as exc:
            raise VehicleError(f"cannot build {next(iter(body))}: {exc}") from exc
        return base64.b64encode(exi).decode("ascii")

    async def read_installation_response(self, exi_response_b64: str) -> ContractCredentials:
        """The new contract from a CertificateInstallationRes (key decrypted with the OEM
        provisioning key)."""
        return await self._read(exi_response_b64, v2g.INSTALLATION_RES, self._oem_key)

    async def read_update_response(
        self, exi_response_b64: str, current: ContractCredentials
    ) -> ContractCredentials:
        """The renewed contract from a CertificateUpdateRes (key decrypted with the
        current contract key)."""
        return await self._read(exi_response_b64, v2g.UPDATE_RES, current.key)

    async def _read(
        self, exi_response_b64: str, kind: str, own_key: ec.EllipticCurvePrivateKey
    ) -> ContractCredentials:
        try:
            data = base64.b64decode(exi_response_b64, validate=True)
            document = await self._codec.decode(data, ISO15118_2_MSG_DEF)
            response = v2g.read_installation_response(document, kind)
        except (binascii.Error, ValueError, ExiError, ExiUnavailable) as exc:
            raise VehicleError(f"unreadable {kind}: {exc}") from exc
        if response.response_code not in ("OK", "OK_NewSessionEstablished"):
            raise VehicleError(f"{kind} answered {response.response_code}")
        # The CPS chain must lead to one of our V2G roots, and its leaf signed the parts.
        try:
            v2g_crypto.verify_path(response.cps_chain[0], response.cps_chain[1:], self._roots)
            await v2g.verify(
                self._codec,
                response.signature,
                response.fragments,
                response.cps_chain[0].public_key(),
            )
            key = v2g_crypto.decrypt_private_key(
                response.encrypted_private_key, response.dh_public_key, own_key
            )
        except (v2g.MessageError, v2g_crypto.V2GCryptoError, ExiError, ExiUnavailable) as exc:
            raise VehicleError(str(exc)) from exc
        contract = response.contract_chain[0]
        if _public_der(key.public_key()) != _public_der(contract.public_key()):
            raise VehicleError("the decrypted key does not belong to the contract certificate")
        return ContractCredentials(response.emaid, contract, response.contract_chain[1:], key)


def _public_der(key: object) -> bytes:
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return b""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
