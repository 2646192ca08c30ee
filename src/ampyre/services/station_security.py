"""Security profiles per station and their credentials (issue 19): password rotation
(OCPP 2.0.1 A01: SetVariables SecurityCtrlr.BasicAuthPassword; 1.6 security whitepaper
A01: ChangeConfiguration AuthorizationKey, hex encoded) and security profile upgrades
(2.0.1 A05: SetNetworkProfile, NetworkConfigurationPriority, Reset; 1.6: the
SecurityProfile key), each tracked until the station reconnects with the new credentials.

A rotated password is kept as the station's pending password from the moment it is sent:
the station may answer and reconnect at once, and until it has used the new password the
old one still works (a station that did not store it is not locked out). The gateway tells
this service of each connection whose profile or credentials changed something
(`connection_admitted`); that completes the changes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets as random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol

from ampyre.config import Settings
from ampyre.domain.models import Page, Station
from ampyre.services import secrets
from ampyre.services.clock import utcnow
from ampyre.services.configuration import Setting
from ampyre.services.configuration_port import ConfigAnswer
from ampyre.services.configuration_store import VariableQuery
from ampyre.services.network_profiles import NetworkProfile
from ampyre.services.station_control import InvalidCommand
from ampyre.services.station_port import Answer, ResetKind, ResetWhen
from ampyre.services.station_security_port import (
    ChangeKind,
    ChangeStatus,
    SecurityChange,
    SecurityChangeStore,
)
from ampyre.services.stations import PASSWORD_MAX, PASSWORD_MIN, StationNotFound, validate_password

log = logging.getLogger(__name__)

# 1.6 security whitepaper A01 / OCTT TC_073: AuthorizationKey holds the hex of a 16..20
# byte password (at most 40 hex characters); the station sends the bytes themselves.
V16_PASSWORD_MIN, V16_PASSWORD_MAX = 16, 20
_ALPHABET: Final = string.ascii_letters + string.digits  # safe in every passwordString
GENERATED_LENGTH: Final = {True: 20, False: 32}  # by is-1.6
DETAIL_MAX = 512


class StationNotConnected(Exception):
    """The command needs the station connected."""


class ConfigurationPort(Protocol):
    """What this service uses of ConfigurationService."""

    def connected_version(self, station_id: str) -> str | None: ...

    async def change(
        self, station_id: str, settings: Sequence[Setting], timeout: float | None = None
    ) -> ConfigAnswer: ...

    async def variables(self, query: VariableQuery, limit: int, offset: int) -> Page: ...


class NetworkProfilesPort(Protocol):
    async def set(
        self, station_id: str, slot: int, profile: NetworkProfile, timeout: float | None = None
    ) -> tuple[Answer, object | None]: ...


class ResetPort(Protocol):
    async def reset(
        self,
        station_id: str,
        kind: ResetKind,
        when: ResetWhen,
        evse_id: int | None,
        timeout: float,
    ) -> Answer: ...


class StationLookup(Protocol):
    async def get_station(self, station_id: str) -> Station | None: ...


@dataclass(slots=True)
class SecurityOverview:
    station_id: str
    configured_profile: int | None
    connection_profile: int | None  # of the current (or last) connection
    connected: bool
    has_password: bool
    pending_password: bool
    open_changes: list[SecurityChange] = field(default_factory=list)
    history: Page | None = None


@dataclass(slots=True, frozen=True)
class RotationResult:
    change: SecurityChange
    password: str  # shown once: the API returns it, nothing stores it in clear


def generate_password(v16: bool) -> str:
    """A random password of OCPP's allowed shape: 20 characters for 1.6 (20 bytes, the
    whitepaper's AuthorizationKey maximum), 32 for 2.x (passwordString is 16..40)."""
    return "".join(random.choice(_ALPHABET) for _ in range(GENERATED_LENGTH[v16]))


def check_password(password: str, v16: bool) -> str:
    validate_password(password)  # printable ASCII, 16..40 (InvalidPassword: 422)
    if v16 and not V16_PASSWORD_MIN <= len(password.encode()) <= V16_PASSWORD_MAX:
        raise InvalidCommand(
            f"an OCPP 1.6 password is {V16_PASSWORD_MIN}..{V16_PASSWORD_MAX} bytes "
            "(AuthorizationKey holds at most 40 hex characters)",
            "password",
        )
    assert PASSWORD_MIN <= len(password) <= PASSWORD_MAX
    return password


class StationSecurityService:
    def __init__(
        self,
        store: SecurityChangeStore,
        stations: StationLookup,
        configuration: ConfigurationPort,
        network_profiles: NetworkProfilesPort,
        resets: ResetPort,
        settings: Settings,
        tls_url: Callable[[], str | None],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._stations = stations
        self._configuration = configuration
        self._network_profiles = network_profiles
        self._resets = resets
        self._settings = settings
        self._tls_url = tls_url  # the wss:// base URL stations reach our TLS listener at
        self._clock = clock

    def tls_url(self) -> str | None:
        """The wss:// base URL of this server's TLS listener (None without one)."""
        return self._tls_url()

    async def _station(self, station_id: str) -> Station:
        station = await self._stations.get_station(station_id)
        if station is None:
            raise StationNotFound(f"station {station_id!r} not found")
        return station

    def _version(self, station_id: str) -> str:
        version = self._configuration.connected_version(station_id)
        if version is None:
            raise StationNotConnected(f"station {station_id!r} is not connected")
        return version

    # ---------------------------------------------------------------- reading

    async def overview(self, station_id: str, limit: int = 20, offset: int = 0) -> SecurityOverview:
        station = await self._station(station_id)
        connected = self._configuration.connected_version(station_id) is not None
        open_changes = [
            *await self._store.open_changes(station_id, ChangeKind.PASSWORD),
            *await self._store.open_changes(station_id, ChangeKind.PROFILE),
        ]
        return SecurityOverview(
            station_id=station_id,
            configured_profile=station.security_profile,
            connection_profile=station.connection_profile,
            connected=connected,
            has_password=bool(station.password_hash),
            pending_password=bool(station.pending_password_hash),
            open_changes=sorted(open_changes, key=lambda c: c.id or 0),
            history=await self._store.list_changes(station_id, limit, offset),
        )

    # ---------------------------------------------------------------- password (A01)

    async def rotate_password(
        self,
        station_id: str,
        password: str | None = None,
        requested_by: str | None = None,
        timeout: float | None = None,
    ) -> RotationResult:
        """Send a new password (given, or generated) and keep it pending until the
        station connects with it. InvalidPassword / InvalidCommand for a password of the
        wrong shape, StationNotConnected."""
        station = await self._station(station_id)
        v16 = self._version(station_id) == "ocpp1.6"
        password = check_password(password, v16) if password else generate_password(v16)
        digest = await asyncio.to_thread(secrets.hash_password, password)
        now = self._clock()
        earlier = await self._store.open_changes(station_id, ChangeKind.PASSWORD)
        previous = station.pending_password_hash
        # Pending before it is sent: the station may reconnect with it at once.
        await self._store.set_pending_password(station_id, digest)
        change = await self._store.add_change(
            SecurityChange(
                station_id, ChangeKind.PASSWORD, ChangeStatus.SENT, now, requested_by=requested_by
            )
        )
        # 1.6 whitepaper A01.FR.02: ChangeConfiguration AuthorizationKey, hex encoded;
        # 2.0.1 A01: SetVariables SecurityCtrlr.BasicAuthPassword.
        value = password.encode().hex() if v16 else password
        setting = Setting(
            value=value,
            component="SecurityCtrlr",
            variable="BasicAuthPassword",
            key="AuthorizationKey",
        )
        answer = await self._configuration.change(station_id, [setting], timeout)
        status, station_status, detail = _outcome(answer)
        assert change.id is not None
        settled = await self._store.settle(
            change.id, status, self._clock(), station_status=station_status, detail=detail
        )
        if status is ChangeStatus.ACCEPTED and settled:
            for old in earlier:  # the station holds the new one now
                assert old.id is not None
                await self._store.settle(old.id, ChangeStatus.FAILED, now, detail="superseded")
        elif settled:
            # Not taken: an earlier rotation the station accepted may still be used.
            await self._store.set_pending_password(station_id, previous)
        if settled:
            change.status, change.station_status, change.detail = status, station_status, detail
        else:  # completed meanwhile (the station reconnected with it before we got here)
            change.status = ChangeStatus.COMPLETED
        log.info("%s: password rotation %s (%s)", station_id, change.status.value, detail or "")
        return RotationResult(change, password)

    # ---------------------------------------------------------------- profile (A05)

    async def upgrade_profile(
        self,
        station_id: str,
        profile: int,
        csms_url: str | None = None,
        slot: int | None = None,
        requested_by: str | None = None,
        timeout: float | None = None,
    ) -> SecurityChange:
        """Move a station to a higher security profile; complete when it reconnects with
        it (then its configured profile is raised). InvalidCommand if the profile is not
        higher, or the CSMS cannot serve it; StationNotConnected."""
        station = await self._station(station_id)
        version = self._version(station_id)
        if profile not in (1, 2, 3):
            raise InvalidCommand("profile is 1, 2 or 3", "profile")
        current = max(station.security_profile or 0, station.connection_profile or 0)
        if profile <= current:
            # 2.0.1 A05 / 1.6 whitepaper: a station never moves to a lower profile (and an
            # upgrade to the same one is no upgrade).
            raise InvalidCommand(
                f"the station is at security profile {current}: an upgrade goes higher",
                "profile",
            )
        if profile in (1, 2) and not station.password_hash:
            raise InvalidCommand(
                f"security profile {profile} authenticates with a password: set or rotate "
                "one first",
                "profile",
            )
        if profile >= 2 and not (csms_url or self._tls_url()):
            raise InvalidCommand(
                "security profiles 2 and 3 need TLS: set AMPYRE_OCPP_TLS_PORT or give csms_url",
                "profile",
            )
        now = self._clock()
        change = await self._store.add_change(
            SecurityChange(
                station_id,
                ChangeKind.PROFILE,
                ChangeStatus.SENT,
                now,
                target_profile=profile,
                requested_by=requested_by,
            )
        )
        if version == "ocpp1.6":
            # 1.6 whitepaper A05: ChangeConfiguration SecurityProfile; on Accepted the
            # Charge Point reconnects with the new profile.
            answer = await self._configuration.change(
                station_id, [Setting(value=str(profile), key="SecurityProfile")], timeout
            )
            status, station_status, detail = _outcome(answer)
        else:
            status, station_status, detail = await self._upgrade_2x(
                station_id, version, profile, csms_url, slot, timeout
            )
        assert change.id is not None
        if await self._store.settle(
            change.id, status, self._clock(), station_status=station_status, detail=detail
        ):
            change.status, change.station_status, change.detail = status, station_status, detail
        else:
            change.status = ChangeStatus.COMPLETED
        log.info(
            "%s: security profile upgrade to %d %s (%s)",
            station_id,
            profile,
            change.status.value,
            detail or "",
        )
        return change

    async def _upgrade_2x(
        self,
        station_id: str,
        version: str,
        profile: int,
        csms_url: str | None,
        slot: int | None,
        timeout: float | None,
    ) -> tuple[ChangeStatus, str | None, str | None]:
        """2.0.1 A05: SetNetworkProfile into a slot, that slot first in
        NetworkConfigurationPriority, then a Reset so the station reconnects with it."""
        base = self._plain_url() if profile == 1 else self._tls_url()
        url = csms_url or base
        assert url is not None
        priority = await self._priority(station_id)
        if slot is None:  # a slot the station does not use first
            slot = next(s for s in (1, 2, 0) if not priority or priority[0] != s)
        network = NetworkProfile(
            csms_url=url,
            security_profile=profile,
            ocpp_version="OCPP20" if version == "ocpp2.0.1" else "OCPP21",
        )
        answer, _ = await self._network_profiles.set(station_id, slot, network, timeout)
        if answer.status != "accepted":
            return _failed_step("SetNetworkProfile", answer)
        order = ",".join(str(s) for s in [slot, *(s for s in priority if s != slot)])
        set_priority = Setting(
            value=order, component="OCPPCommCtrlr", variable="NetworkConfigurationPriority"
        )
        status, station_status, detail = _outcome(
            await self._configuration.change(station_id, [set_priority], timeout)
        )
        if status is not ChangeStatus.ACCEPTED:
            return status, station_status, f"NetworkConfigurationPriority: {detail}"
        wait = timeout if timeout is not None else self._settings.call_timeout
        reset = await self._resets.reset(station_id, ResetKind.SOFT, ResetWhen.ON_IDLE, None, wait)
        if reset.status not in ("accepted", "scheduled"):
            return _failed_step("Reset", reset)
        return (
            ChangeStatus.ACCEPTED,
            reset.station_answer,
            f"slot {slot} ({url}), priority {order}, reset {reset.status}",
        )

    async def _priority(self, station_id: str) -> list[int]:
        page = await self._configuration.variables(
            VariableQuery(
                station_id=station_id,
                component="OCPPCommCtrlr",
                variable="NetworkConfigurationPriority",
            ),
            5,
            0,
        )
        for v in page.items:
            text = getattr(v, "value", None) or ""
            return [int(p) for p in text.split(",") if p.strip().isdigit()]
        return []

    def _plain_url(self) -> str:
        s = self._settings
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(s.host, s.host)
        return f"ws://{host}:{s.ocpp_port}/ocpp"

    # ---------------------------------------------------------------- connections

    async def connection_admitted(
        self,
        station_id: str,
        profile: int,
        pending_password: bool,
        previous: int | None,
        configured: int | None,
    ) -> None:
        """The gateway admitted a connection that changes something: a rotated password
        used (it becomes the password), a new profile (recorded; open upgrades to it or
        lower are complete and the configured profile is raised)."""
        now = self._clock()
        if pending_password and await self._store.promote_pending_password(station_id):
            for change in await self._store.open_changes(station_id, ChangeKind.PASSWORD):
                assert change.id is not None
                await self._store.settle(
                    change.id, ChangeStatus.COMPLETED, now, detail="reconnected with it"
                )
            log.info("%s: reconnected with its new password; the old one is void", station_id)
        if profile != previous:
            await self._store.set_connection_profile(station_id, profile)
        for change in await self._store.open_changes(station_id, ChangeKind.PROFILE):
            target = change.target_profile or 0
            if target <= profile:
                assert change.id is not None
                await self._store.settle(
                    change.id,
                    ChangeStatus.COMPLETED,
                    now,
                    detail=f"reconnected with security profile {profile}",
                )
                await self._store.raise_configured_profile(station_id, target)
                log.info("%s: now at security profile %d", station_id, target)


def _outcome(answer: ConfigAnswer) -> tuple[ChangeStatus, str | None, str | None]:
    if not answer.answer.answered:
        return ChangeStatus.FAILED, None, _clip(answer.answer.detail or answer.answer.status)
    if not answer.results:
        return ChangeStatus.FAILED, answer.answer.station_answer, "no result in the answer"
    result = answer.results[0]
    station_status = result.station_status
    if result.status.value in ("accepted", "reboot_required"):
        return ChangeStatus.ACCEPTED, station_status, _clip(result.detail)
    return ChangeStatus.REJECTED, station_status, _clip(result.detail or result.status.value)


def _failed_step(step: str, answer: Answer) -> tuple[ChangeStatus, str | None, str | None]:
    status = ChangeStatus.REJECTED if answer.answered else ChangeStatus.FAILED
    return status, answer.station_answer, _clip(f"{step}: {answer.detail or answer.status}")


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:DETAIL_MAX]
