"""The compact form of one audited OCPP frame (pure functions, no I/O).

A frame is stored as bytes whose first byte says how to get the exact text back:

* bit 0 (`STRIPPED`): the frame had the canonical head the columns already hold
  (`[2,"<uid>","<action>",` / `[3,"<uid>",` / `[4,"<uid>",` ...) and the closing `]`;
  only what lies between is stored. Frames written any other way (spaces, escapes in the
  id) are stored whole, so decoding always gives back the text exactly as sent.
* bit 2 (`ZSTD`): the rest is a Zstandard frame (without the magic number, without a
  checksum, with its content size), compressed with `DICTIONARY` as raw content (the
  strings OCPP payloads repeat: keys, measurands, units, timestamp heads), used when it
  makes the frame smaller. Small frames stay plain: compressing them costs CPU and saves
  nothing. What Ampyre writes since issue 15: at 1,000 stations in a closed loop the
  audit log was about a third of the server's CPU, and zstd with a digested dictionary
  compresses a typical frame in about a third of deflate's time (10-20 % larger;
  `python -m bench.audit_size` measures it).
* bit 1 (`DEFLATED`): the rest is raw deflate primed with the same `DICTIONARY`: rows
  written before issue 15. Read, never written any more.

The dictionary and the flag values are part of the stored format: rows written with them
must stay readable, so they are never changed. A new dictionary needs a new flag bit.
"""

from __future__ import annotations

import threading
import zlib

import zstandard

PLAIN = 0x00
STRIPPED = 0x01
DEFLATED = 0x02
ZSTD = 0x04
_KNOWN = STRIPPED | DEFLATED | ZSTD

# Frames shorter than this are not worth compressing (a Heartbeat CALL body is `{}`).
COMPRESS_MIN = 40
_WBITS = -12  # raw deflate (no header, no checksum), 4 KiB window: holds the dictionary
_ZSTD_LEVEL = 3  # level 1 is no faster on frames this small, and larger
# A zstd frame declares its size and is decompressed into a buffer of that size: one that
# declares more than any frame Ampyre keeps (far above the gateway's message limit) is
# corrupt, and refused before anything is allocated.
_MAX_FRAME = 64 * 1024 * 1024

# Fixed forever (see the module docstring). Most frequent strings last: deflate reaches
# the end of the dictionary with the shortest distances.
DICTIONARY = (
    b'"reason":"Local""stopReason":"EVDisconnected""triggerReason":"Authorized"'
    b'"chargingState":"Charging""chargingState":"SuspendedEV""idTokenInfo":{"status":'
    b'"firmwareVersion":"chargePointVendor":"chargePointModel":"chargingStation":'
    b'{"model":"vendorName":"serialNumber":"PowerUp""currentTime":"interval":300,'
    b'"status":"Rejected""status":"Accepted""eventType":"Updated""eventType":"Started"'
    b'"eventType":"Ended""transactionInfo":{"transactionId":"seqNo":"offline":false,'
    b'"evse":{"id":1,"connectorId":1},"idToken":{"idToken":"type":"ISO14443"},'
    b'"idTagInfo":{"status":"Accepted"}"idTag":"meterStart":"meterStop":'
    b'"errorCode":"NoError","status":"Available""status":"Preparing""status":"Charging"'
    b'"connectorStatus":"Available""connectorStatus":"Occupied""evseId":1,'
    b'"signedMeterValue":{"encodingMethod":"publicKey":"signingMethod":'
    b'"unitOfMeasure":{"unit":"Wh","multiplier":0}'
    b'"location":"EV""location":"Inlet""location":"Outlet"'
    b'"measurand":"SoC","unit":"Percent"'
    b'"measurand":"Frequency""measurand":"Power.Offered"'
    b'"measurand":"Current.Offered""measurand":"Energy.Active.Export.Register"'
    b'"context":"Transaction.Begin""context":"Transaction.End""context":"Trigger"'
    b'"measurand":"Voltage","unit":"V","phase":"L1-N"'
    b'"measurand":"Current.Import","unit":"A","phase":"L1"'
    b'"measurand":"Power.Active.Import","unit":"W"'
    b'"measurand":"Energy.Active.Import.Register","unit":"Wh"'
    b'"context":"Sample.Periodic"'
    b'"transactionId":"timestamp":"'
    b'"meterValue":[{"timestamp":"2026-11-30T12:00:00.000Z","sampledValue":[{"value":'
    b'{"currentTime":"2026-11-30T12:00:00.000Z"}{"connectorId":1,"transactionId":'
)


# Frames written before ZSTD: primed once, copied per frame.
_UNPACKER = zlib.decompressobj(_WBITS, zdict=DICTIONARY)

_MAGICLESS = zstandard.FORMAT_ZSTD1_MAGICLESS
_ZSTD_PARAMS = zstandard.ZstdCompressionParameters.from_level(
    _ZSTD_LEVEL,
    format=_MAGICLESS,
    write_checksum=0,
    write_content_size=1,  # decompress() needs it to size its output
    write_dict_id=0,
)
_ZSTD_DICT = zstandard.ZstdCompressionDict(DICTIONARY, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
_ZSTD_DICT.precompute_compress(compression_params=_ZSTD_PARAMS)  # digested once


class _Zstd(threading.local):
    """A compressor and a decompressor per thread: their instances must not be used by
    two threads at once (the SQLite writer thread encodes, the event loop decodes)."""

    def __init__(self) -> None:
        self.packer = zstandard.ZstdCompressor(
            dict_data=_ZSTD_DICT, compression_params=_ZSTD_PARAMS
        )
        self.unpacker = zstandard.ZstdDecompressor(dict_data=_ZSTD_DICT, format=_MAGICLESS)


_zstd = _Zstd()


def head(message_type: int, unique_id: str, action: str | None) -> str:
    """The canonical start of a frame (as Ampyre and most stations write it)."""
    uid = f'"{unique_id}"'
    if message_type in (2, 6):
        return f'[{message_type},{uid},"{action}",' if action is not None else ""
    return f"[{message_type},{uid},"


def encode(frame: str, message_type: int, unique_id: str, action: str | None) -> bytes:
    """The stored form of `frame`; `decode` with the same columns gives it back exactly."""
    start = head(message_type, unique_id, action)
    flags = PLAIN
    body = frame
    if start and frame.startswith(start) and frame.endswith("]"):
        flags = STRIPPED
        body = frame[len(start) : -1]
    # surrogatepass: whatever str the session logged comes back the same.
    data = body.encode("utf-8", "surrogatepass")
    if len(data) >= COMPRESS_MIN:
        packed = _zstd.packer.compress(data)
        if len(packed) < len(data):
            flags |= ZSTD
            data = packed
    return bytes((flags,)) + data


def decode(stored: bytes, message_type: int, unique_id: str, action: str | None) -> str:
    """The frame text `encode` was given. ValueError if `stored` is not in this format."""
    if not stored or stored[0] & ~_KNOWN or (stored[0] & DEFLATED and stored[0] & ZSTD):
        raise ValueError("not an audit-log frame")
    flags = stored[0]
    data = bytes(stored[1:])
    if flags & ZSTD:
        try:
            declared = zstandard.get_frame_parameters(data, format=_MAGICLESS).content_size
            if declared > _MAX_FRAME:
                raise ValueError(f"corrupt audit-log frame: declares {declared} bytes")
            data = _zstd.unpacker.decompress(data)
        except zstandard.ZstdError as exc:
            raise ValueError(f"corrupt audit-log frame: {exc}") from exc
    elif flags & DEFLATED:
        unpacker = _UNPACKER.copy()
        try:
            data = unpacker.decompress(data) + unpacker.flush()
        except zlib.error as exc:
            raise ValueError(f"corrupt audit-log frame: {exc}") from exc
        if not unpacker.eof:
            raise ValueError("truncated audit-log frame")
    body = data.decode("utf-8", "surrogatepass")
    if flags & STRIPPED:
        return head(message_type, unique_id, action) + body + "]"
    return body
