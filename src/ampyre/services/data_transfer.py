"""Station DataTransfer (1.6 section 4.3, 2.0.1 P02): vendor-specific messages, routed
to the handler registered for their vendorId. Without one the answer is UnknownVendorId
(1.6: "the vendorId is not known"; 2.0.1 P02.FR.06 / DataTransferStatusEnumType), so a
station learns that nobody here speaks its extension. The bootstrap (or a plug-in it
composes) registers handlers; they see domain values, never an OCPP frame."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

VENDOR_ID_MAX: Final = 255


class DataTransferStatus(enum.StrEnum):
    # The same four values in 1.6 DataTransferStatus and 2.x DataTransferStatusEnumType.
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    UNKNOWN_MESSAGE_ID = "UnknownMessageId"
    UNKNOWN_VENDOR_ID = "UnknownVendorId"


@dataclass(slots=True, frozen=True)
class VendorMessage:
    station_id: str
    vendor_id: str
    message_id: str | None
    data: Any  # 1.6: a string or None; 2.x: any JSON value


@dataclass(slots=True, frozen=True)
class VendorReply:
    status: DataTransferStatus
    data: Any = None  # sent back as the answer's data when not None


VendorHandler = Callable[[VendorMessage], Awaitable[VendorReply]]


class DataTransferService:
    """A registry of vendor handlers, keyed by vendorId (compared case-insensitively:
    1.6 vendorId is CiString255Type)."""

    def __init__(self) -> None:
        self._handlers: dict[str, VendorHandler] = {}

    def register(self, vendor_id: str, handler: VendorHandler) -> None:
        """ValueError if the vendorId is empty, too long or already has a handler."""
        if not 1 <= len(vendor_id) <= VENDOR_ID_MAX:
            raise ValueError(f"a vendorId has 1..{VENDOR_ID_MAX} characters")
        key = vendor_id.casefold()
        if key in self._handlers:
            raise ValueError(f"vendorId {vendor_id!r} already has a handler")
        self._handlers[key] = handler

    def vendors(self) -> list[str]:
        return sorted(self._handlers)

    async def handle(self, message: VendorMessage) -> VendorReply:
        handler = self._handlers.get(message.vendor_id.casefold())
        if handler is None:
            return VendorReply(DataTransferStatus.UNKNOWN_VENDOR_ID)
        return await handler(message)
