"""The ConfigurationCommands port over OCPP: the station's connected version picks the
encoding (1.6 configuration keys, 2.0.1 / 2.1 device model), the CommandRouter carries
the CALL to whichever node holds the station."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ampyre.domain.device_model import ReportKind, VariableRef, VariableResult
from ampyre.domain.models import OcppVersion
from ampyre.protocol.codec import ask
from ampyre.protocol.ocpp16 import configuration as v16
from ampyre.protocol.ocpp201 import configuration as v2
from ampyre.protocol.session import Handler
from ampyre.services.commands import CommandRouter
from ampyre.services.configuration import ConfigurationService
from ampyre.services.configuration_port import ConfigAnswer
from ampyre.services.station_port import NOT_CONNECTED, Answer, NotAddressable

# SetVariableDataType.attributeValue maxLength per version.
_SET_VALUE_MAX: Final = {"ocpp2.0.1": 1000, "ocpp2.1": 2500}


class OcppConfigurationCommands:
    def __init__(self, router: CommandRouter) -> None:
        self._router = router

    def connected_version(self, station_id: str) -> str | None:
        return self._router.ocpp_version(station_id)

    async def read(
        self, station_id: str, refs: Sequence[VariableRef] | None, timeout: float
    ) -> ConfigAnswer:
        version = self.connected_version(station_id)
        if version is None:
            return _offline()
        if version == "ocpp1.6":
            answer, payload = await ask(self._router, station_id, v16.get_request(refs), timeout)
            return ConfigAnswer(answer, v16.get_results(payload) if payload is not None else [])
        if not refs:
            raise NotAddressable("OCPP 2.x reads named variables (GetVariables)")
        answer, payload = await ask(self._router, station_id, v2.get_request(refs), timeout)
        return ConfigAnswer(answer, v2.get_results(payload) if payload is not None else [])

    async def change(
        self, station_id: str, changes: Sequence[tuple[VariableRef, str]], timeout: float
    ) -> ConfigAnswer:
        version = self.connected_version(station_id)
        if version is None:
            return _offline()
        if version == "ocpp1.6":
            return await self._change_keys(station_id, changes, timeout)
        request = v2.set_request(changes, _SET_VALUE_MAX.get(version, 1000))
        answer, payload = await ask(self._router, station_id, request, timeout)
        return ConfigAnswer(answer, v2.set_results(payload, changes) if payload else [])

    async def _change_keys(
        self, station_id: str, changes: Sequence[tuple[VariableRef, str]], timeout: float
    ) -> ConfigAnswer:
        # 1.6 changes one key per ChangeConfiguration: encode all first (nothing is sent
        # if one cannot be), then send in order; a key that gets no answer ends the run.
        requests = [v16.change_request(ref, value) for ref, value in changes]
        results: list[VariableResult] = []
        last = Answer("ok")
        for (ref, value), request in zip(changes, requests, strict=True):
            last, payload = await ask(self._router, station_id, request, timeout)
            if payload is None:
                return ConfigAnswer(last, results)
            results.append(v16.change_result(ref, value, payload))
        return ConfigAnswer(last, results)

    async def request_report(
        self,
        station_id: str,
        request_id: int,
        kind: ReportKind,
        criteria: dict[str, Any],
        timeout: float,
    ) -> Answer:
        version = self.connected_version(station_id)
        if version is None:
            return _offline().answer
        if version == "ocpp1.6":
            raise NotAddressable("OCPP 1.6 has no device-model reports (GetConfiguration)")
        answer, _ = await ask(
            self._router, station_id, v2.report_request(request_id, kind, criteria), timeout
        )
        return answer


def _offline() -> ConfigAnswer:
    return ConfigAnswer(Answer(NOT_CONNECTED, detail="the station is not connected"))


def handlers(svc: ConfigurationService) -> dict[OcppVersion, dict[str, Handler]]:
    """Station -> CSMS configuration messages per version (1.6 has none: a 1.6 station
    only answers GetConfiguration)."""
    calls = v2.handlers(svc)
    return {OcppVersion.V201: calls, OcppVersion.V21: calls}
