"""Request and response bodies of the station control routes (reset, availability,
unlock, trigger) and of the raw command's helpers (action list, validation)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ampyre.api.routes._common import INT32_MAX
from ampyre.services.station_port import ResetKind, ResetWhen, Trigger

_EVSE = "EVSE id (1.6: the connector id); 0 or left out: the whole station"
_CONNECTOR = "connector id within the EVSE (1.6: equal to evse_id)"


class ResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ResetKind = Field(
        description="soft: end transactions gracefully, then restart; hard: restart at "
        "once (1.6 Hard; 2.x has no hard reset and sends Immediate)"
    )
    when: ResetWhen = Field(
        ResetWhen.IMMEDIATE,
        description="immediate, or on_idle: once no transaction runs (2.x OnIdle; 422 for "
        "1.6 and for a hard reset)",
    )
    evse_id: int | None = Field(
        None, ge=1, le=INT32_MAX, description="2.x: reset only this EVSE (422 for 1.6)"
    )


class AvailabilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operative: StrictBool = Field(description="true: Operative, false: Inoperative")
    evse_id: int | None = Field(None, ge=0, le=INT32_MAX, description=_EVSE)
    connector_id: int | None = Field(None, ge=1, le=INT32_MAX, description=_CONNECTOR)


class UnlockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evse_id: int = Field(ge=1, le=INT32_MAX, description="EVSE id (1.6: the connector id)")
    connector_id: int = Field(ge=1, le=INT32_MAX, description=_CONNECTOR)


class TriggerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Trigger = Field(
        description="the message to send now, by its OCPP name; 422 if the station's "
        "version has no such trigger (see GET .../ocpp-actions `trigger_messages`)"
    )
    evse_id: int | None = Field(None, ge=0, le=INT32_MAX, description=_EVSE)
    connector_id: int | None = Field(None, ge=1, le=INT32_MAX, description=_CONNECTOR)


class AvailabilityChangeOut(BaseModel):
    id: int
    evse_id: int | None = Field(description="null: the whole station")
    connector_id: int | None
    operative: bool
    state: str = Field(description="scheduled (waiting for a transaction to end) or applied")
    requested_at: datetime
    applied_at: datetime | None


class AvailabilityChangePage(BaseModel):
    items: list[AvailabilityChangeOut]
    total: int
    limit: int
    offset: int


class DataTransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vendor_id: str = Field(min_length=1, max_length=255, description="the vendor's id")
    message_id: str | None = Field(None, min_length=1, max_length=50)
    data: Any = Field(
        None, description="any JSON value for 2.x; a string for 1.6 (else 422, nothing sent)"
    )


class TransactionStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transaction_id: str | None = Field(
        None,
        min_length=1,
        max_length=36,
        description="the station's transaction id (2.x transactionId); left out: only "
        "whether the station has queued transaction messages",
    )


class TransactionStatusOut(BaseModel):
    status: str = Field(description="'ok' (the answer has no status field)")
    ongoing: bool | None = Field(description="ongoingIndicator: the transaction still runs")
    messages_in_queue: bool | None = Field(
        description="messagesInQueue: the station still has transaction messages to send"
    )
    response: dict[str, Any]


class OcppActionsOut(BaseModel):
    station_id: str
    ocpp_version: str = Field(description="the version the lists are for", examples=["ocpp1.6"])
    connected: bool
    actions: list[str] = Field(
        description="actions a CSMS sends to a station of this version, sorted"
    )
    typed_endpoints: dict[str, str] = Field(
        description="actions the raw endpoint refuses, with the endpoint that sends them"
    )
    trigger_messages: list[str] = Field(
        description="what POST .../trigger can ask a station of this version for"
    )


class ValidOut(BaseModel):
    valid: bool = True
    ocpp_version: str
