"""The port through which the configuration service reads and changes a station's
configuration, in domain terms (protocol/configuration.py implements it per OCPP version:
1.6 GetConfiguration/ChangeConfiguration, 2.x GetVariables/SetVariables/GetBaseReport/
GetReport)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ampyre.domain.device_model import ReportKind, VariableRef, VariableResult
from ampyre.services.station_port import Answer


@dataclass(slots=True, frozen=True)
class ConfigAnswer:
    """The station's answer to a get or a set: `answer` says whether it answered at all
    (not_connected / timeout / error), `results` one entry per attribute asked for
    (for a 1.6 read of all keys: one per key the station has). `unknown` lists the 1.6
    keys the station does not know."""

    answer: Answer
    results: list[VariableResult] = field(default_factory=list)


class ConfigurationCommands(Protocol):
    def connected_version(self, station_id: str) -> str | None: ...

    async def read(
        self, station_id: str, refs: Sequence[VariableRef] | None, timeout: float
    ) -> ConfigAnswer:
        """1.6 GetConfiguration (refs None: every key); 2.x GetVariables (refs needed).
        Raises NotAddressable when the station's version cannot name a ref."""
        ...

    async def change(
        self, station_id: str, changes: Sequence[tuple[VariableRef, str]], timeout: float
    ) -> ConfigAnswer:
        """1.6 one ChangeConfiguration per key (stops at the first that gets no
        answer); 2.x one SetVariables. Raises NotAddressable as `read` does."""
        ...

    async def request_report(
        self,
        station_id: str,
        request_id: int,
        kind: ReportKind,
        criteria: dict[str, Any],
        timeout: float,
    ) -> Answer:
        """2.x GetBaseReport (FULL/CONFIGURATION/SUMMARY) or GetReport (CUSTOM with
        criteria {"components": [...], "component_criteria": [...]}). Raises
        NotAddressable for 1.6."""
        ...
