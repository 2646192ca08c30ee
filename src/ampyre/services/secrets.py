"""Salted password hashes for station Basic auth, and API token hashing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import OrderedDict

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    salt_b64 = base64.b64encode(salt).decode()
    digest_b64 = base64.b64encode(digest).decode()
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt_b64}${digest_b64}"


# Verified (stored hash, sha256(password)) pairs: a reconnect storm of thousands of
# stations must not cost a full scrypt each. A changed password changes the stored hash;
# no plaintext is kept.
_VERIFIED: OrderedDict[tuple[str, bytes], None] = OrderedDict()
_VERIFIED_MAX = 65536


def _scrypt_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt_b64),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=32,
    )
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    if known_password(password, stored):
        return True
    if not _scrypt_matches(password, stored):
        return False
    remember_password(password, stored)
    return True


def known_password(password: str, stored: str) -> bool:
    """Cheap check against passwords verified before (for use on the event loop)."""
    key = (stored, hashlib.sha256(password.encode()).digest())
    if key in _VERIFIED:
        _VERIFIED.move_to_end(key)
        return True
    return False


def password_matches(password: str, stored: str) -> bool:
    """The full scrypt check: CPU-heavy, run it in a worker thread."""
    return _scrypt_matches(password, stored)


def remember_password(password: str, stored: str) -> None:
    _VERIFIED[(stored, hashlib.sha256(password.encode()).digest())] = None
    if len(_VERIFIED) > _VERIFIED_MAX:
        _VERIFIED.popitem(last=False)


def new_api_token() -> str:
    return "amp_" + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    # API tokens are 256-bit random values: a plain SHA-256 is enough to keep them
    # unusable if the database leaks, and lets us look them up by hash.
    return hashlib.sha256(token.encode()).hexdigest()
