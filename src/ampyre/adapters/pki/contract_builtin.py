"""The built-in contract-certificate provider (issue 19, Plug & Charge): answers ISO 15118-2
CertificateInstallationReq and CertificateUpdateReq from the local PKI, for labs and tests.

Installation (ISO 15118-2 8.4.3.11):
1. decode the EXI request; it must be signed with the key of the OEM provisioning
   certificate it carries, and that certificate must chain to an OEM root we trust (the
   PKI's oem-root, or the configured ones);
2. the vehicle must trust the V2G root of our CPS chain (ListOfRootCertificateIDs),
   otherwise it could not check our signature;
3. a new secp256r1 contract key; the contract certificate from mo-sub2 with CN = eMAID,
   the eMAID derived from the vehicle's PCID (one vehicle keeps its eMAID);
4. the contract key encrypted for the OEM provisioning key ([V2G2-818..V2G2-824]);
5. the four response elements signed with the CPS leaf key; the CertificateInstallationRes
   EXI-encoded, base64.
Update (8.4.3.10): the request is signed with the current contract key; that contract must
chain to our MO root, be unrevoked and carry the eMAID the request names; the new contract
(same eMAID) is encrypted for the current contract certificate's key.

Not supported (answered Failed with the reason): ISO 15118-20 requests (their contract
keys are secp521r1/X448, which the built-in PKI does not issue)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ampyre.adapters.exi import v2g_messages as v2g
from ampyre.adapters.exi.codec import (
    ISO15118_2_MSG_DEF,
    ExiCodec,
    ExiError,
    ExiUnavailable,
)
from ampyre.adapters.pki import v2g_crypto
from ampyre.adapters.pki.authority import RecordingPki
from ampyre.adapters.pki.hierarchy import LocalPki, PkiError, pem
from ampyre.adapters.pki.v2g_crypto import V2GCryptoError
from ampyre.services.contract_port import (
    ISO15118_2_SCHEMA,
    ISO15118_20_SCHEMA,
    MAX_EXI_REQUEST_CHARS,
    MAX_EXI_RESPONSE_CHARS,
    CertificateAction,
    EvCertificateAnswer,
    ProviderStatus,
)

log = logging.getLogger(__name__)

DEFAULT_EMAID_PREFIX = "ZZAMP"  # country "ZZ" (user-assigned) + provider id "AMP"
_EMAID_PREFIX = re.compile(r"[A-Z]{2}[A-Z0-9]{3}")
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
CPS_NAME = "cps-leaf"

# Whether the PKI revoked a certificate it issued (its registry).
IsRevoked = Callable[[x509.Certificate], Awaitable[bool]]


class BuiltinContractProvider:
    """`issuer`: the PKI's recording issuer (RecordingPki: each contract certificate
    recorded for the OCSP responder and the dashboard, with the OCSP URL); without it the
    certificates come straight from `pki`, unrecorded (tests, scripts). `is_revoked`:
    asked before a contract is renewed (CertificateUpdateReq)."""

    name = "builtin"

    def __init__(
        self,
        pki: LocalPki,
        codec: ExiCodec,
        *,
        emaid_prefix: str = DEFAULT_EMAID_PREFIX,
        oem_roots: Sequence[x509.Certificate] = (),
        oem_intermediates: Sequence[x509.Certificate] = (),
        issuer: RecordingPki | None = None,
        is_revoked: IsRevoked | None = None,
    ) -> None:
        if not _EMAID_PREFIX.fullmatch(emaid_prefix):
            raise ValueError(
                "contract_emaid_prefix must be 2 letters (country) and 3 letters or digits "
                f"(provider id), e.g. DEABC; got {emaid_prefix!r}"
            )
        self._pki = pki
        self._codec = codec
        self._emaid_prefix = emaid_prefix
        self._oem_roots = list(oem_roots) or [pki.certificate("oem-root")]
        self._oem_intermediates = [
            *oem_intermediates,
            pki.certificate("oem-sub1"),
            pki.certificate("oem-sub2"),
        ]
        self._mo_roots = [pki.certificate("mo-root")]
        self._mo_intermediates = [pki.certificate("mo-sub1"), pki.certificate("mo-sub2")]
        self._issuer = issuer
        self._is_revoked = is_revoked

    async def get_ev_certificate(
        self,
        *,
        station_id: str,
        schema_version: str,
        action: CertificateAction,
        exi_request_b64: str,
    ) -> EvCertificateAnswer:
        if schema_version == ISO15118_20_SCHEMA:
            return EvCertificateAnswer.failed(
                "ISO 15118-20 certificate installation is not supported by the built-in "
                "provider (use an HTTP provider)"
            )
        if schema_version != ISO15118_2_SCHEMA:
            return EvCertificateAnswer.failed(f"unknown ISO 15118 schema {schema_version!r}")
        try:
            data = _exi_bytes(exi_request_b64)
            if action is CertificateAction.INSTALL:
                return await self._install(station_id, data)
            return await self._update(station_id, data)
        except (v2g.MessageError, V2GCryptoError, ExiError, PkiError) as exc:
            log.warning("contract certificate %s for %s refused: %s", action, station_id, exc)
            return EvCertificateAnswer.failed(str(exc))
        except ExiUnavailable as exc:
            log.error("contract certificate %s for %s impossible: %s", action, station_id, exc)
            return EvCertificateAnswer.failed(str(exc))

    async def _install(self, station_id: str, data: bytes) -> EvCertificateAnswer:
        document = await self._codec.decode(data, ISO15118_2_MSG_DEF)
        request = v2g.read_installation_request(document)
        oem = request.oem_certificate
        # ISO 15118-2 8.4.3.11.2: the request is signed with the OEM provisioning key.
        await v2g.verify(
            self._codec, request.signature, [(request.id, request.body)], oem.public_key()
        )
        v2g_crypto.verify_path(oem, self._oem_intermediates, self._oem_roots)
        emaid = derive_emaid(self._emaid_prefix, _common_name(oem, "OEM provisioning"))
        return await self._answer(
            station_id, request.session_id, request.root_ids, oem, emaid, v2g.INSTALLATION_RES
        )

    async def _update(self, station_id: str, data: bytes) -> EvCertificateAnswer:
        document = await self._codec.decode(data, ISO15118_2_MSG_DEF)
        request = v2g.read_update_request(document)
        current = request.contract_chain[0]
        # ISO 15118-2 8.4.3.10.2: signed with the current contract certificate's key.
        await v2g.verify(
            self._codec, request.signature, [(request.id, request.body)], current.public_key()
        )
        v2g_crypto.verify_path(
            current, [*request.contract_chain[1:], *self._mo_intermediates], self._mo_roots
        )
        if _common_name(current, "contract") != request.emaid:
            raise v2g.MessageError("the eMAID is not the contract certificate's")
        if self._is_revoked is not None and await self._is_revoked(current):
            raise v2g.MessageError("the contract certificate is revoked")
        return await self._answer(
            station_id, request.session_id, request.root_ids, current, request.emaid, v2g.UPDATE_RES
        )

    async def _answer(
        self,
        station_id: str,
        session_id: str,
        root_ids: Sequence[v2g.RootCertificateId],
        recipient_cert: x509.Certificate,
        emaid: str,
        kind: str,
    ) -> EvCertificateAnswer:
        recipient = recipient_cert.public_key()
        if not isinstance(recipient, ec.EllipticCurvePublicKey):
            raise v2g.MessageError("the vehicle's certificate has no EC key")
        cps_key = self._pki.ca(CPS_NAME)[1]
        if not isinstance(cps_key, ec.EllipticCurvePrivateKey):
            raise PkiError("the CPS key is not an EC key")
        cps_chain = self._pki.chain(CPS_NAME)
        if not _trusted_by_vehicle(cps_chain[-1], root_ids):
            raise v2g.MessageError(
                "the vehicle does not list our V2G root "
                f"({cps_chain[-1].subject.rfc4514_string()}) in ListOfRootCertificateIDs"
            )
        contract_key = ec.generate_private_key(ec.SECP256R1())
        if self._issuer is not None:
            issued = await self._issuer.issue_contract_certificate(
                emaid, contract_key.public_key(), station_id=station_id
            )
        else:
            issued = self._pki.issue_contract_certificate(emaid, contract_key.public_key())
        dh_public, encrypted = v2g_crypto.encrypt_private_key(recipient, contract_key)
        contract_chain = [issued.certificate, *issued.chain]
        fragments = v2g.installation_response_fragments(contract_chain, encrypted, dh_public, emaid)
        signature = await v2g.sign(self._codec, fragments, cps_key)
        body = v2g.installation_response_body("OK", cps_chain[:-1], fragments, kind)
        exi = await self._codec.encode(
            v2g.v2g_message(session_id, body, signature), ISO15118_2_MSG_DEF
        )
        response_b64 = base64.b64encode(exi).decode("ascii")
        if len(response_b64) > MAX_EXI_RESPONSE_CHARS:
            raise v2g.MessageError(
                f"the response is {len(response_b64)} base64 characters, OCPP allows 7500"
            )
        log.info(
            "%s: contract certificate %s for eMAID %s via %s",
            kind,
            issued.serial,
            emaid,
            station_id,
        )
        return EvCertificateAnswer(
            ProviderStatus.ACCEPTED,
            response_b64,
            emaid=emaid,
            contract_certificate_pem="".join(pem(c) for c in contract_chain),
        )

    async def close(self) -> None:
        return None


def derive_emaid(prefix: str, pcid: str) -> str:
    """ISO 15118-2 eMAID without separators and check digit (14 characters): country
    and provider id (`prefix`), then a 9-character instance derived from the PCID."""
    digest = int.from_bytes(hashlib.sha256(pcid.encode()).digest()[:8], "big")
    instance = "".join(_BASE32[(digest >> (5 * i)) & 31] for i in range(9))
    return prefix + instance


def _exi_bytes(exi_b64: str) -> bytes:
    if not exi_b64 or len(exi_b64) > MAX_EXI_REQUEST_CHARS:
        raise v2g.MessageError(f"exiRequest must be 1..{MAX_EXI_REQUEST_CHARS} base64 characters")
    try:
        return base64.b64decode(exi_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise v2g.MessageError("exiRequest is not base64") from exc


def _common_name(cert: x509.Certificate, what: str) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        raise v2g.MessageError(f"the {what} certificate has no CN")
    return str(names[0].value)


def _trusted_by_vehicle(root: x509.Certificate, ids: Sequence[v2g.RootCertificateId]) -> bool:
    """ISO 15118-2 8.4.3.11.2: ListOfRootCertificateIDs names the vehicle's roots by
    issuer name and serial number."""
    wanted = _name_key(root.issuer)
    for entry in ids:
        if entry.serial_number != root.serial_number:
            continue
        try:
            listed = x509.Name.from_rfc4514_string(entry.issuer_name)
        except ValueError:
            continue
        if _name_key(listed) == wanted:
            return True
    return False


def _name_key(name: x509.Name) -> frozenset[tuple[str, str]]:
    """Order- and case-insensitive form of a distinguished name."""
    return frozenset(
        (attribute.oid.dotted_string, str(attribute.value).casefold()) for attribute in name
    )
