"""Display messages on stations (issue 17 part 6; OCPP 2.0.1/2.1 block O): set, list,
refresh from the station, clear. Ampyre keeps each station's messages as last known:
a message the station accepted (SetDisplayMessage), or reported (NotifyDisplayMessages
in answer to GetDisplayMessages, assembled by requestId until tbc is false). A refresh
of all messages replaces what was stored: messages the station no longer reports are
gone (expired or cleared on the station). 1.6 has no display messages (NotAddressable).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from ampyre.config import Settings
from ampyre.services.clock import utcnow
from ampyre.services.display_requests import (
    WAITING,
    PartKind,
    PartRequest,
    PartRequestStore,
    PartStatus,
    failed_status,
)
from ampyre.services.station_port import Answer


def _int32(value: int) -> bool:
    return -(2**31) <= value < 2**31


class Priority(enum.StrEnum):  # MessagePriorityEnumType
    ALWAYS_FRONT = "AlwaysFront"
    IN_FRONT = "InFront"
    NORMAL_CYCLE = "NormalCycle"


class MessageState(enum.StrEnum):  # MessageStateEnumType (2.0.1)
    CHARGING = "Charging"
    FAULTED = "Faulted"
    IDLE = "Idle"
    UNAVAILABLE = "Unavailable"


class MessageFormat(enum.StrEnum):  # MessageFormatEnumType (2.0.1)
    ASCII = "ASCII"
    HTML = "HTML"
    URI = "URI"
    UTF8 = "UTF8"


@dataclass(slots=True)
class DisplayMessage:
    station_id: str
    message_id: int
    priority: str
    content: str
    format: str = MessageFormat.UTF8.value
    language: str | None = None
    state: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    transaction_id: str | None = None
    source: str = "csms"  # "csms": set through Ampyre; "station": reported by it
    request_id: int | None = None
    updated_at: datetime | None = None


class DisplayStore(PartRequestStore, Protocol):
    async def put_display_message(self, message: DisplayMessage) -> None: ...
    async def delete_display_message(self, station_id: str, message_id: int) -> bool: ...
    async def list_display_messages(self, station_id: str) -> list[DisplayMessage]: ...
    async def keep_reported(self, station_id: str, request_id: int) -> int:
        """Delete the station's messages not reported by request `request_id`."""
        ...

    async def clear_display_messages(self, station_id: str) -> int: ...


class DisplayCommands(Protocol):
    def connected_version(self, station_id: str) -> str | None: ...
    async def set_display_message(
        self, station_id: str, message: DisplayMessage, timeout: float | None = None
    ) -> Answer:
        """Raises NotAddressable for a version without display messages."""
        ...

    async def get_display_messages(
        self, station_id: str, request_id: int, timeout: float | None = None
    ) -> Answer: ...
    async def clear_display_message(
        self, station_id: str, message_id: int, timeout: float | None = None
    ) -> Answer: ...


class DisplayService:
    def __init__(self, store: DisplayStore, commands: DisplayCommands, settings: Settings) -> None:
        self._store = store
        self._commands = commands
        self._settings = settings

    def now(self) -> datetime:
        return utcnow()

    def connected_version(self, station_id: str) -> str | None:
        return self._commands.connected_version(station_id)

    async def set(self, message: DisplayMessage, timeout: float | None = None) -> Answer:
        """SetDisplayMessage; stored once the station accepted it (OCPP 2.0.1 O06: a
        message with an id the station has replaces it)."""
        answer = await self._commands.set_display_message(message.station_id, message, timeout)
        if answer.status == "accepted":
            message.source = "csms"
            message.request_id = None
            message.updated_at = self.now()
            await self._store.put_display_message(message)
        return answer

    async def clear(self, station_id: str, message_id: int, timeout: float | None = None) -> Answer:
        """ClearDisplayMessage; Accepted or Unknown both mean the station no longer has
        it (O05), so it is removed from the stored state."""
        answer = await self._commands.clear_display_message(station_id, message_id, timeout)
        if answer.status in ("accepted", "unknown"):
            await self._store.delete_display_message(station_id, message_id)
        return answer

    async def list(self, station_id: str) -> list[DisplayMessage]:
        return await self._store.list_display_messages(station_id)

    async def refresh(
        self, station_id: str, timeout: float | None = None
    ) -> tuple[PartRequest, Answer]:
        """GetDisplayMessages for all messages; the parts arrive as NotifyDisplayMessages."""
        await self.expire()
        request = await self._store.create_part_request(
            PartRequest(
                id=0,
                station_id=station_id,
                kind=PartKind.DISPLAY_MESSAGES,
                status=PartStatus.REQUESTED,
                requested_at=self.now(),
            )
        )
        answer = await self._commands.get_display_messages(station_id, request.id, timeout)
        failed = failed_status(answer)
        status = failed or (
            PartStatus.ACCEPTED if answer.status == "accepted" else PartStatus.UNKNOWN
        )
        fresh = await self._store.settle_part_request(
            request.id,
            status,
            answer.station_answer,
            (answer.detail or "")[:512] or None,
            None if status == PartStatus.ACCEPTED else self.now(),
        )
        if fresh is not None and fresh.status == PartStatus.UNKNOWN:
            # GetDisplayMessages (O03) answered Unknown: no message matches, none stored.
            await self._store.clear_display_messages(station_id)
        return fresh or request, answer

    async def reported(
        self,
        station_id: str,
        request_id: int,
        messages: Sequence[DisplayMessage],
        tbc: bool,
    ) -> PartRequest | None:
        """One NotifyDisplayMessages part (durable before ack): its messages are stored;
        the last part (tbc false) removes the messages the station did not report."""
        await self.expire()
        request = await self._store.get_part_request(request_id)
        if (
            request is None
            or request.station_id != station_id
            or request.kind != PartKind.DISPLAY_MESSAGES
        ):
            request = None  # not ours (unsolicited or another CSMS): store the messages only
        now = self.now()
        kept_id = request_id if _int32(request_id) else None
        for message in messages:
            if not _int32(message.message_id):
                continue  # an id no column holds (nor could Ampyre address it)
            message.source, message.request_id, message.updated_at = "station", kept_id, now
            await self._store.put_display_message(message)
        if request is None:
            return None
        request.parts += 1
        request.last_part_at = now
        if request.status in WAITING:
            request.status = PartStatus.ACCEPTED
        if not tbc and request.status == PartStatus.ACCEPTED:
            request.status = PartStatus.COMPLETE
            request.finished_at = now
            await self._store.keep_reported(station_id, request_id)
        await self._store.update_part_request(request)
        return request

    async def get_request(self, request_id: int) -> PartRequest | None:
        await self.expire()
        found = await self._store.get_part_request(request_id)
        return found if found is not None and found.kind == PartKind.DISPLAY_MESSAGES else None

    async def expire(self) -> int:
        now = self.now()
        before = now - timedelta(seconds=self._settings.report_timeout)
        return await self._store.expire_part_requests(before, now)
