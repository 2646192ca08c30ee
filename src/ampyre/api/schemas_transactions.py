"""JSON shapes of the transaction endpoints (what the OpenAPI document describes)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ampyre.api.routes._common import API_PREFIX
from ampyre.domain.authz import IdTokenType
from ampyre.domain.transactions import (
    EventRecord,
    StoredMeterValue,
    Transaction,
    TransactionStatus,
)


class TransactionOut(BaseModel):
    id: int = Field(description="Ampyre's transaction id (use it in this API)")
    station_id: str
    transaction_id: str = Field(
        description="the id the station knows: its own string in 2.x, issued by Ampyre in 1.6"
    )
    status: TransactionStatus
    ocpp_version: str | None = None
    evse_id: int | None = Field(None, description="OCPP 1.6: equals the connector id")
    connector_id: int | None = None
    id_token: str | None = None
    id_token_type: str | None = None
    auth_status: str | None = Field(None, description="what Ampyre answered for the id token")
    started_at: datetime | None = Field(None, description="earliest event time (station clock)")
    ended_at: datetime | None = None
    start_seen: bool = Field(
        description="false when the start never arrived and the transaction was "
        "reconstructed from later messages"
    )
    stop_reason: str | None = Field(
        None,
        description="as the station reported it; Ampyre's own closes use NotOngoing, "
        "ConnectorIdle or Superseded, an operator's administrative close ClosedByOperator",
    )
    meter_start_wh: float | None = Field(
        None, description="earliest energy register reading (by meter timestamp)"
    )
    meter_start_at: datetime | None = None
    meter_stop_wh: float | None = Field(None, description="latest energy register reading")
    meter_stop_at: datetime | None = None
    energy_wh: float | None = Field(
        None, description="meter_stop_wh - meter_start_wh (by meter time, not arrival order)"
    )
    charging_state: str | None = None
    remote_start_id: int | None = None
    reservation_id: int | None = None
    offline: bool = Field(description="some message was sent while the station was offline")
    last_message_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    missing_seq_nos: list[int] = Field(
        default_factory=list,
        description="2.x seqNo values missing between 0 and the highest received",
    )
    meter_values_url: str = Field(description="where this transaction's meter values are")
    stale: bool = Field(
        False,
        description="active, and its station is not connected or has been silent for longer "
        "than AMPYRE_TRANSACTION_SILENCE_TIMEOUT: nobody may end it; an operator can "
        "close it (POST /transactions/{id}/close)",
    )
    station_connected: bool | None = Field(None, description="whether its station is connected")
    closed_by: str | None = Field(
        None, description="the API token name of the operator who closed it administratively"
    )
    close_reason: str | None = Field(None, description="the operator's reason for the close")
    closed_at: datetime | None = Field(None, description="when it was closed administratively")

    @classmethod
    def build(cls, t: Transaction, stale: bool = False) -> "TransactionOut":
        return cls(
            id=t.id,
            station_id=t.station_id,
            transaction_id=t.transaction_id,
            status=t.status,
            ocpp_version=t.ocpp_version,
            evse_id=t.evse_id,
            connector_id=t.connector_id,
            id_token=t.id_token,
            id_token_type=t.id_token_type,
            auth_status=t.auth_status,
            started_at=t.started_at,
            ended_at=t.ended_at,
            start_seen=t.start_seen,
            stop_reason=t.stop_reason,
            meter_start_wh=t.meter_start_wh,
            meter_start_at=t.meter_start_at,
            meter_stop_wh=t.meter_stop_wh,
            meter_stop_at=t.meter_stop_at,
            energy_wh=t.energy_wh,
            charging_state=t.charging_state,
            remote_start_id=t.remote_start_id,
            reservation_id=t.reservation_id,
            offline=t.offline,
            last_message_at=t.last_message_at,
            created_at=t.created_at,
            updated_at=t.updated_at,
            missing_seq_nos=list(t.missing_seq_nos),
            meter_values_url=f"{API_PREFIX}/transactions/{t.id}/meter-values",
            stale=stale,
            station_connected=t.station_connected,
            closed_by=t.closed_by,
            close_reason=t.close_reason,
            closed_at=t.closed_at,
        )


class TransactionPage(BaseModel):
    items: list[TransactionOut]
    total: int
    limit: int
    offset: int


class MeterValueOut(BaseModel):
    timestamp: datetime
    measurand: str
    phase: str | None = None
    location: str
    context: str
    unit: str = Field(description="as sent (spec default applied when absent)")
    multiplier: int = Field(description="2.x unitOfMeasure.multiplier (power of ten)")
    format: str | None = Field(None, description="1.6 Raw / SignedData")
    value: float | None = Field(None, description="numeric value as sent, null if not numeric")
    raw_value: str = Field(description="the value exactly as sent")
    signed: dict[str, Any] | None = Field(None, description="2.x signedMeterValue as sent")
    si_value: float | None = Field(None, description="value * 10^multiplier in the SI unit")
    si_unit: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    received_at: datetime

    @classmethod
    def build(cls, m: StoredMeterValue) -> "MeterValueOut":
        s = m.sample
        return cls(
            timestamp=m.timestamp,
            measurand=s.measurand,
            phase=s.phase or None,
            location=s.location,
            context=s.context,
            unit=s.unit,
            multiplier=s.multiplier,
            format=s.format,
            value=s.value,
            raw_value=s.raw_value,
            signed=s.signed,
            si_value=s.si_value,
            si_unit=s.si_unit,
            evse_id=m.evse_id,
            connector_id=m.connector_id,
            received_at=m.received_at,
        )


class MeterValuePage(BaseModel):
    items: list[MeterValueOut]
    total: int
    limit: int
    offset: int


class TransactionEventOut(BaseModel):
    kind: str = Field(description="Started, Updated or Ended")
    event_key: str = Field(description='"seq:N" for 2.x, "Started"/"Ended" for 1.6')
    seq_no: int | None = None
    timestamp: datetime
    trigger_reason: str | None = None
    charging_state: str | None = None
    offline: bool
    payload: dict[str, Any] = Field(description="the message as received")
    received_at: datetime

    @classmethod
    def build(cls, r: EventRecord) -> "TransactionEventOut":
        return cls(
            kind=r.kind,
            event_key=r.event_key,
            seq_no=r.seq_no,
            timestamp=r.timestamp,
            trigger_reason=r.trigger_reason,
            charging_state=r.charging_state,
            offline=r.offline,
            payload=r.payload,
            received_at=r.received_at,
        )


class TransactionEventList(BaseModel):
    items: list[TransactionEventOut] = Field(description="oldest first (by seqNo for 2.x)")
    total: int
    missing_seq_nos: list[int] = Field(default_factory=list)


class RemoteStartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_token: str = Field(
        min_length=1,
        max_length=255,
        description="1.6 idTag (at most 20 characters) / 2.x idToken (36; 2.1: 255)",
    )
    evse_id: int | None = Field(None, ge=1, description="2.x evseId; OCPP 1.6: the connectorId")
    id_token_type: IdTokenType | None = Field(
        None,
        description="2.x idToken type (default: the stored token's type, else Central); "
        "ignored for 1.6",
    )
    charging_profile: dict[str, Any] | None = Field(
        None,
        description="a TxProfile in Ampyre's profile shape (as POST .../charging-profile "
        "takes it; checked and sent in the station's version), or an OCPP chargingProfile "
        "of the station's version, sent as given",
    )
    wait: float | None = Field(
        None,
        ge=0,
        le=120,
        description="seconds to wait for the station to report the transaction "
        "(default: the server's remote_start_wait; 0 = do not wait)",
    )


class RemoteStartOut(BaseModel):
    status: str = Field(description="the station's answer in lower case", examples=["accepted"])
    remote_start_id: int = Field(
        description="correlates the transaction: GET /transactions?remote_start_id=N"
    )
    response: dict[str, Any] = Field(description="the station's CALLRESULT payload")
    transaction: TransactionOut | None = Field(
        None, description="the transaction, if the station reported it within `wait`"
    )


class RemoteStopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transaction_id: int = Field(ge=1, description="Ampyre's transaction id")


class RemoteStopOut(BaseModel):
    status: str = Field(description="the station's answer in lower case", examples=["accepted"])
    transaction_id: int = Field(description="Ampyre's transaction id")
    response: dict[str, Any] = Field(description="the station's CALLRESULT payload")


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1,
        max_length=500,
        description="why it is closed (stored with the transaction and sent in the webhook)",
    )
    force: bool = Field(
        False,
        description="close it even if it is not stale (its station is connected and "
        "reported it recently); a later stop from the station still wins",
    )
