"""The HTTP side of a station's WebSocket upgrade: station id from the path, subprotocol
choice, security profile 1 (HTTP Basic) and the client address behind trusted proxies."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from ampyre.domain.models import OcppVersion
from ampyre.services.stations import is_station_id

# Best first: the newest version both sides speak wins.
PREFERENCE: tuple[OcppVersion, ...] = (OcppVersion.V21, OcppVersion.V201, OcppVersion.V16)

_DOT_SEGMENTS = frozenset({".", ".."})


def station_id_from_path(path: str) -> str | None:
    """The station id: the last path segment, percent-decoded; None if it is empty
    ("/ocpp/"), not a valid id, or the path has dot segments ("/ocpp/../../etc/passwd"),
    which a proxy or client may resolve differently from us."""
    segments = urlsplit(path).path.split("/")
    if any(unquote(s) in _DOT_SEGMENTS for s in segments):
        return None
    # The identity is the last segment of the connection URL (OCPP-J 1.6 section 3.1.1;
    # OCPP 2.0.1 Part 4 section 3.1.1); what an id may be is services.stations' rule.
    candidate = unquote(segments[-1])
    return candidate if is_station_id(candidate) else None


def choose_subprotocol(offered: Sequence[str]) -> OcppVersion | None:
    wanted = {p.strip().lower() for p in offered}
    for version in PREFERENCE:
        if version.value in wanted:
            return version
    return None


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The peer address, or the X-Forwarded-For client when the peer is a trusted proxy.

    Walks X-Forwarded-For from the right, skipping trusted proxies, so a client cannot
    forge its address by sending the header itself."""
    address = peer or "unknown"
    if not forwarded_for or not trusted or not is_trusted(address, trusted):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not is_trusted(hop, trusted):
            return hop
        address = hop
    return address


def is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)
