"""What the store can hold, checked before a station's CALL reaches a handler.

A value the database would refuse must be refused at the edge with the CALLERROR the
version defines, never discovered inside a group commit (where on PostgreSQL it used to
fail the transaction shared with other stations' writes):

* a string with U+0000 (PostgreSQL text and JSONB cannot hold it) or an unpaired
  surrogate (not encodable as UTF-8), anywhere in the payload, keys included;
* a value longer than the column it is stored in. The schemas bound most fields more
  tightly; `FIELD_LIMITS` guards the stored ones whatever a version's schema allows
  (tests/unit/test_limits.py compares them with adapters/db/tables.py).

Both are PropertyConstraintViolation: the JSON is syntactically correct, a field's value
is not acceptable (OCPP-J 1.6 section 4.2.3, OCPP 2.0.1 / 2.1 Part 4 section 4.3).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

# Payload field -> longest value stored (the column of adapters/db/tables.py it goes to).
FIELD_LIMITS: dict[str, int] = {
    "transactionId": 64,  # transactions.transaction_id
    "idTag": 255,  # transactions.id_token, id_tokens.id_token
    "parentIdTag": 255,  # id_tokens.group_id
    "idToken": 255,  # transactions.id_token (2.x: the string inside IdTokenType)
    "vendorId": 255,  # connectors.vendor_id
    "vendorErrorCode": 255,  # connectors.vendor_error_code
    "errorCode": 64,  # connectors.error_code
    "measurand": 64,  # meter_values.measurand
    "unit": 32,  # meter_values.unit
    "chargePointVendor": 255,  # stations.vendor (1.6)
    "chargePointModel": 255,
    "chargePointSerialNumber": 255,
    "chargeBoxSerialNumber": 255,
    "firmwareVersion": 255,
    "iccid": 255,
    "imsi": 255,
    "meterType": 255,
    "meterSerialNumber": 255,
    "vendorName": 255,  # stations.vendor (2.x)
    "model": 255,
    "serialNumber": 255,
}

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_MAX_DEPTH = 64


# A string value longer than the shortest limit, in JSON text (the key is looked up
# only for these: a pattern naming the keys would be several times slower).
_SHORTEST = min(FIELD_LIMITS.values())
_LONG_VALUE = re.compile(b':"([^"]{%d,})' % (_SHORTEST + 1))


def violation(payload: Any) -> str | None:
    """Why the store could not hold this payload as sent, or None.

    Runs for every CALL, so the common case is a scan of the payload's JSON text: U+0000
    and surrogates can only appear there as \\u escapes, and a limited value is measured
    in bytes (never fewer than its characters). The exact walk over the payload runs only
    when the scan finds something that may be a problem (or an escaped quote, which the
    scan would cut short)."""
    try:
        text = orjson.dumps(payload)
    except TypeError:  # unpaired surrogate, integer beyond 64 bits: look closely
        return _walk(payload, "", 0)
    if b"\\u" in text or b'\\"' in text:
        return _walk(payload, "", 0)
    for match in _LONG_VALUE.finditer(text):
        colon = match.start()
        key = text[text.rfind(b'"', 0, colon - 1) + 1 : colon - 1].decode()
        limit = FIELD_LIMITS.get(key)
        if limit is not None and len(match.group(1)) > limit:
            return _walk(payload, "", 0)
    return None


# The same in a frame as received: any spacing around the colon.
_LONG_IN_FRAME = re.compile(rf':\s*"([^"]{{{_SHORTEST + 1},}})"')
_SPACE = frozenset(" \t\r\n")


def frame_violation(payload: Any, frame: str | bytes) -> str | None:
    """`violation(payload)` for a payload parsed from `frame`, the JSON text received.

    Scans the frame itself instead of serializing the payload again (most of what
    `violation` costs). In an ASCII frame without a backslash no string holds an escape,
    so U+0000 and surrogates are absent, quotes delimit strings exactly and lengths are
    characters. Anything else (non-ASCII text, escapes) goes to `violation`. A long value
    whose key cannot be read back, or a key with a limit, is decided by the exact walk."""
    if not frame.isascii():
        return violation(payload)
    text = frame if isinstance(frame, str) else frame.decode("ascii")
    if "\\" in text or "\x00" in text:
        return violation(payload)
    for match in _LONG_IN_FRAME.finditer(text):
        end = match.start() - 1  # before the colon: the key's closing quote, after spaces
        while end >= 0 and text[end] in _SPACE:
            end -= 1
        if end < 0 or text[end] != '"':
            return _walk(payload, "", 0)
        limit = FIELD_LIMITS.get(text[text.rfind('"', 0, end) + 1 : end])
        if limit is not None and len(match.group(1)) > limit:
            return _walk(payload, "", 0)
    return None


def _walk(value: Any, path: str, depth: int) -> str | None:
    if depth > _MAX_DEPTH:
        return None  # the schema validator bounds real payloads long before this
    if isinstance(value, str):
        return _text(value, path)
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _UNSTORABLE.search(key):
                return f"property name at {where[:64]!r} contains a character not allowed"
            if isinstance(item, str):
                limit = FIELD_LIMITS.get(key)
                if limit is not None and len(item) > limit:
                    return f"{where[:64]} is longer than {limit} characters"
            problem = _walk(item, where, depth + 1)
            if problem is not None:
                return problem
    elif isinstance(value, list):
        for n, item in enumerate(value):
            problem = _walk(item, f"{path}[{n}]", depth + 1)
            if problem is not None:
                return problem
    return None


def _text(value: str, path: str) -> str | None:
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    char = "U+0000" if found.group() == "\x00" else "an unpaired surrogate"
    return f"{path[:64] or 'payload'} contains {char}, which cannot be stored"
