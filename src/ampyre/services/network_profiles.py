"""Network connection profiles of 2.x stations (OCPP 2.0.1 B09, B10): where a station
connects, with which security profile, over which interface. Ampyre checks a profile
before it is sent (the station would answer Rejected without saying why) and keeps each
attempt with the station's answer; secrets (passwords, VPN keys, SIM PIN) are never kept.
Which slot a station uses is its OCPPCommCtrlr.NetworkConfigurationPriority variable,
read and set with the configuration service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from ampyre.domain.models import Page
from ampyre.domain.secrets import redact
from ampyre.services.clock import utcnow
from ampyre.services.station_control import InvalidCommand
from ampyre.services.station_port import Answer, StationCommands

INTERFACES: Final = tuple(f"{kind}{n}" for kind in ("Wired", "Wireless") for n in range(4))
URL_MAX: Final = {"ocpp2.0.1": 512, "ocpp2.1": 2000}


@dataclass(slots=True, frozen=True)
class NetworkProfile:
    """NetworkConnectionProfileType in domain terms. `apn` / `vpn` are passed as given
    (their schema is checked when the command is sent)."""

    csms_url: str
    security_profile: int
    interface: str = "Wired0"
    message_timeout: int = 30
    ocpp_version: str = "OCPP20"
    transport: str = "JSON"
    apn: dict[str, Any] | None = None
    vpn: dict[str, Any] | None = None
    identity: str | None = None  # 2.1 only
    basic_auth_password: str | None = None  # 2.1 only

    def validate(self, station_version: str, current_security: int | None) -> None:
        """InvalidCommand with the field at fault. Security profiles (Part 2 A00): 1 is
        HTTP Basic without TLS (ws://), 2 TLS with Basic and 3 TLS with client
        certificates (wss://). A station never moves to a lower profile than the one it
        uses, so neither does Ampyre ask it to."""
        if self.security_profile not in (1, 2, 3):
            raise InvalidCommand("security_profile is 1, 2 or 3", "security_profile")
        parts = urlsplit(self.csms_url)
        scheme = "ws" if self.security_profile == 1 else "wss"
        if parts.scheme != scheme or not parts.hostname:
            raise InvalidCommand(
                f"security profile {self.security_profile} connects to a {scheme}:// URL "
                f"with a host (got {self.csms_url!r})",
                "csms_url",
            )
        limit = URL_MAX.get(station_version, 512)
        if len(self.csms_url) > limit:
            raise InvalidCommand(f"csms_url has at most {limit} characters", "csms_url")
        if current_security is not None and self.security_profile < current_security:
            raise InvalidCommand(
                f"the station uses security profile {current_security}: it cannot be moved "
                f"to profile {self.security_profile}",
                "security_profile",
            )
        if not 1 <= self.message_timeout <= 3600:
            raise InvalidCommand("message_timeout is 1..3600 seconds", "message_timeout")
        if self.interface not in INTERFACES:
            raise InvalidCommand(f"interface is one of {', '.join(INTERFACES)}", "interface")
        if station_version == "ocpp2.0.1":
            if self.ocpp_version != "OCPP20":
                raise InvalidCommand("a 2.0.1 station connects with OCPP20", "ocpp_version")
            if self.identity is not None or self.basic_auth_password is not None:
                raise InvalidCommand(
                    "identity and basic_auth_password are OCPP 2.1 fields", "identity"
                )
        elif self.ocpp_version not in ("OCPP20", "OCPP201", "OCPP21"):
            raise InvalidCommand("ocpp_version is OCPP20, OCPP201 or OCPP21", "ocpp_version")
        if self.transport != "JSON":
            raise InvalidCommand("OCPP-J stations connect with transport JSON", "transport")

    def payload(self) -> dict[str, Any]:
        """connectionData (2.0.1 / 2.1 NetworkConnectionProfileType)."""
        out: dict[str, Any] = {
            "ocppVersion": self.ocpp_version,
            "ocppTransport": self.transport,
            "ocppCsmsUrl": self.csms_url,
            "messageTimeout": self.message_timeout,
            "securityProfile": self.security_profile,
            "ocppInterface": self.interface,
        }
        if self.apn is not None:
            out["apn"] = self.apn
        if self.vpn is not None:
            out["vpn"] = self.vpn
        if self.identity is not None:
            out["identity"] = self.identity
        if self.basic_auth_password is not None:
            out["basicAuthPassword"] = self.basic_auth_password
        return out


@dataclass(slots=True)
class ProfileAttempt:
    station_id: str
    slot: int
    profile: dict[str, Any]  # connectionData with secrets masked
    status: str  # the answer's status in lower case, or not_connected / timeout / error
    station_status: str | None
    requested_at: datetime
    id: int | None = None
    detail: str | None = None


class ProfileStore(Protocol):
    async def add_attempt(self, attempt: ProfileAttempt) -> ProfileAttempt: ...

    async def list_attempts(self, station_id: str, limit: int, offset: int) -> Page: ...


class SecurityLookup(Protocol):
    async def __call__(self, station_id: str) -> int | None: ...


class NetworkProfileService:
    def __init__(
        self,
        store: ProfileStore,
        commands: StationCommands,
        current_security: SecurityLookup,
        call_timeout: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._commands = commands
        self._current_security = current_security
        self._call_timeout = call_timeout
        self._clock = clock

    async def set(
        self, station_id: str, slot: int, profile: NetworkProfile, timeout: float | None = None
    ) -> tuple[Answer, ProfileAttempt | None]:
        """Check, send SetNetworkProfile, keep the attempt. InvalidCommand when the
        profile is wrong; NotAddressable for a 1.6 station (it has no network profiles:
        its security extension's SecurityProfile key is set as configuration)."""
        if slot < 0 or slot > 2**31 - 1:
            raise InvalidCommand("configuration_slot is 0 or more", "configuration_slot")
        version = self._commands.connected_version(station_id)
        if version is None:
            return Answer("not_connected", detail="the station is not connected"), None
        profile.validate(version, await self._current_security(station_id))
        wait = timeout if timeout is not None else self._call_timeout
        answer = await self._commands.set_network_profile(station_id, slot, profile.payload(), wait)
        if answer.status == "not_connected":
            return answer, None
        attempt = await self._store.add_attempt(
            ProfileAttempt(
                station_id=station_id,
                slot=slot,
                profile=redact(profile.payload()),
                status=answer.status,
                station_status=answer.station_answer,
                requested_at=self._clock(),
                detail=answer.detail,
            )
        )
        return answer, attempt

    async def attempts(self, station_id: str, limit: int, offset: int) -> Page:
        return await self._store.list_attempts(station_id, limit, offset)
