"""What the configuration service needs from persistence (adapters/db/configuration.py
implements it; tests use a fake)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ampyre.domain.device_model import ConfigReport, ReportState, StationVariable
from ampyre.domain.models import Page


@dataclass(slots=True, frozen=True)
class VariableQuery:
    """Which stored attributes to list; None = any. `text` is a case-insensitive
    substring of the component, its instance, the variable or the value."""

    station_id: str | None = None
    station_ids: Sequence[str] | None = None
    component: str | None = None
    variable: str | None = None
    evse_id: int | None = None
    value: str | None = None
    text: str | None = None


class ConfigurationStore(Protocol):
    async def save_variables(self, variables: Sequence[StationVariable]) -> None: ...

    async def replace_keys(
        self, station_id: str, variables: Sequence[StationVariable], report_id: int
    ) -> None:
        """A complete 1.6 key list: store it; the station's keys not in it are removed."""
        ...

    async def list_variables(self, query: VariableQuery, limit: int, offset: int) -> Page:
        """items: StationVariable, by station and address."""
        ...

    async def matching_stations(
        self,
        station_ids: Sequence[str] | None,
        vendor: str | None,
        model: str | None,
        firmware_version: str | None,
    ) -> tuple[list[str], list[str]]:
        """The stations of a bulk change: (matching ids, in the order given when ids are
        given; ids given that name no station at all). `station_ids` None: every station
        that matches the other criteria."""
        ...

    async def create_report(self, report: ConfigReport) -> ConfigReport:
        """Stored with its id (and requestId) set."""
        ...

    async def set_state(
        self, report_id: int, state: ReportState, at: datetime | None, detail: str | None = None
    ) -> None:
        """The request's answer; only a report still `requested` changes."""
        ...

    async def record_part(
        self,
        station_id: str,
        request_id: int,
        seq_no: int,
        tbc: bool,
        at: datetime,
        variables: Sequence[StationVariable],
    ) -> ConfigReport: ...

    async def expire_reports(self, cutoff: datetime, at: datetime) -> int: ...

    async def get_report(self, station_id: str, report_id: int) -> ConfigReport | None: ...

    async def list_reports(self, station_id: str, limit: int, offset: int) -> Page:
        """items: ConfigReport, newest first."""
        ...
