"""Network profiles are checked before they are sent (services/network_profiles.py)."""

from __future__ import annotations

import pytest

from ampyre.services.network_profiles import NetworkProfile
from ampyre.services.station_control import InvalidCommand

GOOD = NetworkProfile(csms_url="wss://csms.example.net/ocpp", security_profile=2)


def test_a_good_profile_and_its_payload() -> None:
    GOOD.validate("ocpp2.0.1", current_security=1)
    assert GOOD.payload() == {
        "ocppVersion": "OCPP20",
        "ocppTransport": "JSON",
        "ocppCsmsUrl": "wss://csms.example.net/ocpp",
        "messageTimeout": 30,
        "securityProfile": 2,
        "ocppInterface": "Wired0",
    }
    NetworkProfile("ws://10.0.0.1:9000/ocpp", 1).validate("ocpp2.1", None)
    NetworkProfile("wss://h/ocpp", 3, identity="CS1", ocpp_version="OCPP21").validate("ocpp2.1", 3)


@pytest.mark.parametrize(
    ("profile", "version", "current", "field"),
    [
        (NetworkProfile("wss://h/o", 1), "ocpp2.0.1", None, "csms_url"),
        (NetworkProfile("ws://h/o", 3), "ocpp2.0.1", None, "csms_url"),
        (NetworkProfile("https://h/o", 2), "ocpp2.0.1", None, "csms_url"),
        (NetworkProfile("wss://h/o", 0), "ocpp2.1", None, "security_profile"),
        (NetworkProfile("wss://h/o", 2), "ocpp2.0.1", 3, "security_profile"),
        (NetworkProfile("wss://h/" + "x" * 600, 2), "ocpp2.0.1", None, "csms_url"),
        (NetworkProfile("wss://h/o", 2, message_timeout=0), "ocpp2.0.1", None, "message_timeout"),
        (NetworkProfile("wss://h/o", 2, interface="Any"), "ocpp2.0.1", None, "interface"),
        (NetworkProfile("wss://h/o", 2, ocpp_version="OCPP21"), "ocpp2.0.1", None, "ocpp_version"),
        (NetworkProfile("wss://h/o", 2, identity="x"), "ocpp2.0.1", None, "identity"),
        (NetworkProfile("wss://h/o", 2, transport="SOAP"), "ocpp2.1", None, "transport"),
    ],
)
def test_what_is_refused(
    profile: NetworkProfile, version: str, current: int | None, field: str
) -> None:
    with pytest.raises(InvalidCommand) as caught:
        profile.validate(version, current)
    assert caught.value.field == field
