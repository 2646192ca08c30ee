"""A station's configuration, version-neutral (issue 17 part 1): read and change it,
request a full report of the 2.x device model, and store what the station says.

1.6 keys and 2.x attributes are one shape (domain/device_model.py). What a station
reports or answers is stored as it comes (durable before the NotifyReport's answer);
what an operator sets is stored once the station accepted it. Secrets (write-only
attributes, keys named like a password or key) are never stored: their value reads "***".
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from ampyre.config import Settings
from ampyre.domain.device_model import (
    HIDDEN,
    ChangeStatus,
    ConfigReport,
    ReportKind,
    ReportState,
    StationVariable,
    VariableRef,
    VariableResult,
)
from ampyre.domain.models import Page
from ampyre.domain.secrets import secret_setting
from ampyre.services.clock import utcnow
from ampyre.services.commands import StationNotConnected
from ampyre.services.configuration_port import ConfigAnswer, ConfigurationCommands
from ampyre.services.configuration_store import ConfigurationStore, VariableQuery
from ampyre.services.station_control import InvalidCommand
from ampyre.services.station_port import NOT_CONNECTED, TIMEOUT, Answer, NotAddressable

log = logging.getLogger(__name__)

_Item = TypeVar("_Item")

_STORED: Final = frozenset({ChangeStatus.ACCEPTED, ChangeStatus.REBOOT_REQUIRED})
# 2.x GetBaseReport/GetReport answer (GenericDeviceModelStatusEnumType) -> report state.
_REPORT_ANSWERS: Final = {
    "accepted": ReportState.RECEIVING,
    "rejected": ReportState.REJECTED,
    "notsupported": ReportState.NOT_SUPPORTED,
    "emptyresultset": ReportState.EMPTY,
}


@dataclass(slots=True, frozen=True)
class Setting:
    """One value to set, named for either version: `key` is the 1.6 configuration key
    (default: `variable` when no component is given), `component` + `variable` the 2.x
    variable. A fleet of mixed versions can be changed with one list."""

    value: str
    variable: str | None = None
    component: str | None = None
    key: str | None = None
    component_instance: str = ""
    variable_instance: str = ""
    evse_id: int = 0
    connector_id: int = 0
    attribute_type: str = "Actual"

    def ref(self, v16: bool) -> VariableRef:
        """The address in the station's version; NotAddressable if it has none there."""
        if v16:
            key = self.key or (self.variable if not self.component else None)
            if not key:
                raise NotAddressable(
                    f"OCPP 1.6 names configuration keys: give `key` for {self.component}."
                    f"{self.variable}"
                )
            return VariableRef(variable=key)
        if not (self.component and self.variable):
            raise NotAddressable(
                f"OCPP 2.x names a variable within its component: give `component` and "
                f"`variable` for {self.key or self.variable}"
            )
        return VariableRef(
            variable=self.variable,
            component=self.component,
            component_instance=self.component_instance,
            variable_instance=self.variable_instance,
            evse_id=self.evse_id,
            connector_id=self.connector_id,
            attribute_type=self.attribute_type,
        )


@dataclass(slots=True, frozen=True)
class StationOutcome:
    """One station's part of a bulk change."""

    station_id: str
    version: str | None
    status: str  # accepted, partial, rejected, not_addressable, not_connected, timeout, error
    results: list[VariableResult] = field(default_factory=list)
    detail: str | None = None


def is_v16(version: str) -> bool:
    return version == "ocpp1.6"


class ConfigurationService:
    def __init__(
        self,
        store: ConfigurationStore,
        commands: ConfigurationCommands,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._commands = commands
        self._settings = settings
        self._clock = clock
        self._sweeper: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- life cycle

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="reports")

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep(self) -> None:
        timeout = self._settings.report_timeout
        while True:
            await asyncio.sleep(min(10.0, max(0.05, timeout / 4)))
            try:
                await self.expire_reports()
            except Exception:  # the database may be down for a moment: next round
                log.warning("closing overdue configuration reports failed", exc_info=True)

    async def expire_reports(self) -> int:
        """Close reports whose next part is overdue as incomplete; how many."""
        now = self._clock()
        cutoff = now - timedelta(seconds=self._settings.report_timeout)
        return await self._store.expire_reports(cutoff, now)

    # ---------------------------------------------------------------- reads

    async def variables(self, query: VariableQuery, limit: int, offset: int) -> Page:
        return await self._store.list_variables(query, limit, offset)

    async def reports(self, station_id: str, limit: int, offset: int) -> Page:
        return await self._store.list_reports(station_id, limit, offset)

    async def report(self, station_id: str, report_id: int) -> ConfigReport | None:
        return await self._store.get_report(station_id, report_id)

    def connected_version(self, station_id: str) -> str | None:
        return self._commands.connected_version(station_id)

    async def security_profile(self, station_id: str) -> int | None:
        """SecurityCtrlr.SecurityProfile (2.x) or the 1.6 security extension's
        SecurityProfile key, as last known; None if unknown."""
        page = await self._store.list_variables(
            VariableQuery(station_id=station_id, variable="SecurityProfile"), 10, 0
        )
        for v in page.items:
            if v.ref.component in ("", "SecurityCtrlr") and (v.value or "").isdigit():
                return int(v.value or "0")
        return None

    # ---------------------------------------------------------------- commands

    def _wait(self, timeout: float | None) -> float:
        return timeout if timeout is not None else self._settings.call_timeout

    async def read(
        self, station_id: str, refs: Sequence[VariableRef] | None, timeout: float | None = None
    ) -> ConfigAnswer:
        """Ask the station for values now and store what it answers. 1.6 without refs
        reads every key (and is recorded as a report); 2.x needs refs (a whole device
        model comes with `request_report`)."""
        version = self._commands.connected_version(station_id)
        if version is None:
            return ConfigAnswer(Answer(NOT_CONNECTED, detail="the station is not connected"))
        if not refs:
            if not is_v16(version):
                raise InvalidCommand(
                    "name the variables to read; a whole OCPP 2.x device model comes with a "
                    "report (POST .../configuration/reports)",
                    "variables",
                )
            return (await self._read_all_keys(station_id, timeout))[1]
        wait = self._wait(timeout)
        limit = await self._items_per_message(station_id, version, "GetVariables")
        answer = await _in_chunks(
            list(refs), limit, lambda chunk: self._commands.read(station_id, chunk, wait)
        )
        await self._keep(station_id, answer.results, source="get")
        return answer

    async def _read_all_keys(
        self, station_id: str, timeout: float | None
    ) -> tuple[ConfigReport, ConfigAnswer]:
        now = self._clock()
        report = await self._store.create_report(
            ConfigReport(station_id, ReportKind.KEYS, ReportState.REQUESTED, now)
        )
        assert report.id is not None
        answer = await self._commands.read(station_id, None, self._wait(timeout))
        if not answer.answer.answered:
            state = ReportState.TIMEOUT if answer.answer.status == TIMEOUT else ReportState.FAILED
            await self._store.set_state(report.id, state, self._clock(), answer.answer.detail)
            return report, answer
        known = [r for r in answer.results if r.status is ChangeStatus.ACCEPTED]
        await self._store.replace_keys(
            station_id, [self._variable(station_id, r, "get") for r in known], report.id
        )
        state = ReportState.COMPLETE if known else ReportState.EMPTY
        await self._store.set_state(report.id, state, self._clock())
        return report, answer

    async def change(
        self,
        station_id: str,
        settings: Sequence[Setting],
        timeout: float | None = None,
    ) -> ConfigAnswer:
        """Set values; the accepted ones (and those that need a reboot) are stored.
        Raises NotAddressable if a setting has no name in the station's version."""
        if not settings:
            raise InvalidCommand("give at least one value to set", "values")
        version = self._commands.connected_version(station_id)
        if version is None:
            return ConfigAnswer(Answer(NOT_CONNECTED, detail="the station is not connected"))
        v16 = is_v16(version)
        changes = [(s.ref(v16), s.value) for s in settings]
        wait = self._wait(timeout)
        # 1.6 sends one ChangeConfiguration per key anyway.
        limit = None if v16 else await self._items_per_message(station_id, version, "SetVariables")
        answer = await _in_chunks(
            changes, limit, lambda chunk: self._commands.change(station_id, chunk, wait)
        )
        await self._keep(station_id, answer.results, source="set")
        return answer

    async def _items_per_message(self, station_id: str, version: str, action: str) -> int | None:
        """How many values one message may carry, as the station's stored configuration
        says: 2.x DeviceDataCtrlr.ItemsPerMessage[GetVariables|SetVariables] (2.0.1 Part 2
        B05/B06: more is refused with OccurrenceConstraintViolation), 1.6
        GetConfigurationMaxKeys (section 9.1); None when unknown."""
        if is_v16(version):
            component, variable, instance = "", "GetConfigurationMaxKeys", ""
        else:
            component, variable, instance = "DeviceDataCtrlr", "ItemsPerMessage", action
        page = await self._store.list_variables(
            VariableQuery(station_id=station_id, component=component, variable=variable), 10, 0
        )
        for v in page.items:
            if v.ref.variable_instance == instance and v.ref.attribute_type == "Actual":
                text = (v.value or "").strip()
                return int(text) if text.isdigit() and int(text) > 0 else None
        return None

    async def request_report(
        self,
        station_id: str,
        kind: ReportKind = ReportKind.FULL,
        criteria: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> tuple[ConfigReport, Answer]:
        """Ask for a report of the configuration: 2.x GetBaseReport / GetReport (the parts
        arrive later as NotifyReport), 1.6 GetConfiguration of every key (at once)."""
        version = self._commands.connected_version(station_id)
        if version is None:
            raise StationNotConnected(station_id)
        if is_v16(version):
            report, read = await self._read_all_keys(station_id, timeout)
            return await self._reread(report), read.answer
        if kind is ReportKind.KEYS or kind is ReportKind.UNREQUESTED:
            raise InvalidCommand(f"{kind.value} is not a report an OCPP 2.x station makes", "kind")
        now = self._clock()
        report = await self._store.create_report(
            ConfigReport(station_id, kind, ReportState.REQUESTED, now, criteria=criteria or {})
        )
        assert report.id is not None
        answer = await self._commands.request_report(
            station_id, report.id, kind, criteria or {}, self._wait(timeout)
        )
        if not answer.answered:
            state = ReportState.TIMEOUT if answer.status == TIMEOUT else ReportState.FAILED
            await self._store.set_state(report.id, state, self._clock(), answer.detail)
        else:
            state = _REPORT_ANSWERS.get(answer.status, ReportState.FAILED)
            if state is ReportState.RECEIVING:
                await self._store.set_state(report.id, state, None)
            else:  # the station's answer says why there is no report
                await self._store.set_state(report.id, state, self._clock(), answer.station_answer)
        return await self._reread(report), answer

    async def _reread(self, report: ConfigReport) -> ConfigReport:
        assert report.id is not None
        return await self._store.get_report(report.station_id, report.id) or report

    async def fleet(
        self,
        station_ids: Sequence[str] | None,
        vendor: str | None = None,
        model: str | None = None,
        firmware_version: str | None = None,
    ) -> tuple[list[str], list[str]]:
        """(stations a bulk change is for, given ids that name no station)."""
        return await self._store.matching_stations(station_ids, vendor, model, firmware_version)

    async def bulk_change(
        self,
        station_ids: Sequence[str],
        settings: Sequence[Setting],
        timeout: float | None = None,
        concurrency: int = 20,
    ) -> list[StationOutcome]:
        """The same settings on many stations, `concurrency` at a time; one outcome per
        station, in the order given. One station's failure never stops the others."""
        if not settings:
            raise InvalidCommand("give at least one value to set", "values")
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(station_id: str) -> StationOutcome:
            async with gate:
                return await self._one_of_many(station_id, settings, timeout)

        return list(await asyncio.gather(*(one(s) for s in dict.fromkeys(station_ids))))

    async def _one_of_many(
        self, station_id: str, settings: Sequence[Setting], timeout: float | None
    ) -> StationOutcome:
        version = self._commands.connected_version(station_id)
        try:
            answer = await self.change(station_id, settings, timeout)
        except NotAddressable as exc:
            return StationOutcome(station_id, version, "not_addressable", detail=str(exc))
        except Exception as exc:  # e.g. the database: this station's outcome, not all
            log.warning("bulk change on %s failed", station_id, exc_info=True)
            return StationOutcome(station_id, version, "error", detail=str(exc) or repr(exc))
        if not answer.answer.answered:
            return StationOutcome(
                station_id, version, answer.answer.status, detail=answer.answer.detail
            )
        stored = sum(r.status in _STORED for r in answer.results)
        status = (
            "accepted"
            if stored == len(answer.results)
            else "rejected"
            if stored == 0
            else "partial"
        )
        return StationOutcome(station_id, version, status, answer.results)

    # ---------------------------------------------------------------- from the station

    async def report_part(
        self,
        station_id: str,
        request_id: int,
        seq_no: int,
        tbc: bool,
        variables: Sequence[StationVariable],
    ) -> ConfigReport:
        """One NotifyReport part (durable when this returns)."""
        now = self._clock()
        kept = [_hide(dataclasses.replace(v, updated_at=now)) for v in variables]
        return await self._store.record_part(station_id, request_id, seq_no, tbc, now, kept)

    def now(self) -> datetime:
        return self._clock()

    # ---------------------------------------------------------------- helpers

    async def _keep(self, station_id: str, results: Sequence[VariableResult], source: str) -> None:
        # A set whose answer names something not asked for has no value to keep.
        kept = [
            self._variable(station_id, r, source)
            for r in results
            if r.status in _STORED and (r.value is not None or source != "set")
        ]
        await self._store.save_variables(kept)

    def _variable(self, station_id: str, r: VariableResult, source: str) -> StationVariable:
        return _hide(
            StationVariable(
                station_id=station_id,
                ref=r.ref,
                value=r.value,
                mutability=r.mutability,
                source=source,
                reboot_required=r.status is ChangeStatus.REBOOT_REQUIRED,
                updated_at=self._clock(),
            )
        )


async def _in_chunks(
    items: list[_Item],
    limit: int | None,
    send: Callable[[list[_Item]], Awaitable[ConfigAnswer]],
) -> ConfigAnswer:
    """`send` the items in messages of at most `limit`, one after the other; a message
    that gets no answer ends the run (the results so far are kept)."""
    if limit is None or len(items) <= limit:
        return await send(items)
    results: list[VariableResult] = []
    last = None
    for start in range(0, len(items), limit):
        last = await send(items[start : start + limit])
        if not last.answer.answered:
            return ConfigAnswer(last.answer, results)
        results.extend(last.results)
    assert last is not None
    return ConfigAnswer(last.answer, results)


def _hide(v: StationVariable) -> StationVariable:
    """The variable with its value masked if it is a secret (write-only, or named so)."""
    secret = v.mutability == "WriteOnly" or secret_setting(v.ref.variable)
    if not secret or v.value is None:
        return v
    return dataclasses.replace(v, value=HIDDEN)
