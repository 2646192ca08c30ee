"""The HTTP side of the WebSocket upgrade: station id, subprotocol, Basic auth, client IP."""

from __future__ import annotations

import base64
import ipaddress

import pytest

from ampyre.domain.models import OcppVersion
from ampyre.gateway import handshake
from ampyre.gateway.handshake import (
    basic_credentials,
    choose_subprotocol,
    client_address,
    station_id_from_path,
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/ocpp/CP-1", "CP-1"),
        ("/CP-1", "CP-1"),
        ("/some/deep/prefix/CP-1", "CP-1"),
        ("/ocpp//CP-1", "CP-1"),
        ("/ocpp/CP-1?token=abc", "CP-1"),
        ("/ocpp/CP-1#frag", "CP-1"),
        ("/ocpp/CP%2D1", "CP-1"),
        ("/ocpp/x*-_=+|@.y", "x*-_=+|@.y"),
        ("/ocpp/CP.1", "CP.1"),
        ("/ocpp/%2A", "*"),
        ("/ocpp/" + "A" * 48, "A" * 48),
    ],
)
def test_station_id_from_path(path: str, expected: str) -> None:
    assert station_id_from_path(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/",
        "//",
        "/ocpp/" + "A" * 49,
        "/ocpp/CP 1",
        "/ocpp/CP%201",
        "/ocpp/CP%2F1",  # an encoded slash must not smuggle a path segment
        "/ocpp/%00",
        "/ocpp/caf%C3%A9",
        "/ocpp/<script>",
        "/ocpp/a%",
        "/ocpp/..%2F..%2Fetc",
        # The id is the last segment: no id at all is not the prefix's name.
        "/ocpp/",
        "/ocpp/CP-1/",
        "/ocpp/?x=1",
        # Dot segments anywhere: a path a proxy may resolve elsewhere.
        "/ocpp/../../etc/passwd",
        "/../CP-1",
        "/ocpp/%2E%2E/CP-1",
        "/ocpp/.",
        "/ocpp/..",
        # ':' is identifierString but cannot be an HTTP Basic user name (A00).
        "/ocpp/a:b",
        "/ocpp/a%3Ab",
    ],
)
def test_invalid_station_ids(path: str) -> None:
    assert station_id_from_path(path) is None


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (["ocpp1.6"], OcppVersion.V16),
        (["ocpp2.0.1"], OcppVersion.V201),
        (["ocpp2.1"], OcppVersion.V21),
        (["ocpp1.6", "ocpp2.0.1"], OcppVersion.V201),
        (["ocpp1.6", "ocpp2.0.1", "ocpp2.1"], OcppVersion.V21),
        (["ocpp2.1", "ocpp1.6"], OcppVersion.V21),
        (["OCPP1.6"], OcppVersion.V16),
        ([" ocpp2.0.1 "], OcppVersion.V201),
        (["ocpp2.0", "ocpp1.6"], OcppVersion.V16),
        (["ocpp1.5", "ocpp2.0", "json"], None),
        ([], None),
        ([""], None),
    ],
)
def test_choose_subprotocol(offered: list[str], expected: OcppVersion | None) -> None:
    assert choose_subprotocol(offered) is expected


def test_preference_is_newest_first() -> None:
    assert handshake.PREFERENCE == (OcppVersion.V21, OcppVersion.V201, OcppVersion.V16)


def _basic(raw: str) -> str:
    return "Basic " + base64.b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (_basic("CP-1:secret"), ("CP-1", "secret")),
        (_basic("CP-1:pa:ss:word"), ("CP-1", "pa:ss:word")),
        (_basic("CP-1:"), ("CP-1", "")),
        (_basic(":pw"), ("", "pw")),
        ("basic " + base64.b64encode(b"a:b").decode(), ("a", "b")),
        ("BASIC " + base64.b64encode(b"a:b").decode(), ("a", "b")),
        (_basic("CP-1:p\u00e4ss"), ("CP-1", "p\u00e4ss")),
    ],
)
def test_basic_credentials(header: str, expected: tuple[str, str]) -> None:
    assert basic_credentials(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic",
        "Basic ",
        "Bearer abc",
        _basic("no-colon"),
        "Basic not*base64!",
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Digest username=x",
    ],
)
def test_basic_credentials_rejects(header: str | None) -> None:
    assert basic_credentials(header) is None


PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]


def test_client_address_without_proxies_ignores_header() -> None:
    assert client_address("198.51.100.7", "1.2.3.4", []) == "198.51.100.7"
    assert client_address("198.51.100.7", None, PROXIES) == "198.51.100.7"
    assert client_address(None, None, []) == "unknown"


def test_untrusted_peer_cannot_set_forwarded_for() -> None:
    assert client_address("198.51.100.7", "1.2.3.4", PROXIES) == "198.51.100.7"


def test_trusted_proxy_forwards_client() -> None:
    assert client_address("10.0.0.2", "203.0.113.9", PROXIES) == "203.0.113.9"
    assert client_address("fd00::1", "2001:db8::5", PROXIES) == "2001:db8::5"


def test_forwarded_for_is_not_spoofable() -> None:
    # The client sends its own X-Forwarded-For; the trusted proxy appends the real peer.
    spoofed = "6.6.6.6, 203.0.113.9"
    assert client_address("10.0.0.2", spoofed, PROXIES) == "203.0.113.9"


def test_forwarded_for_through_a_chain_of_trusted_proxies() -> None:
    chain = "6.6.6.6, 203.0.113.9, 10.1.1.1, 10.2.2.2"
    assert client_address("10.0.0.2", chain, PROXIES) == "203.0.113.9"


def test_forwarded_for_with_only_trusted_hops_gives_the_leftmost() -> None:
    assert client_address("10.0.0.2", "10.9.9.9, 10.1.1.1", PROXIES) == "10.9.9.9"


def test_forwarded_for_garbage_is_not_trusted_as_a_proxy() -> None:
    assert client_address("10.0.0.2", "garbage", PROXIES) == "garbage"
    assert client_address("10.0.0.2", " , ,", PROXIES) == "10.0.0.2"
    assert client_address("not-an-ip", "1.2.3.4", PROXIES) == "not-an-ip"
