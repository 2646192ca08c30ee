"""The ports of log requests, display messages and customer information
(services/logs.py, display.py, customer.py) over OCPP: encodes for the station's
connected version (1.6: protocol/ocpp16/logs.py; 2.0.1 and 2.1: protocol/ocpp201/...),
sends through the CommandRouter and folds every way of getting no answer into the
Answer's status (not_connected, timeout, error)."""

from __future__ import annotations

from ampyre.domain.models import OcppVersion
from ampyre.protocol.codec import Request, answer_status
from ampyre.protocol.ocpp16 import logs as logs16
from ampyre.protocol.ocpp201 import customer as customer201
from ampyre.protocol.ocpp201 import display as display201
from ampyre.protocol.ocpp201 import logs as logs201
from ampyre.services.commands import (
    CommandError,
    CommandRouter,
    CommandTimeout,
    InvalidPayload,
    StationNotConnected,
)
from ampyre.services.customer import CustomerSpec
from ampyre.services.display import DisplayMessage
from ampyre.services.logs import LogAnswer, LogSpec
from ampyre.services.station_port import ERROR, NOT_CONNECTED, TIMEOUT, Answer, NotAddressable


class OcppDeviceCommands:
    def __init__(self, router: CommandRouter) -> None:
        self._router = router

    def connected_version(self, station_id: str) -> str | None:
        return self._router.ocpp_version(station_id)

    async def _ask(self, station_id: str, request: Request, timeout: float | None) -> Answer:
        action, payload = request
        try:
            outcome = await self._router.call(station_id, action, payload, timeout=timeout)
        except InvalidPayload as exc:
            # Refused before sending (e.g. an id token type 2.0.1 does not know): the
            # request cannot be expressed in the station's version -> 422, nothing sent.
            raise NotAddressable(f"{action} refused by the OCPP schema: {exc}") from None
        except StationNotConnected:
            return _not_connected()
        except CommandTimeout:
            return Answer(TIMEOUT, detail=f"the station did not answer {action} in time")
        except CommandError as exc:
            return Answer(ERROR, detail=f"{action} could not be delivered: {exc}")
        if not outcome.ok:
            detail = f"the station answered {action} with {outcome.error_code}"
            return Answer(ERROR, outcome.error_code, detail, outcome)
        return Answer(outcome.status, answer_status(outcome.payload), outcome=outcome)

    def _v2(self, station_id: str, what: str) -> bool | None:
        """True for a 2.x station, None when not connected; NotAddressable for 1.6."""
        version = self._router.ocpp_version(station_id)
        if version is None:
            return None
        if version == OcppVersion.V16.value:
            raise NotAddressable(f"OCPP 1.6 has no {what}")
        return True

    async def get_log(
        self, station_id: str, spec: LogSpec, timeout: float | None = None
    ) -> LogAnswer:
        version = self._router.ocpp_version(station_id)
        if version is None:
            return LogAnswer(Answer(NOT_CONNECTED, detail="the station is not connected"))
        v16 = version == OcppVersion.V16.value
        request = logs16.get_log(spec) if v16 else logs201.get_log(spec)
        answer = await self._ask(station_id, request, timeout)
        decode = logs16.filename if v16 else logs201.filename
        return LogAnswer(answer, decode(request[0], answer.response))

    async def set_display_message(
        self, station_id: str, message: DisplayMessage, timeout: float | None = None
    ) -> Answer:
        if self._v2(station_id, "display messages") is None:
            return _not_connected()
        return await self._ask(station_id, display201.set_message(message), timeout)

    async def get_display_messages(
        self, station_id: str, request_id: int, timeout: float | None = None
    ) -> Answer:
        if self._v2(station_id, "display messages") is None:
            return _not_connected()
        return await self._ask(station_id, display201.get_messages(request_id), timeout)

    async def clear_display_message(
        self, station_id: str, message_id: int, timeout: float | None = None
    ) -> Answer:
        if self._v2(station_id, "display messages") is None:
            return _not_connected()
        return await self._ask(station_id, display201.clear_message(message_id), timeout)

    async def customer_information(
        self, station_id: str, request_id: int, spec: CustomerSpec, timeout: float | None = None
    ) -> Answer:
        if self._v2(station_id, "customer information") is None:
            return _not_connected()
        request = customer201.customer_information(request_id, spec)
        return await self._ask(station_id, request, timeout)


def _not_connected() -> Answer:
    return Answer(NOT_CONNECTED, detail="the station is not connected")
