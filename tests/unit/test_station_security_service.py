"""The station security service with fakes around it: a rotation's outcome by the
station's answer, superseded rotations, an upgrade refused on the way, completion when
the gateway reports the reconnection."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from ampyre.config import Settings
from ampyre.domain.device_model import ChangeStatus as VarStatus
from ampyre.domain.device_model import VariableRef, VariableResult
from ampyre.domain.models import Page, Station
from ampyre.services.configuration import Setting
from ampyre.services.configuration_port import ConfigAnswer
from ampyre.services.configuration_store import VariableQuery
from ampyre.services.network_profiles import NetworkProfile
from ampyre.services.station_control import InvalidCommand
from ampyre.services.station_port import Answer, ResetKind, ResetWhen
from ampyre.services.station_security import StationNotConnected, StationSecurityService
from ampyre.services.station_security_port import (
    OPEN,
    ChangeKind,
    ChangeStatus,
    SecurityChange,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)


class FakeStore:
    def __init__(self, station: Station) -> None:
        self.station = station
        self.changes: list[SecurityChange] = []

    async def get_station(self, station_id: str) -> Station | None:
        return self.station if station_id == self.station.id else None

    async def add_change(self, change: SecurityChange) -> SecurityChange:
        change.id = len(self.changes) + 1
        self.changes.append(dataclasses.replace(change))
        return change

    async def settle(self, change_id: int, status: ChangeStatus, at: datetime, **kw: Any) -> bool:
        change = self.changes[change_id - 1]
        allowed = OPEN if status is not ChangeStatus.ACCEPTED else (ChangeStatus.SENT,)
        if change.status not in allowed:
            return False
        change.status = status
        change.detail = kw.get("detail") or change.detail
        return True

    async def open_changes(self, station_id: str, kind: ChangeKind) -> list[SecurityChange]:
        return [c for c in self.changes if c.kind is kind and c.status in OPEN]

    async def list_changes(self, station_id: str, limit: int, offset: int) -> Page:
        return Page(list(reversed(self.changes)), len(self.changes), limit, offset)

    async def set_pending_password(self, station_id: str, password_hash: str | None) -> None:
        self.station.pending_password_hash = password_hash

    async def promote_pending_password(self, station_id: str) -> bool:
        if self.station.pending_password_hash is None:
            return False
        self.station.password_hash = self.station.pending_password_hash
        self.station.pending_password_hash = None
        return True

    async def set_connection_profile(self, station_id: str, profile: int) -> None:
        self.station.connection_profile = profile

    async def raise_configured_profile(self, station_id: str, profile: int) -> None:
        if (self.station.security_profile or 0) < profile:
            self.station.security_profile = profile


class FakeDevice:
    """Configuration, network profiles and resets of one station."""

    def __init__(self, version: str | None) -> None:
        self.version = version
        self.answers: dict[str, str] = {}  # variable or key -> station status
        self.sent: list[Any] = []

    def connected_version(self, station_id: str) -> str | None:
        return self.version

    async def change(
        self, station_id: str, settings: Sequence[Setting], timeout: float | None = None
    ) -> ConfigAnswer:
        s = settings[0]
        name = s.key if self.version == "ocpp1.6" else s.variable
        self.sent.append((name, s.value))
        status = self.answers.get(str(name), "Accepted")
        if status == "timeout":
            return ConfigAnswer(Answer("timeout", detail="no answer"))
        var = VarStatus.ACCEPTED if status == "Accepted" else VarStatus.REJECTED
        return ConfigAnswer(
            Answer("ok"), [VariableResult(VariableRef(str(name)), var, station_status=status)]
        )

    async def variables(self, query: VariableQuery, limit: int, offset: int) -> Page:
        return Page([], 0, limit, offset)

    async def set(
        self, station_id: str, slot: int, profile: NetworkProfile, timeout: float | None = None
    ) -> tuple[Answer, object | None]:
        self.sent.append(("SetNetworkProfile", slot, profile.csms_url))
        status = self.answers.get("SetNetworkProfile", "Accepted")
        return Answer(status.lower(), station_answer=status), None

    async def reset(
        self, station_id: str, kind: ResetKind, when: ResetWhen, evse_id: int | None, t: float
    ) -> Answer:
        self.sent.append(("Reset", when))
        return Answer("accepted", station_answer="Accepted")


def _service(
    version: str | None, **station: Any
) -> tuple[StationSecurityService, FakeStore, FakeDevice]:
    store = FakeStore(Station(id="CS1", password_hash="old", **station))
    device = FakeDevice(version)
    service = StationSecurityService(
        store,
        store,
        device,
        device,
        device,
        Settings(),
        tls_url=lambda: "wss://csms:9443/ocpp",
        clock=lambda: NOW,
    )
    return service, store, device


async def test_rotation_outcomes() -> None:
    service, store, device = _service("ocpp2.0.1")
    first = await service.rotate_password("CS1", requested_by="op")
    assert first.change.status is ChangeStatus.ACCEPTED and store.station.pending_password_hash
    assert device.sent[-1] == ("BasicAuthPassword", first.password)
    first_hash = store.station.pending_password_hash
    # A refused second rotation leaves the first one pending (the station may use it).
    device.answers["BasicAuthPassword"] = "Rejected"
    second = await service.rotate_password("CS1", password="x" * 16)
    assert second.change.status is ChangeStatus.REJECTED
    assert store.changes[0].status is ChangeStatus.ACCEPTED
    assert store.station.pending_password_hash == first_hash
    device.answers["BasicAuthPassword"] = "timeout"
    third = await service.rotate_password("CS1")
    assert third.change.status is ChangeStatus.FAILED
    assert store.station.pending_password_hash == first_hash
    # An accepted one supersedes it.
    device.answers.clear()
    await service.rotate_password("CS1")
    assert store.changes[0].status is ChangeStatus.FAILED
    assert store.changes[0].detail == "superseded"
    assert store.station.pending_password_hash not in (None, first_hash)


async def test_v16_rotation_sends_hex_and_completes_on_reconnect() -> None:
    service, store, device = _service("ocpp1.6", connection_profile=1)
    result = await service.rotate_password("CS1", password="p" * 16)
    assert device.sent[-1] == ("AuthorizationKey", ("p" * 16).encode().hex())
    pending = store.station.pending_password_hash
    await service.connection_admitted("CS1", 1, True, 1, None)
    assert store.station.password_hash == pending and store.station.pending_password_hash is None
    assert store.changes[-1].status is ChangeStatus.COMPLETED
    assert result.change.id == store.changes[-1].id


async def test_upgrade_refusals_and_completion() -> None:
    service, store, device = _service("ocpp2.0.1", security_profile=2, connection_profile=2)
    with pytest.raises(InvalidCommand):
        await service.upgrade_profile("CS1", 2)  # not higher
    device.answers["SetNetworkProfile"] = "Rejected"
    refused = await service.upgrade_profile("CS1", 3)
    assert refused.status is ChangeStatus.REJECTED and "SetNetworkProfile" in (refused.detail or "")
    device.answers.clear()
    change = await service.upgrade_profile("CS1", 3, slot=2)
    assert change.status is ChangeStatus.ACCEPTED
    assert ("SetNetworkProfile", 2, "wss://csms:9443/ocpp") in device.sent
    assert ("NetworkConfigurationPriority", "2") in device.sent
    assert ("Reset", ResetWhen.ON_IDLE) in device.sent
    await service.connection_admitted("CS1", 2, False, 2, 2)  # not yet
    assert store.changes[-1].status is ChangeStatus.ACCEPTED
    await service.connection_admitted("CS1", 3, False, 2, 2)
    assert store.changes[-1].status is ChangeStatus.COMPLETED
    assert (store.station.security_profile, store.station.connection_profile) == (3, 3)
    overview = await service.overview("CS1")
    assert overview.open_changes == [] and overview.history is not None


async def test_not_connected() -> None:
    service, _, _ = _service(None)
    with pytest.raises(StationNotConnected):
        await service.rotate_password("CS1")
    with pytest.raises(StationNotConnected):
        await service.upgrade_profile("CS1", 2)
