"""The simulated station's connection security (simulator/connection_security.py): which
URL, credentials and TLS it connects with, and its answers to credential changes."""

from __future__ import annotations

import base64

from ampyre.simulator import messages as m
from ampyre.simulator.connection_security import ConnectionSecurity, SecurityOps


def _ops(protocol: str, security: ConnectionSecurity) -> tuple[SecurityOps, list[int]]:
    reconnects: list[int] = []
    ops = SecurityOps(
        "CS1",
        protocol,
        m.StationState(protocol=protocol, station_id="CS1"),
        "ws://csms/ocpp",
        security,
        reconnect=lambda: reconnects.append(1),
    )
    return ops, reconnects


def test_v16_authorization_key_and_security_profile() -> None:
    ops, reconnects = _ops(
        "ocpp1.6", ConnectionSecurity(password="a" * 16, tls_url="wss://csms:9443/ocpp")
    )
    change = ops.handlers()["ChangeConfiguration"]
    assert ops.url() == "ws://csms/ocpp/CS1" and ops.ssl_context() is None
    assert change({"key": "AuthorizationKey", "value": "zz"})["status"] == "Rejected"
    assert change({"key": "AuthorizationKey", "value": "41" * 15})["status"] == "Rejected"
    assert change({"key": "AuthorizationKey", "value": "42" * 20})["status"] == "Accepted"
    assert ops.password == b"B" * 20 and reconnects == [1]
    auth = ops.headers()["Authorization"]
    assert base64.b64decode(auth.split()[1]) == b"CS1:" + b"B" * 20
    assert change({"key": "SecurityProfile", "value": "0"})["status"] == "Rejected"  # lower
    assert change({"key": "SecurityProfile", "value": "3"})["status"] == "Rejected"  # no cert
    assert change({"key": "SecurityProfile", "value": "2"})["status"] == "Accepted"
    assert ops.url() == "wss://csms:9443/ocpp/CS1" and ops.ssl_context() is not None
    # Other keys as before.
    assert change({"key": "HeartbeatInterval", "value": "30"})["status"] == "Accepted"


def test_v2x_password_and_network_profile() -> None:
    ops, reconnects = _ops("ocpp2.0.1", ConnectionSecurity(profile=1, password="p" * 16))
    set_variables = ops.handlers()["SetVariables"]
    item = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}
    short = set_variables({"setVariableData": [{**item, "attributeValue": "short"}]})
    assert short["setVariableResult"][0]["attributeStatus"] == "Rejected"
    both = set_variables(
        {
            "setVariableData": [
                {**item, "attributeValue": "n" * 20},
                {
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "NetworkConfigurationPriority"},
                    "attributeValue": "1,0",
                },
            ]
        }
    )
    assert [r["attributeStatus"] for r in both["setVariableResult"]] == ["Accepted"] * 2
    assert ops.password == b"n" * 20 and reconnects == [1]
    # The write-only password is never listed.
    assert ("SecurityCtrlr", "BasicAuthPassword") not in ops._state.variables
    # Slot 1 first in the priority, with a profile-3 network profile: used from now on.
    ops._state.network_profiles[1] = {"ocppCsmsUrl": "wss://new/ocpp", "securityProfile": 3}
    assert ops.url() == "wss://new/ocpp/CS1"
    assert ops.headers() == {}  # profile 3: the certificate authenticates
    assert ops._state.variables[("SecurityCtrlr", "SecurityProfile")][0] == "3"
