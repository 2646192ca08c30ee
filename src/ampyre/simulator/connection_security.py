"""How a simulated station connects (issue 19): security profile 1 (HTTP Basic over ws),
2 (TLS + Basic) or 3 (TLS with a client certificate), and how it obeys the CSMS when the
credentials change:

* 1.6 ChangeConfiguration AuthorizationKey (hex of a 16..20 byte password, security
  whitepaper A01) / 2.x SetVariables SecurityCtrlr.BasicAuthPassword (2.0.1 A01):
  accepted, then the station reconnects with the new password;
* 1.6 ChangeConfiguration SecurityProfile (whitepaper A05): a higher profile it can use
  (a TLS URL, a certificate for 3) is accepted, then it reconnects with it;
* 2.x SetNetworkProfile + NetworkConfigurationPriority + Reset (2.0.1 A05): after the
  reboot it connects with the profile of the first slot in the priority that has one.
"""

from __future__ import annotations

import base64
import binascii
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ampyre.simulator import messages as m

PASSWORD_BYTES = (16, 20)  # 1.6 AuthorizationKey: 16..20 bytes (at most 40 hex digits)


@dataclass(slots=True, frozen=True)
class ConnectionSecurity:
    """`profile` 0: none, or 1 when a password is given; `cert`/`key` may hold `{id}`
    (one file per station: `certs/{id}.pem`); `tls_url`: the wss:// base URL a 1.6
    station moves to when the CSMS raises its profile to 2 or 3."""

    profile: int = 0
    password: str | None = None
    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    tls_url: str | None = None

    def check(self) -> None:
        if self.profile not in (0, 1, 2, 3):
            raise ValueError("--security-profile is 0, 1, 2 or 3")
        if self.profile in (1, 2) and not self.password:
            raise ValueError(f"security profile {self.profile} needs --password")
        if self.profile == 3 and not (self.cert and self.key):
            raise ValueError("security profile 3 needs --cert and --key")


class SecurityOps:
    """One station's connection security: what to connect to, with which credentials,
    and its answers to the CSMS's credential changes."""

    def __init__(
        self,
        station_id: str,
        protocol: str,
        state: m.StationState,
        base_url: str,
        security: ConnectionSecurity,
        reconnect: Callable[[], None],
    ) -> None:
        self.station_id = station_id
        self.v16 = m.is_v16(protocol)
        self._state = state
        self._base_url = base_url
        self._reconnect = reconnect
        self.password: bytes | None = None
        self.profile = 0
        self.cert: str | None = None
        self.key: str | None = None
        self.ca: str | None = None
        self.tls_url: str | None = None
        self.configure(security)
        self.passwords_changed = 0
        self.profiles_changed = 0

    def configure(self, security: ConnectionSecurity) -> None:
        s = security
        self.password = s.password.encode() if s.password else None
        self.profile = s.profile or (1 if s.password else 0)
        self.cert = s.cert.replace("{id}", self.station_id) if s.cert else None
        self.key = s.key.replace("{id}", self.station_id) if s.key else None
        self.ca = s.ca
        self.tls_url = s.tls_url
        self._publish()

    def _publish(self) -> None:
        """What a CSMS reads: the security profile (a station without one keeps the
        defaults). The password (AuthorizationKey, BasicAuthPassword) is write-only: it
        is answered when set, never listed."""
        if self.profile:
            self._state.config16["SecurityProfile"] = (str(self.profile), False)
            self._state.variables[("SecurityCtrlr", "SecurityProfile")] = (
                str(self.profile),
                True,
            )

    # ---- connecting

    def _network_profile(self) -> dict[str, Any] | None:
        """2.x: the connection data of the first slot in NetworkConfigurationPriority."""
        if self.v16:
            return None
        priority = self._state.variables.get(("OCPPCommCtrlr", "NetworkConfigurationPriority"))
        for part in (priority[0] if priority else "").split(","):
            if part.strip().isdigit():
                data = self._state.network_profiles.get(int(part))
                if data is not None:
                    return data
                break  # the first slot has none: the station's own configuration
        return None

    def target(self) -> tuple[str, int]:
        """(base URL, security profile) of the next connection."""
        data = self._network_profile()
        if data is not None:
            profile = int(data.get("securityProfile", self.profile))
            if profile != self.profile:
                self.profile = profile
                self._publish()
            return str(data["ocppCsmsUrl"]), profile
        if self.profile >= 2 and self.tls_url:
            return self.tls_url, self.profile
        return self._base_url, self.profile

    def url(self) -> str:
        return f"{self.target()[0].rstrip('/')}/{self.station_id}"

    def headers(self) -> dict[str, str]:
        """HTTP Basic for profiles 1 and 2 (user name = station identity)."""
        _, profile = self.target()
        if self.password is None or profile == 3:
            return {}
        raw = self.station_id.encode() + b":" + self.password
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def ssl_context(self) -> ssl.SSLContext | None:
        base, profile = self.target()
        if not base.startswith("wss://"):
            return None
        ctx = ssl.create_default_context(cafile=self.ca)
        if profile == 3 and self.cert and self.key:
            ctx.load_cert_chain(self.cert, self.key)
        return ctx

    # ---- the CSMS changes credentials

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], m.Payload]]:
        if self.v16:
            return {"ChangeConfiguration": self._change_configuration}
        return {"SetVariables": self._set_variables}

    def _change_configuration(self, payload: dict[str, Any]) -> m.Payload:
        key = str(payload.get("key", ""))
        value = str(payload.get("value", ""))
        if key == "AuthorizationKey":
            try:
                password = binascii.unhexlify(value)
            except (binascii.Error, ValueError):
                return {"status": "Rejected"}
            if not PASSWORD_BYTES[0] <= len(password) <= PASSWORD_BYTES[1]:
                return {"status": "Rejected"}
            self._new_password(password)
            return {"status": "Accepted"}
        if key == "SecurityProfile":
            if not value.isdigit() or not self._can_use(int(value)):
                return {"status": "Rejected"}
            self.profile = int(value)
            self.profiles_changed += 1
            self._publish()
            self._reconnect()
            return {"status": "Accepted"}
        return m.answer_call(self._state, "ChangeConfiguration", payload)

    def _can_use(self, profile: int) -> bool:
        """1.6 whitepaper: no lower profile; 2/3 need a TLS URL, 3 a certificate."""
        if profile < self.profile or profile > 3:
            return False
        if profile >= 2 and not (self.tls_url or self._base_url.startswith("wss://")):
            return False
        return profile != 3 or bool(self.cert and self.key)

    def _set_variables(self, payload: dict[str, Any]) -> m.Payload:
        """SecurityCtrlr.BasicAuthPassword is answered here (write-only, 2.0.1 A01: a
        passwordString of 16..40 characters); everything else as the station always does."""
        items = list(payload.get("setVariableData", []))
        mine = [i for i in items if _names(i) == ("SecurityCtrlr", "BasicAuthPassword")]
        others = [i for i in items if i not in mine]
        answer = m.answer_call(self._state, "SetVariables", {"setVariableData": others})
        results: list[m.Payload] = list(answer.get("setVariableResult", []))
        for item in mine:
            password = str(item.get("attributeValue", ""))
            ok = 16 <= len(password) <= 40 and item.get("attributeType", "Actual") == "Actual"
            results.append(
                {
                    "component": item.get("component", {}),
                    "variable": item.get("variable", {}),
                    "attributeStatus": "Accepted" if ok else "Rejected",
                }
            )
            if ok:
                self._new_password(password.encode())
        return {"setVariableResult": results}

    def _new_password(self, password: bytes) -> None:
        self.password = password
        self.passwords_changed += 1
        self._reconnect()  # 1.6 whitepaper A01 step 3: disconnect, reconnect with it


def _names(item: dict[str, Any]) -> tuple[Any, Any]:
    return (item.get("component") or {}).get("name"), (item.get("variable") or {}).get("name")
