"""Requests whose answer comes in several notifications (issue 17 parts 6 and 7):
GetDisplayMessages -> NotifyDisplayMessages, CustomerInformation ->
NotifyCustomerInformation. The record's id is the OCPP requestId; a request still
waiting for parts report_timeout seconds after its last one is closed as incomplete
(checked whenever requests are read or parts arrive, so any node can do it)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ampyre.services.station_port import Answer


class PartKind(enum.StrEnum):
    DISPLAY_MESSAGES = "display_messages"
    CUSTOMER_INFORMATION = "customer_information"


class PartStatus(enum.StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"  # waiting for (more) parts
    REJECTED = "rejected"
    UNKNOWN = "unknown"  # GetDisplayMessages: no message matches (nothing will come)
    NOT_CONNECTED = "not_connected"
    TIMED_OUT = "timed_out"  # no answer to the command in time
    ERROR = "error"
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"  # parts stopped coming before the last one


WAITING = frozenset({PartStatus.REQUESTED, PartStatus.ACCEPTED})


@dataclass(slots=True)
class PartRequest:
    id: int
    station_id: str
    kind: PartKind
    status: PartStatus
    requested_at: datetime
    params: dict[str, Any] = field(default_factory=dict)
    station_answer: str | None = None
    parts: int = 0
    last_part_at: datetime | None = None
    finished_at: datetime | None = None
    detail: str | None = None


class PartRequestStore(Protocol):
    async def create_part_request(self, request: PartRequest) -> PartRequest: ...
    async def get_part_request(self, request_id: int) -> PartRequest | None: ...
    async def update_part_request(self, request: PartRequest) -> None: ...
    async def settle_part_request(
        self,
        request_id: int,
        status: PartStatus,
        station_answer: str | None,
        detail: str | None,
        finished_at: datetime | None,
    ) -> PartRequest | None:
        """Record the answer to the command in one statement: station_answer always;
        status, detail and finished_at only while the request is still `requested` (a
        part that arrived before the answer was processed has moved it on)."""
        ...

    async def expire_part_requests(self, before: datetime, now: datetime) -> int:
        """Close as incomplete the accepted requests whose last part (or, without one,
        the request) is older than `before`."""
        ...


def failed_status(answer: Answer) -> PartStatus | None:
    """The status of a request whose command got no answer, or None."""
    if answer.status == "not_connected":
        return PartStatus.NOT_CONNECTED
    if answer.status == "timeout":
        return PartStatus.TIMED_OUT
    if answer.status == "error":
        return PartStatus.ERROR
    return None
