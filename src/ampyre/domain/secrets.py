"""Which parts of an OCPP payload are secrets, by shape, for every version and direction
(the message log, the operator audit trail and stored configuration mask them).

* a field whose name says so: password, passphrase, secret, simPin, a private/API/
  authorization key, an access/auth/bearer token (`idToken` is an identifier: kept);
* a name/value pair that configures one (1.6 ChangeConfiguration and GetConfiguration's
  configurationKey: `{"key": "AuthorizationKey", "value": ...}`, OCPP-J 1.6 security
  whitepaper, `AuthorizationKey` is write-only);
* a 2.x variable that holds one (SetVariables' `SecurityCtrlr.BasicAuthPassword`,
  OCPP 2.0.1 Part 2 A00.FR.205: the password is write-only; the 2.1 NetworkConfiguration
  variables `ApnPassword`, `VpnPassword`, `VpnKey`): its attributeValue / value;
* the `key` of a VPN in SetNetworkProfile's connectionData (its shared secret; B09).
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

# Field names (lower case, without "_" and "-") that hold a secret.
_SECRET_NAME = re.compile(
    r"password|passwd|passphrase|secret|simpin|privatekey|authorizationkey|apikey|vpnkey"
    r"|sharedkey|^key$|(?<!id)token$"
)
# Variable / configuration key names that hold a secret (value of "name" / "key").
_SECRET_SETTING = re.compile(r"password|passphrase|secret|pin$|key$", re.IGNORECASE)


def _secret_name(name: str) -> bool:
    return _SECRET_NAME.search(name.lower().replace("_", "").replace("-", "")) is not None


def _secret_setting(name: Any) -> bool:
    return isinstance(name, str) and _SECRET_SETTING.search(name) is not None


def secret_setting(name: str) -> bool:
    """Whether a 1.6 configuration key or a 2.x variable of this name holds a secret."""
    return _secret_setting(name)


def redact(value: Any) -> Any:
    """A copy of a JSON value with every secret replaced by MASK (input left as it is)."""
    if isinstance(value, list):
        return [redact(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    pair = "key" in value and "value" in value and isinstance(value["key"], str)
    for name, item in value.items():
        if pair:
            # A configuration key: the name is not the secret, the value may be.
            if name == "key":
                out[name] = item
                continue
            if name == "value":
                out[name] = MASK if _secret_setting(value["key"]) else redact(item)
                continue
        if name == "key" and not isinstance(item, str):
            out[name] = redact(item)  # 1.6 GetConfiguration: a list of names
        elif isinstance(name, str) and _secret_name(name) and item is not None:
            out[name] = MASK
        else:
            out[name] = redact(item)
    variable = value.get("variable")
    if isinstance(variable, dict) and _secret_setting(variable.get("name")):
        if "attributeValue" in out:
            out["attributeValue"] = MASK
        attributes = out.get("variableAttribute")
        if isinstance(attributes, list):
            out["variableAttribute"] = [
                {**a, "value": MASK} if isinstance(a, dict) and "value" in a else a
                for a in attributes
            ]
    return out
