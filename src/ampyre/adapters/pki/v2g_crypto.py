"""ISO 15118-2 cryptography of certificate installation (issue 19, Plug & Charge).

- The contract certificate's private key travels to the vehicle encrypted
  (ISO 15118-2 [V2G2-818..V2G2-824]): an ephemeral ECDH key pair on secp256r1 agrees a
  secret with the OEM provisioning certificate's public key; NIST SP 800-56A ConcatKDF
  with SHA-256 (AlgorithmID 0x01, PartyUInfo 0x55, PartyVInfo 0x56) turns it into a 128-bit
  AES key; the 32-byte private scalar is encrypted with AES-128-CBC under a random IV,
  sent as IV || ciphertext (48 bytes), the ephemeral public key as an uncompressed point
  (65 bytes, DHpublickey).
- XML signatures over EXI (ISO 15118-2 Annex J): every signed element is EXI-encoded on
  its own (a fragment), digested with SHA-256; the SignedInfo listing those digests is
  EXI-encoded and signed with ECDSA P-256/SHA-256; the signature value is raw r || s
  (64 bytes), not DER.
- A small certificate path check (signature, validity, CA flags, path length) for the
  ISO 15118 chains, whose profiles a web-PKI verifier would refuse.

Pure computation over `cryptography`; the EXI encoding is the caller's."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from ampyre.domain.certificates import ca_constraints, signed_by, valid_at

# XML signature algorithm identifiers ISO 15118-2 uses (Annex J).
CANONICAL_EXI = "http://www.w3.org/TR/canonical-exi/"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

ENCRYPTED_KEY_BYTES = 48  # IV (16) || AES-128-CBC of the 32-byte scalar
DH_PUBLIC_KEY_BYTES = 65  # uncompressed secp256r1 point
SIGNATURE_BYTES = 64  # r || s
MAX_CHAIN = 4  # leaf, two sub-CAs, root ([V2G2-656]: at most 2 sub-certificates)

# [V2G2-818] ConcatKDF OtherInfo: AlgorithmID || PartyUInfo || PartyVInfo.
_KDF_OTHER_INFO = bytes([0x01, 0x55, 0x56])
_AES_KEY_BYTES = 16


class V2GCryptoError(ValueError):
    """A key, signature or certificate path did not check out; the message says why."""


# -- contract private key transport ------------------------------------------------------


def session_key(shared_secret: bytes) -> bytes:
    """The AES-128 key both sides derive from the ECDH secret ([V2G2-818])."""
    kdf = ConcatKDFHash(hashes.SHA256(), _AES_KEY_BYTES, _KDF_OTHER_INFO)
    return kdf.derive(shared_secret)


def encrypt_private_key(
    recipient: ec.EllipticCurvePublicKey, private_key: ec.EllipticCurvePrivateKey
) -> tuple[bytes, bytes]:
    """Encrypt `private_key` (the contract key) for the holder of `recipient` (the OEM
    provisioning certificate's key). Returns (DHpublickey 65 bytes, encrypted key 48)."""
    _require_p256(recipient.curve, "the OEM provisioning key")
    _require_p256(private_key.curve, "the contract key")
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    key = session_key(ephemeral.exchange(ec.ECDH(), recipient))
    iv = os.urandom(16)
    scalar = private_key.private_numbers().private_value.to_bytes(32, "big")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    # 32 bytes are two AES blocks: no padding ([V2G2-818..]).
    encrypted = iv + encryptor.update(scalar) + encryptor.finalize()
    dh_public = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return dh_public, encrypted


def decrypt_private_key(
    encrypted: bytes, dh_public_key: bytes, own_key: ec.EllipticCurvePrivateKey
) -> ec.EllipticCurvePrivateKey:
    """The vehicle's side: recover the contract key with the OEM provisioning key."""
    if len(encrypted) != ENCRYPTED_KEY_BYTES:
        raise V2GCryptoError(f"encrypted private key has {len(encrypted)} bytes, not 48")
    if len(dh_public_key) != DH_PUBLIC_KEY_BYTES:
        raise V2GCryptoError(f"DHpublickey has {len(dh_public_key)} bytes, not 65")
    try:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), dh_public_key)
    except ValueError as exc:
        raise V2GCryptoError(f"DHpublickey is no secp256r1 point: {exc}") from exc
    key = session_key(own_key.exchange(ec.ECDH(), peer))
    decryptor = Cipher(algorithms.AES(key), modes.CBC(encrypted[:16])).decryptor()
    scalar = int.from_bytes(decryptor.update(encrypted[16:]) + decryptor.finalize(), "big")
    try:
        return ec.derive_private_key(scalar, ec.SECP256R1())
    except ValueError as exc:
        raise V2GCryptoError("the decrypted private key is no valid secp256r1 key") from exc


# -- XML signatures over EXI -------------------------------------------------------------


def digest(exi_fragment: bytes) -> bytes:
    return hashlib.sha256(exi_fragment).digest()


def sign_raw(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA-SHA256 over `data` (the EXI-encoded SignedInfo), as raw r || s."""
    r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_raw(public_key: object, data: bytes, signature: bytes) -> None:
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise V2GCryptoError("the signer's key is no EC key")
    _require_p256(public_key.curve, "the signer's key")
    if len(signature) != SIGNATURE_BYTES:
        raise V2GCryptoError(f"signature value has {len(signature)} bytes, not 64")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise V2GCryptoError("signature value does not verify") from exc


# -- certificate paths -------------------------------------------------------------------


def verify_path(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    at: datetime | None = None,
) -> list[x509.Certificate]:
    """The path leaf -> ... -> trusted root (returned, leaf first); V2GCryptoError if
    there is none: each link's signature, validity at `at`, issuers are CAs within
    their path length, at most MAX_CHAIN certificates."""
    now = at or datetime.now(UTC)
    path = [leaf]
    current = leaf
    pool = [*intermediates]
    while True:
        _check_validity(current, now)
        for root in roots:
            if signed_by(current, root):
                _check_validity(root, now)
                _check_ca(root, len(path) - 1)
                return [*path, root]
        issuer = next((c for c in pool if signed_by(current, c)), None)
        if issuer is None:
            raise V2GCryptoError(f"no trusted issuer for {current.subject.rfc4514_string()!r}")
        _check_ca(issuer, len(path) - 1)
        pool.remove(issuer)
        path.append(issuer)
        if len(path) >= MAX_CHAIN:
            raise V2GCryptoError("certificate path longer than ISO 15118 allows")
        current = issuer


def _check_validity(cert: x509.Certificate, now: datetime) -> None:
    if not valid_at(cert, now):
        raise V2GCryptoError(
            f"certificate {cert.subject.rfc4514_string()!r} is not valid now "
            f"({cert.not_valid_before_utc:%Y-%m-%d} .. {cert.not_valid_after_utc:%Y-%m-%d})"
        )


def _check_ca(cert: x509.Certificate, below: int) -> None:
    """`cert` issues a path with `below` CA certificates under it."""
    ca, path_length = ca_constraints(cert)
    if not ca:
        raise V2GCryptoError(f"{cert.subject.rfc4514_string()!r} is no CA")
    if path_length is not None and below > path_length:
        raise V2GCryptoError(f"{cert.subject.rfc4514_string()!r}: path length exceeded")


def _require_p256(curve: ec.EllipticCurve, what: str) -> None:
    if not isinstance(curve, ec.SECP256R1):
        raise V2GCryptoError(f"{what} is not on secp256r1 (ISO 15118-2 requires it)")
