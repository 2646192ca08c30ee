"""ISO 15118-2 certificate installation messages as the EXI codec's JSON documents, and
their XML signatures (issue 19, Plug & Charge).

CertificateInstallationReq (ISO 15118-2 8.4.3.11.2): the vehicle's OEM provisioning
certificate and the V2G roots it trusts, signed in the header with the OEM provisioning key
(ISO 15118-2 8.4.3.11.2, Annex J: the whole body element is the one signed reference).
CertificateInstallationRes (8.4.3.11.3): the CPS chain (SAProvisioningCertificateChain), the
contract certificate chain, the encrypted contract key, the ephemeral DH public key and the
eMAID; the last four are signed with the CPS key, each as its own EXI fragment.

Reading never trusts shapes: every field is checked for type and size and a malformed
document raises MessageError."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ampyre.adapters.exi.codec import ISO15118_2_MSG_DEF, XML_DSIG, ExiCodec
from ampyre.adapters.pki import v2g_crypto
from ampyre.adapters.pki.v2g_crypto import V2GCryptoError

MAX_CERTIFICATE_BYTES = 800  # ISO 15118-2 certificateType maxLength
MAX_SUB_CERTIFICATES = 2  # [V2G2-656]
MAX_ROOT_IDS = 20  # ListOfRootCertificateIDs
MAX_SERIAL = 2**160  # RFC 5280: serial numbers are at most 20 octets
EMAID_LENGTHS = (14, 15)  # eMAIDType
INSTALLATION_RES = "CertificateInstallationRes"
UPDATE_RES = "CertificateUpdateRes"


class MessageError(ValueError):
    """A document is not the message it should be, or its signature does not check out."""


Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RootCertificateId:
    issuer_name: str
    serial_number: int


@dataclass(frozen=True, slots=True)
class InstallationRequest:
    session_id: str
    id: str
    oem_certificate: x509.Certificate
    root_ids: tuple[RootCertificateId, ...]
    signature: Document | None
    body: Document  # the signed element: {"CertificateInstallationReq": {...}}


@dataclass(frozen=True, slots=True)
class UpdateRequest:
    session_id: str
    id: str
    contract_chain: tuple[x509.Certificate, ...]  # the current contract, leaf first
    emaid: str
    root_ids: tuple[RootCertificateId, ...]
    signature: Document | None
    body: Document  # the signed element: {"CertificateUpdateReq": {...}}


@dataclass(frozen=True, slots=True)
class InstallationResponse:
    """A CertificateInstallationRes or CertificateUpdateRes (`kind`)."""

    kind: str
    session_id: str
    response_code: str
    cps_chain: tuple[x509.Certificate, ...]  # leaf first
    contract_chain: tuple[x509.Certificate, ...]  # leaf first
    encrypted_private_key: bytes
    dh_public_key: bytes
    emaid: str
    signature: Document | None
    fragments: tuple[tuple[str, Document], ...]  # the signed elements by Id


# -- signatures (ISO 15118-2 Annex J) ----------------------------------------------------


async def sign(
    codec: ExiCodec, fragments: Sequence[tuple[str, Document]], key: ec.EllipticCurvePrivateKey
) -> Document:
    """The header's Signature over `fragments` ((Id, {element: content}) pairs)."""
    references = []
    for element_id, fragment in fragments:
        exi = await codec.encode(fragment, ISO15118_2_MSG_DEF)
        references.append(
            {
                "URI": f"#{element_id}",
                "Transforms": {"Transform": [{"Algorithm": v2g_crypto.CANONICAL_EXI}]},
                "DigestMethod": {"Algorithm": v2g_crypto.SHA256},
                "DigestValue": _b64(v2g_crypto.digest(exi)),
            }
        )
    signed_info = {
        "CanonicalizationMethod": {"Algorithm": v2g_crypto.CANONICAL_EXI},
        "SignatureMethod": {"Algorithm": v2g_crypto.ECDSA_SHA256},
        "Reference": references,
    }
    signed_info_exi = await codec.encode({"SignedInfo": signed_info}, XML_DSIG)
    value = v2g_crypto.sign_raw(key, signed_info_exi)
    return {"SignedInfo": signed_info, "SignatureValue": {"value": _b64(value)}}


async def verify(
    codec: ExiCodec,
    signature: Document | None,
    fragments: Sequence[tuple[str, Document]],
    public_key: object,
) -> None:
    """MessageError unless `signature` covers every fragment with the right digest
    (and nothing else), uses ISO 15118-2's algorithms and verifies with `public_key`."""
    if not isinstance(signature, dict):
        raise MessageError("the message carries no signature")
    signed_info = _dict(signature, "SignedInfo")
    if _algorithm(signed_info, "CanonicalizationMethod") != v2g_crypto.CANONICAL_EXI:
        raise MessageError("unsupported canonicalization method")
    if _algorithm(signed_info, "SignatureMethod") != v2g_crypto.ECDSA_SHA256:
        raise MessageError("unsupported signature method (ISO 15118-2: ECDSA-SHA256)")
    references = signed_info.get("Reference")
    if not isinstance(references, list) or len(references) != len(fragments):
        raise MessageError("the signature does not reference exactly the signed elements")
    by_uri: dict[str, Document] = {}
    for reference in references:
        if not isinstance(reference, dict) or not isinstance(reference.get("URI"), str):
            raise MessageError("a signature reference has no URI")
        if _algorithm(reference, "DigestMethod") != v2g_crypto.SHA256:
            raise MessageError("unsupported digest method (ISO 15118-2: SHA-256)")
        by_uri[reference["URI"]] = reference
    for element_id, fragment in fragments:
        reference = by_uri.get(f"#{element_id}")
        if reference is None:
            raise MessageError(f"element {element_id!r} is not signed")
        exi = await codec.encode(fragment, ISO15118_2_MSG_DEF)
        if _bytes(reference, "DigestValue", 32) != v2g_crypto.digest(exi):
            raise MessageError(f"digest of element {element_id!r} does not match")
    signed_info_exi = await codec.encode({"SignedInfo": signed_info}, XML_DSIG)
    value = _bytes(_dict(signature, "SignatureValue"), "value", v2g_crypto.SIGNATURE_BYTES)
    try:
        v2g_crypto.verify_raw(public_key, signed_info_exi, value)
    except V2GCryptoError as exc:
        raise MessageError(str(exc)) from exc


# -- CertificateInstallationReq ----------------------------------------------------------


def installation_request_body(
    element_id: str, oem_certificate: x509.Certificate, root_ids: Sequence[RootCertificateId]
) -> Document:
    return {
        "CertificateInstallationReq": {
            "Id": element_id,
            "OEMProvisioningCert": _b64(_der(oem_certificate)),
            **_root_ids_document(root_ids),
        }
    }


def v2g_message(session_id: str, body: Document, signature: Document | None) -> Document:
    header: Document = {"SessionID": session_id}
    if signature is not None:
        header["Signature"] = signature
    return {"V2G_Message": {"Header": header, "Body": body}}


def read_installation_request(document: Document) -> InstallationRequest:
    header, body = _message(document, "CertificateInstallationReq")
    request = _dict(body, "CertificateInstallationReq")
    oem = _certificate(_bytes(request, "OEMProvisioningCert", MAX_CERTIFICATE_BYTES, exact=False))
    signature = header.get("Signature")
    return InstallationRequest(
        session_id=_session_id(header),
        id=_text(request, "Id", 1, 64),
        oem_certificate=oem,
        root_ids=_root_ids(request),
        signature=signature if isinstance(signature, dict) else None,
        body={"CertificateInstallationReq": request},
    )


# -- CertificateUpdateReq (ISO 15118-2 8.4.3.10.2) ----------------------------------------


def update_request_body(
    element_id: str,
    contract_chain: Sequence[x509.Certificate],
    emaid: str,
    root_ids: Sequence[RootCertificateId],
) -> Document:
    content = _root_ids_document(root_ids)
    return {
        "CertificateUpdateReq": {
            "Id": element_id,
            "ContractSignatureCertChain": chain_document(contract_chain),
            "eMAID": emaid,
            **content,
        }
    }


def read_update_request(document: Document) -> UpdateRequest:
    header, body = _message(document, "CertificateUpdateReq")
    request = _dict(body, "CertificateUpdateReq")
    signature = header.get("Signature")
    return UpdateRequest(
        session_id=_session_id(header),
        id=_text(request, "Id", 1, 64),
        contract_chain=_chain(_dict(request, "ContractSignatureCertChain")),
        emaid=_text(request, "eMAID", EMAID_LENGTHS[0], EMAID_LENGTHS[1]),
        root_ids=_root_ids(request),
        signature=signature if isinstance(signature, dict) else None,
        body={"CertificateUpdateReq": request},
    )


def _root_ids_document(root_ids: Sequence[RootCertificateId]) -> Document:
    return {
        "ListOfRootCertificateIDs": {
            "RootCertificateID": [
                {"X509IssuerName": r.issuer_name, "X509SerialNumber": r.serial_number}
                for r in root_ids
            ]
        }
    }


def _root_ids(request: Document) -> tuple[RootCertificateId, ...]:
    id_list = _dict(request, "ListOfRootCertificateIDs").get("RootCertificateID")
    if not isinstance(id_list, list) or not 1 <= len(id_list) <= MAX_ROOT_IDS:
        raise MessageError("ListOfRootCertificateIDs must hold 1 to 20 RootCertificateID")
    root_ids = []
    for entry in id_list:
        if not isinstance(entry, dict):
            raise MessageError("malformed RootCertificateID")
        serial = entry.get("X509SerialNumber")
        if isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial < MAX_SERIAL:
            raise MessageError("X509SerialNumber is no certificate serial number")
        root_ids.append(RootCertificateId(_text(entry, "X509IssuerName", 1, 1024), serial))
    return tuple(root_ids)


# -- CertificateInstallationRes ----------------------------------------------------------


def chain_document(chain: Sequence[x509.Certificate], element_id: str | None = None) -> Document:
    """A CertificateChainType: the leaf and up to two sub-CAs (nearest first)."""
    if not 1 <= len(chain) <= 1 + MAX_SUB_CERTIFICATES:
        raise MessageError("a certificate chain holds a leaf and at most two sub-CAs")
    content: Document = {} if element_id is None else {"Id": element_id}
    content["Certificate"] = _b64(_der(chain[0]))
    if len(chain) > 1:
        content["SubCertificates"] = {"Certificate": [_b64(_der(c)) for c in chain[1:]]}
    return content


def installation_response_fragments(
    contract_chain: Sequence[x509.Certificate],
    encrypted_private_key: bytes,
    dh_public_key: bytes,
    emaid: str,
) -> list[tuple[str, Document]]:
    """The four signed elements of the response, with Ids id1..id4."""
    return [
        ("id1", {"ContractSignatureCertChain": chain_document(contract_chain, "id1")}),
        (
            "id2",
            {
                "ContractSignatureEncryptedPrivateKey": {
                    "Id": "id2",
                    "value": _b64(encrypted_private_key),
                }
            },
        ),
        ("id3", {"DHpublickey": {"Id": "id3", "value": _b64(dh_public_key)}}),
        ("id4", {"eMAID": {"Id": "id4", "value": emaid}}),
    ]


def installation_response_body(
    response_code: str,
    cps_chain: Sequence[x509.Certificate],
    fragments: Sequence[tuple[str, Document]],
    kind: str = INSTALLATION_RES,
) -> Document:
    """A CertificateInstallationRes, or with `kind` UPDATE_RES a CertificateUpdateRes
    (same elements; RetryCounter is optional and left out)."""
    content: Document = {
        "ResponseCode": response_code,
        "SAProvisioningCertificateChain": chain_document(cps_chain),
    }
    for _, fragment in fragments:
        content.update(fragment)
    return {kind: content}


def read_installation_response(
    document: Document, kind: str = INSTALLATION_RES
) -> InstallationResponse:
    """Read a CertificateInstallationRes, or with `kind` UPDATE_RES a CertificateUpdateRes."""
    header, body = _message(document, kind)
    response = _dict(body, kind)
    code = _text(response, "ResponseCode", 1, 64)
    contract = _dict(response, "ContractSignatureCertChain")
    key = _dict(response, "ContractSignatureEncryptedPrivateKey")
    dh = _dict(response, "DHpublickey")
    emaid_element = _dict(response, "eMAID")
    emaid = _text(emaid_element, "value", EMAID_LENGTHS[0], EMAID_LENGTHS[1])
    fragments = (
        (_text(contract, "Id", 1, 64), {"ContractSignatureCertChain": contract}),
        (_text(key, "Id", 1, 64), {"ContractSignatureEncryptedPrivateKey": key}),
        (_text(dh, "Id", 1, 64), {"DHpublickey": dh}),
        (_text(emaid_element, "Id", 1, 64), {"eMAID": emaid_element}),
    )
    signature = header.get("Signature")
    return InstallationResponse(
        kind=kind,
        session_id=_session_id(header),
        response_code=code,
        cps_chain=_chain(_dict(response, "SAProvisioningCertificateChain")),
        contract_chain=_chain(contract),
        encrypted_private_key=_bytes(key, "value", v2g_crypto.ENCRYPTED_KEY_BYTES),
        dh_public_key=_bytes(dh, "value", v2g_crypto.DH_PUBLIC_KEY_BYTES),
        emaid=emaid,
        signature=signature if isinstance(signature, dict) else None,
        fragments=fragments,
    )


# -- field readers -----------------------------------------------------------------------


def _message(document: Document, name: str) -> tuple[Document, Document]:
    message = _dict(document, "V2G_Message")
    header = _dict(message, "Header")
    body = _dict(message, "Body")
    if set(body) != {name}:
        raise MessageError(f"the message is {', '.join(body) or 'empty'}, not {name}")
    return header, body


def _session_id(header: Document) -> str:
    session_id = _text(header, "SessionID", 1, 16)
    try:
        bytes.fromhex(session_id)
    except ValueError as exc:
        raise MessageError("SessionID is not hexBinary") from exc
    return session_id


def _dict(parent: Document, key: str) -> Document:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise MessageError(f"{key} is missing or malformed")
    return value


def _text(parent: Document, key: str, shortest: int, longest: int) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not shortest <= len(value) <= longest:
        raise MessageError(f"{key} must be text of {shortest}..{longest} characters")
    return value


def _algorithm(parent: Document, key: str) -> object:
    element = parent.get(key)
    return element.get("Algorithm") if isinstance(element, dict) else None


def _bytes(parent: Document, key: str, size: int, exact: bool = True) -> bytes:
    value = parent.get(key)
    if not isinstance(value, str) or len(value) > 4 * (size + 2) // 3 + 4:
        raise MessageError(f"{key} is missing or too long")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MessageError(f"{key} is not base64") from exc
    if (exact and len(data) != size) or not data or len(data) > size:
        raise MessageError(f"{key} must be {'' if exact else 'at most '}{size} bytes")
    return data


def _chain(element: Document) -> tuple[x509.Certificate, ...]:
    leaf = _certificate(_bytes(element, "Certificate", MAX_CERTIFICATE_BYTES, exact=False))
    subs = element.get("SubCertificates")
    if subs is None:
        return (leaf,)
    if not isinstance(subs, dict):
        raise MessageError("SubCertificates is malformed")
    listed = subs.get("Certificate")
    if isinstance(listed, str):
        listed = [listed]
    if not isinstance(listed, list) or not 1 <= len(listed) <= MAX_SUB_CERTIFICATES:
        raise MessageError("SubCertificates must hold one or two certificates")
    holder = {str(i): v for i, v in enumerate(listed)}
    return (
        leaf,
        *(
            _certificate(_bytes(holder, str(i), MAX_CERTIFICATE_BYTES, exact=False))
            for i in range(len(listed))
        ),
    )


def _certificate(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise MessageError("not a DER X.509 certificate") from exc


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
