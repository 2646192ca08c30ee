"""Secrets out of what is stored for people to read: the OCPP message log and the operator
audit trail show "***" where a frame or a request body carries a password or a key. What
counts as a secret is domain/secrets.py's; this module applies it to frames.

Certificates (CertificateSigned, InstallCertificate, SignCertificate's CSR) are public and
no OCPP message carries a private key in clear."""

from __future__ import annotations

import json
import re

from ampyre.domain.secrets import MASK, redact, secret_setting

__all__ = ["HOT_ACTIONS", "MASK", "redact", "redact_frame", "secret_setting"]

# The message log sees thousands of frames a second, nearly all of them these station
# messages, which carry no secret: they are stored without a second look. Every other frame
# (commands of any action, later ones included, and their answers) is parsed if its text
# mentions a secret at all.
HOT_ACTIONS = frozenset(
    {
        "Heartbeat",
        "MeterValues",
        "TransactionEvent",
        "StartTransaction",
        "StopTransaction",
        "StatusNotification",
        "Authorize",
        "BootNotification",
        "NotifyEvent",
    }
)
_HINT = re.compile(r'passw|secret|passphrase|key"|pin"', re.IGNORECASE)


def redact_frame(text: str, action: str | None) -> str:
    """An OCPP-J frame (a CALL of `action` or the answer to one) as stored in the message
    log: unchanged unless it holds a secret, else re-encoded with the secrets masked.
    Text that is not JSON is returned as is."""
    if action in HOT_ACTIONS or _HINT.search(text) is None:
        return text
    try:
        frame = json.loads(text)
    except ValueError:
        return text
    masked = redact(frame)
    if masked == frame:
        return text
    return json.dumps(masked, separators=(",", ":"), ensure_ascii=False)
