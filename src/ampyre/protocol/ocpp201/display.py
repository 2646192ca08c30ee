"""OCPP 2.0.1 display messages (block O; 2.1 has the same messages): SetDisplayMessage,
GetDisplayMessages, ClearDisplayMessage, and the MessageInfo of NotifyDisplayMessages."""

from __future__ import annotations

from typing import Any

from ampyre.protocol.codec import Request
from ampyre.protocol.timefmt import from_ocpp, to_ocpp
from ampyre.services.display import DisplayMessage


def set_message(message: DisplayMessage) -> Request:
    content: dict[str, Any] = {"format": message.format, "content": message.content}
    if message.language:
        content["language"] = message.language
    info: dict[str, Any] = {"id": message.message_id, "priority": message.priority}
    if message.state:
        info["state"] = message.state
    if message.start_at is not None:
        info["startDateTime"] = to_ocpp(message.start_at)
    if message.end_at is not None:
        info["endDateTime"] = to_ocpp(message.end_at)
    if message.transaction_id:
        info["transactionId"] = message.transaction_id
    info["message"] = content
    return "SetDisplayMessage", {"message": info}


def get_messages(request_id: int) -> Request:
    return "GetDisplayMessages", {"requestId": request_id}


def clear_message(message_id: int) -> Request:
    return "ClearDisplayMessage", {"id": message_id}


def reported(station_id: str, info: dict[str, Any]) -> DisplayMessage:
    """A MessageInfoType from NotifyDisplayMessages (schema-checked before it gets here)."""
    content = info.get("message") or {}
    return DisplayMessage(
        station_id=station_id,
        message_id=int(info["id"]),
        priority=str(info.get("priority", "NormalCycle")),
        content=str(content.get("content", "")),
        format=str(content.get("format", "UTF8")),
        language=content.get("language"),
        state=info.get("state"),
        start_at=from_ocpp(info.get("startDateTime")),
        end_at=from_ocpp(info.get("endDateTime")),
        transaction_id=info.get("transactionId"),
        source="station",
    )
