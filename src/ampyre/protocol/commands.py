"""The StationCommands port over OCPP: picks the codec of the station's connected
version, sends the encoded CALL through the CommandRouter and decodes the answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ampyre.domain.authz import AuthDecision, Reservation
from ampyre.protocol.codec import CommandCodec, Request, ask
from ampyre.protocol.ocpp16.commands import Codec16
from ampyre.protocol.ocpp21.commands import Codec21
from ampyre.protocol.ocpp201.commands import Codec201
from ampyre.services.commands import (
    CallOutcome,
    CommandRouter,
    StationNotConnected,
    UnknownAction,
)
from ampyre.services.station_port import (
    NOT_CONNECTED,
    NOT_SUPPORTED,
    Answer,
    ListEntry,
    ListVersionAnswer,
    ResetKind,
    ResetWhen,
    StartAnswer,
    TransactionStatusAnswer,
    Trigger,
)


def default_codecs() -> dict[str, CommandCodec]:
    codecs: list[CommandCodec] = [Codec16(), Codec201(), Codec21()]
    return {c.version.value: c for c in codecs}


class OcppStationCommands:
    """StationCommands for the stations a CommandRouter reaches."""

    def __init__(
        self, router: CommandRouter, codecs: Mapping[str, CommandCodec] | None = None
    ) -> None:
        self._router = router
        self._codecs = dict(codecs) if codecs is not None else default_codecs()

    def connected_version(self, station_id: str) -> str | None:
        return self._router.ocpp_version(station_id)

    def codec(self, version: str) -> CommandCodec:
        found = self._codecs.get(version)
        if found is None:
            raise UnknownAction(f"Ampyre has no command codec for {version}")
        return found

    def entry_signature(self, version: str, decision: AuthDecision) -> str:
        return self.codec(version).entry_signature(decision)

    def _live_codec(self, station_id: str) -> CommandCodec | None:
        version = self._router.ocpp_version(station_id)
        return None if version is None else self.codec(version)

    # ---------------------------------------------------------------- raising commands

    async def start_charging(
        self,
        station_id: str,
        evse_id: int | None,
        id_token: str,
        token_type: str,
        remote_start_id: int,
        profile: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> StartAnswer:
        codec = self._live_codec(station_id)
        if codec is None:
            raise StationNotConnected(station_id)
        action, payload = codec.start(evse_id, id_token, token_type, remote_start_id, profile)
        outcome = await self._router.call(station_id, action, payload, timeout=timeout)
        running = codec.started_transaction(outcome.payload) if outcome.ok else None
        return StartAnswer(outcome, running)

    async def stop_charging(
        self, station_id: str, transaction_id: str, timeout: float | None = None
    ) -> CallOutcome:
        codec = self._live_codec(station_id)
        if codec is None:
            raise StationNotConnected(station_id)
        action, payload = codec.stop(transaction_id)
        return await self._router.call(station_id, action, payload, timeout=timeout)

    # ---------------------------------------------------------------- answering commands

    async def _simple(
        self, station_id: str, encode: Callable[[CommandCodec], Request], timeout: float | None
    ) -> Answer:
        codec = self._live_codec(station_id)
        if codec is None:
            return _not_connected()
        answer, _ = await ask(self._router, station_id, encode(codec), timeout)
        return answer

    async def send_local_list(
        self,
        station_id: str,
        version: int,
        full: bool,
        entries: Sequence[ListEntry],
        timeout: float | None = None,
    ) -> Answer:
        return await self._simple(
            station_id, lambda c: c.send_local_list(version, full, entries), timeout
        )

    async def clear_cache(self, station_id: str, timeout: float | None = None) -> Answer:
        return await self._simple(station_id, lambda c: c.clear_cache(), timeout)

    async def get_local_list_version(
        self, station_id: str, timeout: float | None = None
    ) -> ListVersionAnswer:
        codec = self._live_codec(station_id)
        if codec is None:
            return ListVersionAnswer(NOT_CONNECTED, detail="the station is not connected")
        answer, payload = await ask(
            self._router, station_id, codec.get_local_list_version(), timeout
        )
        version = codec.list_version(payload) if payload is not None else None
        return ListVersionAnswer(
            answer.status, answer.station_answer, answer.detail, answer.outcome, version
        )

    async def reserve(
        self, station_id: str, reservation: Reservation, timeout: float | None = None
    ) -> Answer:
        return await self._simple(station_id, lambda c: c.reserve(reservation), timeout)

    async def cancel_reservation(
        self, station_id: str, reservation_id: int, timeout: float | None = None
    ) -> Answer:
        return await self._simple(
            station_id, lambda c: c.cancel_reservation(reservation_id), timeout
        )

    async def transaction_status(
        self, station_id: str, transaction_id: str | None, timeout: float | None = None
    ) -> TransactionStatusAnswer:
        codec = self._live_codec(station_id)
        if codec is None:
            return TransactionStatusAnswer(NOT_CONNECTED, detail="the station is not connected")
        request = codec.transaction_status(transaction_id)
        if request is None:
            return TransactionStatusAnswer(
                NOT_SUPPORTED, detail=f"{codec.version.value} cannot be asked about a transaction"
            )
        answer, payload = await ask(self._router, station_id, request, timeout)
        ongoing, queued = (
            codec.transaction_status_answer(payload) if payload is not None else (None, None)
        )
        return TransactionStatusAnswer(
            answer.status, answer.station_answer, answer.detail, answer.outcome, ongoing, queued
        )

    async def trigger_message(
        self,
        station_id: str,
        message: Trigger,
        evse_id: int | None = None,
        connector_id: int | None = None,
        timeout: float | None = None,
    ) -> Answer:
        codec = self._live_codec(station_id)
        if codec is None:
            return _not_connected()
        request = codec.trigger(message, evse_id, connector_id)
        if request is None:
            return Answer(
                NOT_SUPPORTED, detail=f"{codec.version.value} has no {message.value} trigger"
            )
        answer, _ = await ask(self._router, station_id, request, timeout)
        return answer

    def trigger_messages(self, version: str) -> tuple[Trigger, ...]:
        return self.codec(version).triggers()

    async def reset(
        self,
        station_id: str,
        kind: ResetKind,
        when: ResetWhen = ResetWhen.IMMEDIATE,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> Answer:
        return await self._simple(station_id, lambda c: c.reset(kind, when, evse_id), timeout)

    async def change_availability(
        self,
        station_id: str,
        operative: bool,
        evse_id: int | None = None,
        connector_id: int | None = None,
        timeout: float | None = None,
    ) -> Answer:
        return await self._simple(
            station_id, lambda c: c.change_availability(operative, evse_id, connector_id), timeout
        )

    async def unlock(
        self, station_id: str, evse_id: int, connector_id: int, timeout: float | None = None
    ) -> Answer:
        return await self._simple(station_id, lambda c: c.unlock(evse_id, connector_id), timeout)

    async def set_network_profile(
        self, station_id: str, slot: int, connection: dict[str, Any], timeout: float | None = None
    ) -> Answer:
        return await self._simple(
            station_id, lambda c: c.set_network_profile(slot, connection), timeout
        )

    async def data_transfer(
        self,
        station_id: str,
        vendor_id: str,
        message_id: str | None,
        data: Any,
        timeout: float | None = None,
    ) -> Answer:
        return await self._simple(
            station_id, lambda c: c.data_transfer(vendor_id, message_id, data), timeout
        )


def _not_connected() -> Answer:
    return Answer(NOT_CONNECTED, detail="the station is not connected")
