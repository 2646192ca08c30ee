"""The ports the charging-profile service uses: how stations are asked
(protocol/smart_charging.py) and where profiles, external limits and EV needs are kept
(adapters/db/charging_profiles.py). Services never see an action name or a payload."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ampyre.domain.charging_profiles import (
    ChargingProfile,
    CompositeSchedule,
    InstalledProfile,
    ProfileSource,
    Purpose,
    RateUnit,
)
from ampyre.domain.ev_needs import ChargingLimit, EvChargingNeeds, EvChargingSchedule
from ampyre.domain.models import Page
from ampyre.services.station_port import Answer


@dataclass(slots=True, frozen=True)
class ClearCriteria:
    """Which profiles a ClearChargingProfile is about (all None: every profile)."""

    profile_id: int | None = None
    evse_id: int | None = None
    purpose: Purpose | None = None
    stack_level: int | None = None


@dataclass(slots=True, frozen=True)
class RunningTransaction:
    transaction_id: str
    evse_id: int | None
    started_at: datetime | None


class ChargingProfileCommands(Protocol):
    """Block K in domain terms, for the station's connected version. Encoders raise
    NotAddressable for what the version cannot carry."""

    def connected_version(self, station_id: str) -> str | None: ...

    async def set_profile(
        self, station_id: str, evse_id: int, profile: ChargingProfile, timeout: float | None
    ) -> Answer:
        """status accepted / rejected, or not_connected / timeout / error."""
        ...

    async def clear_profiles(
        self, station_id: str, criteria: ClearCriteria, timeout: float | None
    ) -> Answer:
        """status accepted / unknown."""
        ...

    async def get_profiles(
        self, station_id: str, request_id: int, evse_id: int | None, timeout: float | None
    ) -> Answer:
        """status accepted / noprofiles; not_supported for 1.6."""
        ...

    async def get_composite(
        self,
        station_id: str,
        evse_id: int,
        duration: int,
        rate_unit: RateUnit,
        timeout: float | None,
    ) -> tuple[Answer, CompositeSchedule | None]: ...

    def profile_payload(self, version: str, profile: ChargingProfile) -> dict[str, Any]:
        """The chargingProfile of a remote start for a station of `version`."""
        ...


class ChargingProfileStore(Protocol):
    async def save_installed(self, item: InstalledProfile, replaces: Sequence[int] = ()) -> None:
        """Store a profile the station accepted, in place of the station's profiles
        with the ids in `replaces` (and of its own id)."""
        ...

    async def installed(
        self, station_id: str, evse_id: int | None = None
    ) -> list[InstalledProfile]:
        """What the station has (on the EVSE, when named), without TxProfiles of
        transactions that have ended."""
        ...

    async def list_installed(
        self,
        limit: int,
        offset: int,
        station_id: str | None = None,
        purpose: Purpose | None = None,
        source: ProfileSource | None = None,
    ) -> Page: ...

    async def remove_installed(self, station_id: str, criteria: ClearCriteria) -> int:
        """Forget the profiles a ClearChargingProfile cleared (never the station's own
        external constraints)."""
        ...

    async def reported(
        self,
        station_id: str,
        request_id: int,
        items: Sequence[InstalledProfile],
        final: bool,
        now: datetime,
    ) -> None:
        """A part of a ReportChargingProfiles: its profiles are confirmed (a profile
        Ampyre sent keeps its source); on the final part, the profiles not reported
        under `request_id` are forgotten."""
        ...

    async def save_limit(self, limit: ChargingLimit) -> None: ...

    async def clear_limit(
        self, station_id: str, source: str, evse_id: int | None, at: datetime
    ) -> None: ...

    async def limits(self, station_id: str, active_only: bool = False) -> list[ChargingLimit]: ...

    async def save_needs(self, needs: EvChargingNeeds) -> None: ...

    async def save_ev_schedule(self, schedule: EvChargingSchedule) -> None: ...

    async def ev_needs(
        self, station_id: str
    ) -> list[tuple[EvChargingNeeds | None, EvChargingSchedule | None]]:
        """The latest needs and EV schedule per EVSE."""
        ...

    async def running(self, station_id: str) -> list[RunningTransaction]:
        """The station's active transactions."""
        ...
